//! Measures the rate limiter's memory with many distinct client IPs: inserts N clients (default
//! 1,000,000) through `AccessControl::check` with a global per-IP limit and reports the growth of
//! the process's resident set size (VmRSS from /proc/self/status, Linux only).
//!
//! `cargo run --release -p palisade-access --example limiter_memory [N]`

use std::net::IpAddr;
use std::time::Instant;

use palisade_access::{AccessConfig, AccessControl, AccessRequest, NoHeaders, RateLimit};

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let mut config = AccessConfig::default();
    // A slow rate keeps every entry live for the whole run (nothing expires and gets swept).
    config.rate_limits.global = RateLimit::parse("10/day").ok();
    let access = match AccessControl::new(config) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("config error: {e}");
            std::process::exit(1);
        }
    };
    let before = rss_kib();
    let started = Instant::now();
    for i in 0..n {
        // Distinct IPv4 addresses spread over the space.
        let ip = IpAddr::V4((0x0100_0000u32.wrapping_add(i.wrapping_mul(2_654_435_761))).into());
        let req = AccessRequest {
            ip,
            method: "GET",
            method_overrides: &[],
            path: b"/",
            user_agent: Some(b"Mozilla/5.0"),
            headers: &NoHeaders,
        };
        let _ = access.check(&req);
    }
    let elapsed = started.elapsed();
    let after = rss_kib();
    println!("clients inserted:   {n}");
    println!("clients tracked:    {}", access.tracked_clients());
    println!(
        "time:               {:.2} s ({:.0} ns per decision)",
        elapsed.as_secs_f64(),
        elapsed.as_nanos() as f64 / f64::from(n.max(1))
    );
    match (before, after) {
        (Some(b), Some(a)) => {
            let growth = a.saturating_sub(b);
            println!("RSS before:         {:.1} MiB", b as f64 / 1024.0);
            println!("RSS after:          {:.1} MiB", a as f64 / 1024.0);
            println!("RSS growth:         {:.1} MiB", growth as f64 / 1024.0);
            println!(
                "bytes per client:   {:.1}",
                growth as f64 * 1024.0 / f64::from(n.max(1))
            );
        }
        _ => println!("RSS: /proc/self/status not available on this system"),
    }
}
