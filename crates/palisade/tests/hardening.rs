//! Under attack and under load (issue #8), against the real binary in front of python-echo:
//! request smuggling and protocol abuse over raw TCP (each refused, nothing smuggled to the app,
//! a clean request on a fresh connection still works), head and body limits, slow clients,
//! the per-client concurrency cap and load shedding.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::*;

fn start(env: &[(&str, &str)]) -> Palisade {
    let mut b = Builder::new();
    for (k, v) in env {
        b = b.env(k, v);
    }
    let p = b.app("python3 app.py").start();
    p.wait_app_ready();
    p
}

/// Sends raw bytes on a fresh connection; returns the first response's status (0: the
/// connection closed without a response) and whether anything followed it (a second response
/// would mean the proxy read the bytes as two requests).
fn send_raw(p: &Palisade, raw: &[u8]) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(p.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // The peer may close before reading everything: a write error is an answer too.
    let _ = s.write_all(raw);
    let mut all = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => all.extend_from_slice(&buf[..n]),
        }
    }
    let status = std::str::from_utf8(&all)
        .ok()
        .and_then(|t| t.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, all)
}

fn app_saw(p: &Palisade, needle: &str) -> bool {
    p.stderr_contains(&format!("python-echo: received {needle}"))
}

fn clean_get_works(p: &Palisade, tag: &str) {
    let path = format!("/clean/{tag}");
    let r = p.send("GET", &path, &[]);
    assert_eq!(r.status, 200, "clean request after {tag}");
    assert_eq!(r.json()["path"], path.as_str());
}

const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n";

/// (name, raw request) pairs: each must get a 4xx and smuggle nothing.
fn attacks() -> Vec<(&'static str, String)> {
    let s = SMUGGLED;
    vec![
        ("cl-then-te", format!("POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{s}", 5 + s.len())),
        ("leading-crlf-cl-te", format!("\r\nPOST /a HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{s}", 5 + s.len())),
        ("te-then-cl", format!("POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\n{s}0\r\n\r\n")),
        ("cl-conflict", format!("POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nContent-Length: {}\r\n\r\n{s}", s.len())),
        ("cl-duplicate-same", format!("POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n{s}")),
        ("cl-comma-list", format!("POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 0, 0\r\n\r\n{s}")),
        ("cl-plus-sign", format!("POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: +0\r\n\r\n{s}")),
        ("cl-negative", format!("POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n{s}")),
        ("cl-hex", format!("POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 0x10\r\n\r\n{s}")),
        ("te-gzip-chunked", format!("POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n{s}")),
        ("te-chunked-identity", format!("POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n{s}")),
        ("te-two-fields", format!("POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n{s}")),
        ("te-xchunked", format!("POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n{s}")),
        ("te-http10", format!("POST /a HTTP/1.0\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{s}")),
        ("te-obs-fold", format!("POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n{s}")),
        ("obs-fold", format!("GET /a HTTP/1.1\r\nHost: t\r\nX-Folded: a\r\n\tb\r\n\r\n{s}")),
        ("bare-lf", format!("GET /a HTTP/1.1\nHost: t\n\n{s}")),
        ("bare-lf-te", format!("POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\nContent-Length: 3\r\n\r\n0\r\n\r\n{s}")),
        ("bare-cr", format!("GET /a HTTP/1.1\r\nHost: t\r\nX-A: 1\rX-B: 2\r\n\r\n{s}")),
        ("space-before-colon", format!("POST /a HTTP/1.1\r\nHost: t\r\nContent-Length : 0\r\n\r\n{s}")),
        ("nul-in-header", format!("GET /a HTTP/1.1\r\nHost: t\r\nX-A: a\0b\r\n\r\n{s}")),
        ("method-trace", format!("TRACE /a HTTP/1.1\r\nHost: t\r\n\r\n{s}")),
        ("method-unknown", format!("FOO /a HTTP/1.1\r\nHost: t\r\n\r\n{s}")),
        ("method-bad-token", format!("G(T /a HTTP/1.1\r\nHost: t\r\n\r\n{s}")),
        ("method-connect", format!("CONNECT t:443 HTTP/1.1\r\nHost: t:443\r\n\r\n{s}")),
        ("absolute-form", format!("GET http://evil.example/a HTTP/1.1\r\nHost: t\r\n\r\n{s}")),
        ("authority-form", format!("GET evil.example:443 HTTP/1.1\r\nHost: t\r\n\r\n{s}")),
        ("asterisk-get", format!("GET * HTTP/1.1\r\nHost: t\r\n\r\n{s}")),
        ("no-host", format!("GET /a HTTP/1.1\r\n\r\n{s}")),
        ("two-hosts", format!("GET /a HTTP/1.1\r\nHost: t\r\nHost: evil\r\n\r\n{s}")),
        ("bad-version", format!("GET /a HTTP/1.7\r\nHost: t\r\n\r\n{s}")),
        ("chunk-size-junk", format!("POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{s}0\r\n\r\n")),
        ("chunk-size-overflow", format!("POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff1\r\n{s}0\r\n\r\n")),
        ("chunk-size-negative", format!("POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n{s}0\r\n\r\n")),
    ]
}

