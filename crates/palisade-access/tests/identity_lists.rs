//! Client identity feeding the IP controls: spoofed X-Forwarded-For, IPv6, list files and
//! path-scoped allowlists, through `AccessControl`.
#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)]

mod common;

use common::{ip, req, temp_file};
use palisade_access::{
    AccessConfig, AccessControl, AccessDecision, Control, DenyReason, ForwardedMode, IpListConfig,
    PathPattern, PathRuleConfig,
};

const ROUTER: &str = "10.12.0.7";

fn heroku_config() -> AccessConfig {
    let mut c = AccessConfig::default();
    c.client_ip.mode = ForwardedMode::Heroku;
    c
}

#[test]
fn spoofed_left_most_xff_is_ignored_real_client_is_judged() {
    let mut config = heroku_config();
    config.block = IpListConfig::from_ips(["203.0.113.0/24"]);
    let access = AccessControl::new(config).unwrap();

    // The attacker (203.0.113.66, blocked) claims to be 1.2.3.4; the router appends the truth.
    let client = access
        .identity()
        .resolve(ip(ROUTER), &[b"1.2.3.4, 203.0.113.66"]);
    assert_eq!(client, ip("203.0.113.66"));
    let d = access.check(&req(client, "GET", "/"));
    match d {
        AccessDecision::Deny { status, reason } => {
            assert_eq!(status, 403);
            assert_eq!(reason.control(), Control::IpBlocklist);
            assert_eq!(
                reason,
                DenyReason::Blocklisted {
                    scope: "global".into(),
                    list: "config".into()
                }
            );
        }
        other => panic!("expected deny, got {other:?}"),
    }

    // The reverse: a clean client who puts a blocked address on the left is not blocked.
    let client = access
        .identity()
        .resolve(ip(ROUTER), &[b"203.0.113.66, 198.51.100.20"]);
    assert_eq!(client, ip("198.51.100.20"));
    assert!(access.check(&req(client, "GET", "/")).is_allow());
}

#[test]
fn ipv6_clients_and_lists() {
    let mut config = heroku_config();
    config.block = IpListConfig::from_ips(["2001:db8:bad::/48"]);
    let access = AccessControl::new(config).unwrap();
    let bad = access
        .identity()
        .resolve(ip(ROUTER), &[b"2001:db8::1, [2001:db8:bad::5]:1234"]);
    assert_eq!(bad, ip("2001:db8:bad::5"));
    assert_eq!(
        access.check(&req(bad, "GET", "/")).control(),
        Some(Control::IpBlocklist)
    );
    let good = access
        .identity()
        .resolve(ip(ROUTER), &[b"2001:db8:bad::1, 2001:db8:1::5"]);
    assert!(access.check(&req(good, "GET", "/")).is_allow());
}

#[test]
fn admin_allowlist_is_path_scoped() {
    let office = temp_file(
        "office",
        "office.txt",
        b"# office network\n198.51.100.0/24 ; HQ\n2001:db8:0ff1::/48\n",
    );
    let mut config = heroku_config();
    let mut rule = PathRuleConfig::new(PathPattern::parse("/admin/**").unwrap());
    rule.allow.files.push(office.clone());
    config.paths.push(rule);
    let access = AccessControl::new(config).unwrap();

    let outsider = ip("203.0.113.5");
    let staff = ip("198.51.100.77");
    let staff6 = ip("2001:db8:ff1::9");
    for path in ["/admin", "/admin/", "/admin/users/3", "/ADMIN/settings"] {
        let d = access.check(&req(outsider, "GET", path));
        assert_eq!(
            d,
            AccessDecision::Deny {
                status: 403,
                reason: DenyReason::NotAllowlisted {
                    scope: "/admin/**".into()
                }
            },
            "{path}"
        );
        assert!(access.check(&req(staff, "GET", path)).is_allow(), "{path}");
        assert!(
            access.check(&req(staff6, "POST", path)).is_allow(),
            "{path}"
        );
    }
    // Everything else stays open.
    for path in ["/", "/administrator", "/api/admin", "/login"] {
        assert!(
            access.check(&req(outsider, "GET", path)).is_allow(),
            "{path}"
        );
    }
}

