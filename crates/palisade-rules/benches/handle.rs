//! What a request pays to take the rules in force: `RulesHandle::current()` alone, and while
//! another thread swaps engines as fast as it can (far more often than any real update).
#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use palisade_engine::{Engine, EngineConfig, RuleSource, UserRules};
use palisade_rules::{RulesHandle, RulesetInfo};

fn small_engine() -> Engine {
    let rules = "rules:\n  - id: 990001\n    category: test\n    paranoia: 1\n    score: 5\n    targets: [args]\n    literals: [\"x\"]\n";
    Engine::compile(
        &[RuleSource::new("b.yml", rules)],
        &UserRules::empty(),
        &EngineConfig::default(),
    )
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let e = small_engine();
    let info = RulesetInfo::embedded(&e);
    let handle = RulesHandle::new(e, info.clone());
    c.bench_function("current (no swaps)", |b| b.iter(|| handle.current()));

    let stop = Arc::new(AtomicBool::new(false));
    let (h2, s2) = (handle.clone(), stop.clone());
    let engines: Vec<Arc<Engine>> = (0..2).map(|_| Arc::new(small_engine())).collect();
    let swapper = std::thread::spawn(move || {
        let mut i = 0usize;
        while !s2.load(Ordering::Relaxed) {
            drop(h2.swap(Arc::clone(&engines[i % 2]), info.clone()));
            i += 1;
        }
        i
    });
    c.bench_function("current (while another thread swaps continuously)", |b| {
        b.iter(|| handle.current())
    });
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    eprintln!("swaps during the contended benchmark: {swaps}");
}

criterion_group!(benches, bench);
criterion_main!(benches);
