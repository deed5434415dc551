//! Access control end to end (issue #4): the real `palisade` binary in front of the python-echo
//! app, real sockets, and the audit events it writes on stdout. Every refusal is checked for its
//! status AND its security event, and every test shows that a clean request from an allowed
//! client still reaches the app.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::net::{Ipv6Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use palisade_access::mmdb_writer::{anonymous_db, country_db};

fn echo_app() -> String {
    format!(
        "python3 app.py access-{}-{}",
        std::process::id(),
        free_port()
    )
}

/// palisade + the echo app, started with `env`, ready to serve.
fn palisade(env: &[(&str, &str)]) -> Palisade {
    let mut b = Builder::new();
    for (k, v) in env {
        b = b.env(k, v);
    }
    let p = b.app(&echo_app()).start();
    p.wait_app_ready();
    p
}

/// Writes `text` as a palisade.yml in a temp dir and returns its path.
fn palisade_yml(tag: &str, text: &str) -> String {
    let path = temp_dir(tag).join("palisade.yml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn write_file(tag: &str, name: &str, bytes: &[u8]) -> PathBuf {
    let path = temp_dir(tag).join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Asserts the response came from the app (the echo app answers JSON with the path).
fn assert_passed(resp: &Response, path: &str) {
    assert_eq!(
        resp.status,
        200,
        "expected the app's answer: {}",
        resp.text()
    );
    assert_eq!(resp.json()["path"], path);
}

/// Asserts a refusal and its security event; returns the event.
fn assert_refused(
    p: &Palisade,
    resp: &Response,
    status: u16,
    control: &str,
    client_ip: &str,
) -> serde_json::Value {
    assert_eq!(resp.status, status, "body: {}", resp.text());
    let ev = p.security_event_for(resp);
    assert_eq!(ev["palisade.control"], control, "{ev}");
    assert_eq!(ev["client.ip"], client_ip, "{ev}");
    assert_eq!(ev["http.response.status_code"], status, "{ev}");
    assert!(
        ev["event.reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{ev}"
    );
    // The access line agrees.
    let access = p.access_event_for(resp);
    assert_eq!(access["http.response.status_code"], status, "{access}");
    assert_eq!(access["client.ip"], client_ip, "{access}");
    ev
}

fn reason(ev: &serde_json::Value) -> &str {
    ev["event.reason"].as_str().unwrap()
}

#[test]
fn heroku_mode_judges_the_right_most_forwarded_entry() {
    // The spoofable left entry is blocklisted's neighbour; the router-appended right one is the
    // client.
    let p = palisade(&[
        ("DYNO", "web.1"),
        ("PALISADE_IP_BLOCKLIST", "203.0.113.0/24"),
    ]);
    let resp = p.get_via("/x", "1.2.3.4, 203.0.113.7");
    let ev = assert_refused(&p, &resp, 403, "ip", "203.0.113.7");
    assert_eq!(ev["palisade.action"], "deny", "{ev}");
    assert!(reason(&ev).contains("blocklist"), "{ev}");
    // Putting a blocked address on the left (spoofing) changes nothing.
    assert_passed(&p.get_via("/x", "203.0.113.7, 198.51.100.20"), "/x");
    let ok = p.get_via("/clean", "198.51.100.20");
    assert_passed(&ok, "/clean");
    assert_eq!(p.access_event_for(&ok)["client.ip"], "198.51.100.20");
    drop(p);

    // Only the spoofed left entry is listed: passes.
    let p = palisade(&[("DYNO", "web.1"), ("PALISADE_IP_BLOCKLIST", "1.2.3.4")]);
    let resp = p.get_via("/y", "1.2.3.4, 203.0.113.7");
    assert_passed(&resp, "/y");
    assert_eq!(p.access_event_for(&resp)["client.ip"], "203.0.113.7");
    let resp = p.get_via("/y", "203.0.113.7, 1.2.3.4");
    assert_refused(&p, &resp, 403, "ip", "1.2.3.4");
}

#[test]
fn heroku_mode_holds_with_a_palisade_yml_that_does_not_set_the_client_ip_mode() {
    // A palisade.yml with a top-level `mode:` and a `client_ip` section without `mode` must not
    // switch Heroku detection off (every client would be the router).
    let yml = palisade_yml(
        "cdn",
        "mode: block\naccess:\n  client_ip:\n    trusted_proxies:\n      ips: [173.245.48.0/20]\n",
    );
    let p = palisade(&[
        ("DYNO", "web.1"),
        ("PALISADE_CONFIG", &yml),
        ("PALISADE_IP_BLOCKLIST", "203.0.113.0/24"),
    ]);
    // CDN hop skipped from the right, then the client.
    let resp = p.get_via("/x", "1.2.3.4, 203.0.113.7, 173.245.48.9");
    assert_refused(&p, &resp, 403, "ip", "203.0.113.7");
    let ok = p.get_via("/x", "198.51.100.20, 173.245.48.9");
    assert_passed(&ok, "/x");
    assert_eq!(p.access_event_for(&ok)["client.ip"], "198.51.100.20");
}

fn ipv6_loopback_available() -> bool {
    TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok()
}

#[test]
fn ipv6_socket_client_is_blocklisted() {
    if !ipv6_loopback_available() {
        eprintln!("SKIP: IPv6 loopback (::1) is not available on this machine");
        return;
    }
    let p = palisade(&[
        ("PALISADE_TRUSTED_PROXY", "socket"),
        ("PALISADE_IP_BLOCKLIST", "::1/128"),
    ]);
    let resp = request(p.addr_v6(), &raw_request("GET", "/v6", &[]));
    let ev = assert_refused(&p, &resp, 403, "ip", "::1");
    assert!(reason(&ev).contains("blocklist"), "{ev}");
    // A forwarded header is ignored in socket mode: it cannot unblock ::1 ...
    let resp = request(
        p.addr_v6(),
        &raw_request("GET", "/v6", &["X-Forwarded-For: 198.51.100.1"]),
    );
    assert_refused(&p, &resp, 403, "ip", "::1");
    // ... and IPv4 loopback is a different client.
    assert_passed(&p.send("GET", "/v4", &[]), "/v4");
}

#[test]
fn ipv6_forwarded_client_in_heroku_mode() {
    let p = palisade(&[
        ("DYNO", "web.1"),
        ("PALISADE_IP_BLOCKLIST", "2001:db8:bad::/48"),
    ]);
    let resp = p.get_via("/x", "2001:db8::1, 2001:db8:bad::7");
    let ev = assert_refused(&p, &resp, 403, "ip", "2001:db8:bad::7");
    assert!(reason(&ev).contains("blocklist"), "{ev}");
    // Bracketed with a port, as some proxies write it.
    let resp = p.get_via("/x", "[2001:db8:bad::8]:443");
    assert_refused(&p, &resp, 403, "ip", "2001:db8:bad::8");
    // Spoofed on the left: passes.
    let ok = p.get_via("/x", "2001:db8:bad::7, 2001:db8::1");
    assert_passed(&ok, "/x");
    assert_eq!(p.access_event_for(&ok)["client.ip"], "2001:db8::1");
}

#[test]
fn admin_paths_are_allowlisted_from_palisade_yml() {
    let yml = palisade_yml(
        "admin",
        "access:\n  paths:\n    - path: /admin/**\n      allow:\n        ips: [198.51.100.0/24]\n",
    );
    let p = palisade(&[("DYNO", "web.1"), ("PALISADE_CONFIG", &yml)]);
    let office = "198.51.100.7";
    let other = "203.0.113.5";
    assert_passed(&p.get_via("/admin/x", office), "/admin/x");
    assert_passed(&p.get_via("/public/x", other), "/public/x");
    assert_passed(&p.get_via("/", other), "/");
    for path in [
        "/admin/x",
        "/admin",
        "/ADMIN/x",
        "/admin/",
        "/public/..%2fadmin/x",
    ] {
        let resp = p.get_via(path, other);
        let ev = assert_refused(&p, &resp, 403, "ip", other);
        assert!(
            reason(&ev).contains("allowlist") && reason(&ev).contains("/admin/**"),
            "{path}: {ev}"
        );
    }
}

/// A country database: 203.0.113.0/24 = KP, 198.51.100.0/24 = US, 2001:db8::/32 = DE.
fn country_db_file() -> PathBuf {
    let db = country_db(&[
        ("203.0.113.0/24", "KP"),
        ("198.51.100.0/24", "US"),
        ("2001:db8::/32", "DE"),
    ]);
    write_file("geo", "country.mmdb", &db)
}

#[test]
fn geo_block_countries() {
    let db = country_db_file();
    let p = palisade(&[
        ("DYNO", "web.1"),
        ("PALISADE_GEO_DATABASE", db.to_str().unwrap()),
        ("PALISADE_GEO_BLOCK_COUNTRIES", "kp"),
    ]);
    let resp = p.get_via("/x", "203.0.113.9");
    let ev = assert_refused(&p, &resp, 403, "geo", "203.0.113.9");
    assert_eq!(ev["source.geo.country_iso_code"], "KP", "{ev}");
    assert!(reason(&ev).contains("KP"), "{ev}");
    let ok = p.get_via("/x", "198.51.100.9");
    assert_passed(&ok, "/x");
    assert_eq!(p.access_event_for(&ok)["source.geo.country_iso_code"], "US");
    let ok = p.get_via("/x", "2001:db8::5");
    assert_passed(&ok, "/x");
    assert_eq!(p.access_event_for(&ok)["source.geo.country_iso_code"], "DE");
    // Not in the database: not blocked under a block list.
    assert_passed(&p.get_via("/x", "192.0.2.1"), "/x");
}

#[test]
fn geo_allow_countries() {
    let db = country_db_file();
    let p = palisade(&[
        ("DYNO", "web.1"),
        ("PALISADE_GEO_DATABASE", db.to_str().unwrap()),
        ("PALISADE_GEO_ALLOW_COUNTRIES", "US,DE"),
    ]);
    let resp = p.get_via("/x", "203.0.113.9");
    let ev = assert_refused(&p, &resp, 403, "geo", "203.0.113.9");
    assert_eq!(ev["source.geo.country_iso_code"], "KP", "{ev}");
    // Unknown country under an allow list: blocked by default.
    let resp = p.get_via("/x", "192.0.2.1");
    let ev = assert_refused(&p, &resp, 403, "geo", "192.0.2.1");
    assert!(reason(&ev).contains("unknown"), "{ev}");
    assert_passed(&p.get_via("/x", "198.51.100.9"), "/x");
    assert_passed(&p.get_via("/x", "2001:db8::5"), "/x");
}

fn shared_mmdb_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("PALISADE_TEST_MMDB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/testdata/mmdb"));
    dir.join("GeoLite2-Country-Test.mmdb")
        .is_file()
        .then_some(dir)
}

#[test]
fn geo_with_maxminds_own_test_database() {
    let Some(dir) = shared_mmdb_dir() else {
        eprintln!("SKIP: MaxMind test databases not found (set PALISADE_TEST_MMDB_DIR)");
        return;
    };
    let db = dir.join("GeoLite2-Country-Test.mmdb");
    let p = palisade(&[
        ("DYNO", "web.1"),
        ("PALISADE_GEO_DATABASE", db.to_str().unwrap()),
        ("PALISADE_GEO_BLOCK_COUNTRIES", "GB"),
    ]);
    let resp = p.get_via("/x", "81.2.69.160");
    let ev = assert_refused(&p, &resp, 403, "geo", "81.2.69.160");
    assert_eq!(ev["source.geo.country_iso_code"], "GB", "{ev}");
    let ok = p.get_via("/x", "89.160.20.112");
    assert_passed(&ok, "/x");
    assert_eq!(p.access_event_for(&ok)["source.geo.country_iso_code"], "SE");
}

#[test]
fn anonymous_networks_by_database_and_list_file() {
    let db = anonymous_db(&[
        ("185.220.101.0/24", &["is_tor_exit_node"]),
        ("45.0.0.0/24", &["is_anonymous_vpn"]),
    ]);
    let db = write_file("anon", "anon.mmdb", &db);
    let list = write_file("anon", "proxies.txt", b"# open proxies\n198.18.0.0/24\n");
    let yml = palisade_yml(
        "anon",
        &format!(
            "access:\n  anonymous:\n    block: [tor, public_proxy]\n    lists:\n      public_proxy: [{}]\n",
            list.display()
        ),
    );
    let p = palisade(&[
        ("DYNO", "web.1"),
        ("PALISADE_CONFIG", &yml),
        ("PALISADE_ANONYMOUS_DATABASE", db.to_str().unwrap()),
    ]);
    let resp = p.get_via("/x", "185.220.101.4");
    let ev = assert_refused(&p, &resp, 403, "anon", "185.220.101.4");
    assert!(reason(&ev).contains("tor"), "{ev}");
    let resp = p.get_via("/x", "198.18.0.9");
    let ev = assert_refused(&p, &resp, 403, "anon", "198.18.0.9");
    assert!(reason(&ev).contains("public_proxy"), "{ev}");
    // VPN is not a blocked category here.
    assert_passed(&p.get_via("/x", "45.0.0.8"), "/x");
    assert_passed(&p.get_via("/x", "198.51.100.9"), "/x");
}

#[test]
fn scanner_user_agents_are_refused_and_browsers_pass() {
    let p = palisade(&[]);
    let resp = p.send(
        "GET",
        "/x",
        &["User-Agent: sqlmap/1.7#stable (https://sqlmap.org)"],
    );
    let ev = assert_refused(&p, &resp, 403, "bot", "127.0.0.1");
    assert!(reason(&ev).contains("sqlmap"), "{ev}");
    let ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
              Chrome/120.0 Safari/537.36";
    assert_passed(&p.send("GET", "/x", &[&format!("User-Agent: {ua}")]), "/x");
    // A probe path is a bot signal too.
    let resp = p.send("GET", "/.env", &[&format!("User-Agent: {ua}")]);
    assert_refused(&p, &resp, 403, "bot", "127.0.0.1");
}

#[test]
fn login_rate_limit_answers_429_with_retry_after() {
    let p = palisade(&[
        ("DYNO", "web.1"),
        ("PALISADE_RATE_LIMITS", "POST /login 5/minute"),
    ]);
    let a = "X-Forwarded-For: 198.51.100.1";
    for i in 0..5 {
        let resp = p.send("POST", "/login", &[a]);
        assert_eq!(resp.status, 200, "POST {i}: {}", resp.text());
    }
    let resp = p.send("POST", "/login", &[a]);
    let ev = assert_refused(&p, &resp, 429, "ratelimit", "198.51.100.1");
    let retry: u64 = resp
        .header("retry-after")
        .expect("429 has Retry-After")
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_eq!(ev["palisade.action"], "limit", "{ev}");
    assert!(reason(&ev).contains("/login"), "{ev}");
    // Other methods and paths, and other clients, are not limited by this rule.
    assert_passed(&p.send("GET", "/login", &[a]), "/login");
    assert_passed(&p.send("POST", "/other", &[a]), "/other");
    let resp = p.send("POST", "/login", &["X-Forwarded-For: 198.51.100.2"]);
    assert_passed(&resp, "/login");
}

#[test]
fn repeated_attacks_start_a_temporary_ban() {
    let yml = palisade_yml(
        "ban",
        "access:\n  bans:\n    after_blocks: 3\n    within: 1m\n    duration: 1m\n",
    );
    let p = palisade(&[("DYNO", "web.1"), ("PALISADE_CONFIG", &yml)]);
    let attacker = "X-Forwarded-For: 203.0.113.66";
    // Three injections the inspection engine blocks (no bot signal, so no bot-score ban).
    let attacks = [
        "/search?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E",
        "/search?q=%3Cscript%3Ealert(1)%3C/script%3E",
        "/search?q=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
    ];
    let mut events = Vec::new();
    for path in attacks {
        let resp = p.send("GET", path, &[attacker]);
        assert_eq!(resp.status, 403, "{path}: {}", resp.text());
        events = p.security_events_for(&resp);
        assert!(
            events
                .iter()
                .any(|e| e["palisade.control"] == "waf" && e["palisade.action"] == "block"),
            "{path}: {events:?}"
        );
        assert!(
            events.iter().all(|e| e["client.ip"] == "203.0.113.66"),
            "{events:?}"
        );
    }
    // The third block starts the ban, reported on that request.
    let ban = events
        .iter()
        .find(|e| e["palisade.action"] == "ban")
        .unwrap_or_else(|| panic!("no ban event after the third block: {events:?}"));
    assert!(reason(ban).contains("ban"), "{ban}");
    assert!(
        ban["palisade.ban_seconds"]
            .as_u64()
            .is_some_and(|s| s == 60),
        "{ban}"
    );
    // Now even a clean request is refused, with a ban event.
    let resp = p.get_via("/clean", "203.0.113.66");
    let ev = assert_refused(&p, &resp, 403, "ip", "203.0.113.66");
    assert_eq!(ev["palisade.action"], "ban", "{ev}");
    assert!(reason(&ev).contains("banned"), "{ev}");
    // Everyone else is unaffected.
    assert_passed(&p.get_via("/clean", "198.51.100.4"), "/clean");
}

#[test]
fn redis_shares_one_limit_across_two_processes_and_falls_back_locally() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let url = redis.url();
    // The file's timeout and key prefix must survive PALISADE_REDIS_URL (set on Heroku).
    let yml = palisade_yml(
        "redis",
        "access:\n  redis:\n    url: redis://127.0.0.1:1\n    timeout: 250ms\n    key_prefix: e2eshared\n",
    );
    let env = [
        ("DYNO", "web.1"),
        ("PALISADE_CONFIG", yml.as_str()),
        ("PALISADE_REDIS_URL", url.as_str()),
        ("PALISADE_RATE_LIMITS", "GET /limited 20/minute"),
    ];
    let a = palisade(&env);
    let b = palisade(&env);
    // Connect both to Redis (the connection starts on the first request).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        assert_passed(&a.get_via("/warm", "198.51.100.200"), "/warm");
        assert_passed(&b.get_via("/warm", "198.51.100.200"), "/warm");
        std::thread::sleep(Duration::from_millis(100));
        let keys = redis.command(&["KEYS", "e2eshared:*"]);
        if keys.contains("e2eshared:") || Instant::now() > deadline {
            break;
        }
    }
    let client = "198.51.100.50";
    let mut allowed = 0;
    for i in 0..40 {
        let p = if i % 2 == 0 { &a } else { &b };
        let resp = p.get_via("/limited", client);
        match resp.status {
            200 => allowed += 1,
            429 => assert!(resp.header("retry-after").is_some()),
            s => panic!("unexpected status {s}: {}", resp.text()),
        }
    }
    assert!(
        (18..=22).contains(&allowed),
        "two processes sharing 20/minute allowed {allowed} of 40"
    );
    let keys = redis.command(&["KEYS", "e2eshared:rl:*"]);
    assert!(keys.contains("e2eshared:rl:"), "keys in Redis: {keys}");

    // Redis dies: every request still gets a prompt answer, limits are per process.
    redis.kill();
    let other = "198.51.100.51";
    let mut allowed = 0;
    for _ in 0..25 {
        let started = Instant::now();
        let resp = a.get_via("/limited", other);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "answer took {:?}",
            started.elapsed()
        );
        assert!(resp.status < 500, "status {}: {}", resp.status, resp.text());
        if resp.status == 200 {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 20, "the local fallback limit is 20/minute");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !a.stderr_contains("shared rate limits unavailable") {
        assert!(
            Instant::now() < deadline,
            "no warning on stderr: {:#?}",
            a.stderr_lines()
        );
        let _ = a.get_via("/x", "198.51.100.52");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn refuses_to_start(env: &[(&str, &str)]) -> String {
    let mut b = Builder::new();
    for (k, v) in env {
        b = b.env(k, v);
    }
    let mut p = b.app(&echo_app()).spawn();
    let status = p
        .wait_exit(Duration::from_secs(10))
        .expect("palisade should refuse to start");
    assert_eq!(status.code(), Some(2), "stderr: {:?}", p.stderr_lines());
    p.stderr_lines().join("\n")
}

#[test]
fn invalid_access_settings_refuse_to_start() {
    let err = refuses_to_start(&[("PALISADE_RATE_LIMITS", "POST /login five/minute")]);
    assert!(err.contains("PALISADE_RATE_LIMITS"), "{err}");
    assert!(err.contains("five/minute"), "{err}");

    let err = refuses_to_start(&[("PALISADE_GEO_BLOCK_COUNTRIES", "XX1")]);
    assert!(err.contains("PALISADE_GEO_BLOCK_COUNTRIES"), "{err}");
    assert!(err.contains("XX1"), "{err}");

    let missing = Path::new("/nonexistent/palisade-e2e/GeoLite2-Country.mmdb");
    let err = refuses_to_start(&[("PALISADE_GEO_DATABASE", missing.to_str().unwrap())]);
    assert!(err.contains(missing.to_str().unwrap()), "{err}");
}
