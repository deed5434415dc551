//! Runs one benchmark scenario a given number of times, for instruction counting under
//! `valgrind --tool=callgrind` (criterion's own loop is too long under valgrind). The cost per
//! request is the difference between two runs divided by the difference in iterations, which
//! cancels the engine compile:
//!
//! ```text
//! cargo build --release -p palisade-engine --example profile_requests
//! valgrind --tool=callgrind target/release/examples/profile_requests get 1
//! valgrind --tool=callgrind target/release/examples/profile_requests get 101
//! ```
//!
//! Scenarios: `get` (browser GET, 10 query args, common headers), `api` (an API client's
//! `GET /api/health` with five headers, as `ci/bench/workloads.py`'s small GET), `fhir10k` (10 KB FHIR JSON
//! bundle), `fhir1m` (1 MiB FHIR JSON bundle), `text100k` (100 KB clinical prose), `form10k`
//! (10 KB patient-intake form with free-text notes).
#![allow(clippy::unwrap_used, missing_docs)]

use palisade_engine::{embedded_rulesets, Engine, EngineConfig, RequestHead, UserRules};

#[allow(dead_code)] // each target uses part of it
#[path = "../benches/fixtures/mod.rs"]
mod fixtures;
use fixtures::{clinical_text, fhir_bundle, intake_form, API_HEADERS, BROWSER_HEADERS, GET_TARGET};

fn main() {
    let mut args = std::env::args().skip(1);
    let scenario = args.next().unwrap_or_else(|| "get".to_string());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let engine = Engine::compile(
        embedded_rulesets(),
        &UserRules::empty(),
        &EngineConfig::default(),
    )
    .unwrap();
    let (body, ct): (String, &[u8]) = match scenario.as_str() {
        "get" | "api" => (String::new(), b""),
        "fhir10k" => (fhir_bundle(10 * 1024), b"application/fhir+json"),
        "fhir1m" => (fhir_bundle(1024 * 1024), b"application/fhir+json"),
        "text100k" => (clinical_text(100 * 1024), b"text/plain"),
        "form10k" => (intake_form(10 * 1024), b"application/x-www-form-urlencoded"),
        other => {
            eprintln!(
                "unknown scenario '{other}'; allowed: get, api, fhir10k, fhir1m, text100k, form10k"
            );
            std::process::exit(2);
        }
    };
    let mut blocked = 0;
    for _ in 0..n {
        let mut tx = engine.transaction();
        if scenario == "api" {
            tx.inspect_head(&RequestHead {
                method: "GET",
                target: std::hint::black_box(b"/api/health"),
                headers: API_HEADERS,
            });
        } else if body.is_empty() {
            tx.inspect_head(&RequestHead {
                method: "GET",
                target: std::hint::black_box(GET_TARGET),
                headers: BROWSER_HEADERS,
            });
        } else {
            tx.inspect_body(Some(ct), std::hint::black_box(body.as_bytes()));
        }
        blocked += usize::from(tx.verdict().blocked);
    }
    println!("{scenario} x{n}: {blocked} blocked");
}
