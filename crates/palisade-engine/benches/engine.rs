//! Engine benchmarks: a typical browser GET, a 10 KB FHIR JSON body, a 10 KB intake form,
//! scaling from 1 KB to 1 MiB, 100 KB document uploads (multipart, FHIR attachment, C-CDA),
//! 256 KiB hostile bodies (what a client can make one request cost), and compiling every
//! embedded ruleset.
#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use palisade_engine::{embedded_rulesets, Engine, EngineConfig, RequestHead, UserRules};

#[allow(dead_code)] // each target uses part of it
mod fixtures;
use fixtures::{
    ccda_embedded_pdf, clinical_text, document_upload, fhir_bundle, fhir_document_reference,
    hostile_bodies, intake_form, BROWSER_HEADERS, GET_TARGET, UPLOAD_BOUNDARY,
};

fn bench(c: &mut Criterion) {
    let engine = Engine::compile(
        embedded_rulesets(),
        &UserRules::empty(),
        &EngineConfig::default(),
    )
    .unwrap();

    c.bench_function("get_10_args_common_headers", |b| {
        b.iter(|| {
            let mut tx = engine.transaction();
            tx.inspect_head(&RequestHead {
                method: "GET",
                target: black_box(GET_TARGET),
                headers: BROWSER_HEADERS,
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

    let form_headers: Vec<(&str, &[u8])> = vec![
        ("Host", b"portal.example-health.org"),
        ("Content-Type", b"application/x-www-form-urlencoded"),
    ];
    let form_10k = intake_form(10 * 1024);
    c.bench_function("intake_form_10kb", |b| {
        b.iter(|| {
            let mut tx = engine.transaction();
            tx.inspect_head(&RequestHead {
                method: "POST",
                target: b"/portal/intake",
                headers: &form_headers,
            });
            tx.inspect_body(
                Some(b"application/x-www-form-urlencoded"),
                black_box(form_10k.as_bytes()),
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

    // A 100 KB document three ways: the file's bytes are most of the body, and only its name
    // and the fields around it need rules (file contents are not inspected by default).
    let mut group = c.benchmark_group("upload_100kb");
    group.sample_size(20);
    let multipart_type = format!("multipart/form-data; boundary={UPLOAD_BOUNDARY}");
    let uploads: [(&str, &[u8], Vec<u8>); 3] = [
        (
            "multipart_pdf",
            multipart_type.as_bytes(),
            document_upload(100 * 1024),
        ),
        (
            "fhir_attachment",
            b"application/fhir+json",
            fhir_document_reference(100 * 1024).into_bytes(),
        ),
        (
            "ccda_b64",
            b"application/xml",
            ccda_embedded_pdf(100 * 1024).into_bytes(),
        ),
    ];
    for (name, content_type, body) in &uploads {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(*name, |b| {
            b.iter(|| {
                let mut tx = engine.transaction();
                tx.inspect_body(Some(content_type), black_box(body));
                black_box(tx.verdict().blocked)
            })
        });
    }
    group.finish();

    // What one request can cost a dyno: bodies built to make inspection work hard. Compare
    // with `scaling/plain_text/262144`-ish ordinary text; a quadratic step shows up here as a
    // body hundreds of times slower than the rest.
    let mut group = c.benchmark_group("hostile_256kb");
    group.sample_size(10);
    for (name, body) in hostile_bodies(256 * 1024) {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut tx = engine.transaction();
                tx.inspect_body(Some(b"text/plain"), black_box(&body));
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
