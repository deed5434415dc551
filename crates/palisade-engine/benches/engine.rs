//! Criterion benches for the engine (filled in below).
fn main() {}
