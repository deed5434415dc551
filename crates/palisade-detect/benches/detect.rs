//! Detector throughput on benign input: a short clinical value and a 10 KB clinical note.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use palisade_detect::{shell, sqli, xss};

const SHORT: &str =
    "Patient's BP 120/80 (sitting); select specialty hospital - follow up in 2 weeks.";

fn long_text() -> String {
    let para = "Patient is a 54 year old male with hypertension (I10) and type 2 diabetes; \
                reports a drop in blood pressure on standing - watch for dizziness. Allergies: \
                Eggs (edible) (substance), penicillin. Plan: metformin 500 mg/day, recheck A1c \
                in 3 months | BP < 140/90 goal & follow up with Dr. O'Reilly at \"Select \
                Specialty Hospital\". <p>Narrative</p> see https://example.org/fhir/Patient/123\n";
    let mut s = String::with_capacity(10_240);
    while s.len() + para.len() <= 10_240 {
        s.push_str(para);
    }
    s
}

fn bench(c: &mut Criterion) {
    let long = long_text();
    let mut g = c.benchmark_group("detect");
    for (name, input) in [("100B", SHORT), ("10KB", long.as_str())] {
        g.bench_function(format!("sqli/{name}"), |b| {
            b.iter(|| sqli(black_box(input)))
        });
        g.bench_function(format!("xss/{name}"), |b| b.iter(|| xss(black_box(input))));
        g.bench_function(format!("shell/{name}"), |b| {
            b.iter(|| shell(black_box(input)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
