//! Bots, rate limits and temporary bans through `AccessControl` (local state).
#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{ip, req, req_with, BROWSER};
use palisade_access::{
    AccessConfig, AccessControl, AccessDecision, BlockRecord, BotAction, BotFinding,
    ConfigDuration, Control, DenyReason, NoHeaders, RateLimit, RateRule,
};

#[test]
fn scanner_user_agents_are_denied_with_tool_name() {
    let access = AccessControl::new(AccessConfig::default()).unwrap();
    for (i, (ua, tool)) in [
        (&b"sqlmap/1.8.2#stable (https://sqlmap.org)"[..], "sqlmap"),
        (
            b"Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:Port Check)",
            "nikto",
        ),
        (
            b"WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)",
            "wpscan",
        ),
        (b"gobuster/3.6", "gobuster"),
    ]
    .into_iter()
    .enumerate()
    {
        let client = std::net::IpAddr::V4([203, 0, 113, 10 + i as u8].into());
        let d = access.check(&req_with(client, "GET", "/", Some(ua), &NoHeaders));
        assert_eq!(
            d,
            AccessDecision::Deny {
                status: 403,
                reason: DenyReason::Bot(BotFinding::ScannerUserAgent(tool)),
            }
        );
    }
    let other = ip("203.0.113.8");
    assert!(access.check(&req(other, "GET", "/")).is_allow());
    // A second scanner request reaches the default ban score (20): the client is banned.
    let scanner = ip("203.0.113.10");
    let d = access.check(&req_with(
        scanner,
        "GET",
        "/",
        Some(b"sqlmap/1.8"),
        &NoHeaders,
    ));
    assert_eq!(d.control(), Some(Control::Bot));
    assert_eq!(
        access.check(&req(scanner, "GET", "/")).control(),
        Some(Control::Ban)
    );
}

#[test]
fn probe_paths_are_denied_and_lead_to_a_ban() {
    let mut config = AccessConfig::default();
    config.bots.ban_score = 15; // three probes (5 points each)
    let access = AccessControl::new(config).unwrap();
    let prober = ip("198.51.100.50");
    let d1 = access.check(&req(prober, "GET", "/.env"));
    assert_eq!(
        d1,
        AccessDecision::Deny {
            status: 403,
            reason: DenyReason::Bot(BotFinding::Probe(".env"))
        }
    );
    let d2 = access.check(&req(prober, "GET", "/wp-login.php"));
    assert_eq!(d2.control(), Some(Control::Bot));
    let d3 = access.check(&req(prober, "GET", "/.git/config"));
    assert_eq!(d3.control(), Some(Control::Bot));
    // The score crossed the threshold: now even a clean request is refused as banned.
    match access.check(&req(prober, "GET", "/")) {
        AccessDecision::Deny {
            reason: DenyReason::Banned { remaining_secs },
            ..
        } => assert!(remaining_secs > 0 && remaining_secs <= 15 * 60),
        other => panic!("{other:?}"),
    }
    // Someone else is unaffected.
    assert!(access
        .check(&req(ip("198.51.100.51"), "GET", "/"))
        .is_allow());
}

#[test]
fn score_only_signals_pass_but_add_up() {
    let mut config = AccessConfig::default();
    config.bots.empty_user_agent = BotAction::Score;
    config.bots.ban_score = 3; // three empty-UA requests
    let access = AccessControl::new(config).unwrap();
    let c = ip("192.0.2.99");
    let empty = req_with(c, "GET", "/", None, &NoHeaders);
    assert!(access.check(&empty).is_allow());
    assert!(access.check(&empty).is_allow());
    assert_eq!(access.check(&empty).control(), Some(Control::Ban));
}

#[test]
fn login_rate_limit_limits_login_only() {
    let mut config = AccessConfig::default();
    config
        .rate_limits
        .rules
        .push(RateRule::parse("POST /login 5/minute burst=5 key=ip").unwrap());
    let access = AccessControl::new(config).unwrap();
    let c = ip("203.0.113.20");
    for i in 0..5 {
        assert!(
            access.check(&req(c, "POST", "/login")).is_allow(),
            "attempt {i}"
        );
    }
    match access.check(&req(c, "POST", "/login")) {
        AccessDecision::Limit {
            status,
            retry_after_secs,
            rule,
        } => {
            assert_eq!(status, 429);
            assert_eq!(&*rule, "POST /login");
            // One request every 12 s is the sustained rate.
            assert!((11..=12).contains(&retry_after_secs), "{retry_after_secs}");
        }
        other => panic!("{other:?}"),
    }
    // Other paths and methods, and other clients, still pass.
    assert!(access.check(&req(c, "GET", "/login")).is_allow());
    assert!(access.check(&req(c, "POST", "/api/records")).is_allow());
    assert!(access.check(&req(c, "GET", "/")).is_allow());
    assert!(access
        .check(&req(ip("203.0.113.21"), "POST", "/login"))
        .is_allow());
}

