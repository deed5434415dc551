//! Ruleset bundles through the real binary (issue #10): `palisade rules keygen/pack/sign/verify/
//! fetch`, and runtime updates from a local HTTP server while clients keep sending requests.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

/// A request the embedded rules let through; the virtual patch in the test bundles blocks it.
const CANARY: &str = "/lookup?q=palisade-virtual-patch-canary";

const PATCH: &str = "# Test virtual patch. Ids 800000-899999.\nruleset: virtual-patches\ndefaults:\n  category: virtual-patch\n  paranoia: 1\n  score: 5\n  targets: [args]\n  transforms: [url_decode]\nrules:\n  - id: 800001\n    name: Test canary\n    literals: [\"palisade-virtual-patch-canary\"]\n";

fn palisade(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A scratch directory with a fresh signing key (generated now, never committed).
struct Workshop {
    dir: PathBuf,
    pubkey: String,
}

impl Workshop {
    fn new(name: &str) -> Workshop {
        let dir = std::env::temp_dir().join(format!(
            "palisade-rules-{name}-{}-{}",
            std::process::id(),
            free_port()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("rules")).unwrap();
        let pubkey = ok(&palisade(
            &["rules", "keygen", "--out", "signing.key"],
            &dir,
        ))
        .trim()
        .to_string();
        assert_eq!(pubkey.len(), 64, "{pubkey}");
        // The embedded rulesets plus the virtual patch.
        for s in palisade_engine::embedded_rulesets() {
            let name = s.name.rsplit('/').next().unwrap();
            std::fs::write(dir.join("rules").join(name), s.yaml.as_bytes()).unwrap();
        }
        std::fs::write(dir.join("rules/virtual-patches.yml"), PATCH).unwrap();
        Workshop { dir, pubkey }
    }

    /// Packs and signs `rules/` as `version` (needing `min`); returns the bundle bytes.
    fn bundle(&self, version: &str, min: &str) -> Vec<u8> {
        let out = format!("{version}-{min}.bundle");
        ok(&palisade(
            &[
                "rules",
                "pack",
                "--dir",
                "rules",
                "--rules-version",
                version,
                "--min-palisade",
                min,
                "--out",
                &out,
            ],
            &self.dir,
        ));
        ok(&palisade(
            &["rules", "sign", "--key", "signing.key", &out],
            &self.dir,
        ));
        std::fs::read(self.dir.join(&out)).unwrap()
    }
}

impl Drop for Workshop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A tiny HTTP server for bundles: serves whatever is in `body` (404 when `None`), with an ETag,
/// and answers 304 to a matching If-None-Match. `stop()` closes the listening socket.
struct BundleServer {
    port: u16,
    body: Arc<Mutex<Option<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
    hits: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BundleServer {
    fn start() -> BundleServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let body: Arc<Mutex<Option<Vec<u8>>>> = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(AtomicU64::new(0));
        let (b, s, h) = (body.clone(), stop.clone(), hits.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                h.fetch_add(1, Ordering::SeqCst);
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut if_none_match = None;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("If-None-Match:") {
                        if_none_match = Some(v.trim().to_string());
                    }
                }
                let current = b.lock().unwrap().clone();
                let mut w = stream;
                let _ = match current {
                    None => w.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    ),
                    Some(bytes) => {
                        let etag = format!(
                            "\"{}-{}\"",
                            bytes.len(),
                            bytes.iter().map(|&x| u64::from(x)).sum::<u64>()
                        );
                        if if_none_match.as_deref() == Some(etag.as_str()) {
                            w.write_all(format!("HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nConnection: close\r\n\r\n").as_bytes())
                        } else {
                            w.write_all(
                                format!("HTTP/1.1 200 OK\r\nETag: {etag}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", bytes.len())
                                    .as_bytes(),
                            )
                            .and_then(|_| w.write_all(&bytes))
                        }
                    }
                };
            }
        });
        BundleServer {
            port,
            body,
            stop,
            hits,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/palisade.bundle", self.port)
    }

    fn serve(&self, bytes: Option<Vec<u8>>) {
        *self.body.lock().unwrap() = bytes;
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for BundleServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn start_palisade(url: &str, pubkey: &str) -> Palisade {
    // The canary requests are blocked once the new rules are in force; with the default
    // temporary bans those blocks would ban the (single) test client and fail its clean
    // requests too, which is not what this test measures.
    let config = std::env::temp_dir().join(format!("palisade-rules-swap-{}.yml", free_port()));
    std::fs::write(&config, "access:\n  bans:\n    after_blocks: 0\n").unwrap();
    let p = Builder::new()
        .env("PALISADE_CONFIG", config.to_str().unwrap())
        .env("PALISADE_RULES_URL", url)
        .env("PALISADE_RULES_POLL_INTERVAL", "1s")
        .env("PALISADE_RULES_PUBKEY", pubkey)
        .env("PALISADE_ACCESS_LOG", "false")
        .app(&format!("python3 app.py rules-{}", free_port()))
        .start();
    p.wait_app_ready();
    p
}

fn rules_events(p: &Palisade, action: &str) -> Vec<serde_json::Value> {
    p.stdout_lines()
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event.action"] == action)
        .collect()
}

fn wait_for<F: Fn() -> bool>(within: Duration, f: F) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[test]
fn a_new_signed_bundle_is_in_force_within_one_interval_with_no_failed_requests() {
    let shop = Workshop::new("swap");
    let running = env!("CARGO_PKG_VERSION");
    let server = BundleServer::start();
    // The same version as the running rules: nothing to do.
    server.serve(Some(shop.bundle(running, running)));
    let p = start_palisade(&server.url(), &shop.pubkey);
    assert_eq!(
        p.get(CANARY).status,
        200,
        "the embedded rules pass the canary"
    );
    assert_eq!(
        p.get("/lookup?q=%3Cscript%3Ealert(1)%3C/script%3E").status,
        403
    );

    // Clients hammer the proxy on fresh connections: a plain request and the canary.
    let stop = Arc::new(AtomicBool::new(false));
    let addr = p.addr();
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut record = Vec::new(); // (started, latency, path is canary, status)
                let mut i = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    let canary = i % 2 == 1;
                    let path = if canary { CANARY } else { "/ok" };
                    let started = Instant::now();
                    let status = try_request(
                        addr,
                        format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                            .as_bytes(),
                    )
                    .map(|r| r.status)
                    .unwrap_or(0);
                    record.push((started, started.elapsed(), canary, status));
                    i += 1;
                }
                record
            })
        })
        .collect();

    std::thread::sleep(Duration::from_millis(1500));
    let new_bundle = shop.bundle(&next_patch(running), running);
    server.serve(Some(new_bundle));
    let published = Instant::now();
    let in_force = wait_for(Duration::from_secs(10), || p.get(CANARY).status == 403);
    let took = published.elapsed();
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::SeqCst);
    let records: Vec<_> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();

    assert!(
        in_force,
        "the new bundle never came into force: {:?}",
        p.stderr_lines()
    );
    // One interval (1 s) plus download, verification and compile on a shared 2-core machine.
    assert!(
        took < Duration::from_millis(3500),
        "in force only after {took:?}"
    );
    eprintln!("new bundle in force {took:?} after it was published");

    // Zero failed requests: every plain request 200, every canary 200 (old rules) or 403 (new).
    assert!(records.len() > 100, "too little load: {}", records.len());
    for (_, _, canary, status) in &records {
        if *canary {
            assert!(*status == 200 || *status == 403, "canary got {status}");
        } else {
            assert_eq!(*status, 200, "plain request failed during the swap");
        }
    }
    // Requests started after the new rules were observed in force never see the old rules.
    let first_403 = records
        .iter()
        .filter(|r| r.2 && r.3 == 403)
        .map(|r| r.0)
        .min()
        .unwrap();
    let late_pass = records
        .iter()
        .filter(|r| r.2 && r.3 == 200 && r.0 > first_403 + Duration::from_millis(50))
        .count();
    assert_eq!(late_pass, 0, "old rules served after the swap");

    // Latency: plain requests in the second around the swap against the second before publishing
    // (the clients had run 0.5 s by then, so both windows are under the same steady load).
    let swap_t = published + took;
    let mut base: Vec<Duration> = records
        .iter()
        .filter(|r| !r.2 && r.0 < published && r.0 + Duration::from_millis(1000) >= published)
        .map(|r| r.1)
        .collect();
    let mut around: Vec<Duration> = records
        .iter()
        .filter(|r| {
            !r.2 && r.0 + Duration::from_millis(500) > swap_t
                && r.0 < swap_t + Duration::from_millis(500)
        })
        .map(|r| r.1)
        .collect();
    base.sort();
    around.sort();
    eprintln!(
        "plain request latency p50/p99: before {:?}/{:?} ({} reqs), around the swap {:?}/{:?} ({} reqs)",
        percentile(&base, 0.5),
        percentile(&base, 0.99),
        base.len(),
        percentile(&around, 0.5),
        percentile(&around, 0.99),
        around.len()
    );

    // The swap is audited: old -> new version, rule count, signer key id.
    let events = rules_events(&p, "rules-updated");
    assert_eq!(events.len(), 1, "{:?}", p.stdout_lines());
    let r = &events[0]["palisade.rules"];
    assert_eq!(r["from"], running);
    assert_eq!(r["to"], next_patch(running));
    assert!(r["count"].as_u64().unwrap() > 100);
    assert_eq!(r["signer"], "PALISADE_RULES_PUBKEY");
    assert_eq!(r["key_id"].as_str().unwrap().len(), 16);
    // ETag polling: the unchanged bundle is not downloaded again and again.
    assert!(server.hits.load(Ordering::SeqCst) >= 2);
}

