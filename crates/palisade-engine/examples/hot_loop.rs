//! Runs the benchmark GET in a loop (for profilers: `perf record`).
#![allow(clippy::unwrap_used, missing_docs)]
use palisade_engine::{embedded_rulesets, Engine, EngineConfig, RequestHead, UserRules};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20000);
    let e = Engine::compile(
        embedded_rulesets(),
        &UserRules::empty(),
        &EngineConfig::default(),
    )
    .unwrap();
    let headers: Vec<(&str, &[u8])> = vec![
        ("Host", b"portal.example-health.org"),
        ("User-Agent", b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"),
        ("Accept", b"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"),
        ("Referer", b"https://portal.example-health.org/portal/appointments"),
        ("Cookie", b"session=8f14e45fceea167a5a36dedd4bea2543; theme=light; consent=1"),
    ];
    let target: &[u8] = b"/portal/appointments/search?patient=123456&provider=dr-jane-smith&from=2024-05-01&to=2024-05-31&status=booked&type=follow-up&location=main-clinic&sort=-date&page=2&count=20";
    let t = std::time::Instant::now();
    for _ in 0..n {
        let mut tx = e.transaction();
        tx.inspect_head(&RequestHead {
            method: "GET",
            target,
            headers: &headers,
        });
        std::hint::black_box(tx.verdict().blocked);
    }
    println!(
        "{:.2} µs/request",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}
