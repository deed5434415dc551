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
    // Several X-Forwarded-For fields read as one list, last field right-most: one, two and
    // three fields take different paths in the proxy.
    for fields in [
        &["X-Forwarded-For: 198.51.100.21, 173.245.48.9"][..],
        &[
            "X-Forwarded-For: 198.51.100.21",
            "X-Forwarded-For: 173.245.48.9",
        ],
        &[
            "X-Forwarded-For: 203.0.113.7",
            "X-Forwarded-For: 198.51.100.21",
            "X-Forwarded-For: 173.245.48.9",
        ],
    ] {
        let ok = p.send("GET", "/multi", fields);
        assert_passed(&ok, "/multi");
        assert_eq!(
            p.access_event_for(&ok)["client.ip"],
            "198.51.100.21",
            "{fields:?}"
        );
    }
    let resp = p.send(
        "GET",
        "/multi",
        &[
            "X-Forwarded-For: 198.51.100.21",
            "X-Forwarded-For: 203.0.113.7, 173.245.48.9",
        ],
    );
    assert_refused(&p, &resp, 403, "ip", "203.0.113.7");
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
        // As servlet containers, Spring and Rails route them: path parameters, a NUL, trailing
        // dots or blanks, a format suffix.
        "/admin;jsessionid=1",
        "/admin;/x",
        "/admin%00",
        "/admin.",
        "/admin%20",
        "/admin%09/x",
        "/admin.json",
        // A decoded `?` or `#` (a server that parses the decoded path as a URL again), and a
        // dotless ı that Java's equalsIgnoreCase and .NET's OrdinalIgnoreCase read as `i`.
        "/admin%3Fx.php",
        "/admin%23",
        "/adm%C4%B1n/x",
    ] {
        let resp = p.get_via(path, other);
        let ev = assert_refused(&p, &resp, 403, "ip", other);
        assert!(
            reason(&ev).contains("allowlist") && reason(&ev).contains("/admin/**"),
            "{path}: {ev}"
        );
    }
    // Symfony and IIS-era stacks route by X-Original-URL / X-Rewrite-URL instead of the
    // request line: the inspection engine refuses them (rule 100390).
    for header in ["X-Original-URL: /admin/x", "X-Rewrite-URL: /admin"] {
        let xff = format!("X-Forwarded-For: {other}");
        let resp = p.send("GET", "/", &[&xff, header]);
        assert_eq!(resp.status, 403, "{header}: {}", resp.text());
        let events = p.security_events_for(&resp);
        assert!(
            events.iter().any(|e| e["rule.id"]
                .as_array()
                .is_some_and(|ids| ids.iter().any(|r| r == "100390"))),
            "{header}: {events:?}"
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
    // The ways a server may route to /login count against the same limit.
    let c = "X-Forwarded-For: 198.51.100.3";
    for path in [
        "/login.json",
        "/login;jsessionid=1",
        "/LOGIN/",
        "/login.",
        "/login%20",
    ] {
        assert_passed(&p.send("POST", path, &[c]), path);
    }
    let resp = p.send("POST", "/login.json", &[c]);
    assert_refused(&p, &resp, 429, "ratelimit", "198.51.100.3");
}

#[test]
fn a_method_scoped_limit_counts_posts_the_app_runs_as_that_method() {
    // Express's method-override, Rack, Laravel: a POST with an override is a DELETE to the app.
    let p = palisade(&[
        ("DYNO", "web.1"),
        ("PALISADE_RATE_LIMITS", "DELETE /records/* 2/minute"),
    ]);
    let a = "X-Forwarded-For: 198.51.100.21";
    assert_passed(&p.send("DELETE", "/records/1", &[a]), "/records/1");
    assert_passed(
        &p.send("POST", "/records/2", &[a, "X-HTTP-Method-Override: DELETE"]),
        "/records/2",
    );
    let resp = p.send("POST", "/records/3?_method=delete", &[a]);
    assert_refused(&p, &resp, 429, "ratelimit", "198.51.100.21");
    // A plain POST, and an override on a GET (which frameworks ignore), are not DELETEs.
    let b = "X-Forwarded-For: 198.51.100.22";
    for _ in 0..3 {
        assert_passed(&p.send("POST", "/records/4", &[b]), "/records/4");
        assert_passed(
            &p.send("GET", "/records/5", &[b, "X-HTTP-Method-Override: DELETE"]),
            "/records/5",
        );
    }
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

/// `rule.id` of a security or access line (a list with one access-control id).
fn rule_ids(ev: &serde_json::Value) -> Vec<String> {
    ev["rule.id"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts a refusal, its security event and its access line, both with `rule.id == [id]`.
fn assert_refused_by_rule(
    p: &Palisade,
    resp: &Response,
    status: u16,
    control: &str,
    client_ip: &str,
    id: &str,
) -> serde_json::Value {
    let ev = assert_refused(p, resp, status, control, client_ip);
    assert_eq!(rule_ids(&ev), [id], "security event: {ev}");
    let access = p.access_event_for(resp);
    assert_eq!(rule_ids(&access), [id], "access line: {access}");
    ev
}

#[test]
fn access_denials_carry_stable_rule_ids() {
    let db = country_db_file();
    let anon = anonymous_db(&[("185.220.101.0/24", &["is_tor_exit_node"])]);
    let anon = write_file("ruleids", "anon.mmdb", &anon);
    let yml = palisade_yml(
        "ruleids",
        "access:\n  paths:\n    - path: /admin/**\n      allow:\n        ips: [198.51.100.0/24]\n  \
         bans:\n    after_blocks: 0\n",
    );
    let p = palisade(&[
        ("DYNO", "web.1"),
        ("PALISADE_CONFIG", &yml),
        ("PALISADE_IP_BLOCKLIST", "192.0.2.0/24"),
        ("PALISADE_GEO_DATABASE", db.to_str().unwrap()),
        ("PALISADE_GEO_BLOCK_COUNTRIES", "KP"),
        ("PALISADE_ANONYMOUS_DATABASE", anon.to_str().unwrap()),
        ("PALISADE_ANONYMOUS_BLOCK", "tor"),
        ("PALISADE_RATE_LIMITS", "POST /login 1/minute"),
    ]);
    let resp = p.get_via("/x", "192.0.2.8");
    let ev = assert_refused_by_rule(&p, &resp, 403, "ip", "192.0.2.8", "access.ip_blocklist");
    assert_eq!(
        ev["palisade.hits"][0]["target"], "block:global:config",
        "{ev}"
    );
    let resp = p.get_via("/admin/x", "198.18.0.1");
    assert_refused_by_rule(&p, &resp, 403, "ip", "198.18.0.1", "access.ip_allowlist");
    let resp = p.get_via("/x", "203.0.113.9");
    assert_refused_by_rule(&p, &resp, 403, "geo", "203.0.113.9", "access.geo");
    let resp = p.get_via("/x", "185.220.101.4");
    assert_refused_by_rule(
        &p,
        &resp,
        403,
        "anon",
        "185.220.101.4",
        "access.anonymous_network",
    );
    let resp = p.send(
        "GET",
        "/x",
        &["User-Agent: sqlmap/1.7", "X-Forwarded-For: 198.51.100.60"],
    );
    let ev = assert_refused_by_rule(&p, &resp, 403, "bot", "198.51.100.60", "access.bot");
    assert_eq!(ev["palisade.hits"][0]["target"], "bot:sqlmap", "{ev}");
    let login = |ip: &str| p.send("POST", "/login", &[&format!("X-Forwarded-For: {ip}")]);
    assert_passed(&login("198.51.100.61"), "/login");
    let resp = login("198.51.100.61");
    let ev = assert_refused_by_rule(
        &p,
        &resp,
        429,
        "ratelimit",
        "198.51.100.61",
        "access.rate_limit",
    );
    assert_eq!(ev["palisade.hits"][0]["target"], "POST /login", "{ev}");
    // A request the app answered carries no rule id.
    let ok = p.get_via("/x", "198.51.100.62");
    assert_passed(&ok, "/x");
    assert!(rule_ids(&p.access_event_for(&ok)).is_empty());
}

#[test]
fn clients_that_keep_going_past_their_429s_are_banned() {
    // Credential stuffing: 2 logins a minute, and a ban after 3 refusals within a minute.
    let yml = palisade_yml(
        "ban429",
        "access:\n  bans:\n    after_blocks: 3\n    within: 1m\n    duration: 1m\n",
    );
    let p = palisade(&[
        ("DYNO", "web.1"),
        ("PALISADE_CONFIG", &yml),
        ("PALISADE_RATE_LIMITS", "POST /login 2/minute"),
    ]);
    let stuffer = "198.51.100.70";
    let login = |ip: &str| p.send("POST", "/login", &[&format!("X-Forwarded-For: {ip}")]);
    for _ in 0..2 {
        assert_passed(&login(stuffer), "/login");
    }
    // The first two 429s do not ban yet.
    for _ in 0..2 {
        let resp = login(stuffer);
        assert_refused_by_rule(&p, &resp, 429, "ratelimit", stuffer, "access.rate_limit");
        assert!(
            p.security_events_for(&resp)
                .iter()
                .all(|e| e["palisade.action"] != "ban"),
            "banned too early"
        );
    }
    // The third 429 starts the ban, reported on that request.
    let resp = login(stuffer);
    assert_eq!(resp.status, 429, "{}", resp.text());
    let events = p.security_events_for(&resp);
    let ban = events
        .iter()
        .find(|e| e["palisade.action"] == "ban")
        .unwrap_or_else(|| panic!("no ban event on the third 429: {events:?}"));
    assert_eq!(ban["palisade.ban_seconds"], 60, "{ban}");
    assert_eq!(rule_ids(ban), ["access.ban"], "{ban}");
    // Now every request from the stuffer is refused by the ban, not the limit: 403.
    for path in ["/login", "/elsewhere"] {
        let resp = p.send("POST", path, &[&format!("X-Forwarded-For: {stuffer}")]);
        let ev = assert_refused_by_rule(&p, &resp, 403, "ip", stuffer, "access.ban");
        assert_eq!(ev["palisade.action"], "ban", "{ev}");
        assert!(reason(&ev).contains("banned"), "{ev}");
        assert!(resp.header("retry-after").is_none());
    }
    // Another client is unaffected: its own two logins pass.
    for _ in 0..2 {
        assert_passed(&login("198.51.100.71"), "/login");
    }
}

/// A password-protected `redis-server` with TLS on one port (a self-signed certificate for
/// 127.0.0.1, generated with `openssl`) and plain TCP on another, used only by the test itself
/// to look at the keys. `None` after printing SKIP when redis-server, openssl or TLS support is
/// missing.
struct TlsRedis {
    _child: ChildGuard,
    tls_port: u16,
    plain_port: u16,
    cert: PathBuf,
}

const TLS_REDIS_PASSWORD: &str = "e2e-redis-s3cret";

impl TlsRedis {
    fn start(tag: &str) -> Option<TlsRedis> {
        let Some(binary) = redis_server_binary() else {
            eprintln!("SKIP: redis-server is not installed; the rediss:// tests need it");
            return None;
        };
        let dir = temp_dir(tag);
        let (cert, key) = (dir.join("redis.crt"), dir.join("redis.key"));
        let made = std::process::Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args(["-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        if !made.is_ok_and(|s| s.success()) {
            eprintln!(
                "SKIP: openssl could not make a test certificate; the rediss:// tests need it"
            );
            return None;
        }
        let (tls_port, plain_port) = (free_port(), free_port());
        let mut child = std::process::Command::new(binary)
            .args(["--bind", "127.0.0.1", "--port", &plain_port.to_string()])
            .args(["--tls-port", &tls_port.to_string()])
            .arg("--tls-cert-file")
            .arg(&cert)
            .arg("--tls-key-file")
            .arg(&key)
            .arg("--tls-ca-cert-file")
            .arg(&cert)
            .args(["--tls-auth-clients", "no"])
            .args(["--requirepass", TLS_REDIS_PASSWORD])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", tls_port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                eprintln!(
                    "SKIP: redis-server exited ({status}) when started with --tls-port (most \
                     likely built without TLS support); the rediss:// tests need it"
                );
                return None;
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(TlsRedis {
            _child: ChildGuard(child),
            tls_port,
            plain_port,
            cert,
        })
    }

    /// Heroku's format: `rediss://:password@host:port`.
    fn url(&self) -> String {
        format!("rediss://:{TLS_REDIS_PASSWORD}@127.0.0.1:{}", self.tls_port)
    }

    /// `AUTH`, then one command over the plain port; returns the raw reply text.
    fn command(&self, args: &[&str]) -> String {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.plain_port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut send = |args: &[&str]| {
            let mut cmd = format!("*{}\r\n", args.len());
            for a in args {
                cmd.push_str(&format!("${}\r\n{a}\r\n", a.len()));
            }
            s.write_all(cmd.as_bytes()).unwrap();
            let mut buf = vec![0; 65536];
            let n = s.read(&mut buf).unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        };
        assert_eq!(send(&["AUTH", TLS_REDIS_PASSWORD]), "+OK\r\n");
        send(args)
    }
}

/// A `palisade.yml` with a Redis timeout generous enough for a loaded test machine, and a key
/// prefix of the test's own; the URL comes from the environment as on Heroku.
fn redis_yml(tag: &str, prefix: &str) -> String {
    palisade_yml(
        tag,
        &format!(
            "access:\n  redis:\n    url: redis://127.0.0.1:1\n    timeout: 250ms\n    \
             key_prefix: {prefix}\n"
        ),
    )
}

/// Sends 40 requests for one client alternately through `a` and `b`; returns how many passed.
fn shared_limit_allowed(a: &Palisade, b: &Palisade, client: &str) -> usize {
    let mut allowed = 0;
    for i in 0..40 {
        let p = if i % 2 == 0 { a } else { b };
        let resp = p.get_via("/limited", client);
        match resp.status {
            200 => allowed += 1,
            429 => assert!(resp.header("retry-after").is_some()),
            s => panic!("unexpected status {s}: {}", resp.text()),
        }
    }
    allowed
}

#[test]
fn heroku_rediss_url_shares_one_limit_over_tls() {
    let Some(redis) = TlsRedis::start("rediss") else {
        return;
    };
    let url = redis.url();
    let yml = redis_yml("rediss", "e2etls");
    // Heroku Redis sets REDIS_URL=rediss://:password@host:port with a self-signed certificate.
    let env = [
        ("DYNO", "web.1"),
        ("PALISADE_CONFIG", yml.as_str()),
        ("REDIS_URL", url.as_str()),
        ("PALISADE_RATE_LIMITS", "GET /limited 20/minute"),
    ];
    let a = palisade(&env);
    let b = palisade(&env);
    for p in [&a, &b] {
        assert!(
            p.stderr_contains("WITHOUT certificate verification"),
            "no startup line about the unverified certificate: {:#?}",
            p.stderr_lines()
        );
    }
    // Both processes reach Redis (TLS + AUTH): each one's warm-up client gets a key.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let _ = a.get_via("/limited", "198.51.100.201");
        let _ = b.get_via("/limited", "198.51.100.202");
        let keys = redis.command(&["KEYS", "e2etls:rl:*"]);
        if keys.contains("198.51.100.201") && keys.contains("198.51.100.202") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "palisade never wrote to Redis over TLS; keys: {keys}; stderr: {:#?}",
            a.stderr_lines()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let allowed = shared_limit_allowed(&a, &b, "198.51.100.50");
    assert!(
        (18..=22).contains(&allowed),
        "two processes sharing 20/minute over rediss:// allowed {allowed} of 40"
    );
    // The password never reaches a log line.
    for p in [&a, &b] {
        let all = [p.stdout_lines(), p.stderr_lines()].concat().join("\n");
        assert!(!all.contains(TLS_REDIS_PASSWORD), "password logged: {all}");
    }
}

#[test]
fn rediss_with_verification_refuses_an_untrusted_certificate_and_falls_back_locally() {
    let Some(redis) = TlsRedis::start("rediss-verify") else {
        return;
    };
    let url = redis.url();
    let yml = redis_yml("rediss-verify", "e2everify");
    // An explicit PALISADE_REDIS_URL verifies by default; the self-signed certificate is not
    // trusted, so palisade must not talk to this server (nor send it the password).
    let env = [
        ("DYNO", "web.1"),
        ("PALISADE_CONFIG", yml.as_str()),
        ("PALISADE_REDIS_URL", url.as_str()),
        ("PALISADE_RATE_LIMITS", "GET /limited 20/minute"),
    ];
    let p = palisade(&env);
    assert!(
        p.stderr_contains("the Redis certificate is verified"),
        "{:#?}",
        p.stderr_lines()
    );
    let mut allowed = 0;
    for _ in 0..25 {
        let started = Instant::now();
        let resp = p.get_via("/limited", "198.51.100.80");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "answer took {:?}",
            started.elapsed()
        );
        match resp.status {
            200 => allowed += 1,
            429 => {}
            s => panic!("unexpected status {s}: {}", resp.text()),
        }
    }
    assert_eq!(allowed, 20, "the local fallback limit is 20/minute");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !p.stderr_contains("shared rate limits unavailable") {
        assert!(
            Instant::now() < deadline,
            "no fallback warning on stderr: {:#?}",
            p.stderr_lines()
        );
        let _ = p.get_via("/x", "198.51.100.81");
        std::thread::sleep(Duration::from_millis(50));
    }
    let warning = p
        .stderr_lines()
        .into_iter()
        .find(|l| l.contains("shared rate limits unavailable"))
        .unwrap();
    assert!(
        warning.to_ascii_lowercase().contains("certificate"),
        "the warning should say the certificate was refused: {warning}"
    );
    assert_eq!(
        redis.command(&["KEYS", "e2everify:*"]),
        "*0\r\n",
        "nothing may be written through an unverified connection"
    );
    drop(p);

    // Trusting the certificate (SSL_CERT_FILE, e.g. a private CA) makes verification pass.
    let cert = redis.cert.display().to_string();
    let mut trusted = env.to_vec();
    trusted.push(("SSL_CERT_FILE", cert.as_str()));
    let p = palisade(&trusted);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let _ = p.get_via("/limited", "198.51.100.82");
        if redis
            .command(&["KEYS", "e2everify:rl:*"])
            .contains("198.51.100.82")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no key written with the certificate trusted; stderr: {:#?}",
            p.stderr_lines()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn invalid_redis_settings_refuse_to_start_naming_the_variable() {
    let err = refuses_to_start(&[("PALISADE_REDIS_URL", "rediss://:s3cret@host:notaport")]);
    assert!(err.contains("PALISADE_REDIS_URL"), "{err}");
    assert!(err.contains("port"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");

    let err = refuses_to_start(&[("REDIS_URL", "https://:s3cret@host:6379")]);
    assert!(err.contains("REDIS_URL"), "{err}");
    assert!(err.contains("rediss://"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");

    let err = refuses_to_start(&[
        ("REDIS_URL", "rediss://:pw@127.0.0.1:6380"),
        ("PALISADE_REDIS_TLS_VERIFY", "sometimes"),
    ]);
    assert!(err.contains("PALISADE_REDIS_TLS_VERIFY"), "{err}");
    assert!(err.contains("sometimes"), "{err}");
}
