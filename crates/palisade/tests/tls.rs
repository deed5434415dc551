//! Native TLS (issue #5): the real `palisade` binary terminating TLS in front of the python-echo
//! app, probed with real clients (`openssl s_client`, `curl`). Certificates are generated at test
//! time with the `openssl` CLI under Cargo's target tmp dir; no key is committed.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::*;

/// Runs `cmd` with `input` on stdin; kills it after `secs`.
fn run_with_timeout(mut cmd: Command, input: &[u8], secs: u64) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = writer.join();
    child.wait_with_output().unwrap()
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Test certificates, generated once per test binary run.
struct Certs {
    dir: PathBuf,
}

impl Certs {
    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

fn self_signed(dir: &Path, stem: &str, name: &str, newkey: &[&str]) {
    let key = dir.join(format!("{stem}.key")).display().to_string();
    let crt = dir.join(format!("{stem}.crt")).display().to_string();
    let subj = format!("/CN={name}");
    let san = format!("subjectAltName=DNS:{name}");
    let mut args = vec!["req", "-x509", "-nodes", "-days", "3", "-subj", &subj];
    args.extend_from_slice(newkey);
    args.extend_from_slice(&["-addext", &san, "-keyout", &key, "-out", &crt]);
    openssl(&args);
}

fn certs() -> &'static Certs {
    static CERTS: OnceLock<Certs> = OnceLock::new();
    CERTS.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("tls-certs-{}", std::process::id()));
        let sni = dir.join("sni");
        std::fs::create_dir_all(&sni).unwrap();
        // Default certificate: RSA, so that TLS 1.2 ECDHE-RSA suites (and the forbidden RSA
        // key-exchange and CBC ones) are all possible in principle and only policy decides.
        self_signed(&dir, "site", "site.test", &["-newkey", "rsa:2048"]);
        // A second name for SNI, EC P-256, in the SNI directory.
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
        self_signed(&sni, "other", "other.test", &ec);
        // An unrelated key, for the mismatch test.
        self_signed(&dir, "stray", "stray.test", &ec);
        // An expired certificate: notAfter one day in the past.
        let (ek, ecsr, ecrt) = (
            dir.join("expired.key").display().to_string(),
            dir.join("expired.csr").display().to_string(),
            dir.join("expired.crt").display().to_string(),
        );
        openssl(&[
            "req",
            "-new",
            "-nodes",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-subj",
            "/CN=expired.test",
            "-keyout",
            &ek,
            "-out",
            &ecsr,
        ]);
        openssl(&[
            "x509", "-req", "-in", &ecsr, "-signkey", &ek, "-days", "-1", "-out", &ecrt,
        ]);
        Certs { dir }
    })
}

fn echo_app() -> String {
    format!("python3 app.py tls-{}-{}", std::process::id(), free_port())
}

/// palisade with native TLS on the public port, in front of python-echo.
fn tls_palisade(extra: &[(&str, &str)]) -> Palisade {
    let c = certs();
    let mut b = Builder::new()
        .env("PALISADE_TLS_CERT", &c.path("site.crt"))
        .env("PALISADE_TLS_KEY", &c.path("site.key"));
    for (k, v) in extra {
        b = b.env(k, v);
    }
    let p = b.app(&echo_app()).start();
    p.wait_app_ready();
    p
}

/// `openssl s_client` against the port; returns (handshake succeeded, all output).
fn s_client(port: u16, args: &[&str], input: &[u8]) -> (bool, String) {
    let mut cmd = Command::new("openssl");
    cmd.arg("s_client")
        .arg("-connect")
        .arg(format!("127.0.0.1:{port}"))
        .args(args);
    let out = run_with_timeout(cmd, input, 20);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let ok =
        out.status.success() && (text.contains("Cipher is ") && !text.contains("Cipher is (NONE)"));
    (ok, text)
}

/// The local openssl itself refuses to offer this version (built or configured without it).
fn client_cannot_offer(text: &str) -> bool {
    text.contains("no protocols available")
        || text.contains("unsupported protocol")
        || text.contains("wrong version number")
}

