//! Measures, per rule, what it costs on a typical request (used to find slow rules).
#![allow(clippy::unwrap_used, missing_docs)]
use palisade_engine::{
    embedded_rulesets, Engine, EngineConfig, RequestHead, RuleSource, UserRules,
};
use std::time::Instant;

fn main() {
    let headers: Vec<(&str, &[u8])> = vec![
        ("Host", b"portal.example-health.org"),
        ("User-Agent", b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"),
        ("Accept", b"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"),
        ("Referer", b"https://portal.example-health.org/portal/appointments"),
        ("Cookie", b"session=8f14e45fceea167a5a36dedd4bea2543; theme=light; consent=1"),
    ];
    let target: &[u8] = b"/portal/appointments/search?patient=123456&provider=dr-jane-smith&from=2024-05-01&to=2024-05-31&status=booked&type=follow-up&location=main-clinic&sort=-date&page=2&count=20";
    for yaml in [
        "rules:\n  - id: 1\n    category: x\n    signal: null_byte\n",
        "rules:\n  - id: 1\n    category: x\n    targets: [args]\n    literals: [zzzzqqq]\n",
        "rules:\n  - id: 1\n    category: x\n    targets: [args]\n    transforms: [url_decode]\n    literals: [zzzzqqq]\n",
        "rules:\n  - id: 1\n    category: x\n    targets: [args]\n    regex: zzzzqqq\n",
    ] {
        let one = [RuleSource::new("base", yaml)];
        let e = Engine::compile(&one, &UserRules::empty(), &EngineConfig::default()).unwrap();
        let n = 5000;
        let t = Instant::now();
        for _ in 0..n {
            let mut tx = e.transaction();
            tx.inspect_head(&RequestHead { method: "GET", target, headers: &headers });
            std::hint::black_box(tx.verdict().blocked);
        }
        println!("baseline {:>8.2} µs  {:?}", t.elapsed().as_secs_f64() * 1e6 / n as f64, yaml.lines().last());
    }
    for src in embedded_rulesets() {
        let text: &str = &src.yaml;
        // One rule at a time: split on "  - id:".
        let (head, rules) = text.split_at(text.find("\n  - id:").unwrap_or(text.len()));
        for chunk in rules.split("\n  - id:").filter(|c| !c.trim().is_empty()) {
            let yaml = format!("{head}\n  - id:{chunk}");
            let one = [RuleSource::new(src.name.to_string(), yaml)];
            let Ok(e) = Engine::compile(&one, &UserRules::empty(), &EngineConfig::default()) else {
                continue;
            };
            let n = 2000;
            let t = Instant::now();
            for _ in 0..n {
                let mut tx = e.transaction();
                tx.inspect_head(&RequestHead {
                    method: "GET",
                    target,
                    headers: &headers,
                });
                std::hint::black_box(tx.verdict().blocked);
            }
            let us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
            if us > 1.0 {
                println!(
                    "{:>8.2} µs  {} {}",
                    us,
                    src.name,
                    chunk.lines().next().unwrap_or("")
                );
            }
        }
    }
}
