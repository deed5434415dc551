//! CPU time per `AccessControl::check`, measured from the thread's own scheduler statistics
//! (`/proc/thread-self/schedstat`, Linux), so the figure stays meaningful on a busy machine where
//! wall-clock benchmarks are inflated by waiting for a core.
//!
//! `cargo run --release -p palisade-access --example decision_cpu_cost`
#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)]

use std::hint::black_box;
use std::net::IpAddr;

use palisade_access::{
    AccessConfig, AccessControl, AccessRequest, BotAction, NoHeaders, RateLimit, RateRule,
};

fn cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn measure(name: &str, access: &AccessControl, method: &str, path: &[u8]) {
    let clients: Vec<IpAddr> = (0..10_000u32)
        .map(|i| IpAddr::V4((0x0b00_0000 + i * 7).into()))
        .collect();
    let n = 1_000_000usize;
    let mut best = f64::MAX;
    for _ in 0..5 {
        let Some(start) = cpu_ns() else {
            println!("/proc/thread-self/schedstat not available");
            return;
        };
        for i in 0..n {
            let req = AccessRequest {
                ip: clients[i % clients.len()],
                method,
                method_overrides: &[],
                path,
                user_agent: Some(b"Mozilla/5.0 (X11; Linux x86_64) Firefox/125.0"),
                headers: &NoHeaders,
            };
            black_box(access.check(black_box(&req)));
        }
        let spent = cpu_ns().unwrap_or(start) - start;
        best = best.min(spent as f64 / n as f64);
    }
    println!("{name:48} {best:6.0} ns CPU per decision");
}

fn main() {
    let mut quiet = AccessConfig::default();
    quiet.bots.scanners = BotAction::Off;
    quiet.bots.probes = BotAction::Off;
    quiet.bots.malformed_user_agent = BotAction::Off;
    measure(
        "no controls",
        &AccessControl::new(quiet.clone()).unwrap(),
        "GET",
        b"/",
    );
    measure(
        "bot checks (defaults)",
        &AccessControl::new(AccessConfig::default()).unwrap(),
        "GET",
        b"/",
    );
    let mut limits = AccessConfig::default();
    limits.rate_limits.global = Some(RateLimit::parse("1000000/second").unwrap());
    limits
        .rate_limits
        .rules
        .push(RateRule::parse("POST /login 1000000/second").unwrap());
    measure(
        "bots + global limit + POST /login rule",
        &AccessControl::new(limits).unwrap(),
        "POST",
        b"/login",
    );
}