#[test]
fn header_keyed_limit_counts_per_api_key_and_falls_back_to_ip() {
    let mut config = AccessConfig::default();
    config
        .rate_limits
        .rules
        .push(RateRule::parse("* /api/** 2/minute key=header:X-Api-Key name=api").unwrap());
    let access = AccessControl::new(config).unwrap();
    let key_a: &[(&str, &[u8])] = &[("x-api-key", b"key-a")];
    let key_b: &[(&str, &[u8])] = &[("X-Api-Key", b"key-b")];
    let ua = Some(BROWSER);
    // Same key from two IPs shares one budget.
    assert!(access
        .check(&req_with(ip("192.0.2.1"), "GET", "/api/x", ua, &key_a))
        .is_allow());
    assert!(access
        .check(&req_with(ip("192.0.2.2"), "GET", "/api/x", ua, &key_a))
        .is_allow());
    let d = access.check(&req_with(ip("192.0.2.3"), "GET", "/api/x", ua, &key_a));
    assert!(
        matches!(d, AccessDecision::Limit { ref rule, .. } if &**rule == "api"),
        "{d:?}"
    );
    // Another key has its own budget.
    assert!(access
        .check(&req_with(ip("192.0.2.1"), "GET", "/api/x", ua, &key_b))
        .is_allow());
    // No key: counted by IP.
    let c = ip("192.0.2.77");
    assert!(access.check(&req(c, "GET", "/api/y")).is_allow());
    assert!(access.check(&req(c, "GET", "/api/y")).is_allow());
    assert_eq!(
        access.check(&req(c, "GET", "/api/y")).control(),
        Some(Control::RateLimit)
    );
}

#[test]
fn global_limit_applies_to_every_path() {
    let mut config = AccessConfig::default();
    config.rate_limits.global = Some(RateLimit::parse("1/second burst=3").unwrap());
    let access = AccessControl::new(config).unwrap();
    let c = ip("198.51.100.1");
    for p in ["/a", "/b", "/c"] {
        assert!(access.check(&req(c, "GET", p)).is_allow());
    }
    match access.check(&req(c, "GET", "/d")) {
        AccessDecision::Limit {
            rule,
            retry_after_secs,
            ..
        } => {
            assert_eq!(&*rule, "global");
            assert_eq!(retry_after_secs, 1);
        }
        other => panic!("{other:?}"),
    }
    std::thread::sleep(Duration::from_millis(1100));
    assert!(access.check(&req(c, "GET", "/e")).is_allow());
}

#[test]
fn repeated_blocks_ban_then_expire() {
    let mut config = AccessConfig::default();
    config.bans.after_blocks = 3;
    config.bans.within = ConfigDuration(Duration::from_secs(60));
    config.bans.duration = ConfigDuration(Duration::from_secs(2));
    let access = AccessControl::new(config).unwrap();
    let c = ip("203.0.113.99");
    assert_eq!(access.record_block(c), BlockRecord::Counted);
    assert_eq!(access.record_block(c), BlockRecord::Counted);
    assert_eq!(
        access.record_block(c),
        BlockRecord::Banned(Duration::from_secs(2))
    );
    assert_eq!(
        access.check(&req(c, "GET", "/")).control(),
        Some(Control::Ban)
    );
    let left = access.ban_remaining(c).unwrap();
    assert!(
        left > Duration::ZERO && left <= Duration::from_secs(2),
        "{left:?}"
    );
    assert_eq!(access.ban_remaining(ip("203.0.113.98")), None);
    // Blocks during the ban are not counted (a ban does not extend itself).
    assert_eq!(access.record_block(c), BlockRecord::Ignored);
    std::thread::sleep(Duration::from_millis(2100));
    assert!(access.check(&req(c, "GET", "/")).is_allow());
    // The counter was reset when the ban started.
    assert_eq!(access.record_block(c), BlockRecord::Counted);
}

