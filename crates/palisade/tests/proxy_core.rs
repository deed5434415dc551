//! Proxy core: the real `palisade` binary in front of the real python-echo app, over real sockets.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::*;

fn marker() -> String {
    format!("marker-{}-{}", std::process::id(), free_port())
}

fn echo_app(marker: &str) -> String {
    format!("python3 app.py {marker}")
}

#[test]
fn proxies_keepalive_requests_with_ids_and_forwarding_headers() {
    let p = Builder::new().app(&echo_app(&marker())).start();
    p.wait_app_ready();
    let mut s = TcpStream::connect(p.addr()).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    // Two requests on one connection: keep-alive towards the client.
    for i in 0..2 {
        write!(
            s,
            "GET /hello/{i}?a=1&b=2 HTTP/1.1\r\nHost: example.test\r\n\r\n"
        )
        .unwrap();
        let resp = read_response(&mut r, false).unwrap();
        assert_eq!(resp.status, 200);
        let echo = resp.json();
        assert_eq!(echo["path"], format!("/hello/{i}"));
        let headers = echo["headers"].as_array().unwrap();
        let get = |n: &str| {
            headers
                .iter()
                .find(|h| h[0].as_str().unwrap().eq_ignore_ascii_case(n))
                .map(|h| h[1].as_str().unwrap().to_string())
        };
        let rid = get("x-request-id").expect("x-request-id forwarded to the app");
        assert_eq!(resp.header("x-request-id"), Some(rid.as_str()));
        assert_eq!(get("x-forwarded-for").as_deref(), Some("127.0.0.1"));
        assert_eq!(get("x-forwarded-proto").as_deref(), Some("http"));
        assert!(resp
            .header("strict-transport-security")
            .unwrap()
            .contains("max-age=63072000"));
    }
    // The access log has one JSON line per request, with the path but never the query.
    std::thread::sleep(Duration::from_millis(100));
    let events = p.access_events();
    let ours: Vec<_> = events
        .iter()
        .filter(|e| e["url.path"].as_str().unwrap_or("").starts_with("/hello/"))
        .collect();
    assert_eq!(ours.len(), 2, "{events:?}");
    for e in ours {
        assert_eq!(e["http.response.status_code"], 200);
        assert_eq!(e["http.request.method"], "GET");
        assert!(!e.to_string().contains("a=1"));
    }
}