fn next_patch(v: &str) -> String {
    let mut parts: Vec<u64> = v.split('.').map(|x| x.parse().unwrap()).collect();
    *parts.last_mut().unwrap() += 1;
    parts
        .iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(".")
}

#[test]
fn refused_bundles_and_a_vanished_server_change_nothing() {
    let shop = Workshop::new("refuse");
    let running = env!("CARGO_PKG_VERSION");
    let newer = next_patch(running);
    let mut server = BundleServer::start();
    let p = start_palisade(&server.url(), &shop.pubkey);
    assert_eq!(p.get(CANARY).status, 200);

    let good = shop.bundle(&newer, running);
    // 1. Bad signature: signed by a key palisade does not trust.
    let stranger = Workshop::new("stranger");
    let untrusted = stranger.bundle(&newer, running);
    // 2. A file changed after signing.
    let text = String::from_utf8(good.clone()).unwrap();
    let tampered = text
        .replace(
            "palisade-virtual-patch-canary",
            "palisade-virtual-patch-canarx",
        )
        .into_bytes();
    // 3. Older than the rules in force.
    let older = shop.bundle("0.0.1", "0.0.1");
    // 4. Needs a newer palisade.
    let too_new = shop.bundle(&newer, "999.0.0");
    for (bytes, reason) in [
        (untrusted, "signature"),
        (tampered, "checksum"),
        (older, "older"),
        (too_new, "too_new"),
    ] {
        let before = rules_events(&p, "rules-update-refused").len();
        server.serve(Some(bytes));
        let refused = wait_for(Duration::from_secs(20), || {
            rules_events(&p, "rules-update-refused")
                .iter()
                .skip(before)
                .any(|e| e["event.reason"] == reason)
        });
        assert!(refused, "no {reason} refusal: {:?}", p.stdout_lines());
        assert_eq!(
            p.get(CANARY).status,
            200,
            "{reason}: the running rules must stay"
        );
        assert_eq!(
            p.get("/lookup?q=%3Cscript%3Ealert(1)%3C/script%3E").status,
            403
        );
    }
    assert!(rules_events(&p, "rules-updated").is_empty());

    // The server goes away: polls fail (audited), the rules stay, requests keep working.
    let before = rules_events(&p, "rules-update-unreachable").len();
    server.stop();
    let unreachable = wait_for(Duration::from_secs(20), || {
        rules_events(&p, "rules-update-unreachable").len() > before
    });
    assert!(unreachable, "{:?}", p.stdout_lines());
    assert_eq!(p.get(CANARY).status, 200);
    assert_eq!(p.get("/ok").status, 200);
}

