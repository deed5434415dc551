//! `render_report` on a realistic log, checked as text and rendered by headless Chromium.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use palisade_audit::{
    render_report, render_report_with, Action, AuditConfig, Control, ReportOptions, SecurityEvent,
};

const CHROMIUM: &str = "/usr/bin/chromium";

fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_403_600)
}

/// Three hours of two dynos: steady traffic, WAF blocks of several categories, a geo denial wave,
/// rate limiting, monitor hits, one restart.
fn sample_log() -> String {
    let mut out = Vec::new();
    for (dyno, offset) in [("web.1", 0u64), ("web.2", 7), ("web.1", 5400)] {
        let (sink, buf) = common::start(AuditConfig {
            ..common::config(dyno)
        });
        sink.startup(common::startup());
        let n = if offset == 5400 { 300 } else { 600 };
        for i in 0..n {
            let t = t0() + Duration::from_secs(offset + i * 18);
            let mut refused = None;
            if i % 11 == 3 {
                let (cat, rule) = [
                    ("sqli", "942100"),
                    ("xss", "941100"),
                    ("lfi", "930120"),
                    ("sqli", "942190"),
                ][(i % 4) as usize];
                sink.security(common::waf_block(i, t, cat, rule));
                refused = Some(Control::Waf);
            } else if (200..240).contains(&i) && i % 2 == 0 {
                let mut e = SecurityEvent::new(
                    common::request(i, t),
                    Action::Deny,
                    Control::Geo,
                    "country denied",
                );
                e.request.country = Some("KP".into());
                e.status = Some(403);
                sink.security(e);
                refused = Some(Control::Geo);
            } else if i % 37 == 0 {
                let e = SecurityEvent::new(
                    common::request(i, t),
                    Action::Limit,
                    Control::RateLimit,
                    "rate limit /login 10/min",
                );
                sink.security(e);
                refused = Some(Control::RateLimit);
            } else if i % 29 == 0 {
                let mut e = common::waf_block(i, t, "protocol", "920350");
                e.action = Action::Monitor;
                sink.security(e);
            }
            let mut a = common::access(
                i,
                t,
                if refused.is_some() {
                    Action::Block
                } else {
                    Action::Allow
                },
            );
            a.control = refused;
            a.request.country = if (200..240).contains(&i) && i % 2 == 0 {
                Some("KP".into())
            } else {
                a.request.country
            };
            sink.access(a);
        }
        assert!(sink.summarize(Duration::from_secs(10)));
        for line in buf.lines() {
            out.push(format!(
                "2026-12-04T17:00:00.000000+00:00 app[{dyno}]: {line}"
            ));
        }
    }
    out.join("\n")
}

fn render(log: &str) -> (String, palisade_audit::ReportStats) {
    let mut html = Vec::new();
    let stats = render_report(log.as_bytes(), &mut html).unwrap();
    (String::from_utf8(html).unwrap(), stats)
}

#[test]
fn report_contains_every_section_and_no_external_assets() {
    let log = sample_log();
    let (html, stats) = render(&log);
    assert_eq!(stats.requests, 1500);
    assert!(stats.blocked > 100 && !stats.tampered, "{stats:?}");
    for needle in [
        "Traffic and refusals over time",
        "Refusals by category",
        "Top rules",
        "Top client IPs",
        "Top countries",
        "Policy in force",
        "HIPAA Security Rule checklist",
        "§164.312(b)",
        "§164.312(e)(1)",
        "Log integrity",
        "intact",
        "942100",
        "sqli",
        "geo",
        "ratelimit",
        "KP",
        "203.0.113.",
        "anomaly_threshold",
        "NOT COVERED",
        "<svg",
    ] {
        assert!(html.contains(needle), "report lacks {needle:?}");
    }
    assert!(!html.contains("<script"), "no script needed");
    for attr in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!html.contains(attr), "external asset: {attr}");
    }
    assert!(html.trim_end().ends_with("</html>"));
}

#[test]
fn tampered_log_and_empty_log_are_reported_honestly() {
    let log = sample_log();
    let mut lines: Vec<&str> = log.lines().collect();
    lines.remove(40);
    let (html, stats) = render(&lines.join("\n"));
    assert!(stats.tampered);
    assert!(html.contains("TAMPERED") && html.contains("missing"));
    let (empty, stats) = render("");
    assert_eq!(stats.events, 0);
    assert!(empty.contains("No startup event") && empty.contains("no data"));
    let mut out = Vec::new();
    let options = ReportOptions {
        title: "<Clinic> report".into(),
        key: None,
    };
    render_report_with(log.as_bytes(), &mut out, &options).unwrap();
    assert!(String::from_utf8(out)
        .unwrap()
        .contains("<title>&lt;Clinic&gt; report</title>"));
}

fn png_size(path: &Path) -> Option<(u32, u32)> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() < 24 || &bytes[..8] != b"\x89PNG\r\n\x1a\n" || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let w = u32::from_be_bytes(bytes[16..20].try_into().ok()?);
    let h = u32::from_be_bytes(bytes[20..24].try_into().ok()?);
    Some((w, h))
}

#[test]
fn report_renders_in_headless_chromium_without_console_errors() {
    if !Path::new(CHROMIUM).exists() {
        eprintln!("SKIPPED: {CHROMIUM} not found (apt-get install -y chromium) — the HTML report was not rendered");
        return;
    }
    let dir: PathBuf = std::env::temp_dir().join(format!("palisade-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let html_path = dir.join("report.html");
    let png_path = dir.join("report.png");
    let (html, _) = render(&sample_log());
    std::fs::write(&html_path, html).unwrap();
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1280,3600",
            &format!("--user-data-dir={}", dir.join("profile").display()),
            "--enable-logging=stderr",
            "--v=0",
            &format!("--screenshot={}", png_path.display()),
            &format!("file://{}", html_path.display()),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let (w, h) = png_size(&png_path)
        .unwrap_or_else(|| panic!("no PNG screenshot; chromium said:\n{stderr}"));
    assert_eq!((w, h), (1280, 3600));
    let size = std::fs::metadata(&png_path).unwrap().len();
    assert!(size > 50_000, "screenshot of {size} bytes looks blank");
    for bad in ["Uncaught", "CONSOLE(", "console.error"] {
        assert!(
            !stderr.contains(bad),
            "browser console error ({bad}):\n{stderr}"
        );
    }
    eprintln!("report screenshot: {} ({size} bytes)", png_path.display());
}
