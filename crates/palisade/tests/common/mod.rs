//! Test harness: start the real `palisade` binary (and real test apps) on free ports, talk raw
//! HTTP/1.1 over sockets.
#![allow(dead_code, clippy::unwrap_used, missing_docs)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn python_echo_dir() -> PathBuf {
    repo_root().join("test-apps/python-echo")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running palisade with its captured stdout (audit lines) and stderr (diagnostics).
pub struct Palisade {
    pub child: Child,
    pub port: u16,
    pub stdout: Arc<Mutex<Vec<String>>>,
    pub stderr: Arc<Mutex<Vec<String>>>,
}

fn pump<R: Read + Send + 'static>(r: R, sink: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            match line {
                Ok(l) => sink.lock().unwrap().push(l),
                Err(_) => break,
            }
        }
    });
}

pub struct Builder {
    cmd: Command,
    pub port: u16,
}

impl Builder {
    /// `palisade run` in the python-echo directory, on a fresh public port, with a clean env.
    pub fn new() -> Builder {
        let port = free_port();
        let mut cmd = Command::new(palisade_bin());
        cmd.current_dir(python_echo_dir())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PORT", port.to_string())
            .env("PALISADE_THREADS", "2")
            .arg("run");
        Builder { cmd, port }
    }
    pub fn env(mut self, k: &str, v: &str) -> Builder {
        self.cmd.env(k, v);
        self
    }
    pub fn arg(mut self, a: &str) -> Builder {
        self.cmd.arg(a);
        self
    }
    pub fn app(mut self, command: &str) -> Builder {
        self.cmd.arg("--").arg(command);
        self
    }
    pub fn cwd(mut self, dir: PathBuf) -> Builder {
        self.cmd.current_dir(dir);
        self
    }
    pub fn spawn(mut self) -> Palisade {
        self.cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.cmd.spawn().unwrap();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        pump(child.stdout.take().unwrap(), stdout.clone());
        pump(child.stderr.take().unwrap(), stderr.clone());
        Palisade {
            child,
            port: self.port,
            stdout,
            stderr,
        }
    }
    /// Spawns and waits until the proxy answers (the app may still be booting).
    pub fn start(self) -> Palisade {
        let p = self.spawn();
        p.wait_listening();
        p
    }
}

impl Palisade {
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
    pub fn wait_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(self.addr()).is_err() {
            assert!(
                Instant::now() < deadline,
                "palisade did not listen; stderr: {:?}",
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    /// Waits until the app behind it answers (a GET / returns anything but 503).
    pub fn wait_app_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.stderr_contains("accepts connections") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "app never became ready: {:?}",
                self.stderr_lines()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    pub fn get(&self, path: &str) -> Response {
        request(
            self.addr(),
            &format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").into_bytes(),
        )
    }
    pub fn signal(&self, sig: i32) {
        let _ = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status();
    }
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                // let the pumps drain
                std::thread::sleep(Duration::from_millis(50));
                return Some(s);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }
    /// The "palisade starting" diagnostic line (stderr), parsed.
    pub fn startup_line(&self) -> serde_json::Value {
        let lines = self.stderr_lines();
        lines
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["message"] == "palisade starting")
            .unwrap_or_else(|| panic!("no startup line in {lines:?}"))
    }
    pub fn stderr_contains(&self, s: &str) -> bool {
        self.stderr.lock().unwrap().iter().any(|l| l.contains(s))
    }
    /// Access events (JSON lines on stdout) whose request id matches.
    pub fn access_events(&self) -> Vec<serde_json::Value> {
        self.stdout_lines()
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v.get("event.action").and_then(|a| a.as_str()) == Some("request"))
            .collect()
    }
}

impl Drop for Palisade {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            // A graceful stop first, so palisade stops the app too; then make sure.
            self.signal(15);
            if self.wait_exit(Duration::from_secs(5)).is_none() {
                self.signal(9);
                let _ = self.child.wait();
            }
        }
    }
}

