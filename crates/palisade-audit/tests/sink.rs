//! The sink end to end: lines, bounds, summary counters, a failing or stuck output.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use palisade_audit::testing::{
    assert_no_canary, canary_access_event, canary_security_event, CANARY,
};
use palisade_audit::{
    verify_logs, AccessEvent, Action, AuditConfig, AuditSink, Control, FindingKind, RuleHit,
    SecurityEvent, SinkOptions, TcpConnector, MAX_LINE_BYTES,
};
use serde_json::Value;

fn json_lines(buf: &common::SharedBuf) -> Vec<Value> {
    buf.lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn every_event_is_one_chained_json_line_in_order() {
    let (sink, buf) = common::start(common::config("web.1"));
    sink.startup(common::startup());
    let t = SystemTime::now();
    for i in 0..200 {
        sink.access(common::access(i, t, Action::Allow));
    }
    sink.security(common::waf_block(7, t, "sqli", "942100"));
    assert!(sink.flush(Duration::from_secs(5)));
    let lines = json_lines(&buf);
    assert_eq!(lines.len(), 202);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["palisade.seq"], (i + 1) as u64);
        assert_eq!(l["palisade.dyno"], "web.1");
        assert_eq!(l["palisade.boot_id"], sink.boot_id());
        assert_eq!(l["palisade.schema_version"], 1);
    }
    assert_eq!(lines[0]["event.action"], "startup");
    assert_eq!(lines[0]["palisade.policy"]["paranoia"], 1);
    assert_eq!(lines[0]["palisade.hipaa"]["mode"], "block");
    assert_eq!(lines[1]["url.path"], "/api/patients/{n}/records");
    assert_eq!(lines[1]["http.response.status_code"], 200);
    assert_eq!(lines[1]["event.duration"], 1_000_000);
    let alert = &lines[201];
    assert_eq!(
        (alert["event.kind"].as_str(), alert["event.action"].as_str()),
        (Some("alert"), Some("waf_block"))
    );
    assert_eq!(alert["rule.id"][0], "942100");
    assert_eq!(alert["palisade.hits"][0]["target"], "args:q");
    assert!(!verify_logs(buf.text().as_bytes()).unwrap().tampered());
    let c = sink.counters();
    assert_eq!((c.requests, c.blocked, c.lines_written), (200, 1, 202));
}

#[test]
fn oversized_events_are_trimmed_below_the_line_limit_and_say_so() {
    let (sink, buf) = common::start(common::config("web.1"));
    let mut e: AccessEvent = common::access(1, SystemTime::now(), Action::Block);
    e.request.path = format!("/{}", "x/".repeat(3000));
    e.request.user_agent = Some("U".repeat(5000));
    e.request.referrer = Some(format!("https://e.org/{}", "r".repeat(5000)));
    e.request.query_param_names = (0..500)
        .map(|i| format!("param{i}{}", "n".repeat(100)))
        .collect();
    e.hits = (0..200)
        .map(|i| RuleHit {
            id: format!("9{i:05}"),
            category: "c".repeat(50),
            target: "t".repeat(200),
            snippet: "\u{1}".repeat(300),
            score: 1,
        })
        .collect();
    sink.access(e.clone());
    let mut s = SecurityEvent::new(e.request.clone(), Action::Block, Control::Waf, "x");
    s.hits = e.hits.clone();
    sink.security(s);
    let mut startup = common::startup();
    startup.policy = serde_json::json!({ "huge": "p".repeat(20_000) });
    sink.startup(startup);
    assert!(sink.flush(Duration::from_secs(5)));
    let raw = buf.lines();
    assert_eq!(raw.len(), 3);
    for line in &raw {
        assert!(line.len() < MAX_LINE_BYTES, "line of {} bytes", line.len());
    }
    let lines = json_lines(&buf);
    assert_eq!(lines[0]["palisade.truncated"], true);
    assert!(
        lines[0]["palisade.hits_dropped"].as_u64().unwrap() >= 184,
        "{}",
        lines[0]["palisade.hits_dropped"]
    );
    assert!(lines[0]["palisade.hits"].as_array().unwrap().len() <= 16);
    assert!(lines[2]["palisade.policy"]
        .as_str()
        .unwrap()
        .starts_with("omitted"));
    assert!(!verify_logs(buf.text().as_bytes()).unwrap().tampered());
}

