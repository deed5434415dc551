//! Alerts against a real HTTP receiver on loopback: delivery within 5 s, a bounded number of calls
//! under a flood, retries, and failures counted and logged without the webhook's secret path.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use palisade_audit::testing::{assert_no_canary, canary_security_event, CANARY};
use palisade_audit::{AuditConfig, Webhook};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(String, Value)>>>);

impl Received {
    fn calls(&self, path: &str) -> Vec<Value> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, v)| v.clone())
            .collect()
    }
    fn wait_for(&self, path: &str, n: usize, limit: Duration) -> Option<Duration> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.calls(path).len() >= n {
                return Some(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

/// Starts a webhook receiver on 127.0.0.1 in its own thread. `fail_first` requests get a 503.
fn receiver(fail_first: usize) -> (u16, Received) {
    let received = Received::default();
    let store = received.clone();
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            port_tx.send(listener.local_addr().unwrap().port()).unwrap();
            let mut served = 0usize;
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                served += 1;
                let fail = served <= fail_first;
                let store = store.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let (head_end, length) = loop {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..i]).to_string();
                            let len = head
                                .lines()
                                .find_map(|l| l.strip_prefix("Content-Length: "))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            break (i + 4, len);
                        }
                    };
                    while buf.len() < head_end + length {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let path = head.split(' ').nth(1).unwrap_or("").to_owned();
                    let answer: &[u8] = if fail {
                        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
                    } else {
                        let body: Value =
                            serde_json::from_slice(&buf[head_end..head_end + length]).unwrap();
                        store.0.lock().unwrap().push((path, body));
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                    };
                    let _ = sock.write_all(answer).await;
                });
            }
        });
    });
    (port_rx.recv().unwrap(), received)
}

fn hooks(specs: &[String]) -> Vec<Webhook> {
    specs.iter().map(|s| Webhook::parse(s).unwrap()).collect()
}

#[test]
fn an_alert_reaches_the_receiver_within_five_seconds_without_phi() {
    let (port, got) = receiver(0);
    let config = AuditConfig {
        webhooks: hooks(&[
            format!("json:http://127.0.0.1:{port}/generic"),
            format!("slack:http://127.0.0.1:{port}/slack"),
        ]),
        ..common::config("web.1")
    };
    let (sink, log) = common::start(config);
    sink.security(canary_security_event(CANARY));
    let took = got
        .wait_for("/generic", 1, Duration::from_secs(5))
        .expect("no generic alert within 5 s");
    assert!(
        got.wait_for("/slack", 1, Duration::from_secs(5)).is_some(),
        "no slack alert within 5 s"
    );
    eprintln!("alert delivered after {took:?}");
    let generic = &got.calls("/generic")[0];
    assert_eq!(generic["events"], 1);
    assert_eq!(generic["by_action"]["block"], 1);
    assert_eq!(generic["top_rules"]["942100"], 1);
    assert_eq!(generic["dyno"], "web.1");
    assert_eq!(
        generic["samples"][0]["url.path"],
        "/patients/{id}/notes;jsessionid=*"
    );
    assert!(
        generic.get("top_client_ips").is_none(),
        "client IPs are off by default"
    );
    let slack = &got.calls("/slack")[0];
    assert!(
        slack["text"].as_str().unwrap().contains("1 security event"),
        "{slack}"
    );
    for body in [generic, slack] {
        assert_no_canary(&body.to_string(), CANARY);
        assert!(!body.to_string().contains("198.51.100.7"));
    }
    assert!(sink.flush(Duration::from_secs(5)));
    assert_no_canary(&log.text(), CANARY);
    let deadline = Instant::now() + Duration::from_secs(5);
    while sink.counters().alerts_sent < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(sink.counters().alerts_sent, 2);
}

#[test]
fn a_flood_of_ten_thousand_events_makes_a_bounded_number_of_calls() {
    let (port, got) = receiver(0);
    let config = AuditConfig {
        webhooks: hooks(&[format!("http://127.0.0.1:{port}/flood")]),
        alert_window: Duration::from_secs(1),
        alert_max_per_window: 2,
        ..common::config("web.1")
    };
    let (sink, _log) = common::start(config);
    let t = SystemTime::now();
    let start = Instant::now();
    for i in 0..10_000u64 {
        sink.security(common::waf_block(i, t, "sqli", "942100"));
    }
    let flood_took = start.elapsed();
    std::thread::sleep(Duration::from_millis(3500));
    let windows = start.elapsed().as_secs() + 1;
    let calls = got.calls("/flood");
    let c = sink.counters();
    eprintln!(
        "flood enqueued in {flood_took:?}: {} webhook calls, {} events dropped at the queue",
        calls.len(),
        c.alerts_dropped
    );
    assert!(
        calls.len() >= 2,
        "leading-edge calls and the window's aggregate: {}",
        calls.len()
    );
    assert!(
        calls.len() as u64 <= 2 * windows,
        "{} calls over {windows} windows",
        calls.len()
    );
    let delivered: u64 = calls.iter().map(|b| b["events"].as_u64().unwrap()).sum();
    assert_eq!(
        delivered + c.alerts_dropped,
        10_000,
        "every event is either in an alert or counted as dropped"
    );
    assert!(
        calls.iter().any(|b| b["events"].as_u64().unwrap() > 100),
        "the flood is aggregated"
    );
}

#[test]
fn failed_calls_are_retried() {
    let (port, got) = receiver(2);
    let config = AuditConfig {
        webhooks: hooks(&[format!("http://127.0.0.1:{port}/retry")]),
        ..common::config("web.1")
    };
    let (sink, _log) = common::start(config);
    sink.security(common::waf_block(1, SystemTime::now(), "xss", "941100"));
    assert!(
        got.wait_for("/retry", 1, Duration::from_secs(6)).is_some(),
        "delivered on the third attempt"
    );
    assert_eq!(sink.counters().alerts_dropped, 0);
}

#[test]
fn undeliverable_alerts_are_counted_and_logged_without_the_secret_path() {
    // A port nobody listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = AuditConfig {
        webhooks: hooks(&[
            format!("http://127.0.0.1:{port}/services/SECRET-TOKEN"),
            "https://hooks.slack.com/services/T/B/SECRET2".to_owned(),
        ]),
        ..common::config("web.1")
    };
    let (sink, log) = common::start(config);
    sink.security(common::waf_block(1, SystemTime::now(), "sqli", "942100"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while sink.counters().alerts_dropped < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        sink.counters().alerts_dropped,
        2,
        "one event, two destinations, both failed"
    );
    assert!(sink.summarize(Duration::from_secs(5)));
    let text = log.text();
    assert!(!text.contains("SECRET"), "webhook path leaked into the log");
    let failures: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["event.action"] == "alert_dropped")
        .collect();
    assert_eq!(failures.len(), 2, "{text}");
    assert!(failures.iter().any(|f| f["error.message"]
        .as_str()
        .unwrap()
        .contains("TLS connector")));
    let summary: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(summary["palisade.summary.dropped_alerts"], 2);
}
