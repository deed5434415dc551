//! Times the engine on one request body read from a file (for profilers and quick A/B runs):
//!
//! ```text
//! cargo run --release -p palisade-engine --example time_body -- BODY_FILE CONTENT_TYPE [N]
//! ```
#![allow(clippy::unwrap_used, missing_docs)]
use palisade_engine::{embedded_rulesets, Engine, EngineConfig, RequestHead, UserRules};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("BODY_FILE");
    let ct = args.next().expect("CONTENT_TYPE");
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let body = std::fs::read(&path).unwrap();
    let e = Engine::compile(
        embedded_rulesets(),
        &UserRules::empty(),
        &EngineConfig::default(),
    )
    .unwrap();
    let headers: Vec<(&str, &[u8])> = vec![
        ("Host", b"portal.example-health.org"),
        ("User-Agent", b"wrk"),
        ("Content-Type", ct.as_bytes()),
    ];
    let mut blocked = false;
    let t = std::time::Instant::now();
    for _ in 0..n {
        let mut tx = e.transaction();
        tx.inspect_head(&RequestHead {
            method: "POST",
            target: b"/api/intake",
            headers: &headers,
        });
        tx.inspect_body(Some(ct.as_bytes()), std::hint::black_box(&body));
        blocked |= tx.verdict().blocked;
    }
    let per = t.elapsed().as_secs_f64() / n as f64;
    println!(
        "{:.1} µs/request, {:.0} MB/s, blocked={blocked}",
        per * 1e6,
        body.len() as f64 / per / 1e6
    );
}