fn curl(args: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "20"]).args(args);
    let out = run_with_timeout(cmd, b"", 30);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn resolve(name: &str, port: u16) -> String {
    format!("{name}:{port}:127.0.0.1")
}

#[test]
fn tls_1_3_only_by_default_and_http_works_over_it() {
    let p = tls_palisade(&[]);
    // TLS 1.3 negotiates, and HTTP/1.1 works over it.
    let (ok, out) = s_client(
        p.port,
        &["-tls1_3", "-servername", "site.test", "-ign_eof"],
        b"GET /over-tls HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n",
    );
    assert!(ok, "{out}");
    assert!(out.contains("TLSv1.3"), "{out}");
    assert!(out.contains("HTTP/1.1 200"), "{out}");
    assert!(out.contains("\"/over-tls\""), "{out}");
    // The key exchange is one of ours (X25519 first).
    assert!(out.contains("X25519"), "{out}");

    // TLS 1.2 is refused with a protocol_version alert (70).
    let (ok, out) = s_client(p.port, &["-tls1_2", "-servername", "site.test"], b"");
    assert!(!ok, "TLS 1.2 must be refused: {out}");
    assert!(
        out.contains("alert protocol version") || out.contains("alert number 70"),
        "{out}"
    );
    // Older versions: refused too, when the local openssl can still offer them.
    for v in ["-tls1_1", "-tls1"] {
        let (ok, out) = s_client(
            p.port,
            &[
                v,
                "-cipher",
                "DEFAULT@SECLEVEL=0",
                "-servername",
                "site.test",
            ],
            b"",
        );
        if client_cannot_offer(&out) && !out.contains("alert") {
            eprintln!("SKIP {v}: the local openssl refuses to offer it itself: {out}");
            continue;
        }
        assert!(!ok, "{v} must be refused: {out}");
        assert!(
            out.contains("alert protocol version") || out.contains("alert number 70"),
            "{v}: {out}"
        );
    }
}

#[test]
fn min_version_1_2_allows_only_ecdhe_aead_suites() {
    let p = tls_palisade(&[("PALISADE_TLS_MIN_VERSION", "1.2")]);
    let sn = ["-servername", "site.test"];
    // An allowed ECDHE + AES-GCM suite negotiates.
    let (ok, out) = s_client(
        p.port,
        &[
            &sn[..],
            &["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"],
        ]
        .concat(),
        b"",
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("Cipher is ECDHE-RSA-AES128-GCM-SHA256"),
        "{out}"
    );
    // Whatever the client prefers, TLS 1.2 ends up on an ECDHE AEAD suite.
    let (ok, out) = s_client(p.port, &[&sn[..], &["-tls1_2"]].concat(), b"");
    assert!(ok, "{out}");
    assert!(
        out.contains("Cipher is ECDHE-RSA-AES") && out.contains("GCM")
            || out.contains("Cipher is ECDHE-RSA-CHACHA20-POLY1305"),
        "{out}"
    );
    // CBC (with SHA-1 or SHA-2 MACs) and RSA key exchange are refused.
    for bad in [
        "ECDHE-RSA-AES128-SHA",
        "ECDHE-RSA-AES256-SHA384",
        "AES128-GCM-SHA256",
        "AES256-SHA",
    ] {
        let (ok, out) = s_client(
            p.port,
            &[&sn[..], &["-tls1_2", "-cipher", bad]].concat(),
            b"",
        );
        assert!(!ok, "{bad} must be refused: {out}");
        assert!(
            out.contains("alert handshake failure") || out.contains("alert number 40"),
            "{bad}: {out}"
        );
    }
    // TLS 1.3 still works, and TLS 1.1 is still refused.
    let (ok, out) = s_client(p.port, &[&sn[..], &["-tls1_3"]].concat(), b"");
    assert!(ok && out.contains("TLSv1.3"), "{out}");
    let (ok, out) = s_client(
        p.port,
        &[&sn[..], &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]].concat(),
        b"",
    );
    if client_cannot_offer(&out) && !out.contains("alert") {
        eprintln!("SKIP -tls1_1: the local openssl refuses to offer it itself");
    } else {
        assert!(!ok, "TLS 1.1 must be refused: {out}");
    }
}

