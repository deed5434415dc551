//! The HTTP/1 lane (crates/palisade-proxy/src/lane/) and the direct relay
//! (crates/palisade-proxy/src/service/direct_relay.rs): bodyless GET and HEAD requests go to the
//! app over Palisade's own keep-alive pool — HTTP/1.1 ones through the lane, without Pingora's
//! session, the rest (HTTP/1.0, TLS) through the relay on Pingora's path. The lane also takes
//! bodyless DELETE and OPTIONS, and POST/PUT/PATCH bodies framed by one Content-Length that
//! arrive promptly. These tests put a scripted app
//! behind the real binary (proxy-only mode) to produce what well-behaved test apps never do on
//! cue: closing idle connections mid-race, close-delimited bodies, interim responses, unasked
//! upgrades. They also check that both paths give the app and the client the same thing.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

/// What the scripted app does with one request.
enum Reply {
    /// Writes these bytes and keeps the connection.
    Send(&'static [u8]),
    /// Writes these bytes and closes.
    SendAndClose(&'static [u8]),
    /// Closes without answering (an idle close racing the request).
    Close,
}

/// A one-thread-per-connection app on loopback that answers each request as `script` says,
/// given (connection number, request number on that connection), and records each head with
/// the body after it (Content-Length or chunked framing, as received).
struct ScriptedApp {
    port: u16,
    heads: Arc<Mutex<Vec<(usize, String)>>>,
}

impl ScriptedApp {
    fn start(script: fn(usize, usize) -> Reply) -> ScriptedApp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = heads.clone();
        std::thread::spawn(move || {
            for (conn_no, conn) in listener.incoming().enumerate() {
                let Ok(conn) = conn else { return };
                let seen = seen.clone();
                std::thread::spawn(move || serve(conn, conn_no, script, &seen));
            }
        });
        ScriptedApp { port, heads }
    }

    fn upstream(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// (connection number, request head) for every head received so far.
    fn heads(&self) -> Vec<(usize, String)> {
        self.heads.lock().unwrap().clone()
    }
}

fn serve(
    mut conn: TcpStream,
    conn_no: usize,
    script: fn(usize, usize) -> Reply,
    seen: &Mutex<Vec<(usize, String)>>,
) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    for req_no in 0.. {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        if read_body(&mut reader, &mut head).is_none() {
            return;
        }
        seen.lock().unwrap().push((conn_no, head));
        match script(conn_no, req_no) {
            Reply::Send(bytes) => {
                if conn.write_all(bytes).is_err() {
                    return;
                }
            }
            Reply::SendAndClose(bytes) => {
                let _ = conn.write_all(bytes);
                return;
            }
            Reply::Close => return,
        }
    }
}

/// Reads the body `head` announces and appends it to `head` (chunked: the chunk data only).
fn read_body<R: BufRead>(reader: &mut R, head: &mut String) -> Option<()> {
    let field = |name: &str| {
        head.lines()
            .find_map(|l| {
                l.split_once(':')
                    .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            })
            .map(|(_, v)| v.trim().to_string())
    };
    let mut body = Vec::new();
    if field("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim(), 16).ok()?;
            if n == 0 {
                let mut trailer = String::new();
                while reader.read_line(&mut trailer).ok()? > 2 {
                    trailer.clear();
                }
                break;
            }
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk).ok()?;
            body.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(n) = field("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(n, 0);
        reader.read_exact(&mut body).ok()?;
    }
    head.push_str(&String::from_utf8_lossy(&body));
    Some(())
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

fn proxy(app: &ScriptedApp) -> Palisade {
    Builder::new()
        .arg("--upstream")
        .arg(&app.upstream())
        .start()
}

/// Sends GETs one after another on one client connection.
fn gets_on_one_connection(p: &Palisade, paths: &[&str]) -> Vec<Response> {
    let mut s = TcpStream::connect(p.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    paths
        .iter()
        .map(|path| {
            write!(s, "GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
            read_response(&mut r, false).unwrap()
        })
        .collect()
}

#[test]
fn an_idle_connection_the_app_closes_as_the_request_arrives_is_retried_once() {
    // The app answers the first request on each connection, then drops the connection when the
    // next request arrives on it: what an app server's idle timeout looks like when it fires
    // just as a pooled connection is reused.
    let app = ScriptedApp::start(|_, req_no| {
        if req_no == 0 {
            Reply::Send(OK)
        } else {
            Reply::Close
        }
    });
    let p = proxy(&app);
    let responses = gets_on_one_connection(&p, &["/one", "/two", "/three"]);
    for r in &responses {
        assert_eq!(r.status, 200, "{:?}", r.text());
        assert_eq!(r.body, b"ok");
    }
    let heads = app.heads();
    // Each retried request reached the app twice: once on the dying connection (dropped
    // unanswered), once on a fresh one. Never more.
    for path in ["/two", "/three"] {
        let sent: Vec<usize> = heads
            .iter()
            .filter(|(_, h)| h.starts_with(&format!("GET {path} ")))
            .map(|(c, _)| *c)
            .collect();
        assert_eq!(sent.len(), 2, "{path}: {heads:?}");
        assert_ne!(sent[0], sent[1], "the retry used a new connection");
    }
    // One access line per client request, a retry included, with the app's status.
    for r in &responses {
        let e = p.access_event_for(r);
        assert_eq!(e["http.response.status_code"], 200);
        assert_eq!(e["palisade.upstream_status"], 200);
    }
}

#[test]
fn an_app_that_closes_after_every_response_gets_a_new_connection_each_time() {
    let app = ScriptedApp::start(|_, _| {
        Reply::SendAndClose(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    });
    let p = proxy(&app);
    let responses = gets_on_one_connection(&p, &["/a", "/b", "/c"]);
    assert!(responses.iter().all(|r| r.status == 200 && r.body == b"ok"));
    let heads = app.heads();
    assert_eq!(heads.len(), 3, "no retries needed: {heads:?}");
    let conns: std::collections::BTreeSet<usize> = heads.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        conns.len(),
        3,
        "a connection the app closed is never reused"
    );
}

#[test]
fn pooled_connections_are_reused_across_client_connections() {
    let app = ScriptedApp::start(|_, _| Reply::Send(OK));
    let p = proxy(&app);
    for i in 0..5 {
        let r = p.get(&format!("/r{i}"));
        assert_eq!(r.status, 200);
        // The app connection goes back to the pool just after the client has its response: a
        // next request arriving within those microseconds (likely on a loaded 2-core machine)
        // rightly opens a second connection. A client pause keeps this test about reuse.
        std::thread::sleep(Duration::from_millis(50));
    }
    let conns: std::collections::BTreeSet<usize> = app.heads().iter().map(|(c, _)| *c).collect();
    assert_eq!(
        conns.len(),
        1,
        "five sequential requests, one app connection: {:?}",
        app.heads()
    );
}

#[test]
fn a_close_delimited_body_is_reframed_and_the_client_connection_survives() {
    let app = ScriptedApp::start(|_, _| {
        Reply::SendAndClose(
            b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello, until close",
        )
    });
    let p = proxy(&app);
    let responses = gets_on_one_connection(&p, &["/x", "/y"]);
    for r in &responses {
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), "hello, until close");
        assert_eq!(r.header("transfer-encoding"), Some("chunked"));
        assert!(r.header("strict-transport-security").is_some());
    }
}

#[test]
fn interim_responses_are_not_forwarded() {
    let app = ScriptedApp::start(|_, _| {
        Reply::Send(
            b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n\
              HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        )
    });
    let p = proxy(&app);
    let responses = gets_on_one_connection(&p, &["/hints", "/again"]);
    for r in &responses {
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"ok");
    }
}

#[test]
fn an_upgrade_nobody_asked_for_is_a_502() {
    let app = ScriptedApp::start(|_, _| {
        Reply::Send(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
    });
    let p = proxy(&app);
    let r = p.get("/sneaky");
    assert_eq!(r.status, 502);
    assert!(r.text().contains(r.header("x-request-id").unwrap()));
    let e = p.access_event_for(&r);
    assert_eq!(e["http.response.status_code"], 502);
}

#[test]
fn a_garbled_response_is_a_502_and_never_reaches_the_client() {
    let app = ScriptedApp::start(|_, _| Reply::SendAndClose(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"));
    let p = proxy(&app);
    let r = p.get("/garbled");
    assert_eq!(r.status, 502);
    assert!(!r.text().contains("OpenSSH"));
}

/// The header names a response carries, lower-cased, without the per-response ones.
fn header_names(r: &Response) -> Vec<String> {
    let mut names: Vec<String> = r
        .headers
        .iter()
        .map(|(k, _)| k.to_ascii_lowercase())
        .filter(|k| !matches!(k.as_str(), "date" | "content-length" | "transfer-encoding"))
        .collect();
    names.sort();
    names
}

/// The headers the echo app received (lower-cased name, value), sorted, without `skip`.
fn app_headers(r: &Response, skip: &[&str]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = r.json()["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h[0].as_str().unwrap().to_ascii_lowercase(),
                h[1].as_str().unwrap().to_string(),
            )
        })
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .collect();
    v.sort();
    v
}

#[test]
fn both_paths_give_the_app_and_the_client_the_same_headers() {
    let p = Builder::new()
        .app(&format!(
            "python3 app.py marker-direct-{}-{}",
            std::process::id(),
            free_port()
        ))
        .start();
    p.wait_app_ready();
    // GET takes the direct relay; the same request as a POST with an empty body (a
    // Content-Length header) takes Pingora's path.
    let direct = request(
        p.addr(),
        b"GET /same?q=1 HTTP/1.0\r\nHost: t\r\nConnection: close\r\nUser-Agent: test\r\n\r\n",
    );
    let ordinary = request(
        p.addr(),
        b"POST /same?q=1 HTTP/1.0\r\nHost: t\r\nConnection: close\r\nUser-Agent: test\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(direct.status, 200);
    assert_eq!(ordinary.status, 200);
    assert_eq!(header_names(&direct), header_names(&ordinary));
    let names = |r: &Response| -> Vec<String> {
        app_headers(r, &["content-length"])
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    };
    assert_eq!(names(&direct), names(&ordinary));
    // The client's Connection header is about its own connection: the app never sees it, and
    // the app is spoken to in HTTP/1.1 either way.
    assert!(!names(&direct).contains(&"connection".to_string()));
    assert_eq!(direct.json()["version"], "HTTP/1.1");
    assert_eq!(ordinary.json()["version"], "HTTP/1.1");
    for r in [&direct, &ordinary] {
        assert_eq!(p.access_event_for(r)["url.path"], "/same");
    }
}

#[test]
fn lane_and_ordinary_requests_share_one_client_connection() {
    let app = ScriptedApp::start(|_, _| Reply::Send(OK));
    let p = proxy(&app);
    let mut s = TcpStream::connect(p.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    // GET (lane), chunked POST (Pingora's path), GET (lane again), POST with a Content-Length
    // body (lane), HEAD (lane; last, as this app wrongly sends a body with it, which makes
    // its connection unfit for reuse).
    let requests: [&[u8]; 5] = [
        b"GET /one HTTP/1.1\r\nHost: t\r\n\r\n",
        b"POST /two HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"GET /three HTTP/1.1\r\nHost: t\r\n\r\n",
        b"POST /four HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nworld",
        b"HEAD /five HTTP/1.1\r\nHost: t\r\n\r\n",
    ];
    let mut responses = Vec::new();
    for (i, raw) in requests.iter().enumerate() {
        s.write_all(raw).unwrap();
        let resp = read_response(&mut r, i == 4).unwrap();
        assert_eq!(resp.status, 200, "request {i}");
        assert!(
            resp.header("strict-transport-security").is_some(),
            "request {i}"
        );
        responses.push(resp);
    }
    let paths: Vec<String> = app
        .heads()
        .iter()
        .map(|(_, h)| h.split(' ').nth(1).unwrap_or_default().to_string())
        .collect();
    assert_eq!(paths, ["/one", "/two", "/three", "/four", "/five"]);
    // The lane's requests share its pooled app connection, the chunked POST took Pingora's own;
    // both bodies arrived whole.
    let heads = app.heads();
    let conn = |i: usize| heads[i].0;
    assert_eq!([conn(2), conn(3), conn(4)], [conn(0); 3], "{heads:?}");
    assert_ne!(conn(1), conn(0), "{heads:?}");
    assert!(heads[1].1.ends_with("\r\n\r\nhello"), "{heads:?}");
    assert!(heads[3].1.starts_with("POST /four "), "{heads:?}");
    assert!(heads[3].1.ends_with("\r\n\r\nworld"), "{heads:?}");
    // One access line each, with the path and the method that came in.
    for (resp, (method, path)) in responses.iter().zip([
        ("GET", "/one"),
        ("POST", "/two"),
        ("GET", "/three"),
        ("POST", "/four"),
        ("HEAD", "/five"),
    ]) {
        let event = p.access_event_for(resp);
        assert_eq!(event["url.path"], path);
        assert_eq!(event["http.request.method"], method);
        assert_eq!(event["http.response.status_code"], 200);
    }
}

#[test]
fn pipelined_gets_are_answered_in_order() {
    let app = ScriptedApp::start(|_, _| Reply::Send(OK));
    let p = proxy(&app);
    let mut s = TcpStream::connect(p.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    s.write_all(b"GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    for _ in 0..2 {
        assert_eq!(read_response(&mut r, false).unwrap().status, 200);
    }
    let paths: Vec<String> = app
        .heads()
        .iter()
        .map(|(_, h)| h.split(' ').nth(1).unwrap_or_default().to_string())
        .collect();
    assert_eq!(paths, ["/a", "/b"]);
}

#[test]
fn the_lane_and_pingoras_path_give_the_app_and_the_client_the_same_headers() {
    let p = Builder::new()
        .app(&format!(
            "python3 app.py marker-lane-{}-{}",
            std::process::id(),
            free_port()
        ))
        .start();
    p.wait_app_ready();
    let lane = request(
        p.addr(),
        b"GET /same?q=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\nUser-Agent: test\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n",
    );
    let ordinary = request(
        p.addr(),
        b"POST /same?q=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\nUser-Agent: test\r\nX-Forwarded-For: 203.0.113.7\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    );
    assert_eq!(lane.status, 200);
    assert_eq!(ordinary.status, 200);
    assert_eq!(header_names(&lane), header_names(&ordinary));
    assert_eq!(lane.header("connection"), Some("close"));
    // Off Heroku the socket is the truth: the peer is appended to X-Forwarded-For and the
    // scheme stated, on both paths alike.
    let seen =
        |r: &Response| app_headers(r, &["content-length", "transfer-encoding", "x-request-id"]);
    assert_eq!(seen(&lane), seen(&ordinary));
    assert!(seen(&lane).contains(&(
        "x-forwarded-for".to_string(),
        "203.0.113.7, 127.0.0.1".to_string()
    )));
    assert_eq!(lane.json()["version"], "HTTP/1.1");
    for r in [&lane, &ordinary] {
        let event = p.access_event_for(r);
        assert_eq!(event["url.path"], "/same");
        assert_eq!(event["http.response.status_code"], 200);
    }
}

#[test]
fn failure_lines_on_stderr_never_carry_the_query() {
    // The app drops every request unanswered: each gets a 502 and a diagnostic line.
    let app = ScriptedApp::start(|_, _| Reply::Close);
    let p = proxy(&app);
    let lane = request(
        p.addr(),
        b"GET /search?name=Jane-Doe-Lane HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    let ordinary = request(
        p.addr(),
        b"POST /search?name=Jane-Doe-Ordinary HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
    );
    assert_eq!(lane.status, 502);
    assert_eq!(ordinary.status, 502);
    // Both failures are logged (whatever the wording), then: no query value in any line.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while p
        .stderr_lines()
        .iter()
        .filter(|l| l.contains("/search"))
        .count()
        < 2
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{:#?}",
            p.stderr_lines()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!p.stderr_contains("Jane-Doe"), "{:#?}", p.stderr_lines());
}

#[test]
fn the_lane_can_be_switched_off() {
    let app = ScriptedApp::start(|_, _| Reply::Send(OK));
    let p = Builder::new()
        .arg("--upstream")
        .arg(&app.upstream())
        .env("PALISADE_HTTP1_LANE", "false")
        .start();
    // Every request takes Pingora's path, with the same answers.
    for r in gets_on_one_connection(&p, &["/a", "/b"]) {
        assert_eq!(r.status, 200);
        assert!(r.header("strict-transport-security").is_some());
    }
    let starting = p.startup_line();
    assert_eq!(starting["http1_lane"], false, "{starting}");
    // A value that is not a boolean stops startup, naming the variable and the value.
    let (code, _out, err) = palisade_tool(&["check"], &[("PALISADE_HTTP1_LANE", "maybe")]);
    assert_ne!(code, 0);
    assert!(
        err.contains("PALISADE_HTTP1_LANE") && err.contains("maybe"),
        "{err}"
    );
}

#[test]
fn lane_bodies_reach_the_app_whole_and_pipelined_requests_stay_in_order() {
    let app = ScriptedApp::start(|_, _| Reply::Send(OK));
    let p = proxy(&app);
    let mut s = TcpStream::connect(p.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    // A form body in three writes (the lane reads until it has all of it), then a PUT, a GET, a
    // DELETE and a CORS preflight pipelined behind it in one write.
    // 22 KB: over the size the lane copies behind the head, so head and body go out apart.
    let form = "note=".to_string() + &"Patient reports improved sleep. ".repeat(700);
    let head = format!(
        "POST /intake HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        form.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&form.as_bytes()[..4000]).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    s.write_all(&form.as_bytes()[4000..]).unwrap();
    s.write_all(b"PUT /record/7 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabcGET /after HTTP/1.1\r\nHost: t\r\n\r\nDELETE /record/7 HTTP/1.1\r\nHost: t\r\n\r\nOPTIONS /record HTTP/1.1\r\nHost: t\r\nOrigin: https://portal.example\r\nAccess-Control-Request-Method: PUT\r\n\r\n")
        .unwrap();
    let responses: Vec<Response> = (0..5)
        .map(|_| read_response(&mut r, false).unwrap())
        .collect();
    assert!(responses.iter().all(|r| r.status == 200 && r.body == b"ok"));
    let heads = app.heads();
    assert_eq!(heads.len(), 5, "{heads:?}");
    assert!(heads[3].1.starts_with("DELETE /record/7 "), "{heads:?}");
    assert!(heads[4].1.starts_with("OPTIONS /record "), "{heads:?}");
    assert!(heads[0].1.starts_with("POST /intake "), "{heads:?}");
    assert!(
        heads[0].1.ends_with(&format!("\r\n\r\n{form}")),
        "the whole form"
    );
    assert!(heads[1].1.starts_with("PUT /record/7 ") && heads[1].1.ends_with("\r\n\r\nabc"));
    assert!(heads[2].1.starts_with("GET /after "), "{heads:?}");
    // One app connection for all five: the lane's pool, not Pingora's.
    assert!(heads.iter().all(|(c, _)| *c == heads[0].0), "{heads:?}");
    let e = p.access_event_for(&responses[0]);
    assert_eq!(e["http.request.method"], "POST");
    assert_eq!(e["http.request.bytes"], form.len());
}

#[test]
fn an_attack_in_a_lane_body_is_blocked_and_never_reaches_the_app() {
    let app = ScriptedApp::start(|_, _| Reply::Send(OK));
    let p = proxy(&app);
    let body = "patient=1%27%20union%20select%20password%20from%20users--";
    let resp = request(
        p.addr(),
        format!(
            "POST /search HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    assert_eq!(resp.status, 403, "{}", resp.text());
    let ev = p.security_event_for(&resp);
    let rules: Vec<String> = ev["rule.id"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
        .collect();
    assert!(
        rules.iter().any(|id| id.starts_with("240")),
        "an SQL injection rule fired: {ev}"
    );
    assert!(app.heads().is_empty(), "{:?}", app.heads());
}

#[test]
fn a_paused_body_is_read_whole_by_the_lane() {
    let app = ScriptedApp::start(|_, _| Reply::Send(OK));
    let p = proxy(&app);
    let mut s = TcpStream::connect(p.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    s.write_all(
        b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello",
    )
    .unwrap();
    // A pause well within body_rate_grace (10 s by default) is no reason to refuse.
    std::thread::sleep(Duration::from_millis(1500));
    s.write_all(b"world").unwrap();
    let resp = read_response(&mut BufReader::new(s), false).unwrap();
    assert_eq!(resp.status, 200, "{}", resp.text());
    let heads = app.heads();
    assert_eq!(heads.len(), 1, "{heads:?}");
    assert!(heads[0].1.ends_with("\r\n\r\nhelloworld"), "{heads:?}");
    assert_eq!(p.access_event_for(&resp)["http.request.bytes"], 10);
}

#[test]
fn a_refused_client_is_answered_before_its_upload_is_read() {
    let app = ScriptedApp::start(|_, _| Reply::Send(OK));
    let p = Builder::new()
        .arg("--upstream")
        .arg(&app.upstream())
        .env("PALISADE_IP_BLOCKLIST", "127.0.0.0/8")
        .env("PALISADE_BODY_RATE_GRACE", "30s")
        .start();
    let mut s = TcpStream::connect(p.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    // A large upload's head and its first kilobyte; the rest never comes.
    let mut first = b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 500000\r\n\r\n".to_vec();
    first.extend_from_slice(&[b'a'; 1024]);
    s.write_all(&first).unwrap();
    let started = std::time::Instant::now();
    let resp = read_response(&mut BufReader::new(s), false).unwrap();
    // Answered from the head, not after waiting for (or giving up on) the body.
    let waited = started.elapsed();
    assert_eq!(resp.status, 403, "{}", resp.text());
    assert!(
        waited < Duration::from_millis(900),
        "answered after {waited:?}"
    );
    let ev = p.security_event_for(&resp);
    assert_eq!(ev["palisade.control"], "ip", "{ev}");
    let access = p.access_event_for(&resp);
    assert_eq!(access["http.request.bytes"], 0, "{access}");
    assert!(app.heads().is_empty(), "{:?}", app.heads());
}

/// Sends a 20 KB inspected body in `chunks` pieces of 100 bytes, one every 100 ms, and returns
/// the response (the connection is then closed).
fn trickle(p: &Palisade, chunks: usize) -> Response {
    let mut s = TcpStream::connect(p.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    s.write_all(
        b"POST /trickle HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 20000\r\n\r\n",
    )
    .unwrap();
    let writer = {
        let mut s = s.try_clone().unwrap();
        std::thread::spawn(move || {
            for _ in 0..chunks {
                if s.write_all(&[b'x'; 100]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let resp = read_response(&mut BufReader::new(s.try_clone().unwrap()), false).unwrap();
    let _ = s.shutdown(std::net::Shutdown::Both);
    writer.join().unwrap();
    resp
}

#[test]
fn slow_and_stalled_bodies_get_408_on_both_paths() {
    for lane in ["true", "false"] {
        let app = ScriptedApp::start(|_, _| Reply::Send(OK));
        let p = Builder::new()
            .arg("--upstream")
            .arg(&app.upstream())
            .env("PALISADE_HTTP1_LANE", lane)
            .env("PALISADE_MIN_BODY_RATE", "1KiB")
            .env("PALISADE_BODY_RATE_GRACE", "1s")
            .start();
        // 1000 B/s, under the 1 KiB/s minimum once the grace has passed: a limits event.
        let resp = trickle(&p, 200);
        assert_eq!(resp.status, 408, "lane {lane}: {}", resp.text());
        let ev = p.security_event_for(&resp);
        assert_eq!(ev["palisade.control"], "limits", "lane {lane}: {ev}");
        assert!(
            ev["event.reason"]
                .as_str()
                .is_some_and(|r| r.contains("min_body_rate")),
            "lane {lane}: {ev}"
        );
        assert_eq!(p.access_event_for(&resp)["http.response.status_code"], 408);
        // Three pieces, then nothing: the read timeout (the grace) ends it, a client fault
        // (before, Pingora's path answered this pre-read body's timeout with a 500).
        let resp = trickle(&p, 3);
        assert_eq!(resp.status, 408, "lane {lane}: {}", resp.text());
        assert!(app.heads().is_empty(), "lane {lane}: {:?}", app.heads());
    }
}

#[test]
fn a_client_expecting_100_continue_gets_it_before_its_body_is_inspected() {
    let app = ScriptedApp::start(|_, _| Reply::Send(OK));
    let p = proxy(&app);
    let mut s = TcpStream::connect(p.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(
        b"POST /notes HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    // The body is sent only once the 100 has come (before the fix: a 408 when the read
    // timed out, since Palisade read the body before contacting the app that would send it).
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 100"), "{line:?}");
    r.read_line(&mut line).unwrap();
    s.write_all(b"hello").unwrap();
    let resp = read_response(&mut r, false).unwrap();
    assert_eq!(resp.status, 200, "{}", resp.text());
    let heads = app.heads();
    assert_eq!(heads.len(), 1, "{heads:?}");
    assert!(heads[0].1.ends_with("\r\n\r\nhello"), "{heads:?}");
    // Answered already: the app is not asked to send a second 100.
    assert!(
        !heads[0].1.to_ascii_lowercase().contains("expect:"),
        "{heads:?}"
    );
}

#[test]
fn a_body_over_the_inspection_limit_keeps_its_ordinary_treatment() {
    let app = ScriptedApp::start(|_, _| Reply::Send(OK));
    let p = Builder::new()
        .arg("--upstream")
        .arg(&app.upstream())
        .env("PALISADE_MAX_INSPECT_BODY", "1KiB")
        .start();
    let body = "a".repeat(2048);
    let resp = request(
        p.addr(),
        format!(
            "POST /big HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    assert_eq!(resp.status, 413, "{}", resp.text());
    assert_eq!(p.security_event_for(&resp)["palisade.control"], "limits");
    assert!(app.heads().is_empty(), "{:?}", app.heads());
}

#[test]
fn fields_the_apps_connection_nominates_never_reach_the_client_on_either_path() {
    let app = ScriptedApp::start(|_, _| {
        Reply::Send(
            b"HTTP/1.1 200 OK\r\nConnection: X-Internal-Token\r\nX-Internal-Token: secret\r\nX-Public: yes\r\nContent-Length: 2\r\n\r\nok",
        )
    });
    let p = proxy(&app);
    let lane = request(
        p.addr(),
        b"GET /a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    let ordinary = request(
        p.addr(),
        b"POST /b HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    );
    for r in [&lane, &ordinary] {
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-internal-token"), None, "{:?}", r.headers);
        assert_eq!(r.header("x-public"), Some("yes"));
        assert_eq!(r.body, b"ok");
    }
}
