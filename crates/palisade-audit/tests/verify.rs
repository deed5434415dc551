//! `verify_logs` on logs written by the real sink: clean multi-dyno logs with a restart verify clean;
//! a deleted line, an edited line and a swapped pair are each detected with their line numbers.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, SystemTime};

use palisade_audit::{
    verify_logs, verify_logs_with, AuditConfig, FindingKind, LogFormat, VerifyOptions, VerifyReport,
};

fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_403_600)
}

/// Interleaves several dynos' lines the way logplex does (by time), with logplex prefixes and some
/// router lines in between.
fn interleaved() -> Vec<String> {
    let web1_old = common::generate("web.1", 20, t0(), Duration::from_secs(1));
    let web2 = common::generate("web.2", 30, t0(), Duration::from_millis(700));
    let web1_new = common::generate(
        "web.1",
        10,
        t0() + Duration::from_secs(25),
        Duration::from_secs(1),
    );
    let mut out = Vec::new();
    let (mut a, mut b) = (web1_old.iter().chain(web1_new.iter()), web2.iter());
    loop {
        let (x, y) = (a.next(), b.next());
        if x.is_none() && y.is_none() {
            break;
        }
        if let Some(x) = x {
            out.push(format!("2026-12-04T17:00:00.000000+00:00 app[web.1]: {x}"));
        }
        if let Some(y) = y {
            out.push(format!("2026-12-04T17:00:00.000000+00:00 app[web.2]: {y}"));
            out.push("2026-12-04T17:00:00.000000+00:00 heroku[router]: at=info method=GET path=\"/\" status=200".to_owned());
        }
    }
    out
}

fn verify(lines: &[String]) -> VerifyReport {
    verify_logs(lines.join("\n").as_bytes()).unwrap()
}

#[test]
fn untouched_interleaved_log_with_restart_verifies_clean() {
    let lines = interleaved();
    let r = verify(&lines);
    assert!(!r.tampered(), "{}", r.to_text());
    assert_eq!(r.exit_code(), 0);
    assert_eq!(r.chains.len(), 3, "{}", r.to_text());
    assert_eq!(r.restarts.len(), 1);
    assert_eq!(r.restarts[0].dyno, "web.1");
    assert!(r.other_lines > 0, "router lines are ignored, not errors");
    assert_eq!(r.hashes_checked, r.audit_lines);
    assert!(r.to_text().contains("RESULT: OK"));
    // Raw lines (no prefixes) verify the same way.
    let raw: Vec<String> = lines
        .iter()
        .filter_map(|l| l.find("{\"@timestamp").map(|i| l[i..].to_owned()))
        .collect();
    assert!(!verify(&raw).tampered());
}

#[test]
fn deleted_line_is_a_gap_at_the_next_line() {
    let mut lines = interleaved();
    let victim = lines
        .iter()
        .position(|l| l.contains("app[web.2]") && l.contains("\"palisade.seq\":7,"))
        .unwrap();
    lines.remove(victim);
    let r = verify(&lines);
    assert!(r.tampered());
    let gaps: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Gap)
        .collect();
    assert_eq!(gaps.len(), 1, "{}", r.to_text());
    assert_eq!(gaps[0].seq, Some(7));
    assert_eq!(gaps[0].dyno.as_deref(), Some("web.2"));
    let next = lines
        .iter()
        .position(|l| l.contains("app[web.2]") && l.contains("\"palisade.seq\":8,"))
        .unwrap();
    assert_eq!(gaps[0].line, next + 1);
    assert!(r.to_text().contains("seq 7-7 missing"), "{}", r.to_text());
    assert_eq!(r.exit_code(), 1);
}

#[test]
fn edited_line_is_detected() {
    let mut lines = interleaved();
    let victim = lines
        .iter()
        .position(|l| l.contains("app[web.1]") && l.contains("\"event.kind\":\"alert\""))
        .unwrap();
    lines[victim] = lines[victim].replace(
        "\"palisade.action\":\"block\"",
        "\"palisade.action\":\"allow\"",
    );
    let r = verify(&lines);
    let edited: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Edited)
        .collect();
    assert_eq!(edited.len(), 1, "{}", r.to_text());
    assert_eq!(edited[0].line, victim + 1);
    assert!(r.tampered());
}

#[test]
fn edited_line_with_recomputed_hash_breaks_the_chain() {
    let mut lines = interleaved();
    let victim = lines
        .iter()
        .position(|l| l.contains("app[web.2]") && l.contains("\"palisade.seq\":5,"))
        .unwrap();
    let start = lines[victim].find('{').unwrap();
    let payload = lines[victim][start..].replace(
        "\"http.request.method\":\"GET\"",
        "\"http.request.method\":\"PUT\"",
    );
    let marker = payload.rfind(",\"palisade.hash\":\"").unwrap();
    let body = &payload[..marker];
    let forged = palisade_audit::chain_hash(None, body.as_bytes());
    let hex: String = forged.iter().map(|b| format!("{b:02x}")).collect();
    lines[victim] = format!(
        "{}{body},\"palisade.hash\":\"{hex}\"}}",
        &lines[victim][..start]
    );
    let r = verify(&lines);
    assert!(
        r.findings.iter().all(|f| f.kind != FindingKind::Edited),
        "the forged hash matches its content"
    );
    let broken: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::ChainBroken)
        .collect();
    assert_eq!(broken.len(), 1, "{}", r.to_text());
    assert_eq!(broken[0].seq, Some(6));
}

