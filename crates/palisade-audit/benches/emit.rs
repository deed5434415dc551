//! Cost of logging: the request thread's enqueue (`AuditSink::access`) and the writer thread's
//! redaction + formatting + hashing of one access event.

// criterion_group! generates an undocumented pub fn.
#![allow(missing_docs)]

use std::hint::black_box;
use std::io;
use std::time::{Duration, Instant, SystemTime};

use criterion::{criterion_group, criterion_main, Criterion};
use palisade_audit::redact::redact_path;
use palisade_audit::testing::{
    canary_access_event, render_access_line, typical_access_event, CANARY,
};
use palisade_audit::time::format_rfc3339_micros;
use palisade_audit::{
    chain_hash, AccessEvent, AuditConfig, AuditSink, LogFormat, SinkOptions, TcpConnector,
};

const CHUNK: u64 = 20_000;

fn enqueue(c: &mut Criterion) {
    let config = AuditConfig {
        queue_capacity: CHUNK as usize + 16,
        ..AuditConfig::default()
    };
    let options = SinkOptions {
        output: Box::new(io::sink()),
        connector: std::sync::Arc::new(TcpConnector),
    };
    let Ok(sink) = AuditSink::start_with(config, options) else {
        eprintln!("could not start the sink");
        return;
    };
    let template = typical_access_event();
    c.bench_function("request_thread/access_enqueue", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(CHUNK);
                // Building the event (the proxy's own strings) is not the sink's cost: done untimed.
                let events: Vec<AccessEvent> = (0..n).map(|_| template.clone()).collect();
                let start = Instant::now();
                for e in events {
                    sink.access(black_box(e));
                }
                timed += start.elapsed();
                // Let the writer drain so the next chunk measures the enqueue, not the drop path.
                sink.flush(Duration::from_secs(60));
                left -= n;
            }
            timed
        })
    });
    let counters = sink.counters();
    eprintln!(
        "enqueue bench: {} lines written, {} dropped (queue full)",
        counters.lines_written, counters.lines_dropped_queue_full
    );
}

fn writer_side(c: &mut Criterion) {
    let typical = typical_access_event();
    let attack = canary_access_event(CANARY);
    for (name, format) in [
        ("json", LogFormat::Json),
        ("l2met", LogFormat::L2met),
        ("cef", LogFormat::Cef),
    ] {
        c.bench_function(&format!("writer_thread/format_access_{name}"), |b| {
            b.iter(|| render_access_line(black_box(&typical), format, true))
        });
    }
    c.bench_function("writer_thread/format_access_json_with_hit", |b| {
        b.iter(|| render_access_line(black_box(&attack), LogFormat::Json, true))
    });
    // The parts, to see where the writer's time goes.
    let line = render_access_line(&typical, LogFormat::Json, true);
    c.bench_function("writer_parts/sha256_of_a_line", |b| {
        b.iter(|| chain_hash(None, black_box(line.as_bytes())))
    });
    c.bench_function("writer_parts/hmac_sha256_of_a_line", |b| {
        b.iter(|| {
            chain_hash(
                Some(b"0123456789abcdef0123456789abcdef"),
                black_box(line.as_bytes()),
            )
        })
    });
    c.bench_function("writer_parts/redact_path", |b| {
        b.iter(|| redact_path(black_box("/api/v1/patients/12345/appointments"), true))
    });
    c.bench_function("writer_parts/timestamp", |b| {
        b.iter(|| format_rfc3339_micros(black_box(SystemTime::now())))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = enqueue, writer_side
}
criterion_main!(benches);
