//! Helpers shared by the integration tests: temp files, requests, a throwaway redis-server.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::{IpAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use palisade_access::{AccessRequest, HeaderLookup, NoHeaders};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh temp directory for this test process.
pub fn temp_dir(tag: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir =
        std::env::temp_dir().join(format!("palisade-access-{tag}-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `contents` to a new file in a temp dir.
pub fn temp_file(tag: &str, name: &str, contents: &[u8]) -> PathBuf {
    let path = temp_dir(tag).join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub const BROWSER: &[u8] = b"Mozilla/5.0 (X11; Linux x86_64) Firefox/125.0";

pub fn req<'a>(ip: IpAddr, method: &'a str, path: &'a str) -> AccessRequest<'a> {
    AccessRequest {
        ip,
        method,
        method_overrides: &[],
        path: path.as_bytes(),
        user_agent: Some(BROWSER),
        headers: &NoHeaders,
    }
}

pub fn req_with<'a>(
    ip: IpAddr,
    method: &'a str,
    path: &'a str,
    user_agent: Option<&'a [u8]>,
    headers: &'a (dyn HeaderLookup + Sync),
) -> AccessRequest<'a> {
    AccessRequest {
        ip,
        method,
        method_overrides: &[],
        path: path.as_bytes(),
        user_agent,
        headers,
    }
}

/// The MaxMind test databases, when the developer copy of shared/ is present.
pub fn shared_mmdb(name: &str) -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("PALISADE_TEST_MMDB_DIR").map(PathBuf::from),
        Some(PathBuf::from("/work/shared/testdata/mmdb")),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/mmdb")),
    ];
    for dir in candidates.into_iter().flatten() {
        let p = dir.join(name);
        if p.is_file() {
            return Some(p);
        }
    }
    eprintln!("SKIP: MaxMind test database {name} not found (shared/testdata/mmdb absent)");
    None
}

fn find_redis_server() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PALISADE_REDIS_SERVER") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("redis-server"))
        .find(|p| p.is_file())
}

/// A redis-server on a free loopback port, killed on drop.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    binary: PathBuf,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts one, or returns `None` (after printing why) if redis-server is not installed.
    pub fn start() -> Option<Self> {
        let Some(binary) = find_redis_server() else {
            eprintln!(
                "SKIP: redis-server not found on PATH (install redis-server to run this test)"
            );
            return None;
        };
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut server = RedisServer {
            child: None,
            port,
            binary,
            dir: temp_dir("redis"),
        };
        server.spawn();
        Some(server)
    }

    fn spawn(&mut self) {
        let child = Command::new(&self.binary)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL, like a crash).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