#[test]
fn trusted_clients_skip_controls_and_global_allowlist_restricts() {
    let mut config = AccessConfig::default();
    config.trusted = IpListConfig::from_ips(["192.0.2.10"]);
    config.allow = IpListConfig::from_ips(["192.0.2.0/24"]);
    config.block = IpListConfig::from_ips(["192.0.2.10", "192.0.2.11"]);
    let access = AccessControl::new(config).unwrap();
    assert!(access.check(&req(ip("192.0.2.10"), "GET", "/")).is_allow());
    assert!(access.is_trusted(ip("192.0.2.10")));
    assert_eq!(
        access.check(&req(ip("192.0.2.11"), "GET", "/")).control(),
        Some(Control::IpBlocklist)
    );
    assert_eq!(
        access.check(&req(ip("8.8.8.8"), "GET", "/")).control(),
        Some(Control::IpAllowlist)
    );
    assert!(access.check(&req(ip("192.0.2.12"), "GET", "/")).is_allow());
}

#[test]
fn list_file_reason_names_the_file() {
    let tor = temp_file(
        "tor",
        "tor-exits.txt",
        b"# Tor exits\n185.220.101.1\n185.220.101.2\n",
    );
    let mut config = AccessConfig::default();
    config.block.files.push(tor.clone());
    let access = AccessControl::new(config).unwrap();
    match access.check(&req(ip("185.220.101.2"), "GET", "/")) {
        AccessDecision::Deny {
            reason: DenyReason::Blocklisted { list, .. },
            ..
        } => assert_eq!(&*list, tor.display().to_string()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_and_corrupt_list_files_are_errors_naming_them() {
    let mut config = AccessConfig::default();
    config
        .block
        .files
        .push("/nonexistent/palisade/list.txt".into());
    let err = AccessControl::new(config).unwrap_err().to_string();
    assert!(err.contains("/nonexistent/palisade/list.txt"), "{err}");

    let bad = temp_file("bad", "bad.txt", b"1.2.3.4\n1.2.3.999\n");
    let mut config = AccessConfig::default();
    config.block.files.push(bad.clone());
    let err = AccessControl::new(config).unwrap_err().to_string();
    assert!(err.contains(&format!("{}:2", bad.display())), "{err}");
    assert!(err.contains("1.2.3.999"), "{err}");

    let mut config = AccessConfig::default();
    config.allow = IpListConfig::from_ips(["10.0.0.0/8", "office"]);
    let err = AccessControl::new(config).unwrap_err().to_string();
    assert!(
        err.contains("allow.ips") && err.contains("`office`"),
        "{err}"
    );
}

#[test]
fn large_list_file_loads_and_matches() {
    let mut text = String::from("# generated\n");
    for i in 0..120_000u32 {
        let a = 11 + (i >> 16);
        let b = (i >> 8) & 0xff;
        let c = i & 0xff;
        text.push_str(&format!("{a}.{b}.{c}.0/25\n"));
    }
    let path = temp_file("big", "big.netset", text.as_bytes());
    let mut config = AccessConfig::default();
    config.block.files.push(path);
    let access = AccessControl::new(config).unwrap();
    assert_eq!(
        access.check(&req(ip("12.1.2.100"), "GET", "/")).control(),
        Some(Control::IpBlocklist)
    );
    assert!(access.check(&req(ip("12.1.2.200"), "GET", "/")).is_allow());
}

#[test]
fn describe_summarises_the_policy_without_secrets() {
    let mut config = heroku_config();
    config.block = IpListConfig::from_ips(["203.0.113.0/24"]);
    let mut admin = PathRuleConfig::new(PathPattern::parse("/admin/**").unwrap());
    admin.allow = IpListConfig::from_ips(["198.51.100.0/24"]);
    config.paths.push(admin);
    config
        .rate_limits
        .rules
        .push(palisade_access::RateRule::parse("POST /login 5/minute").unwrap());
    config.redis = Some(palisade_access::RedisConfig::new(
        "redis://:s3cret@127.0.0.1:6390",
    ));
    let access = AccessControl::new(config).unwrap();
    let text = access.describe();
    for needle in [
        "Heroku",
        "block: 1 ranges from [config]",
        "path /admin/**: allow only",
        "POST /login",
        "bans: after 20 blocks",
        "redis://:***@127.0.0.1:6390",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    assert!(!text.contains("s3cret"), "{text}");
}
