//! Geo-blocking and anonymous networks with generated databases (always) and MaxMind's test
//! databases (when the developer copy of shared/ is present).
#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)]

mod common;

use std::collections::HashMap;

use common::{ip, req, shared_mmdb, temp_file};
use palisade_access::mmdb_writer::{anonymous_db, country_db, MmdbValue, MmdbWriter};
use palisade_access::{
    AccessConfig, AccessControl, AccessDecision, AnonymousCategory, AnonymousDb, Control,
    DenyReason, GeoDb, GeoRule, PathPattern, PathRuleConfig, UnknownCountry,
};

fn generated_country_file() -> std::path::PathBuf {
    temp_file(
        "geo",
        "country.mmdb",
        &country_db(&[
            ("81.2.69.0/24", "GB"),
            ("2.125.160.0/19", "GB"),
            ("89.160.20.0/24", "SE"),
            ("175.16.199.0/24", "CN"),
            ("216.160.83.0/24", "US"),
            ("2001:db8:5e::/48", "SE"),
        ]),
    )
}

#[test]
fn country_allow_list() {
    let mut config = AccessConfig::default();
    config.geo.database = Some(generated_country_file());
    config.geo.allow_countries = vec!["US".parse().unwrap(), "SE".parse().unwrap()];
    let access = AccessControl::new(config).unwrap();
    assert!(access
        .check(&req(ip("216.160.83.56"), "GET", "/"))
        .is_allow());
    assert!(access
        .check(&req(ip("2001:db8:5e::1"), "GET", "/"))
        .is_allow());
    assert_eq!(
        access.check(&req(ip("81.2.69.142"), "GET", "/")),
        AccessDecision::Deny {
            status: 403,
            reason: DenyReason::Country {
                scope: "global".into(),
                country: Some("GB".parse().unwrap()),
                rule: GeoRule::NotAllowed,
            }
        }
    );
    // Unknown addresses are blocked by default under an allow list (fail closed)...
    match access.check(&req(ip("192.0.2.1"), "GET", "/")) {
        AccessDecision::Deny {
            reason: DenyReason::Country { rule, country, .. },
            ..
        } => {
            assert_eq!(rule, GeoRule::Unknown);
            assert_eq!(country, None);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn country_block_list_and_unknown_policy() {
    let mut config = AccessConfig::default();
    config.geo.database = Some(generated_country_file());
    config.geo.block_countries = vec!["CN".parse().unwrap()];
    let access = AccessControl::new(config.clone()).unwrap();
    let d = access.check(&req(ip("175.16.199.10"), "GET", "/"));
    assert_eq!(d.control(), Some(Control::Geo));
    assert!(d.to_owned_reason_text().contains("CN is blocked"));
    assert!(access.check(&req(ip("81.2.69.142"), "GET", "/")).is_allow());
    // ...and allowed by default under a block list.
    assert!(access.check(&req(ip("192.0.2.1"), "GET", "/")).is_allow());

    config.geo.unknown_country = Some(UnknownCountry::Block);
    let strict = AccessControl::new(config).unwrap();
    assert_eq!(
        strict.check(&req(ip("192.0.2.1"), "GET", "/")).control(),
        Some(Control::Geo)
    );
}

trait ReasonText {
    fn to_owned_reason_text(&self) -> String;
}
impl ReasonText for AccessDecision {
    fn to_owned_reason_text(&self) -> String {
        match self {
            AccessDecision::Deny { reason, .. } => reason.to_string(),
            other => format!("{other:?}"),
        }
    }
}

#[test]
fn per_path_countries_and_country_for_audit() {
    let mut config = AccessConfig::default();
    config.geo.database = Some(generated_country_file());
    let mut rule = PathRuleConfig::new(PathPattern::parse("/api/*/export").unwrap());
    rule.allow_countries = vec!["US".parse().unwrap()];
    config.paths.push(rule);
    let access = AccessControl::new(config).unwrap();
    let gb = ip("81.2.69.142");
    assert!(access.check(&req(gb, "GET", "/api/v1/records")).is_allow());
    match access.check(&req(gb, "GET", "/api/v1/export")) {
        AccessDecision::Deny {
            reason: DenyReason::Country { scope, rule, .. },
            ..
        } => {
            assert_eq!(&*scope, "/api/*/export");
            assert_eq!(rule, GeoRule::NotAllowed);
        }
        other => panic!("{other:?}"),
    }
    assert!(access
        .check(&req(ip("216.160.83.1"), "GET", "/api/v1/export"))
        .is_allow());
    // The country is available for the audit log whatever the rules say.
    assert_eq!(access.country(gb).unwrap().as_str(), "GB");
    assert_eq!(access.country(ip("192.0.2.1")), None);
}

#[test]
fn country_rules_without_database_is_a_config_error() {
    let mut config = AccessConfig::default();
    config.geo.block_countries = vec!["KP".parse().unwrap()];
    let err = AccessControl::new(config).unwrap_err().to_string();
    assert!(err.contains("geo.database"), "{err}");
    let mut config = AccessConfig::default();
    config.geo.database = Some(generated_country_file());
    config.geo.block_countries = vec!["KP".parse().unwrap()];
    config.geo.allow_countries = vec!["US".parse().unwrap()];
    let err = AccessControl::new(config).unwrap_err().to_string();
    assert!(err.contains("not both"), "{err}");
}

#[test]
fn anonymous_categories_separately_selectable() {
    let db = temp_file(
        "anon",
        "anon.mmdb",
        &anonymous_db(&[
            ("198.51.100.0/24", &["is_anonymous_vpn"]),
            ("203.0.113.0/24", &["is_tor_exit_node"]),
            ("192.0.2.0/24", &["is_hosting_provider"]),
        ]),
    );
    let mut config = AccessConfig::default();
    config.anonymous.database = Some(db.clone());
    config.anonymous.block = vec![AnonymousCategory::Tor, AnonymousCategory::Vpn];
    let access = AccessControl::new(config).unwrap();
    assert_eq!(
        access.check(&req(ip("203.0.113.9"), "GET", "/")),
        AccessDecision::Deny {
            status: 403,
            reason: DenyReason::AnonymousNetwork {
                category: AnonymousCategory::Tor,
                source: db.display().to_string().into(),
            }
        }
    );
    assert_eq!(
        access.check(&req(ip("198.51.100.1"), "GET", "/")).control(),
        Some(Control::AnonymousNetwork)
    );
    // Hosting providers are not selected, so they pass.
    assert!(access.check(&req(ip("192.0.2.1"), "GET", "/")).is_allow());
}

#[test]
fn anonymous_list_files_per_category() {
    let tor = temp_file("anon-list", "tor.txt", b"# exits\n185.220.100.240\n");
    let mut config = AccessConfig::default();
    config.anonymous.block = vec![AnonymousCategory::Tor];
    config.anonymous.lists = HashMap::from([(AnonymousCategory::Tor, vec![tor])]);
    let access = AccessControl::new(config).unwrap();
    match access.check(&req(ip("185.220.100.240"), "GET", "/")) {
        AccessDecision::Deny {
            reason: DenyReason::AnonymousNetwork { category, .. },
            ..
        } => assert_eq!(category, AnonymousCategory::Tor),
        other => panic!("{other:?}"),
    }
    assert!(access
        .check(&req(ip("185.220.100.241"), "GET", "/"))
        .is_allow());

    // A list for a category that is not blocked is a mistake worth an error.
    let vpn = temp_file("anon-list", "vpn.txt", b"1.1.1.1\n");
    let mut config = AccessConfig::default();
    config.anonymous.block = vec![AnonymousCategory::Tor];
    config.anonymous.lists = HashMap::from([(AnonymousCategory::Vpn, vec![vpn])]);
    let err = AccessControl::new(config).unwrap_err().to_string();
    assert!(err.contains("vpn"), "{err}");
    // Blocking categories with no source at all is an error too.
    let mut config = AccessConfig::default();
    config.anonymous.block = vec![AnonymousCategory::Vpn];
    assert!(AccessControl::new(config).is_err());
}

#[test]
fn ipv6_country_via_custom_writer() {
    let mut w = MmdbWriter::new("DBIP-Country-Lite");
    w.insert("2a02:8000::/21".parse().unwrap(), &MmdbValue::country("DE"));
    let db = GeoDb::from_bytes(w.to_bytes(), "dbip").unwrap();
    assert_eq!(db.country(ip("2a02:8071::1")).unwrap().as_str(), "DE");
}

// ---- MaxMind's own test databases (skipped when shared/ is absent) ----

/// Every network in MaxMind's Country test listing: our GeoDb agrees with the listing, and a
/// database re-generated by our writer from the same listing agrees too.
#[test]
fn maxmind_country_test_db_matches_its_listing_and_our_writer() {
    let (Some(db_path), Some(json_path)) = (
        shared_mmdb("GeoIP2-Country-Test.mmdb"),
        shared_mmdb("GeoIP2-Country-Test.json"),
    ) else {
        return;
    };
    let db = GeoDb::open(&db_path).unwrap();
    let listing: Vec<HashMap<String, serde_json::Value>> =
        serde_json::from_slice(&std::fs::read(json_path).unwrap()).unwrap();
    let mut writer = MmdbWriter::new("GeoIP2-Country");
    let mut checked = 0;
    let mut expected = Vec::new();
    for entry in &listing {
        for (net, data) in entry {
            let code = data["country"]["iso_code"]
                .as_str()
                .or_else(|| data["registered_country"]["iso_code"].as_str());
            let Some(code) = code else { continue };
            let net: ipnet::IpNet = net.parse().unwrap();
            let addr = net.network();
            writer.insert(net, &MmdbValue::country(code));
            expected.push((addr, code.to_owned()));
        }
    }
    let ours = GeoDb::from_bytes(writer.to_bytes(), "regenerated").unwrap();
    for (addr, code) in &expected {
        assert_eq!(
            db.country(*addr).map(|c| c.to_string()).as_deref(),
            Some(code.as_str()),
            "{addr}"
        );
        assert_eq!(
            ours.country(*addr).map(|c| c.to_string()).as_deref(),
            Some(code.as_str()),
            "{addr}"
        );
        checked += 1;
    }
    assert!(checked > 100, "only {checked} networks checked");
}

#[test]
fn maxmind_country_test_db_blocks_through_access_control() {
    let Some(db_path) = shared_mmdb("GeoLite2-Country-Test.mmdb") else {
        return;
    };
    let mut config = AccessConfig::default();
    config.geo.database = Some(db_path);
    config.geo.block_countries = vec!["SE".parse().unwrap()];
    let access = AccessControl::new(config).unwrap();
    // 89.160.20.128 is in Sweden in MaxMind's test data; 81.2.69.142 in Great Britain.
    assert_eq!(access.country(ip("89.160.20.128")).unwrap().as_str(), "SE");
    assert_eq!(
        access
            .check(&req(ip("89.160.20.128"), "GET", "/"))
            .control(),
        Some(Control::Geo)
    );
    assert!(access.check(&req(ip("81.2.69.142"), "GET", "/")).is_allow());
}

#[test]
fn maxmind_city_db_works_as_country_source() {
    let Some(db_path) = shared_mmdb("GeoIP2-City-Test.mmdb") else {
        return;
    };
    let db = GeoDb::open(&db_path).unwrap();
    assert_eq!(db.country(ip("81.2.69.142")).unwrap().as_str(), "GB");
}

#[test]
fn maxmind_anonymous_test_db() {
    let Some(db_path) = shared_mmdb("GeoIP2-Anonymous-IP-Test.mmdb") else {
        return;
    };
    let db = AnonymousDb::open(&db_path).unwrap();
    let c = db.categories(ip("1.124.213.1"));
    assert!(c.contains(AnonymousCategory::Tor) && c.contains(AnonymousCategory::Vpn));
    assert!(db
        .categories(ip("71.160.223.5"))
        .contains(AnonymousCategory::Hosting));
    assert!(!db
        .categories(ip("71.160.223.5"))
        .contains(AnonymousCategory::Tor));
    assert!(db
        .categories(ip("186.30.236.1"))
        .contains(AnonymousCategory::PublicProxy));

    let mut config = AccessConfig::default();
    config.anonymous.database = Some(db_path);
    config.anonymous.block = vec![AnonymousCategory::PublicProxy];
    let access = AccessControl::new(config).unwrap();
    assert_eq!(
        access.check(&req(ip("186.30.236.1"), "GET", "/")).control(),
        Some(Control::AnonymousNetwork)
    );
    assert!(access
        .check(&req(ip("71.160.223.5"), "GET", "/"))
        .is_allow());
}

#[test]
fn maxmind_broken_and_wrong_databases_are_refused_with_path() {
    for name in [
        "GeoIP2-City-Test-Broken-Double-Format.mmdb",
        "GeoIP2-City-Test-Invalid-Node-Count.mmdb",
    ] {
        let Some(path) = shared_mmdb(name) else {
            return;
        };
        let err = GeoDb::open(&path).unwrap_err().to_string();
        assert!(err.contains(name), "{err}");
    }
    let Some(asn) = shared_mmdb("GeoLite2-ASN-Test.mmdb") else {
        return;
    };
    let mut config = AccessConfig::default();
    config.geo.database = Some(asn.clone());
    let err = AccessControl::new(config).unwrap_err().to_string();
    assert!(
        err.contains("GeoLite2-ASN") && err.contains("no country data"),
        "{err}"
    );
}
