//! Shared test helpers: an in-memory output and a log generator.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use palisade_audit::{
    AccessEvent, Action, AuditConfig, AuditSink, Control, PolicySummary, RequestInfo, RuleHit,
    SecurityEvent, SinkOptions, StartupEvent, TcpConnector,
};

/// A `Write` that appends to a shared buffer.
#[derive(Clone, Default)]
pub struct SharedBuf(pub Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl SharedBuf {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
    pub fn lines(&self) -> Vec<String> {
        self.text().lines().map(str::to_owned).collect()
    }
}

pub fn start(config: AuditConfig) -> (AuditSink, SharedBuf) {
    let buf = SharedBuf::default();
    let options = SinkOptions {
        output: Box::new(buf.clone()),
        connector: Arc::new(TcpConnector),
    };
    (AuditSink::start_with(config, options).unwrap(), buf)
}

pub fn config(dyno: &str) -> AuditConfig {
    AuditConfig {
        dyno: dyno.into(),
        summary_interval: Duration::from_secs(3600),
        ..AuditConfig::default()
    }
}

pub fn request(i: u64, t: SystemTime) -> RequestInfo {
    RequestInfo {
        time: Some(t),
        client_ip: format!("203.0.113.{}", i % 7 + 1).parse().ok(),
        country: Some(["US", "DE", "BR", "IN"][(i % 4) as usize].into()),
        method: if i % 5 == 0 {
            "POST".into()
        } else {
            "GET".into()
        },
        path: format!("/api/patients/{}/records", 1000 + i),
        query_param_names: vec!["page".into()],
        user_agent: Some("Mozilla/5.0 test".into()),
        referrer: None,
        request_id: Some(format!("req-{i:08}-aaaaaaaaaaaaaaaa")),
    }
}

pub fn access(i: u64, t: SystemTime, action: Action) -> AccessEvent {
    AccessEvent {
        request: request(i, t),
        status: if action.is_refusal() { 403 } else { 200 },
        action,
        control: action.is_refusal().then_some(Control::Waf),
        duration_us: 1000 + i % 300,
        added_latency_us: Some(40 + i % 60),
        bytes_in: 400,
        bytes_out: 2000,
        upstream_status: (!action.is_refusal()).then_some(200),
        ..AccessEvent::default()
    }
}

pub fn waf_block(i: u64, t: SystemTime, category: &str, rule: &str) -> SecurityEvent {
    SecurityEvent {
        anomaly_score: 10,
        threshold: Some(5),
        status: Some(403),
        hits: vec![RuleHit {
            id: rule.into(),
            category: category.into(),
            target: "args:q".into(),
            snippet: "' or 1=1".into(),
            score: 5,
        }],
        ..SecurityEvent::new(
            request(i, t),
            Action::Block,
            Control::Waf,
            "anomaly score over threshold",
        )
    }
}

pub fn startup() -> StartupEvent {
    StartupEvent {
        time: None,
        version: "0.1.0".into(),
        rules_version: "2026.12.1".into(),
        policy: serde_json::json!({"mode": "block", "paranoia": 1, "anomaly_threshold": 5, "rate_limits": ["/login 10/min"], "hsts": {"max_age": 31536000}}),
        hipaa: PolicySummary {
            rules_version: "2026.12.1".into(),
            rate_limits: true,
            ..PolicySummary::default()
        },
    }
}

/// A small realistic log from one process: startup, `n` requests with some blocks, a summary.
pub fn generate(dyno: &str, n: u64, start: SystemTime, step: Duration) -> Vec<String> {
    let (sink, buf) = start_sink(dyno);
    sink.startup(startup());
    for i in 0..n {
        let t = start + step * i as u32;
        let blocked = i % 9 == 4;
        if blocked {
            let (cat, rule) =
                [("sqli", "942100"), ("xss", "941100"), ("lfi", "930120")][(i % 3) as usize];
            sink.security(waf_block(i, t, cat, rule));
        }
        sink.access(access(
            i,
            t,
            if blocked {
                Action::Block
            } else {
                Action::Allow
            },
        ));
    }
    assert!(sink.summarize(Duration::from_secs(10)));
    buf.lines()
}

fn start_sink(dyno: &str) -> (AuditSink, SharedBuf) {
    start(config(dyno))
}
