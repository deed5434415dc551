//! Engine benchmarks: a typical browser GET, a 10 KB FHIR JSON body, scaling from 1 KB to 1 MiB,
//! and compiling every embedded ruleset.
#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use palisade_engine::{embedded_rulesets, Engine, EngineConfig, RequestHead, UserRules};

const GET_TARGET: &[u8] = b"/portal/appointments/search?patient=123456&provider=dr-jane-smith&from=2024-05-01&to=2024-05-31&status=booked&type=follow-up&location=main-clinic&sort=-date&page=2&count=20";

fn browser_headers() -> Vec<(&'static str, &'static [u8])> {
    vec![
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
    ]
}

/// A FHIR Bundle of Observations of roughly `size` bytes.
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

/// Clinical prose of roughly `size` bytes (plain text body).
fn clinical_text(size: usize) -> String {
    let para = "Patient seen for follow-up of type 2 diabetes. Reports improved diet, walks 30 minutes daily, and sleeps well. Denies chest pain or shortness of breath. Plan: continue metformin 500 mg twice daily, repeat HbA1c in 3 months, select a date for the retinal exam; drop by the lab for fasting glucose.\n";
    para.repeat(size / para.len() + 1)[..size].to_string()
}

fn bench(c: &mut Criterion) {
    let engine = Engine::compile(
        embedded_rulesets(),
        &UserRules::empty(),
        &EngineConfig::default(),
    )
    .unwrap();
    let headers = browser_headers();

    c.bench_function("get_10_args_common_headers", |b| {
        b.iter(|| {
            let mut tx = engine.transaction();
            tx.inspect_head(&RequestHead {
                method: "GET",
                target: black_box(GET_TARGET),
                headers: &headers,
            });
            black_box(tx.verdict().blocked)
        })
    });

    let post_headers: Vec<(&str, &[u8])> = vec![
        ("Host", b"fhir.example-health.org"),
        ("Content-Type", b"application/fhir+json"),
    ];
    let body_10k = fhir_bundle(10 * 1024);
    c.bench_function("fhir_json_10kb", |b| {
        b.iter(|| {
            let mut tx = engine.transaction();
            tx.inspect_head(&RequestHead {
                method: "POST",
                target: b"/fhir/r4",
                headers: &post_headers,
            });
            tx.inspect_body(
                Some(b"application/fhir+json"),
                black_box(body_10k.as_bytes()),
            );
            black_box(tx.verdict().blocked)
        })
    });

    let mut group = c.benchmark_group("scaling");
    group.sample_size(10);
    for &size in &[1024usize, 10 * 1024, 100 * 1024, 1024 * 1024] {
        let json = fhir_bundle(size);
        group.throughput(Throughput::Bytes(json.len() as u64));
        group.bench_with_input(BenchmarkId::new("fhir_json", size), &json, |b, body| {
            b.iter(|| {
                let mut tx = engine.transaction();
                tx.inspect_body(Some(b"application/fhir+json"), black_box(body.as_bytes()));
                black_box(tx.verdict().blocked)
            })
        });
        let text = clinical_text(size);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::new("plain_text", size), &text, |b, body| {
            b.iter(|| {
                let mut tx = engine.transaction();
                tx.inspect_body(Some(b"text/plain"), black_box(body.as_bytes()));
                black_box(tx.verdict().blocked)
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    group.bench_function("all_embedded_rulesets", |b| {
        b.iter(|| {
            Engine::compile(
                embedded_rulesets(),
                &UserRules::empty(),
                &EngineConfig::default(),
            )
            .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