/// A parsed HTTP/1.1 response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads one response from a buffered stream (Content-Length, chunked, or until close).
pub fn read_response<R: BufRead>(r: &mut R, head_request: bool) -> std::io::Result<Response> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut resp = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if head_request || status == 101 || status == 204 || status == 304 {
        return Ok(resp);
    }
    if resp
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .map_err(std::io::Error::other)?;
            if n == 0 {
                let mut end = String::new();
                r.read_line(&mut end)?;
                break;
            }
            let mut chunk = vec![0; n];
            r.read_exact(&mut chunk)?;
            resp.body.extend_from_slice(&chunk);
            let mut crlf = [0; 2];
            r.read_exact(&mut crlf)?;
        }
    } else if let Some(len) = resp
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        let mut body = vec![0; len];
        r.read_exact(&mut body)?;
        resp.body = body;
    } else {
        r.read_to_end(&mut resp.body)?;
    }
    Ok(resp)
}

/// Sends raw bytes on a fresh connection and reads one response.
pub fn request(addr: SocketAddr, raw: &[u8]) -> Response {
    try_request(addr, raw).unwrap()
}

pub fn try_request(addr: SocketAddr, raw: &[u8]) -> std::io::Result<Response> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(raw)?;
    let head = raw.starts_with(b"HEAD ");
    read_response(&mut BufReader::new(s), head)
}

/// Process ids whose command line contains `needle` (to check the app is gone).
pub fn pids_matching(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) {
                let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                if cmd.contains(needle) {
                    out.push(pid);
                }
            }
        }
    }
    out
}

// ---- Helpers for the access-control tests (tests/access_control.rs) ----