#[test]
fn smuggling_and_protocol_abuse_are_refused_without_desync() {
    let p = start(&[]);
    let mut failures = Vec::new();
    for (name, raw) in attacks() {
        let (status, bytes) = send_raw(&p, raw.as_bytes());
        let text = String::from_utf8_lossy(&bytes);
        // Palisade's own pages carry a request id; Pingora's parser errors do not.
        let by = if text.to_ascii_lowercase().contains("x-request-id") {
            "palisade"
        } else {
            "pingora"
        };
        eprintln!("{name:22} -> {status} ({by})");
        let responses = text.matches("HTTP/1.1 ").count();
        if !(400..500).contains(&status) {
            failures.push(format!("{name}: status {status}: {text:.200}"));
        }
        if responses > 1 {
            failures.push(format!("{name}: {responses} responses on one connection"));
        }
        clean_get_works(&p, name);
    }
    // Give the app a moment to log anything that reached it.
    thread::sleep(Duration::from_millis(300));
    assert!(
        !app_saw(&p, "GET /smuggled"),
        "a smuggled request reached the app: {:?}",
        p.stderr_lines()
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn head_limits_have_their_own_status_and_an_audit_event() {
    let p = start(&[
        ("PALISADE_MAX_URI_LENGTH", "1KiB"),
        ("PALISADE_MAX_HEADER_COUNT", "20"),
        ("PALISADE_MAX_HEADER_BYTES", "2KiB"),
        ("PALISADE_MAX_ARGS", "10"),
    ]);
    let long = format!("/long/{}", "a".repeat(1100));
    let many: Vec<String> = (0..25).map(|i| format!("X-H{i}: v")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let big = format!("X-Big: {}", "b".repeat(3000));
    let args = format!("/args?{}", ["a=1"; 11].join("&"));
    let cases: Vec<(u16, Response)> = vec![
        (414, p.send("GET", &long, &[])),
        (431, p.send("GET", "/count", &many)),
        (431, p.send("GET", "/bytes", &[&big])),
        (400, p.send("GET", &args, &[])),
    ];
    for (want, r) in &cases {
        assert_eq!(r.status, *want, "{}", r.text());
        assert!(r.text().contains("Request ID"), "own page: {}", r.text());
        let ev = p.security_event_for(r);
        assert_eq!(ev["palisade.control"], "limits", "{ev}");
        assert_eq!(ev["http.response.status_code"], *want, "{ev}");
    }
    assert!(!app_saw(&p, "GET /long") && !app_saw(&p, "GET /count"));
    assert!(!app_saw(&p, "GET /bytes") && !app_saw(&p, "GET /args"));
    // Just under every limit passes.
    let ok_args = format!("/args?{}", ["a=1"; 10].join("&"));
    assert_eq!(p.send("GET", &ok_args, &many[..15]).status, 200);
}

#[test]
fn body_limit_refuses_declared_and_streamed_bodies() {
    let p = start(&[("PALISADE_MAX_BODY", "4KiB")]);
    // Declared: refused before the app sees the request.
    let r = request(
        p.addr(),
        b"POST /declared HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 413);
    assert_eq!(p.security_event_for(&r)["palisade.control"], "limits");
    // Streamed (chunked, no length): refused when the limit is crossed.
    let mut raw = b"POST /streamed HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for _ in 0..5 {
        raw.extend_from_slice(b"400\r\n");
        raw.extend_from_slice(&[b'x'; 1024]);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let (status, _) = send_raw(&p, &raw);
    assert_eq!(status, 413);
    thread::sleep(Duration::from_millis(200));
    assert!(!app_saw(&p, "POST /declared"));
    assert!(!app_saw(&p, "POST /streamed"), "the app got the whole body");
    // Under the limit is fine.
    let mut ok =
        b"POST /ok HTTP/1.1\r\nHost: t\r\nContent-Length: 4000\r\nConnection: close\r\n\r\n"
            .to_vec();
    ok.extend_from_slice(&[b'y'; 4000]);
    let r = request(p.addr(), &ok);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["body_length"], 4000);
}

#[test]
fn slow_heads_are_cut_at_the_deadline_and_others_are_served() {
    let p = start(&[("PALISADE_HEADER_TIMEOUT", "1s")]);
    let trickle = |first: &'static [u8]| {
        let addr = p.addr();
        thread::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            let started = Instant::now();
            s.write_all(first).unwrap();
            let mut buf = [0u8; 4096];
            // One header byte every 100 ms: each read Pingora makes succeeds quickly.
            for b in b"GET /slow HTTP/1.1\r\nHost: t\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                .iter()
            {
                if s.write_all(&[*b]).is_err() {
                    return started.elapsed();
                }
                match s.read(&mut buf) {
                    Ok(0) => return started.elapsed(),
                    Ok(_) => {}
                    Err(e)
                        if e.kind() == std::io::ErrorKind::WouldBlock
                            || e.kind() == std::io::ErrorKind::TimedOut => {}
                    Err(_) => return started.elapsed(),
                }
            }
            Duration::MAX
        })
    };
    let fresh: Vec<_> = (0..10).map(|_| trickle(b"")).collect();
    // A kept-alive connection: one quick request, then a trickled one.
    let kept = {
        let addr = p.addr();
        thread::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET /first HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let first = read_response(&mut r, false).unwrap();
            assert_eq!(first.status, 200);
            thread::sleep(Duration::from_millis(1500)); // idle time is not head time
            let started = Instant::now();
            for b in b"GET /second HTTP/1.1\r\nHost: t\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaa".iter()
            {
                if s.write_all(&[*b]).is_err() {
                    return started.elapsed();
                }
                thread::sleep(Duration::from_millis(100));
            }
            let mut buf = [0u8; 64];
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            match s.read(&mut buf) {
                Ok(0) | Err(_) => started.elapsed(),
                Ok(_) => Duration::MAX,
            }
        })
    };
    // Meanwhile normal clients are served.
    for i in 0..5 {
        clean_get_works(&p, &format!("during-{i}"));
    }
    for t in fresh {
        let closed_after = t.join().unwrap();
        assert!(
            closed_after < Duration::from_millis(2500),
            "a trickling connection lived {closed_after:?}"
        );
    }
    let kept = kept.join().unwrap();
    assert!(
        kept < Duration::from_millis(2500),
        "kept-alive trickle lived {kept:?}"
    );
    assert!(!app_saw(&p, "GET /slow") && !app_saw(&p, "GET /second"));
    // Each cut connection is one audit event.
    thread::sleep(Duration::from_millis(200));
    let cut = p
        .json_lines()
        .iter()
        .filter(|v| {
            v["palisade.control"] == "limits"
                && v["event.reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("header_timeout"))
        })
        .count();
    assert!(cut >= 11, "{cut} head-deadline events");
}

