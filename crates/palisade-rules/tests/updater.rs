//! The updater against a local HTTP server: a newer signed bundle is swapped in, a tampered one
//! is refused and audited, a vanished server changes nothing.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use palisade_engine::{embedded_rulesets, EngineConfig, RequestHead, UserRules};
use palisade_rules::fetch::parse_url;
use palisade_rules::{
    spawn_updater, Bundle, KeyRing, RulesEvent, RulesLoader, SecretKey, UpdaterConfig,
};

const PATCH: &str = "ruleset: vp\ndefaults:\n  category: virtual-patch\n  paranoia: 1\n  score: 5\n  targets: [args]\nrules:\n  - id: 800001\n    name: canary\n    literals: [\"updater-canary\"]\n";

fn bundle(key: &SecretKey, version: &str) -> Vec<u8> {
    let mut files: Vec<(String, Vec<u8>)> = embedded_rulesets()
        .iter()
        .map(|s| {
            (
                s.name.rsplit('/').next().unwrap().to_string(),
                s.yaml.as_bytes().to_vec(),
            )
        })
        .collect();
    files.push(("virtual-patches.yml".into(), PATCH.as_bytes().to_vec()));
    let mut b = Bundle::pack(version, "0.1.0", SystemTime::now(), files).unwrap();
    b.sign(key);
    b.to_bytes()
}

/// Serves `body` (404 when `None`) to each connection until `stop`.
fn serve(body: Arc<Mutex<Option<Vec<u8>>>>, stop: Arc<AtomicBool>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        while !stop.load(SeqCst) {
            let Ok((s, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            s.set_nonblocking(false).unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            while r.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                line.clear();
            }
            let mut w = s;
            let _ = match body.lock().unwrap().clone() {
                Some(b) => w
                    .write_all(
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", b.len())
                            .as_bytes(),
                    )
                    .and_then(|_| w.write_all(&b)),
                None => w.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
            };
        }
    });
    port
}

fn blocks(engine: &palisade_engine::Engine) -> bool {
    let mut tx = engine.transaction();
    tx.inspect_head(&RequestHead {
        method: "GET",
        target: b"/?q=updater-canary",
        headers: &[],
    });
    tx.verdict().blocked
}

fn wait(within: Duration, f: impl Fn() -> bool) -> bool {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn swaps_refuses_and_survives_a_vanished_server() {
    let key = SecretKey::generate().unwrap();
    let loader = RulesLoader::new(
        KeyRing::of(vec![key.trusted("test")]),
        UserRules::empty(),
        EngineConfig::default(),
    );
    let (handle, events) = loader.boot(None).unwrap();
    assert!(events.is_empty());
    assert!(!blocks(&handle.current()));

    let body = Arc::new(Mutex::new(None));
    let stop = Arc::new(AtomicBool::new(false));
    let port = serve(body.clone(), stop.clone());
    let seen: Arc<Mutex<Vec<RulesEvent>>> = Arc::default();
    let sink = seen.clone();
    let updater = spawn_updater(
        handle.clone(),
        UpdaterConfig {
            url: parse_url(&format!("http://127.0.0.1:{port}/b")).unwrap(),
            poll_interval: Duration::from_millis(100),
            fetch_timeout: Duration::from_secs(2),
            connector: Arc::new(palisade_audit::TcpConnector),
            loader,
        },
        Arc::new(move |e: &RulesEvent| sink.lock().unwrap().push(e.clone())),
    )
    .unwrap();

    // A tampered bundle is refused and audited; nothing changes.
    let good = bundle(&key, "9.0.0");
    let tampered = String::from_utf8(good.clone())
        .unwrap()
        .replace("updater-canary", "updater-canarx");
    *body.lock().unwrap() = Some(tampered.into_bytes());
    assert!(wait(Duration::from_secs(10), || seen
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(
            e,
            RulesEvent::Refused {
                reason: "checksum",
                ..
            }
        ))));
    assert!(!blocks(&handle.current()));
    assert_eq!(handle.info().version, env!("CARGO_PKG_VERSION"));

    // The good one is swapped in.
    *body.lock().unwrap() = Some(good);
    assert!(wait(Duration::from_secs(10), || blocks(&handle.current())));
    let info = handle.info();
    assert_eq!(info.version, "9.0.0");
    assert_eq!(info.key_id.as_deref(), Some(key.id().as_str()));
    // The audit event follows the swap.
    assert!(wait(Duration::from_secs(5), || seen
        .lock()
        .unwrap()
        .iter()
        .any(
            |e| matches!(e, RulesEvent::Swapped { to, .. } if to == "9.0.0")
        )));

    // The server goes away: failures are counted, the rules stay.
    stop.store(true, SeqCst);
    assert!(wait(Duration::from_secs(10), || updater
        .stats()
        .fetch_failures
        .load(SeqCst)
        > 0));
    assert!(blocks(&handle.current()));
    assert_eq!(updater.stats().swaps.load(SeqCst), 1);
    assert!(updater.stats().refused.load(SeqCst) >= 1);
    updater.stop();
}

#[test]
fn boot_bundle_file_is_used_or_refused() {
    let key = SecretKey::generate().unwrap();
    let loader = RulesLoader::new(
        KeyRing::of(vec![key.trusted("test")]),
        UserRules::empty(),
        EngineConfig::default(),
    );
    let dir = std::env::temp_dir().join(format!("palisade-rules-boot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rules.bundle");
    std::fs::write(&path, bundle(&key, "9.0.0")).unwrap();
    let (handle, events) = loader.boot(Some(&path)).unwrap();
    assert!(blocks(&handle.current()));
    assert!(matches!(&events[..], [RulesEvent::Swapped { .. }]));

    // User exclusions stay applied on top of the bundle.
    let user = UserRules::from_palisade_yml("exclusions:\n  - rule: 800001\n").unwrap();
    let with_exclusion = RulesLoader {
        user_rules: user,
        ..loader.clone()
    };
    let (handle, _) = with_exclusion.boot(Some(&path)).unwrap();
    assert_eq!(handle.info().version, "9.0.0");
    assert!(
        !blocks(&handle.current()),
        "the user's exclusion must apply to bundle rules"
    );

    let other = SecretKey::generate().unwrap();
    std::fs::write(&path, bundle(&other, "9.0.0")).unwrap();
    let (handle, events) = loader.boot(Some(&path)).unwrap();
    assert!(!blocks(&handle.current()));
    assert!(matches!(
        &events[..],
        [RulesEvent::Refused {
            reason: "signature",
            ..
        }]
    ));
    let _ = std::fs::remove_dir_all(&dir);
}
