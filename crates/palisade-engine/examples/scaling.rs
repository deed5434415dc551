//! Looks for inputs whose inspection cost grows faster than their length (a CPU-exhaustion risk:
//! one request that costs a dyno seconds). Each probe is a "token soup": one token repeated to
//! fill a body, with and without a blank between repeats. Tokens are every rule literal of the
//! embedded rulesets, every ASCII punctuation byte and every pair of them; a run-together soup
//! is also tried with one closing byte (`}`, `)`, `*/`, …) at its end. Each soup is timed at two
//! sizes; when the larger costs much more than its share, the token is printed.
//!
//! ```text
//! cargo run --release -p palisade-engine --example scaling -- [SMALL_KIB] [FACTOR] [LIMIT] [PLACE]
//! ```
//! Defaults: 16 KiB and 8× (so linear cost reads ~8×), printing soups whose ratio exceeds 20 or
//! that cost more than LIMIT µs per KiB (default 100) at the larger size. PLACE is where the
//! soup goes: a body's content type (default `text/plain`; `application/xml`,
//! `application/json`, … exercise those decoders on the same soups), or `query` (one argument,
//! percent-encoded), `cookie` or `header` (`User-Agent`) for the request head, whose limits
//! (8 KiB URI, 32 KiB of headers) call for smaller sizes, e.g. `1 8`.
#![allow(clippy::unwrap_used, missing_docs)]
use std::time::Instant;

use palisade_engine::{embedded_rulesets, Engine, EngineConfig, RequestHead, UserRules};

#[allow(dead_code)] // the probe uses only the soup generator
#[path = "../benches/fixtures/mod.rs"]
mod fixtures;

/// Where the soup goes: a body of this content type, or one place in the request head.
enum Place {
    Body(Vec<u8>),
    /// One query argument's value, percent-encoded.
    Query,
    /// A `Cookie` value.
    Cookie,
    /// A `User-Agent` value.
    Header,
}

fn cost(engine: &Engine, soup: &[u8], place: &Place) -> f64 {
    let mut target = b"/notes".to_vec();
    let mut headers: Vec<(&str, &[u8])> = vec![("Host", b"portal.example-health.org")];
    match place {
        Place::Body(content_type) => headers.push(("Content-Type", content_type)),
        Place::Query => {
            target.extend_from_slice(b"?q=");
            for &b in soup {
                if b.is_ascii_alphanumeric() {
                    target.push(b);
                } else {
                    target.extend_from_slice(format!("%{b:02X}").as_bytes());
                }
            }
        }
        Place::Cookie => headers.push(("Cookie", soup)),
        Place::Header => headers.push(("User-Agent", soup)),
    }
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let mut tx = engine.transaction();
        tx.inspect_head(&RequestHead {
            method: "POST",
            target: &target,
            headers: &headers,
        });
        if let Place::Body(content_type) = place {
            tx.inspect_body(Some(content_type), std::hint::black_box(soup));
        }
        std::hint::black_box(tx.verdict());
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}

/// Closing bytes appended once to a run-together soup.
const CLOSERS: [&str; 8] = ["}", ")", "]", "'", "\"", "*/", "-->", "`"];

/// Every literal of every rule in the embedded rulesets.
fn rule_literals() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for source in embedded_rulesets() {
        let doc: serde_yaml::Value = serde_yaml::from_str(&source.yaml).unwrap();
        let rules = doc.get("rules").and_then(|r| r.as_sequence());
        for rule in rules.into_iter().flatten() {
            let literals = rule.get("literals").and_then(|l| l.as_sequence());
            for literal in literals.into_iter().flatten() {
                if let Some(text) = literal.as_str() {
                    out.push(text.as_bytes().to_vec());
                }
            }
        }
    }
    out
}

fn main() {
    let mut args = std::env::args().skip(1);
    let small: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(16) * 1024;
    let factor: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(8);
    let limit: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100.0);
    let place = match args.next().as_deref() {
        None => Place::Body(b"text/plain".to_vec()),
        Some("query") => Place::Query,
        Some("cookie") => Place::Cookie,
        Some("header") => Place::Header,
        Some(content_type) => Place::Body(content_type.as_bytes().to_vec()),
    };
    let engine = Engine::compile(
        embedded_rulesets(),
        &UserRules::empty(),
        &EngineConfig::default(),
    )
    .unwrap();
    let punct: Vec<u8> = (0x21u8..0x7f)
        .filter(|b| !b.is_ascii_alphanumeric())
        .collect();
    let mut tokens: Vec<Vec<u8>> = rule_literals();
    tokens.extend(punct.iter().map(|&b| vec![b]));
    for &a in &punct {
        for &b in &punct {
            tokens.push(vec![a, b]);
        }
    }
    tokens.sort();
    tokens.dedup();
    // Blank-separated, run together, and run together with one closing byte at the end (a scan
    // for the closer from each opener is quadratic only when one exists).
    let mut shapes: Vec<(&[u8], &[u8], &str)> = vec![(b" ", b"", "+blank"), (b"", b"", "")];
    shapes.extend(CLOSERS.iter().map(|c| (&b""[..], c.as_bytes(), *c)));
    let large = small * factor;
    let mut all: Vec<(f64, f64, String)> = Vec::new();
    let t0 = Instant::now();
    for token in &tokens {
        for &(sep, closer, label) in &shapes {
            let unit = [&token[..], sep].concat();
            let mut small_body = fixtures::repeated(&unit, small);
            let mut big = fixtures::repeated(&unit, large);
            small_body.extend_from_slice(closer);
            big.extend_from_slice(closer);
            let a = cost(&engine, &small_body, &place);
            let b = cost(&engine, &big, &place);
            let ratio = b / a;
            let per_kib = b * 1e6 / (large as f64 / 1024.0);
            let name = format!("{:?} {label}", String::from_utf8_lossy(token));
            all.push((per_kib, ratio, name));
        }
    }
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut flagged = 0;
    for (i, (per_kib, ratio, name)) in all.iter().enumerate() {
        let bad = *ratio > 20.0 || *per_kib > limit;
        flagged += usize::from(bad);
        if bad || i < 10 {
            let mark = if bad { "!" } else { " " };
            println!(
                "{mark} {name:<40} {ratio:6.1}x  {per_kib:8.1} µs/KiB at {} KiB",
                large / 1024
            );
        }
    }
    println!(
        "{} soups, {flagged} flagged (ratio over 20 or over {limit} µs/KiB), {:.0} s",
        all.len(),
        t0.elapsed().as_secs_f64()
    );
}