#[test]
fn cli_verify_fetch_and_a_boot_bundle() {
    let shop = Workshop::new("cli");
    let running = env!("CARGO_PKG_VERSION");
    let newer = next_patch(running);
    let bytes = shop.bundle(&newer, running);
    std::fs::write(shop.dir.join("good.bundle"), &bytes).unwrap();

    // verify: trusted only with the key.
    let out = palisade(&["rules", "verify", "good.bundle"], &shop.dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("none is trusted"));
    let out = ok(&palisade(
        &["rules", "verify", "good.bundle", "--pubkey", &shop.pubkey],
        &shop.dir,
    ));
    assert!(out.contains(&format!("version        {newer}")), "{out}");
    assert!(out.contains("virtual-patches.yml"), "{out}");

    // fetch: writes only a verified bundle.
    let mut server = BundleServer::start();
    server.serve(Some(bytes.clone()));
    let out = palisade(
        &[
            "rules",
            "fetch",
            "--url",
            &server.url(),
            "--out",
            ".palisade/rules.bundle",
        ],
        &shop.dir,
    );
    assert_eq!(out.status.code(), Some(1), "untrusted key must be refused");
    assert!(!shop.dir.join(".palisade/rules.bundle").exists());
    ok(&palisade(
        &[
            "rules",
            "fetch",
            "--url",
            &server.url(),
            "--out",
            ".palisade/rules.bundle",
            "--pubkey",
            &shop.pubkey,
        ],
        &shop.dir,
    ));
    assert_eq!(
        std::fs::read(shop.dir.join(".palisade/rules.bundle")).unwrap(),
        bytes
    );
    server.stop();

    // check shows the version in force and its source.
    let bundle_path = shop.dir.join(".palisade/rules.bundle");
    let check = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .arg("check")
        .current_dir(&shop.dir)
        .env_clear()
        .env("PALISADE_RULES_BUNDLE", &bundle_path)
        .env("PALISADE_RULES_PUBKEY", &shop.pubkey)
        .output()
        .unwrap();
    let text = ok(&check);
    assert!(
        text.contains(&format!(
            "rules: version {newer} from file {}",
            bundle_path.display()
        )),
        "{text}"
    );
    let check = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .arg("check")
        .current_dir(&shop.dir)
        .env_clear()
        .output()
        .unwrap();
    assert!(ok(&check).contains(&format!("rules: version {running} from embedded")));

    // Boot with the bundle file: the virtual patch is in force from the first request.
    let p = Builder::new()
        .env("PALISADE_RULES_BUNDLE", bundle_path.to_str().unwrap())
        .env("PALISADE_RULES_PUBKEY", &shop.pubkey)
        .env("PALISADE_ACCESS_LOG", "false")
        .app(&format!("python3 app.py rules-{}", free_port()))
        .start();
    p.wait_app_ready();
    assert_eq!(p.get(CANARY).status, 403);
    assert_eq!(p.get("/ok").status, 200);
    // The startup line names the ruleset in force, not the embedded floor it replaced.
    let starting = p.startup_line();
    assert_eq!(starting["rules_version"], newer.as_str(), "{starting}");
    assert!(
        starting["rules_source"]
            .as_str()
            .is_some_and(|s| s.starts_with("file ")),
        "{starting}"
    );
    drop(p);

    // A tampered boot bundle: palisade starts on the embedded rules and audits the refusal.
    let mut text = String::from_utf8(bytes).unwrap();
    text = text.replace("Test canary", "Test canarY");
    std::fs::write(&bundle_path, text).unwrap();
    let p = Builder::new()
        .env("PALISADE_RULES_BUNDLE", bundle_path.to_str().unwrap())
        .env("PALISADE_RULES_PUBKEY", &shop.pubkey)
        .env("PALISADE_ACCESS_LOG", "false")
        .app(&format!("python3 app.py rules-{}", free_port()))
        .start();
    p.wait_app_ready();
    assert_eq!(p.get(CANARY).status, 200);
    let refused = rules_events(&p, "rules-update-refused");
    assert_eq!(refused.len(), 1, "{:?}", p.stdout_lines());
    assert_eq!(refused[0]["event.reason"], "checksum");
}

