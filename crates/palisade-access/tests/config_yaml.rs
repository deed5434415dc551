//! The YAML example in docs/access-control.md parses into `AccessConfig`, and bad values give
//! errors that name them.
#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)]

use std::time::Duration;

use palisade_access::{
    AccessConfig, AnonymousCategory, BotAction, ForwardedMode, RateKey, UnknownCountry,
};

const DOC: &str = include_str!("../../../docs/access-control.md");

#[derive(serde::Deserialize)]
struct Root {
    access: AccessConfig,
}

fn doc_yaml() -> &'static str {
    let start = DOC.find("```yaml\n").unwrap() + "```yaml\n".len();
    let end = start + DOC[start..].find("```").unwrap();
    &DOC[start..end]
}

#[test]
fn documented_example_parses() {
    let root: Root = serde_yaml::from_str(doc_yaml()).unwrap();
    let c = root.access;
    assert_eq!(c.client_ip.mode, ForwardedMode::Heroku);
    assert_eq!(c.client_ip.trusted_proxies.ips.len(), 2);
    assert_eq!(c.paths.len(), 2);
    assert_eq!(c.paths[0].path.as_str(), "/admin/**");
    assert_eq!(c.paths[1].allow_countries[0].as_str(), "US");
    assert_eq!(c.geo.unknown_country, Some(UnknownCountry::Allow));
    assert_eq!(c.geo.block_countries.len(), 2);
    assert_eq!(
        c.anonymous.block,
        vec![AnonymousCategory::Tor, AnonymousCategory::PublicProxy]
    );
    assert_eq!(c.anonymous.lists[&AnonymousCategory::Tor].len(), 1);
    assert_eq!(c.bots.empty_user_agent, BotAction::Score);
    assert_eq!(c.bots.score_window.0, Duration::from_secs(600));
    let global = c.rate_limits.global.unwrap();
    assert_eq!((global.count, global.burst), (300, 100));
    assert_eq!(c.rate_limits.rules.len(), 2);
    assert_eq!(&*c.rate_limits.rules[1].name, "api");
    assert_eq!(
        c.rate_limits.rules[1].key,
        RateKey::Header("x-api-key".into())
    );
    assert_eq!(c.bans.duration.0, Duration::from_secs(900));
    let redis = c.redis.unwrap();
    assert_eq!(redis.timeout.0, Duration::from_millis(5));
    assert_eq!(c.max_tracked_clients, 1_000_000);
    assert_eq!(c.ipv6_client_prefix, 64);
}

#[test]
fn empty_section_gives_defaults() {
    let root: Root = serde_yaml::from_str("access: {}").unwrap();
    assert_eq!(root.access.bots.scanners, BotAction::Block);
    assert_eq!(root.access.bans.after_blocks, 20);
    assert!(root.access.redis.is_none());
}

#[test]
fn bad_values_and_unknown_keys_are_named() {
    let cases = [
        (
            "access: {rate_limits: {rules: ['POST /login 5/fortnight']}}",
            "5/fortnight",
        ),
        ("access: {geo: {block_countries: [USA]}}", "USA"),
        ("access: {anonymous: {block: [icloud]}}", "icloud"),
        ("access: {bots: {probes: maybe}}", "maybe"),
        ("access: {bans: {duration: 5 fortnights}}", "5 fortnights"),
        ("access: {client_ip: {mode: cloudflare}}", "cloudflare"),
        ("access: {paths: [{path: admin}]}", "admin"),
        ("access: {rate_limit: {}}", "rate_limit"),
    ];
    for (yaml, needle) in cases {
        let err = serde_yaml::from_str::<Root>(yaml)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains(needle), "{yaml}: {err}");
    }
}