#[test]
fn curl_negotiates_h2_and_the_app_sees_https() {
    let p = tls_palisade(&[]);
    let c = certs();
    let url = format!("https://site.test:{}/h2-check", p.port);
    let (ok, out, err) = curl(&[
        "--http2",
        "--cacert",
        &c.path("site.crt"),
        "--resolve",
        &resolve("site.test", p.port),
        "-D",
        "-",
        "-w",
        "\nHTTP_VERSION=%{http_version}",
        &url,
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("HTTP_VERSION=2"), "{out}");
    assert!(out.starts_with("HTTP/2 200"), "{out}");
    // HSTS on the app's response over TLS.
    assert!(
        out.to_ascii_lowercase()
            .contains("strict-transport-security: max-age="),
        "{out}"
    );
    // The app is told the client used HTTPS, and who the client is.
    let body = &out[out.find("\r\n\r\n").unwrap() + 4..out.find("\nHTTP_VERSION=").unwrap()];
    let echo: serde_json::Value = serde_json::from_str(body).unwrap();
    let header = |n: &str| {
        echo["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h[0].as_str().unwrap().eq_ignore_ascii_case(n))
            .map(|h| h[1].as_str().unwrap().to_string())
    };
    assert_eq!(header("x-forwarded-proto").as_deref(), Some("https"));
    assert_eq!(header("x-forwarded-for").as_deref(), Some("127.0.0.1"));
    assert_eq!(echo["path"], "/h2-check");
    // HTTP/1.1 over TLS works too.
    let (ok, out, err) = curl(&[
        "--http1.1",
        "--cacert",
        &c.path("site.crt"),
        "--resolve",
        &resolve("site.test", p.port),
        "-o",
        "/dev/null",
        "-w",
        "%{http_version} %{http_code}",
        &url,
    ]);
    assert!(ok, "{err}");
    assert_eq!(out, "1.1 200");
}

#[test]
fn sni_picks_the_certificate_for_the_name() {
    let c = certs();
    let p = tls_palisade(&[("PALISADE_TLS_CERTS_DIR", &c.path("sni"))]);
    let get = |name: &str, ca: &str| {
        curl(&[
            "--cacert",
            &c.path(ca),
            "--resolve",
            &resolve(name, p.port),
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("https://{name}:{}/", p.port),
        ])
    };
    // Each name verifies against its own certificate only.
    let (ok, out, err) = get("other.test", "sni/other.crt");
    assert!(ok && out == "200", "{out} {err}");
    let (ok, out, err) = get("site.test", "site.crt");
    assert!(ok && out == "200", "{out} {err}");
    let (ok, _, err) = get("other.test", "site.crt");
    assert!(
        !ok,
        "other.test must not get the default certificate: {err}"
    );
    // No SNI at all, or an unknown name: the default certificate.
    let (ok, out) = s_client(p.port, &["-noservername"], b"");
    assert!(ok, "{out}");
    assert!(out.contains("CN = site.test"), "{out}");
    let (ok, out) = s_client(p.port, &["-servername", "unknown.test"], b"");
    assert!(ok && out.contains("CN = site.test"), "{out}");
    let (ok, out) = s_client(p.port, &["-servername", "OTHER.test"], b"");
    assert!(ok && out.contains("CN = other.test"), "{out}");
}

fn refuses_to_start(env: &[(&str, &str)], want: &[&str]) {
    let mut b = Builder::new();
    for (k, v) in env {
        b = b.env(k, v);
    }
    let mut p = b.app(&echo_app()).spawn();
    let status = p
        .wait_exit(Duration::from_secs(15))
        .expect("palisade must refuse to start");
    assert_eq!(status.code(), Some(2), "{:?}", p.stderr_lines());
    let stderr = p.stderr_lines().join("\n");
    for w in want {
        assert!(stderr.contains(w), "missing {w:?} in: {stderr}");
    }
    assert!(
        !stderr.contains("PRIVATE KEY-----"),
        "key material echoed: {stderr}"
    );
}

#[test]
fn bad_certificates_refuse_to_start_naming_the_variable() {
    let c = certs();
    // A key that belongs to another certificate.
    refuses_to_start(
        &[
            ("PALISADE_TLS_CERT", &c.path("site.crt")),
            ("PALISADE_TLS_KEY", &c.path("stray.key")),
        ],
        &["PALISADE_TLS_KEY", "does not match"],
    );
    // A missing file.
    refuses_to_start(
        &[
            ("PALISADE_TLS_CERT", "/nonexistent/palisade/site.crt"),
            ("PALISADE_TLS_KEY", &c.path("site.key")),
        ],
        &[
            "PALISADE_TLS_CERT",
            "/nonexistent/palisade/site.crt",
            "cannot read",
        ],
    );
    // An expired certificate.
    refuses_to_start(
        &[
            ("PALISADE_TLS_CERT", &c.path("expired.crt")),
            ("PALISADE_TLS_KEY", &c.path("expired.key")),
        ],
        &["PALISADE_TLS_CERT", "expired on"],
    );
    // Inline PEM: the same checks, and the key is never echoed.
    let cert = std::fs::read_to_string(c.path("site.crt")).unwrap();
    let stray = std::fs::read_to_string(c.path("stray.key")).unwrap();
    refuses_to_start(
        &[("PALISADE_TLS_CERT", &cert), ("PALISADE_TLS_KEY", &stray)],
        &["config var PALISADE_TLS_KEY", "does not match"],
    );
    // A version we do not offer.
    refuses_to_start(
        &[
            ("PALISADE_TLS_CERT", &c.path("site.crt")),
            ("PALISADE_TLS_KEY", &c.path("site.key")),
            ("PALISADE_TLS_MIN_VERSION", "1.1"),
        ],
        &["PALISADE_TLS_MIN_VERSION", "\"1.1\"", "1.3", "1.2"],
    );
}

#[test]
fn inline_pem_in_config_vars_works() {
    let c = certs();
    let cert = std::fs::read_to_string(c.path("site.crt")).unwrap();
    let key = std::fs::read_to_string(c.path("site.key")).unwrap();
    let p = Builder::new()
        .env("PALISADE_TLS_CERT", &cert)
        .env("PALISADE_TLS_KEY", &key)
        .app(&echo_app())
        .start();
    p.wait_app_ready();
    let (ok, out) = s_client(p.port, &["-servername", "site.test"], b"");
    assert!(ok && out.contains("CN = site.test"), "{out}");
}

#[test]
fn plain_http_on_the_tls_port_gets_a_prompt_close_and_no_http() {
    let p = tls_palisade(&[]);
    let t0 = Instant::now();
    let mut s = TcpStream::connect(p.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let res = s.read_to_end(&mut got);
    if let Err(e) = &res {
        assert!(
            !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "palisade kept the connection open: {e}"
        );
    }
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "closed only after {:?}",
        t0.elapsed()
    );
    assert!(
        !String::from_utf8_lossy(&got).contains("HTTP/"),
        "plain HTTP was answered: {:?}",
        String::from_utf8_lossy(&got)
    );
}

#[test]
fn separate_tls_port_keeps_plain_http_on_the_public_port() {
    let c = certs();
    let tls_port = free_port();
    let p = tls_palisade(&[("PALISADE_TLS_PORT", &tls_port.to_string())]);
    // Plain HTTP on the public port, told the scheme is http.
    let resp = p.get("/plain");
    assert_eq!(resp.status, 200);
    // TLS on the other port.
    let (ok, out, err) = curl(&[
        "--cacert",
        &c.path("site.crt"),
        "--resolve",
        &resolve("site.test", tls_port),
        "-o",
        "/dev/null",
        "-w",
        "%{http_version} %{http_code}",
        &format!("https://site.test:{tls_port}/tls"),
    ]);
    assert!(ok, "{err}");
    assert_eq!(out, "2 200");
}

#[test]
fn own_error_pages_over_tls_carry_hsts() {
    let c = certs();
    // 502: the upstream is not listening.
    let dead = free_port();
    let p = Builder::new()
        .env("PALISADE_TLS_CERT", &c.path("site.crt"))
        .env("PALISADE_TLS_KEY", &c.path("site.key"))
        .arg("--upstream")
        .arg(&format!("127.0.0.1:{dead}"))
        .start();
    let head = |port: u16| {
        curl(&[
            "-k",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "--resolve",
            &resolve("site.test", port),
            &format!("https://site.test:{port}/"),
        ])
    };
    let (ok, out, err) = head(p.port);
    assert!(ok, "{err}");
    assert!(out.starts_with("HTTP/2 502"), "{out}");
    assert!(
        out.to_ascii_lowercase()
            .contains("strict-transport-security: max-age="),
        "{out}"
    );
    drop(p);
    // 503: the app never comes up within the boot timeout.
    let p = Builder::new()
        .env("PALISADE_TLS_CERT", &c.path("site.crt"))
        .env("PALISADE_TLS_KEY", &c.path("site.key"))
        .env("PALISADE_BOOT_TIMEOUT", "2")
        .app(&format!(
            "python3 -c 'import time; time.sleep(30)' tls-{}",
            free_port()
        ))
        .start();
    let (ok, out, err) = head(p.port);
    assert!(ok, "{err}");
    assert!(out.starts_with("HTTP/2 503"), "{out}");
    assert!(
        out.to_ascii_lowercase()
            .contains("strict-transport-security: max-age="),
        "{out}"
    );
}

/// Reads s_client's output until a line contains `marker`.
fn read_until(r: &mut impl BufRead, marker: &str) -> String {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap() == 0 {
            panic!("s_client ended before {marker:?}: {all}");
        }
        all.push_str(&line);
        if line.contains(marker) {
            return all;
        }
    }
}

#[test]
fn sighup_reloads_certificates_without_dropping_connections() {
    let c = certs();
    let live = c
        .dir
        .join(format!("live-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&live).unwrap();
    std::fs::copy(c.path("site.crt"), live.join("cur.crt")).unwrap();
    std::fs::copy(c.path("site.key"), live.join("cur.key")).unwrap();
    let mut p = Builder::new()
        .env(
            "PALISADE_TLS_CERT",
            &live.join("cur.crt").display().to_string(),
        )
        .env(
            "PALISADE_TLS_KEY",
            &live.join("cur.key").display().to_string(),
        )
        .app(&echo_app())
        .start();
    p.wait_app_ready();

    // A connection established with the old certificate...
    let mut old = Command::new("openssl")
        .args(["s_client", "-connect"])
        .arg(format!("127.0.0.1:{}", p.port))
        .args(["-servername", "site.test", "-ign_eof"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut old_out = BufReader::new(old.stdout.take().unwrap());
    let before = read_until(&mut old_out, "Verify return code");
    assert!(before.contains("CN = site.test"), "{before}");

    // ...then the files change and SIGHUP arrives: a broken key is refused and changes nothing,
    std::fs::write(live.join("cur.key"), "not a key").unwrap();
    p.signal(1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !p.stderr_contains("NOT reloaded") {
        assert!(Instant::now() < deadline, "{:?}", p.stderr_lines());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        p.child.try_wait().unwrap().is_none(),
        "SIGHUP must not stop palisade"
    );
    let (ok, out) = s_client(p.port, &["-servername", "site.test"], b"");
    assert!(ok && out.contains("CN = site.test"), "{out}");
    // and a good new pair is served to new handshakes.
    std::fs::copy(c.path("sni/other.crt"), live.join("cur.crt")).unwrap();
    std::fs::copy(c.path("sni/other.key"), live.join("cur.key")).unwrap();
    p.signal(1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !p.stderr_contains("certificates reloaded") {
        assert!(Instant::now() < deadline, "{:?}", p.stderr_lines());
        std::thread::sleep(Duration::from_millis(20));
    }
    let (ok, out) = s_client(p.port, &["-servername", "site.test"], b"");
    assert!(ok && out.contains("CN = other.test"), "{out}");

    // The connection made before the reload still works.
    let mut stdin = old.stdin.take().unwrap();
    stdin
        .write_all(b"GET /still-here HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut rest = String::new();
    let _ = old_out.read_to_string(&mut rest);
    let _ = old.wait();
    assert!(rest.contains("HTTP/1.1 200"), "{rest}");
    assert!(rest.contains("/still-here"), "{rest}");
    let _ = std::fs::remove_dir_all(&live);
}