const HTTPS_FILE_SERVER: &str = r#"
import http.server, ssl, sys, functools
H = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[4])
H.log_message = lambda *a: None
s = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[2], sys.argv[3])
s.socket = ctx.wrap_socket(s.socket, server_side=True)
print("ready", flush=True)
s.serve_forever()
"#;

/// `https://` rule URLs: the bundle is fetched over BoringSSL with the certificate verified —
/// trusted through `SSL_CERT_FILE` it is written, untrusted (the system CAs) it is refused.
#[test]
fn rules_fetch_over_https_verifies_the_certificate() {
    let shop = Workshop::new("https");
    let running = env!("CARGO_PKG_VERSION");
    let bytes = shop.bundle(&next_patch(running), running);
    let www = shop.dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("rules.bundle"), &bytes).unwrap();
    let Some((cert, key)) = self_signed_localhost_cert(&shop.dir) else {
        eprintln!("SKIP: openssl could not make a test certificate");
        return;
    };
    let port = free_port();
    let mut server = ChildGuard(
        Command::new("python3")
            .arg("-c")
            .arg(HTTPS_FILE_SERVER)
            .arg(port.to_string())
            .arg(&cert)
            .arg(&key)
            .arg(&www)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut ready = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready.trim(), "ready");
    let url = format!("https://localhost:{port}/rules.bundle");
    let fetch = |ssl_cert_file: Option<&Path>, out: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_palisade"));
        cmd.args(["rules", "fetch", "--url", &url, "--out", out])
            .args(["--pubkey", &shop.pubkey])
            .current_dir(&shop.dir)
            .env_remove("SSL_CERT_FILE");
        if let Some(f) = ssl_cert_file {
            cmd.env("SSL_CERT_FILE", f);
        }
        cmd.output().unwrap()
    };
    // A certificate nobody vouches for: refused, nothing written.
    let out = fetch(None, "untrusted.bundle");
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("TLS handshake") || err.contains("certificate"),
        "{err}"
    );
    assert!(!shop.dir.join("untrusted.bundle").exists());
    // Trusted through SSL_CERT_FILE (how an operator adds a private CA): fetched and verified.
    ok(&fetch(Some(&cert), "trusted.bundle"));
    assert_eq!(
        std::fs::read(shop.dir.join("trusted.bundle")).unwrap(),
        bytes
    );
}