#[test]
fn slow_bodies_get_408() {
    let p = start(&[
        ("PALISADE_MIN_BODY_RATE", "1KiB"),
        ("PALISADE_BODY_RATE_GRACE", "1s"),
    ]);
    let mut s = TcpStream::connect(p.addr()).unwrap();
    s.write_all(
        b"POST /trickle HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let started = Instant::now();
    let writer = {
        let mut s = s.try_clone().unwrap();
        thread::spawn(move || {
            for _ in 0..60 {
                if s.write_all(b"0123456789").is_err() {
                    break;
                }
                thread::sleep(Duration::from_millis(100));
            }
        })
    };
    s.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    let r = read_response(&mut BufReader::new(s.try_clone().unwrap()), false).unwrap();
    assert_eq!(r.status, 408, "{}", r.text());
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let _ = s.shutdown(std::net::Shutdown::Both);
    writer.join().unwrap();
    // A normal upload is not affected.
    let mut ok =
        b"POST /fast HTTP/1.1\r\nHost: t\r\nContent-Length: 3000\r\nConnection: close\r\n\r\n"
            .to_vec();
    ok.extend_from_slice(&[b'z'; 3000]);
    assert_eq!(request(p.addr(), &ok).status, 200);
}

#[test]
fn websockets_may_idle_past_the_body_pace_grace() {
    let p = start(&[
        ("PALISADE_MIN_BODY_RATE", "1KiB"),
        ("PALISADE_BODY_RATE_GRACE", "1s"),
    ]);
    let mut s = TcpStream::connect(p.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(
        b"GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    assert_eq!(read_response(&mut r, false).unwrap().status, 101);
    for round in 0..2 {
        // Idle longer than the grace (and the per-read timeout it sets for bodies).
        thread::sleep(Duration::from_millis(1600));
        let mask = [9u8, 8, 7, 6];
        let mut frame = vec![0x81, 0x82];
        frame.extend_from_slice(&mask);
        frame.extend(b"hi".iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        s.write_all(&frame).unwrap();
        let mut echoed = [0u8; 4];
        r.read_exact(&mut echoed).unwrap();
        assert_eq!(&echoed, b"\x81\x02hi", "round {round}");
    }
}

/// Starts `n` requests to /sleep in the background, waiting until the app is holding them.
fn hold_requests(p: &Palisade, n: usize, ms: u64) -> Vec<thread::JoinHandle<u16>> {
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let addr = p.addr();
            thread::spawn(move || {
                request(
                    addr,
                    format!("GET /sleep?ms={ms} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                        .as_bytes(),
                )
                .status
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(400));
    handles
}

#[test]
fn per_client_concurrency_cap_answers_429() {
    let p = start(&[("PALISADE_MAX_CONCURRENT_PER_IP", "2")]);
    let held = hold_requests(&p, 2, 1500);
    let r = p.send("GET", "/third", &[]);
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(p.security_event_for(&r)["palisade.control"], "limits");
    for h in held {
        assert_eq!(h.join().unwrap(), 200);
    }
    clean_get_works(&p, "after-cap");
}

#[test]
fn global_overload_is_shed_with_503_and_retry_after() {
    let p = start(&[
        ("PALISADE_MAX_INFLIGHT", "2"),
        ("PALISADE_MAX_CONCURRENT_PER_IP", "off"),
    ]);
    let held = hold_requests(&p, 2, 1500);
    let r = p.send("GET", "/shed", &[]);
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("2"));
    let ev = p.security_event_for(&r);
    assert_eq!(ev["palisade.control"], "limits", "{ev}");
    assert!(
        ev["event.reason"]
            .as_str()
            .unwrap()
            .contains("max_inflight"),
        "{ev}"
    );
    assert!(!app_saw(&p, "GET /shed"));
    for h in held {
        assert_eq!(h.join().unwrap(), 200);
    }
    clean_get_works(&p, "after-shed");
}

#[test]
fn bad_limit_settings_stop_startup_with_a_clear_error() {
    let (code, _out, err) = palisade_tool(&["check"], &[("PALISADE_MAX_HEADER_COUNT", "1000")]);
    assert_ne!(code, 0);
    assert!(
        err.contains("PALISADE_MAX_HEADER_COUNT") && err.contains("from 1 to 256"),
        "{err}"
    );
}