#[test]
fn bans_off_and_trusted_clients_are_not_counted() {
    let mut config = AccessConfig::default();
    config.bans.after_blocks = 0;
    let access = AccessControl::new(config).unwrap();
    assert_eq!(access.record_block(ip("192.0.2.1")), BlockRecord::Ignored);
    let mut config = AccessConfig::default();
    config.trusted = palisade_access::IpListConfig::from_ips(["192.0.2.0/24"]);
    config.bans.after_blocks = 1;
    let access = AccessControl::new(config).unwrap();
    assert_eq!(access.record_block(ip("192.0.2.1")), BlockRecord::Ignored);
}

#[test]
fn limiter_memory_is_bounded_under_a_flood_of_distinct_ips() {
    let mut config = AccessConfig::default();
    config.rate_limits.global = Some(RateLimit::parse("10/minute").unwrap());
    config.max_tracked_clients = 10_000;
    let access = AccessControl::new(config).unwrap();
    for i in 0..100_000u32 {
        let addr = std::net::IpAddr::V4((0x0b00_0000 + i).into());
        let _ = access.check(&req(addr, "GET", "/"));
    }
    assert!(
        access.tracked_clients() <= 11_264, // 64 shards × (157 + 12.5 % slack)
        "{}",
        access.tracked_clients()
    );
    assert!(
        access.tracked_clients() >= 5_000,
        "{}",
        access.tracked_clients()
    );
}

#[test]
fn access_control_is_shared_across_threads() {
    let mut config = AccessConfig::default();
    config
        .rate_limits
        .rules
        .push(RateRule::parse("POST /login 100/hour").unwrap());
    let access = Arc::new(AccessControl::new(config).unwrap());
    let c = ip("203.0.113.200");
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let access = access.clone();
            std::thread::spawn(move || {
                (0..50)
                    .filter(|_| access.check(&req(c, "POST", "/login")).is_allow())
                    .count()
            })
        })
        .collect();
    let allowed: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(allowed, 100, "exactly the burst across all threads");
}

#[test]
fn ipv6_clients_are_counted_per_64_by_default() {
    let mut config = AccessConfig::default();
    config
        .rate_limits
        .rules
        .push(RateRule::parse("POST /login 2/minute").unwrap());
    let access = AccessControl::new(config.clone()).unwrap();
    // Rotating addresses inside one /64 does not escape the limit...
    assert!(access
        .check(&req(ip("2001:db8:1:2::1"), "POST", "/login"))
        .is_allow());
    assert!(access
        .check(&req(ip("2001:db8:1:2::2"), "POST", "/login"))
        .is_allow());
    assert_eq!(
        access
            .check(&req(ip("2001:db8:1:2:ffff::3"), "POST", "/login"))
            .control(),
        Some(Control::RateLimit)
    );
    // ...while the neighbouring /64 is someone else.
    assert!(access
        .check(&req(ip("2001:db8:1:3::1"), "POST", "/login"))
        .is_allow());
    assert_eq!(
        access.client_unit(ip("2001:db8:1:2:abcd::9")),
        ip("2001:db8:1:2::")
    );
    assert_eq!(access.client_unit(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));

    config.ipv6_client_prefix = 128;
    let per_address = AccessControl::new(config.clone()).unwrap();
    for last in 1..=4 {
        let a = format!("2001:db8:1:2::{last}");
        assert!(per_address.check(&req(ip(&a), "POST", "/login")).is_allow());
    }
    config.ipv6_client_prefix = 16;
    let err = AccessControl::new(config).unwrap_err().to_string();
    assert!(
        err.contains("ipv6_client_prefix") && err.contains("16"),
        "{err}"
    );
}

/// The proxy shares one `AccessControl` across worker threads and awaits `check_shared` inside
/// async hooks whose futures must be `Send`.
#[test]
fn types_are_send_sync_and_the_async_check_is_send() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}
    send_sync::<AccessControl>();
    send_sync::<palisade_access::SharedLimiter>();
    send_sync::<AccessDecision>();
    let access = AccessControl::new(AccessConfig::default()).unwrap();
    let request = req(ip("192.0.2.1"), "GET", "/");
    let fut = access.check_shared(&request);
    send(&fut);
    drop(fut);
}