/// A fresh temp directory for this test process.
pub fn temp_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("palisade-e2e-{tag}-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A raw `METHOD path` request with extra header lines (`"Name: value"`), `Connection: close`.
pub fn raw_request(method: &str, path: &str, headers: &[&str]) -> Vec<u8> {
    let mut s = format!("{method} {path} HTTP/1.1\r\nHost: t\r\n");
    for h in headers {
        s.push_str(h);
        s.push_str("\r\n");
    }
    if method == "POST" || method == "PUT" {
        s.push_str("Content-Length: 0\r\n");
    }
    s.push_str("Connection: close\r\n\r\n");
    s.into_bytes()
}

impl Palisade {
    /// The public port on IPv6 loopback.
    pub fn addr_v6(&self) -> SocketAddr {
        SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, self.port))
    }
    /// Sends a request with extra header lines over IPv4 loopback.
    pub fn send(&self, method: &str, path: &str, headers: &[&str]) -> Response {
        request(self.addr(), &raw_request(method, path, headers))
    }
    /// A GET as the Heroku router would send it for a client at `xff` (the full header value).
    pub fn get_via(&self, path: &str, xff: &str) -> Response {
        self.send("GET", path, &[&format!("X-Forwarded-For: {xff}")])
    }
    /// Every JSON line on stdout.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout_lines()
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .collect()
    }
    /// Security events (stdout lines with `palisade.control` that are not access events) for
    /// the request id of `resp`, waiting up to 3 s for at least one.
    pub fn security_events_for(&self, resp: &Response) -> Vec<serde_json::Value> {
        let id = resp
            .header("x-request-id")
            .expect("response has an x-request-id")
            .to_string();
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let found: Vec<_> = self
                .json_lines()
                .into_iter()
                .filter(|v| v["event.action"] != "request" && v.get("palisade.control").is_some())
                .filter(|v| v["http.request.id"] == id.as_str())
                .collect();
            if !found.is_empty() || Instant::now() > deadline {
                return found;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    /// The one security event for `resp`'s request (panics with the stdout if there is none).
    pub fn security_event_for(&self, resp: &Response) -> serde_json::Value {
        let events = self.security_events_for(resp);
        assert!(
            !events.is_empty(),
            "no security event for request {:?}; stdout: {:#?}",
            resp.header("x-request-id"),
            self.stdout_lines()
        );
        events[0].clone()
    }
    /// The access event for `resp`'s request, waiting up to 3 s.
    pub fn access_event_for(&self, resp: &Response) -> serde_json::Value {
        let id = resp.header("x-request-id").unwrap().to_string();
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            if let Some(e) = self
                .access_events()
                .into_iter()
                .find(|v| v["http.request.id"] == id.as_str())
            {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "no access event for {id}; stdout: {:#?}",
                self.stdout_lines()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A helper process the test started itself, killed when the guard drops — also when the test
/// panics, so a failed test never leaves a process behind holding the runner's output pipe open.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `redis-server` to test with: `PALISADE_REDIS_SERVER` if set, else `/usr/bin/redis-server`,
/// else the first on `PATH`.
pub fn redis_server_binary() -> Option<PathBuf> {
    std::env::var_os("PALISADE_REDIS_SERVER")
        .map(PathBuf::from)
        .into_iter()
        .chain(std::iter::once(PathBuf::from("/usr/bin/redis-server")))
        .chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .map(|d| d.join("redis-server")),
        )
        .find(|p| p.is_file())
}

/// A throwaway redis-server on a free loopback port (no persistence), killed on drop.
pub struct RedisServer {
    pub child: Child,
    pub port: u16,
}

impl RedisServer {
    /// Starts [`redis_server_binary`]; `None` after printing SKIP if there is none.
    pub fn start() -> Option<RedisServer> {
        let Some(binary) = redis_server_binary() else {
            eprintln!("SKIP: redis-server is not installed; the shared-limit test needs it");
            return None;
        };
        let port = free_port();
        let child = Command::new(binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(RedisServer { child, port })
    }
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
    /// One command over RESP; returns the raw reply text.
    pub fn command(&self, args: &[&str]) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut cmd = format!("*{}\r\n", args.len());
        for a in args {
            cmd.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        s.write_all(cmd.as_bytes()).unwrap();
        let mut buf = vec![0; 65536];
        let n = s.read(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One HTTP request a [`WebhookReceiver`] got.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub path: String,
    pub body: String,
}

/// A local HTTP server (loopback, std only) that answers 200 to everything and records each
/// request's path and body: the alert webhooks' destination in tests.
pub struct WebhookReceiver {
    pub port: u16,
    pub got: Arc<Mutex<Vec<Received>>>,
}

impl WebhookReceiver {
    pub fn start() -> WebhookReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = got.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let sink = sink.clone();
                std::thread::spawn(move || serve_webhook(conn, &sink));
            }
        });
        WebhookReceiver { port, got }
    }
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
    /// Waits until at least `n` requests arrived at `path` (any path when empty).
    pub fn wait_for(&self, path: &str, n: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let got: Vec<Received> = self
                .received()
                .into_iter()
                .filter(|r| path.is_empty() || r.path == path)
                .collect();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn serve_webhook(conn: TcpStream, sink: &Arc<Mutex<Vec<Received>>>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(mut writer) = conn.try_clone() else {
        return;
    };
    let mut r = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut len = 0usize;
        let mut close = false;
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.trim().eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if k.trim().eq_ignore_ascii_case("connection") && v.trim() == "close" {
                    close = true;
                }
            }
        }
        let mut body = vec![0; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        sink.lock().unwrap().push(Received {
            at: Instant::now(),
            path,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        let _ = writer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        if close {
            return;
        }
    }
}

/// Runs `palisade` with `args` (no `run`), a clean environment plus `envs`; returns exit code,
/// stdout and stderr.
pub fn palisade_tool(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(palisade_bin());
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The binary under test: `PALISADE_TEST_BIN` when set (a copy taken right after building, for
/// target directories shared by several worktrees, where another build may replace
/// `target/release/palisade` at any time), else the one Cargo built for this test.
pub fn palisade_bin() -> PathBuf {
    std::env::var_os("PALISADE_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_palisade")))
}

/// A self-signed certificate for `localhost` (RSA 2048, one day) made with `openssl`, as
/// `(cert.pem, key.pem)` in `dir`; `None` when openssl is missing or fails.
pub fn self_signed_localhost_cert(dir: &std::path::Path) -> Option<(PathBuf, PathBuf)> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    made.then_some((cert, key))
}

/// SHA-256 of `data`, hex, by `sha256sum` (as the echo app reports `body_sha256`).
pub fn sha256_hex(data: &[u8]) -> String {
    let out = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(data)?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}
