//! Raw HTTP/1.1 parser plus the whole engine (head, body by content type, verdict, explain).
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use palisade_engine::{embedded_rulesets, explain_raw, parse_raw_request, Engine, EngineConfig, UserRules};

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let cfg = EngineConfig { paranoia: 4, inspect_file_contents: true, ..EngineConfig::default() };
        match Engine::compile(embedded_rulesets(), &UserRules::empty(), &cfg) {
            Ok(e) => e,
            Err(e) => panic!("embedded rulesets must compile: {e}"),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = parse_raw_request(data);
    if let Ok(x) = explain_raw(engine(), data) {
        let _ = x.to_string();
        for h in &x.verdict.hits {
            assert!(h.snippet.chars().count() <= 32);
        }
    }
});