#[test]
fn router_request_id_is_kept_and_bad_ones_replaced() {
    let p = Builder::new().app(&echo_app(&marker())).start();
    p.wait_app_ready();
    let good = "0f3c1a2e-7b8d-4e5f-9a0b-1c2d3e4f5a6b";
    let resp = request(
        p.addr(),
        format!("GET / HTTP/1.1\r\nHost: t\r\nX-Request-Id: {good}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(resp.header("x-request-id"), Some(good));
    // The app sees the id exactly once, whether it was kept, replaced, or sent twice.
    let app_ids = |resp: &Response| -> Vec<String> {
        resp.json()["headers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h[0].as_str().unwrap().eq_ignore_ascii_case("x-request-id"))
            .map(|h| h[1].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(app_ids(&resp), vec![good.to_string()]);
    let resp = request(
        p.addr(),
        format!("GET / HTTP/1.1\r\nHost: t\r\nX-Request-Id: {good}\r\nX-Request-Id: {good}-second\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(resp.header("x-request-id"), Some(good));
    assert_eq!(app_ids(&resp), vec![good.to_string()]);
    let resp = request(
        p.addr(),
        b"GET / HTTP/1.1\r\nHost: t\r\nX-Request-Id: x\"}{inject\r\nConnection: close\r\n\r\n",
    );
    let rid = resp.header("x-request-id").unwrap();
    assert!(!rid.contains("inject"));
    assert_eq!(rid.len(), 36);
    assert_eq!(app_ids(&resp), vec![rid.to_string()]);
}

#[test]
fn one_mib_upload_arrives_intact_both_framings() {
    let p = Builder::new().app(&echo_app(&marker())).start();
    p.wait_app_ready();
    let body: Vec<u8> = (0..(1 << 20))
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let expected = sha256_hex(&body);
    // Content-Length framing.
    let mut raw = format!(
        "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(&body);
    let resp = request(p.addr(), &raw);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["body_length"], 1 << 20);
    assert_eq!(resp.json()["body_sha256"], expected);
    // Chunked framing, sent in pieces.
    let mut s = TcpStream::connect(p.addr()).unwrap();
    write!(s, "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n").unwrap();
    for chunk in body.chunks(100_000) {
        write!(s, "{:x}\r\n", chunk.len()).unwrap();
        s.write_all(chunk).unwrap();
        s.write_all(b"\r\n").unwrap();
    }
    s.write_all(b"0\r\n\r\n").unwrap();
    let resp = read_response(&mut BufReader::new(s), false).unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["body_sha256"], expected);
}

#[test]
fn server_sent_events_are_not_buffered() {
    let p = Builder::new().app(&echo_app(&marker())).start();
    p.wait_app_ready();
    let mut s = TcpStream::connect(p.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET /stream?n=4&ms=400 HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n").unwrap();
    let sent = Instant::now();
    let mut r = BufReader::new(s);
    let mut first_event_at = None;
    let mut line = String::new();
    let mut events = 0;
    loop {
        line.clear();
        if r.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if line.starts_with("data:") {
            events += 1;
            first_event_at.get_or_insert_with(|| sent.elapsed());
        }
    }
    let total = sent.elapsed();
    assert_eq!(events, 4);
    let first = first_event_at.unwrap();
    // The stream takes ~1.6 s; the first event must arrive long before the end.
    assert!(
        first < Duration::from_millis(800),
        "first event after {first:?}"
    );
    assert!(
        total > Duration::from_millis(1200),
        "stream ended after {total:?}"
    );
}

#[test]
fn websocket_upgrade_passes_through_and_echoes() {
    let p = Builder::new().app(&echo_app(&marker())).start();
    p.wait_app_ready();
    let mut s = TcpStream::connect(p.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let resp = read_response(&mut r, false).unwrap();
    assert_eq!(resp.status, 101);
    assert_eq!(
        resp.header("sec-websocket-accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    // A masked text frame "hello palisade".
    let payload = b"hello palisade";
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    s.write_all(&frame).unwrap();
    let mut head = [0u8; 2];
    r.read_exact(&mut head).unwrap();
    assert_eq!(head[0], 0x81);
    let mut echoed = vec![0u8; usize::from(head[1] & 0x7f)];
    r.read_exact(&mut echoed).unwrap();
    assert_eq!(echoed, payload);
}

#[test]
fn head_requests_get_headers_only() {
    let p = Builder::new().app(&echo_app(&marker())).start();
    p.wait_app_ready();
    let resp = request(
        p.addr(),
        b"HEAD /thing HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(resp.status, 200);
    assert!(resp.header("content-length").is_some());
    assert!(resp.body.is_empty());
}

#[test]
fn sigterm_drains_a_slow_request_then_exits_with_the_app() {
    let m = marker();
    let mut p = Builder::new().app(&echo_app(&m)).start();
    p.wait_app_ready();
    let addr = p.addr();
    let slow = std::thread::spawn(move || {
        try_request(
            addr,
            b"GET /sleep?ms=2000 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        )
    });
    std::thread::sleep(Duration::from_millis(400));
    let t0 = Instant::now();
    p.signal(15);
    // New connections are refused soon after the signal.
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        TcpStream::connect(addr).is_err(),
        "palisade still accepts connections after SIGTERM"
    );
    let resp = slow
        .join()
        .unwrap()
        .expect("the in-flight request completes");
    assert_eq!(resp.status, 200, "in-flight request was not drained");
    let status = p
        .wait_exit(Duration::from_secs(25))
        .expect("palisade exits within 25 s");
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t0.elapsed()
    );
    assert_eq!(
        status.code(),
        Some(0),
        "exit status mirrors the app's clean exit"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(pids_matching(&m).is_empty(), "the app is still running");
}

#[test]
fn app_crash_gives_502_page_and_palisade_exits_with_the_apps_status() {
    let m = marker();
    let mut p = Builder::new().app(&echo_app(&m)).start();
    p.wait_app_ready();
    let resp = p.get("/crash");
    assert_eq!(resp.status, 502);
    let rid = resp.header("x-request-id").unwrap().to_string();
    assert!(
        resp.text().contains(&rid),
        "error page shows the request id"
    );
    assert!(resp.header("strict-transport-security").is_some());
    assert!(!resp.text().contains("Peer:"), "no internal detail leaks");
    let status = p
        .wait_exit(Duration::from_secs(10))
        .expect("palisade exits when the app dies");
    assert_eq!(status.code(), Some(3));
}

#[test]
fn upstream_timeout_gives_504() {
    let p = Builder::new()
        .env("PALISADE_UPSTREAM_READ_TIMEOUT", "1")
        // The hung request keeps the app from exiting on SIGTERM: kill it after 2 s.
        .env("PALISADE_DRAIN_TIMEOUT", "2")
        .app(&echo_app(&marker()))
        .start();
    p.wait_app_ready();
    let t0 = Instant::now();
    let resp = p.get("/hang");
    assert_eq!(resp.status, 504);
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert!(resp.text().contains("took too long"));
}

#[test]
fn public_port_taken_fails_closed() {
    let holder = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let mut p = Builder::new()
        .env("PORT", &port.to_string())
        .app(&echo_app(&marker()))
        .spawn();
    let status = p.wait_exit(Duration::from_secs(10)).expect("exits");
    assert!(!status.success());
    let err = p.stderr_lines().join("\n");
    assert!(err.contains("already in use"), "{err}");
    assert!(err.contains("Procfile"), "{err}");
}

#[test]
fn a_web_command_naming_the_public_port_is_refused() {
    let b = Builder::new();
    let port = b.port;
    let mut p = b.app(&format!("python3 app.py --port {port}")).spawn();
    let status = p.wait_exit(Duration::from_secs(10)).expect("exits");
    assert_eq!(status.code(), Some(2));
    assert!(p.stderr_lines().join("\n").contains("bypass the firewall"));
}

#[test]
fn an_app_that_binds_the_public_port_anyway_cannot_and_palisade_exits() {
    // The command hides the port in an environment expansion, so only the bind itself catches it.
    let b = Builder::new();
    let port = b.port;
    let mut p = b
        .env("PUBLIC", &port.to_string())
        .app("PORT=$PUBLIC exec python3 app.py")
        .spawn();
    let status = p.wait_exit(Duration::from_secs(15)).expect("exits");
    assert!(!status.success());
    let err = p.stderr_lines().join("\n");
    assert!(err.contains("exited while booting"), "{err}");
}

#[test]
fn requests_wait_while_the_app_boots() {
    let p = Builder::new()
        .app(&format!("sleep 1.5; exec {}", echo_app(&marker())))
        .start();
    let t0 = Instant::now();
    let resp = p.get("/early");
    assert_eq!(resp.status, 200, "held until the app was ready");
    assert!(t0.elapsed() > Duration::from_millis(1000));
}

#[test]
fn boot_timeout_answers_503_with_retry_after_then_exits() {
    let m = marker();
    let mut p = Builder::new()
        .env("PALISADE_BOOT_TIMEOUT", "2")
        .app(&format!("python3 -c 'import time; time.sleep(30)' {m}"))
        .start();
    let resp = p.get("/");
    assert_eq!(resp.status, 503);
    assert!(resp.header("retry-after").is_some());
    assert!(resp.header("strict-transport-security").is_some());
    let status = p
        .wait_exit(Duration::from_secs(10))
        .expect("exits after boot timeout");
    assert_eq!(status.code(), Some(1));
    assert!(p
        .stderr_lines()
        .join("\n")
        .contains("within the boot timeout"));
    std::thread::sleep(Duration::from_millis(300));
    assert!(pids_matching(&m).is_empty(), "the app was left running");
}

#[test]
fn killing_palisade_stops_the_app() {
    let m = marker();
    let mut p = Builder::new().app(&echo_app(&m)).start();
    p.wait_app_ready();
    assert!(!pids_matching(&m).is_empty());
    p.signal(9);
    p.wait_exit(Duration::from_secs(5)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !pids_matching(&m).is_empty() {
        assert!(Instant::now() < deadline, "app survived palisade's death");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn proxy_only_mode_forwards_to_an_existing_app() {
    let app_port = free_port();
    let m = marker();
    let _app = ChildGuard(
        std::process::Command::new("python3")
            .arg("app.py")
            .arg(&m)
            .current_dir(python_echo_dir())
            .env("PORT", app_port.to_string())
            .env("HOST", "127.0.0.1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", app_port)).is_err() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut p = Builder::new()
        .arg("--upstream")
        .arg(&format!("127.0.0.1:{app_port}"))
        .start();
    let resp = p.get("/via-upstream");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["path"], "/via-upstream");
    p.signal(15);
    let status = p.wait_exit(Duration::from_secs(10));
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "palisade did not exit 0 after SIGTERM; stderr: {:?}",
        p.stderr_lines()
    );
}

#[test]
fn bad_config_refuses_to_start_and_names_the_variable() {
    let mut p = Builder::new()
        .env("PALISADE_PARANOIA", "9")
        .app(&echo_app(&marker()))
        .spawn();
    let status = p.wait_exit(Duration::from_secs(10)).unwrap();
    assert_eq!(status.code(), Some(2));
    let err = p.stderr_lines().join("\n");
    assert!(
        err.contains("PALISADE_PARANOIA") && err.contains("\"9\"") && err.contains("1 to 4"),
        "{err}"
    );
}

#[test]
fn kill_switch_runs_the_app_directly_with_a_loud_warning() {
    let p = Builder::new()
        .env("PALISADE_ENABLED", "false")
        .app(&echo_app(&marker()))
        .spawn();
    p.wait_listening();
    let resp = p.get("/direct");
    assert_eq!(resp.status, 200);
    assert!(
        resp.header("strict-transport-security").is_none(),
        "palisade is not in the path"
    );
    assert!(p.stderr_contains("UNPROTECTED"));
}
