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
//! Scenarios: `get` (browser GET, 10 query args, common headers), `fhir10k` (10 KB FHIR JSON
//! bundle), `fhir1m` (1 MiB FHIR JSON bundle), `text100k` (100 KB clinical prose).
#![allow(clippy::unwrap_used, missing_docs)]

use palisade_engine::{embedded_rulesets, Engine, EngineConfig, RequestHead, UserRules};

const GET_TARGET: &[u8] = b"/portal/appointments/search?patient=123456&provider=dr-jane-smith&from=2024-05-01&to=2024-05-31&status=booked&type=follow-up&location=main-clinic&sort=-date&page=2&count=20";

const HEADERS: &[(&str, &[u8])] = &[
    ("Host", b"portal.example-health.org"),
    ("User-Agent", b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"),
    ("Accept", b"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"),
    ("Accept-Language", b"en-US,en;q=0.9"),
    ("Accept-Encoding", b"gzip, deflate, br"),
    ("Referer", b"https://portal.example-health.org/portal/appointments"),
    ("Cookie", b"session=8f14e45fceea167a5a36dedd4bea2543; theme=light; consent=1"),
    ("X-Forwarded-For", b"203.0.113.7"),
    ("X-Forwarded-Proto", b"https"),
    ("X-Request-Id", b"6f1c2a4e-8f3b-4b8a-9a51-0c2d7e9b1f00"),
];

/// The same FHIR Bundle as the criterion bench.
fn fhir_bundle(size: usize) -> String {
    let entry = r#"{"fullUrl":"urn:uuid:7d3a1f2e-0000-4000-8000-000000000001","resource":{"resourceType":"Observation","id":"obs-1","meta":{"profile":["http://hl7.org/fhir/us/core/StructureDefinition/us-core-observation-lab"]},"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory","display":"Laboratory"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"2339-0","display":"Glucose [Mass/volume] in Blood"}],"text":"Glucose"},"subject":{"reference":"Patient/example"},"effectiveDateTime":"2024-05-01T09:30:00Z","valueQuantity":{"value":95,"unit":"mg/dL","system":"http://unitsofmeasure.org","code":"mg/dL"},"note":[{"text":"Fasting sample; patient reports good sleep and no recent meals."}]},"request":{"method":"POST","url":"Observation"}}"#;
    let mut s = String::from(r#"{"resourceType":"Bundle","type":"transaction","entry":["#);
    let mut first = true;
    while s.len() + entry.len() + 2 < size.max(entry.len() + 64) {
        if !first {
            s.push(',');
        }
        first = false;
        s.push_str(entry);
    }
    s.push_str("]}");
    s
}

fn clinical_text(size: usize) -> String {
    let para = "Patient seen for follow-up of type 2 diabetes. Reports improved diet, walks 30 minutes daily, and sleeps well. Denies chest pain or shortness of breath. Plan: continue metformin 500 mg twice daily, repeat HbA1c in 3 months, select a date for the retinal exam; drop by the lab for fasting glucose.\n";
    para.repeat(size / para.len() + 1)[..size].to_string()
}

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
        "get" => (String::new(), b""),
        "fhir10k" => (fhir_bundle(10 * 1024), b"application/fhir+json"),
        "fhir1m" => (fhir_bundle(1024 * 1024), b"application/fhir+json"),
        "text100k" => (clinical_text(100 * 1024), b"text/plain"),
        other => {
            eprintln!("unknown scenario '{other}'; allowed: get, fhir10k, fhir1m, text100k");
            std::process::exit(2);
        }
    };
    let mut blocked = 0;
    for _ in 0..n {
        let mut tx = engine.transaction();
        if body.is_empty() {
            tx.inspect_head(&RequestHead {
                method: "GET",
                target: std::hint::black_box(GET_TARGET),
                headers: HEADERS,
            });
        } else {
            tx.inspect_body(Some(ct), std::hint::black_box(body.as_bytes()));
        }
        blocked += usize::from(tx.verdict().blocked);
    }
    println!("{scenario} x{n}: {blocked} blocked");
}