#[test]
fn canary_request_leaves_no_trace_through_the_sink() {
    let (sink, buf) = common::start(common::config("web.1"));
    sink.access(canary_access_event(CANARY));
    sink.security(canary_security_event(CANARY));
    assert!(sink.summarize(Duration::from_secs(5)));
    assert_eq!(buf.lines().len(), 3);
    assert_no_canary(&buf.text(), CANARY);
}

#[test]
fn summary_reports_interval_counters() {
    let (sink, buf) = common::start(AuditConfig {
        summary_interval: Duration::from_millis(300),
        ..common::config("web.1")
    });
    let t = SystemTime::now();
    for i in 0..50 {
        sink.access(common::access(i, t, Action::Allow));
    }
    sink.security(common::waf_block(1, t, "sqli", "942100"));
    sink.security(common::waf_block(2, t, "sqli", "942100"));
    sink.security(common::waf_block(3, t, "xss", "941100"));
    let mut limited = SecurityEvent::new(
        common::request(4, t),
        Action::Limit,
        Control::RateLimit,
        "rate limit /login",
    );
    limited.status = Some(429);
    sink.security(limited);
    let deadline = Instant::now() + Duration::from_secs(5);
    let summary = loop {
        let found = json_lines(&buf)
            .into_iter()
            .find(|l| l["event.action"] == "summary");
        if let Some(s) = found {
            break s;
        }
        assert!(Instant::now() < deadline, "no summary within 5 s");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(summary["event.kind"], "metric");
    assert_eq!(summary["palisade.summary.requests"], 50);
    assert_eq!(summary["palisade.summary.blocked"], 4);
    assert_eq!(summary["palisade.summary.rate_limited"], 1);
    assert_eq!(summary["palisade.summary.blocks_by_category"]["sqli"], 2);
    assert_eq!(summary["palisade.summary.blocks_by_category"]["xss"], 1);
    assert_eq!(
        summary["palisade.summary.blocks_by_category"]["ratelimit"],
        1
    );
    assert_eq!(summary["palisade.summary.top_rules"]["942100"], 2);
    let p50 = summary["palisade.summary.latency_p50_us"].as_u64().unwrap();
    let p99 = summary["palisade.summary.latency_p99_us"].as_u64().unwrap();
    assert!(
        (40..=125).contains(&p50) && p99 >= p50 && p99 <= 125,
        "p50 {p50} p99 {p99}"
    );
    assert_eq!(summary["palisade.summary.lost_lines"], 0);
}

/// Fails every write while `broken` is set, after letting `budget` bytes through.
struct FlakyOutput {
    inner: common::SharedBuf,
    budget: Arc<AtomicUsize>,
    broken: Arc<Mutex<bool>>,
}

impl Write for FlakyOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if *self.broken.lock().unwrap() {
            let left = self.budget.load(Ordering::SeqCst);
            if left == 0 {
                return Err(io::Error::new(io::ErrorKind::BrokenPipe, "EPIPE"));
            }
            let n = left.min(buf.len());
            self.budget.fetch_sub(n, Ordering::SeqCst);
            return self.inner.write(&buf[..n]);
        }
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn broken_output_counts_lost_lines_and_announces_them_when_it_recovers() {
    let inner = common::SharedBuf::default();
    let budget = Arc::new(AtomicUsize::new(0));
    let broken = Arc::new(Mutex::new(false));
    let output = FlakyOutput {
        inner: inner.clone(),
        budget: budget.clone(),
        broken: broken.clone(),
    };
    let sink = AuditSink::start_with(
        common::config("web.1"),
        SinkOptions {
            output: Box::new(output),
            connector: Arc::new(TcpConnector),
        },
    )
    .unwrap();
    let t = SystemTime::now();
    for i in 0..3 {
        sink.access(common::access(i, t, Action::Allow));
    }
    assert!(sink.flush(Duration::from_secs(5)));
    // Break the output mid-line: 100 bytes of the next batch get out, then EPIPE.
    *broken.lock().unwrap() = true;
    budget.store(100, Ordering::SeqCst);
    for i in 3..8 {
        sink.access(common::access(i, t, Action::Allow));
    }
    assert!(sink.flush(Duration::from_secs(5)));
    for i in 8..10 {
        sink.access(common::access(i, t, Action::Allow));
        assert!(sink.flush(Duration::from_secs(5)));
    }
    // 5 lines, then twice (loss notice + event): every line that did not fully get out counts.
    assert_eq!(sink.counters().lines_lost_write_error, 9);
    *broken.lock().unwrap() = false;
    sink.access(common::access(10, t, Action::Allow));
    assert!(sink.summarize(Duration::from_secs(5)));
    let text = inner.text();
    let lines: Vec<&str> = text.lines().collect();
    let notice: Value = serde_json::from_str(
        lines
            .iter()
            .find(|l| l.contains("audit_lines_lost"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (
            notice["palisade.lost.from_seq"].as_u64(),
            notice["palisade.lost.to_seq"].as_u64()
        ),
        (Some(4), Some(12))
    );
    let summary: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(summary["palisade.summary.lost_lines"], 9);
    let r = verify_logs(text.as_bytes()).unwrap();
    assert!(
        !r.tampered(),
        "declared loss is not tampering: {}",
        r.to_text()
    );
    assert!(r
        .findings
        .iter()
        .any(|f| f.kind == FindingKind::DeclaredLoss));
    // The half-written line (100 bytes of seq 4) stands alone, explained by the notice after it.
    let cut = lines.iter().position(|l| l.len() == 100).unwrap();
    assert!(lines[cut + 1].contains("audit_lines_lost"));
    assert!(
        r.findings
            .iter()
            .any(|f| f.kind == FindingKind::PartialLine && f.line == cut + 1),
        "{}",
        r.to_text()
    );
}

/// An output that blocks forever (stdout pipe nobody reads).
struct StuckOutput(Arc<Mutex<()>>);

impl Write for StuckOutput {
    fn write(&mut self, _buf: &[u8]) -> io::Result<usize> {
        let _held = self.0.lock().unwrap();
        Ok(0)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_stuck_output_never_blocks_the_request_thread() {
    let gate = Arc::new(Mutex::new(()));
    let hold = gate.lock().unwrap();
    let config = AuditConfig {
        queue_capacity: 1000,
        ..common::config("web.1")
    };
    let sink = AuditSink::start_with(
        config,
        SinkOptions {
            output: Box::new(StuckOutput(gate.clone())),
            connector: Arc::new(TcpConnector),
        },
    )
    .unwrap();
    let event = common::access(1, SystemTime::now(), Action::Allow);
    let events: Vec<AccessEvent> = (0..20_000).map(|_| event.clone()).collect();
    let start = Instant::now();
    for e in events {
        sink.access(e);
    }
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "20,000 enqueues took {took:?}"
    );
    let c = sink.counters();
    assert_eq!(c.requests, 20_000);
    assert!(c.lines_dropped_queue_full >= 18_000, "{c:?}");
    assert!(
        !sink.flush(Duration::from_millis(200)),
        "flush reports the timeout"
    );
    drop(hold);
}

#[test]
fn config_changes_are_chained_events_with_their_details() {
    let (sink, buf) = common::start(common::config("web.1"));
    sink.access(common::access(1, SystemTime::now(), Action::Allow));
    sink.config_change(palisade_audit::ConfigChangeEvent {
        time: None,
        action: "rules-updated",
        event_type: "change",
        success: true,
        reason: None,
        message: "rules 1.0.0 -> 1.0.1 (120 rules)".into(),
        details_key: "palisade.rules",
        details: serde_json::json!({"from": "1.0.0", "to": "1.0.1", "count": 120}),
    });
    sink.config_change(palisade_audit::ConfigChangeEvent {
        time: None,
        action: "rules-update-refused",
        event_type: "change",
        success: false,
        reason: Some("signature".into()),
        message: format!("refused\u{1b}[31m {}", "x".repeat(2000)),
        details_key: "palisade.rules",
        details: serde_json::json!({"in_force": "1.0.1"}),
    });
    assert!(sink.flush(Duration::from_secs(5)));
    let lines = json_lines(&buf);
    assert_eq!(lines.len(), 3);
    let swap = &lines[1];
    assert_eq!(swap["palisade.seq"], 2);
    assert_eq!(swap["event.kind"], "event");
    assert_eq!(swap["event.category"][0], "configuration");
    assert_eq!(swap["event.action"], "rules-updated");
    assert_eq!(swap["event.outcome"], "success");
    assert_eq!(swap["palisade.rules"]["to"], "1.0.1");
    let refused = &lines[2];
    assert_eq!(refused["event.outcome"], "failure");
    assert_eq!(refused["event.reason"], "signature");
    let msg = refused["message"].as_str().unwrap();
    assert!(msg.len() <= 500 && !msg.contains('\u{1b}'), "{msg}");
    // The changes sit in the same hash chain as the requests.
    assert!(!verify_logs(buf.text().as_bytes()).unwrap().tampered());
}