#[test]
fn swapped_pair_is_reordered() {
    let mut lines = interleaved();
    let a = lines
        .iter()
        .position(|l| l.contains("app[web.2]") && l.contains("\"palisade.seq\":10,"))
        .unwrap();
    let b = lines
        .iter()
        .position(|l| l.contains("app[web.2]") && l.contains("\"palisade.seq\":11,"))
        .unwrap();
    lines.swap(a, b);
    let r = verify(&lines);
    let kinds: Vec<FindingKind> = r
        .findings
        .iter()
        .filter(|f| f.kind.is_tampering())
        .map(|f| f.kind)
        .collect();
    assert_eq!(kinds, vec![FindingKind::Reordered], "{}", r.to_text());
    let f = r
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::Reordered)
        .unwrap();
    assert_eq!(f.line, b + 1);
    assert_eq!(f.seq, Some(10));
}

#[test]
fn keyed_chains_need_the_key_for_content_and_reject_unkeyed_forgeries() {
    let key = b"0123456789abcdef0123456789abcdef".to_vec();
    let (sink, buf) = common::start(AuditConfig {
        hmac_key: Some(key.clone()),
        ..common::config("web.1")
    });
    for i in 0..5 {
        sink.access(common::access(i, t0(), palisade_audit::Action::Allow));
    }
    assert!(sink.flush(Duration::from_secs(5)));
    let lines = buf.lines();
    assert!(lines
        .iter()
        .all(|l| l.contains("\"palisade.chain\":\"hmac-sha256\"")));
    let with_key = VerifyOptions {
        key: Some(key.clone()),
    };
    let r = verify_logs_with(lines.join("\n").as_bytes(), &with_key).unwrap();
    assert!(!r.tampered() && r.hashes_checked == 5, "{}", r.to_text());
    let r = verify_logs(lines.join("\n").as_bytes()).unwrap();
    assert!(!r.tampered());
    assert!(r
        .findings
        .iter()
        .any(|f| f.kind == FindingKind::HashesNotChecked));
    let wrong = VerifyOptions {
        key: Some(b"another key of sixteen+".to_vec()),
    };
    let r = verify_logs_with(lines.join("\n").as_bytes(), &wrong).unwrap();
    assert_eq!(
        r.findings
            .iter()
            .filter(|f| f.kind == FindingKind::Edited)
            .count(),
        5
    );
    // An unkeyed log presented to a verifier holding the key is rejected line by line.
    let plain = common::generate("web.1", 3, t0(), Duration::from_secs(1));
    let r = verify_logs_with(plain.join("\n").as_bytes(), &with_key).unwrap();
    assert!(r.findings.iter().any(|f| f.kind == FindingKind::Downgraded));
}

#[test]
fn other_formats_verify_too() {
    for format in [LogFormat::L2met, LogFormat::Cef] {
        let (sink, buf) = common::start(AuditConfig {
            format,
            ..common::config("web.1")
        });
        for i in 0..6 {
            sink.security(common::waf_block(i, t0(), "sqli", "942100"));
        }
        assert!(sink.flush(Duration::from_secs(5)));
        let mut lines = buf.lines();
        assert_eq!(lines.len(), 6);
        let r = verify(&lines);
        assert!(
            !r.tampered() && r.hashes_checked == 6,
            "{format:?}: {}",
            r.to_text()
        );
        lines.remove(2);
        lines[3] = lines[3].replace("942100", "942101");
        let r = verify(&lines);
        let kinds: Vec<FindingKind> = r.findings.iter().map(|f| f.kind).collect();
        assert!(
            kinds.contains(&FindingKind::Gap) && kinds.contains(&FindingKind::Edited),
            "{format:?}: {}",
            r.to_text()
        );
    }
}

#[test]
fn damaged_and_foreign_lines() {
    let mut lines = common::generate("web.1", 3, t0(), Duration::from_secs(1));
    let half = lines[1].len() / 2;
    lines[1].truncate(half);
    lines.push("plain app output".to_owned());
    let r = verify(&lines);
    assert!(
        r.findings
            .iter()
            .any(|f| f.kind == FindingKind::Malformed && f.line == 2),
        "{}",
        r.to_text()
    );
    assert_eq!(r.other_lines, 1);
    let empty = verify_logs(&b""[..]).unwrap();
    assert_eq!(empty.exit_code(), 2);
}
