//! Native TLS termination (issue #5, HIPAA §164.312(e)(1) transmission security).
//!
//! [`add_tls_listener`] turns a [`TlsPolicy`] into Pingora TLS listeners:
//!
//! - TLS 1.3 only by default; with `PALISADE_TLS_MIN_VERSION=1.2` also TLS 1.2 restricted to
//!   ECDHE key exchange with AEAD ciphers ([`TLS12_CIPHERS`]): no CBC, no RSA key exchange, no
//!   SHA-1. Key exchange groups X25519, P-256, P-384; no SHA-1 signatures.
//! - ALPN `h2`, then `http/1.1`.
//! - Certificates: a default chain, plus any number chosen by the client's SNI name from a
//!   directory. Every handshake picks its certificate from a [`CertStore`] behind a lock, so
//!   SIGHUP can swap in re-read certificates without touching established connections.
//! - Sessions: BoringSSL's defaults, which are the sensible ones: ticket keys are random per
//!   process and rotated automatically (no key on disk; a restart invalidates tickets), TLS 1.3
//!   resumption always runs a fresh (EC)DHE exchange (forward secrecy holds), 0-RTT is off (no
//!   replayable requests), renegotiation does not exist.
//!
//! Every problem with a certificate or key (unreadable, not PEM, mismatched, expired, weak) is a
//! [`TlsError`] naming the setting it came from; Palisade refuses to start with one.

use std::collections::HashMap;
use std::fmt;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use boring::asn1::{Asn1Time, Asn1TimeRef};
use boring::error::ErrorStack;
use boring::nid::Nid;
use boring::pkey::{Id, PKey, Private};
use boring::ssl::{
    select_next_proto, AlpnError, SslAcceptor, SslAcceptorBuilder, SslContext, SslMethod,
    SslOptions, SslRef, SslVersion,
};
use boring::x509::{X509Ref, X509};
use palisade_policy::{PemSource, PemValue, Policy, Source, TlsPolicy, TlsVersion};
use pingora::listeners::tls::TlsSettings;
use pingora::listeners::TcpSocketOptions;
use pingora::services::listening::Service;

/// TLS 1.2 suites offered when `PALISADE_TLS_MIN_VERSION=1.2` (NIST SP 800-52r2 §3.3.1: ECDHE
/// key exchange, AEAD ciphers, SHA-2 PRF). TLS 1.3 suites are fixed by BoringSSL: AES-128-GCM,
/// AES-256-GCM, ChaCha20-Poly1305.
pub const TLS12_CIPHERS: &str = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:\
ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:\
ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

/// Key exchange groups, in preference order.
pub const GROUPS: &str = "X25519:P-256:P-384";

/// Signature algorithms for the handshake signature (no SHA-1, no PKCS#1 v1.5 in TLS 1.3 by
/// BoringSSL's own rule).
const SIGALGS: &str = "ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512:RSA-PSS+SHA256:RSA-PSS+SHA384:\
RSA-PSS+SHA512:RSA+SHA256:RSA+SHA384:RSA+SHA512:ed25519";

/// ALPN protocols in preference order, in wire format.
const ALPN_WIRE: &[u8] = b"\x02h2\x08http/1.1";

/// Smallest RSA key accepted (NIST SP 800-57: 112-bit security).
const MIN_RSA_BITS: u32 = 2048;

/// A certificate that expires sooner than this is logged as a warning at startup and reload.
const EXPIRY_WARNING_DAYS: i32 = 14;

/// Why the TLS configuration was refused: the setting (and file) it came from, and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsError {
    /// Where the bad value came from, e.g. `config var PALISADE_TLS_KEY (file /etc/site.key)`.
    pub setting: String,
    /// What is wrong and, where it helps, what to do.
    pub problem: String,
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.setting, self.problem)
    }
}

impl std::error::Error for TlsError {}

fn err(setting: impl Into<String>, problem: impl Into<String>) -> TlsError {
    TlsError {
        setting: setting.into(),
        problem: problem.into(),
    }
}

/// The first reason in a BoringSSL error stack, for messages.
fn ssl_reason(e: &ErrorStack) -> String {
    e.errors()
        .first()
        .and_then(|x| x.reason().map(str::to_string))
        .unwrap_or_else(|| e.to_string())
}

/// Where one PEM value came from, for messages: the setting and, for files, the path.
fn origin_label(origin: &Source, file: Option<&Path>) -> String {
    match file {
        Some(p) => format!("{origin} (file {})", p.display()),
        None => origin.to_string(),
    }
}

/// One loaded, checked certificate chain with its key.
#[derive(Clone)]
struct LoadedCert {
    chain: Vec<X509>,
    key: PKey<Private>,
    info: CertInfo,
}

/// What `palisade check` and the startup log say about a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Where it came from (setting and file).
    pub origin: String,
    /// Subject distinguished name, e.g. `CN=example.com, O=Example`.
    pub subject: String,
    /// DNS names it is served for (subjectAltName, else the subject CN), lowercase.
    pub names: Vec<String>,
    /// Expiry as BoringSSL prints it, e.g. `Dec  4 18:29:14 2027 GMT`.
    pub not_after: String,
    /// Whole days until expiry.
    pub days_left: i32,
    /// Key type and size, e.g. `EC P-256` or `RSA 2048`.
    pub key: String,
}

fn read_pem(src: &PemSource) -> Result<(Vec<u8>, Option<PathBuf>), TlsError> {
    match &src.value {
        PemValue::Inline(text) => Ok((text.clone().into_bytes(), None)),
        PemValue::File(path) => std::fs::read(path)
            .map(|b| (b, Some(path.clone())))
            .map_err(|e| {
                err(
                    src.origin.to_string(),
                    format!("cannot read the file {}: {e}", path.display()),
                )
            }),
    }
}

fn subject_of(cert: &X509Ref) -> String {
    cert.subject_name()
        .entries()
        .map(|e| {
            let name = e.object().nid().short_name().unwrap_or("?");
            let value = e
                .data()
                .as_utf8()
                .map(|s| s.to_string())
                .unwrap_or_else(|_| "?".into());
            format!("{name}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn names_of(cert: &X509) -> Vec<String> {
    let mut names: Vec<String> = cert
        .subject_alt_names()
        .map(|sans| {
            sans.iter()
                .filter_map(|n| n.dnsname().map(str::to_ascii_lowercase))
                .collect()
        })
        .unwrap_or_default();
    if names.is_empty() {
        names = cert
            .subject_name()
            .entries_by_nid(Nid::COMMONNAME)
            .filter_map(|e| e.data().as_utf8().ok().map(|s| s.to_ascii_lowercase()))
            .collect();
    }
    names
}

fn key_label(key: &PKey<Private>) -> String {
    match key.id() {
        Id::RSA => format!("RSA {}", key.bits()),
        Id::EC => match key.ec_key().ok().and_then(|k| k.group().curve_name()) {
            Some(Nid::X9_62_PRIME256V1) => "EC P-256".into(),
            Some(Nid::SECP384R1) => "EC P-384".into(),
            Some(Nid::SECP521R1) => "EC P-521".into(),
            _ => format!("EC {}", key.bits()),
        },
        Id::ED25519 => "Ed25519".into(),
        _ => format!("{} bits", key.bits()),
    }
}

fn days_between(from: &Asn1TimeRef, to: &Asn1TimeRef) -> i32 {
    from.diff(to).map(|d| d.days).unwrap_or(0)
}

/// Reads and checks one certificate chain and its key.
fn load_pair(cert_src: &PemSource, key_src: &PemSource) -> Result<LoadedCert, TlsError> {
    let (cert_pem, cert_file) = read_pem(cert_src)?;
    let (key_pem, key_file) = read_pem(key_src)?;
    let cert_label = origin_label(&cert_src.origin, cert_file.as_deref());
    let key_label_s = origin_label(&key_src.origin, key_file.as_deref());
    load_pem_pair(&cert_pem, &cert_label, &key_pem, &key_label_s)
}

fn load_pem_pair(
    cert_pem: &[u8],
    cert_label: &str,
    key_pem: &[u8],
    key_origin: &str,
) -> Result<LoadedCert, TlsError> {
    let chain = X509::stack_from_pem(cert_pem).unwrap_or_default();
    let Some(leaf) = chain.first() else {
        let looks_like_key = String::from_utf8_lossy(cert_pem).contains("PRIVATE KEY");
        return Err(err(
            cert_label,
            if looks_like_key {
                "this is a private key, not a certificate: the certificate setting needs the PEM \
                 certificate chain (-----BEGIN CERTIFICATE-----), leaf first"
            } else {
                "no PEM certificate found (expected -----BEGIN CERTIFICATE-----, leaf first, then \
                 the intermediates)"
            },
        ));
    };
    let key = PKey::private_key_from_pem(key_pem).map_err(|e| {
        let text = String::from_utf8_lossy(key_pem);
        let why = if text.contains("ENCRYPTED") {
            "the private key is encrypted; give it unencrypted (the config var or file is the \
             secret store)"
                .to_string()
        } else if text.contains("BEGIN CERTIFICATE") && !text.contains("PRIVATE KEY") {
            "this is a certificate, not a private key".to_string()
        } else {
            format!(
                "not a PEM private key (expected -----BEGIN PRIVATE KEY----- or an RSA/EC key): {}",
                ssl_reason(&e)
            )
        };
        err(key_origin, why)
    })?;
    let subject = subject_of(leaf);
    let public = leaf.public_key().map_err(|e| {
        err(
            cert_label,
            format!("unreadable public key: {}", ssl_reason(&e)),
        )
    })?;
    if !public.public_eq(&key) {
        return Err(err(
            key_origin,
            format!("the private key does not match the certificate ({subject}) in {cert_label}"),
        ));
    }
    if key.id() == Id::RSA && key.bits() < MIN_RSA_BITS {
        return Err(err(
            key_origin,
            format!(
                "RSA key of {} bits is too weak: at least {MIN_RSA_BITS} bits (NIST SP 800-57)",
                key.bits()
            ),
        ));
    }
    let now = Asn1Time::days_from_now(0).map_err(|e| {
        err(
            cert_label,
            format!("cannot read the clock: {}", ssl_reason(&e)),
        )
    })?;
    if leaf.not_after() < now {
        return Err(err(
            cert_label,
            format!(
                "the certificate ({subject}) expired on {}; renew it",
                leaf.not_after()
            ),
        ));
    }
    if leaf.not_before() > now {
        return Err(err(
            cert_label,
            format!(
                "the certificate ({subject}) is not valid before {}; check the clock or the certificate",
                leaf.not_before()
            ),
        ));
    }
    let names = names_of(leaf);
    let info = CertInfo {
        origin: cert_label.to_string(),
        subject,
        names,
        not_after: leaf.not_after().to_string(),
        days_left: days_between(&now, leaf.not_after()),
        key: key_label(&key),
    };
    Ok(LoadedCert { chain, key, info })
}

/// Loads `NAME.crt` + `NAME.key` pairs from the SNI directory, sorted by file name.
fn load_dir(dir: &Path, origin: &Source) -> Result<Vec<LoadedCert>, TlsError> {
    let label = |p: &Path| origin_label(origin, Some(p));
    let entries = std::fs::read_dir(dir).map_err(|e| {
        err(
            origin.to_string(),
            format!("cannot read the directory {}: {e}", dir.display()),
        )
    })?;
    let mut certs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "crt"))
        .collect();
    certs.sort();
    let mut out = Vec::new();
    for cert_path in certs {
        let key_path = cert_path.with_extension("key");
        let cert_pem = std::fs::read(&cert_path)
            .map_err(|e| err(label(&cert_path), format!("cannot read: {e}")))?;
        let key_pem = std::fs::read(&key_path).map_err(|e| {
            err(
                label(&key_path),
                format!(
                    "cannot read the key for {}: {e} (each NAME.crt needs a NAME.key beside it)",
                    cert_path.display()
                ),
            )
        })?;
        out.push(load_pem_pair(
            &cert_pem,
            &label(&cert_path),
            &key_pem,
            &label(&key_path),
        )?);
    }
    if out.is_empty() {
        return Err(err(
            origin.to_string(),
            format!(
                "the directory {} holds no NAME.crt files (each with a NAME.key beside it)",
                dir.display()
            ),
        ));
    }
    Ok(out)
}

/// Applies Palisade's TLS configuration to a context. Used for the listener's own context and
/// for each certificate's: BoringSSL takes the certificate, signature algorithms and ALPN
/// callback from the context the SNI callback switches to.
fn configure(b: &mut SslAcceptorBuilder, min: TlsVersion) -> Result<(), ErrorStack> {
    b.set_min_proto_version(Some(match min {
        TlsVersion::Tls13 => SslVersion::TLS1_3,
        TlsVersion::Tls12 => SslVersion::TLS1_2,
    }))?;
    b.set_max_proto_version(Some(SslVersion::TLS1_3))?;
    b.set_strict_cipher_list(TLS12_CIPHERS)?;
    b.set_curves_list(GROUPS)?;
    b.set_sigalgs_list(SIGALGS)?;
    b.set_options(SslOptions::CIPHER_SERVER_PREFERENCE | SslOptions::NO_COMPRESSION);
    b.set_alpn_select_callback(select_alpn);
    Ok(())
}

fn select_alpn<'a>(_: &mut SslRef, client: &'a [u8]) -> Result<&'a [u8], AlpnError> {
    // No common protocol: continue without ALPN (the client falls back to HTTP/1.1).
    select_next_proto(ALPN_WIRE, client).ok_or(AlpnError::NOACK)
}

fn acceptor_builder(min: TlsVersion) -> Result<SslAcceptorBuilder, ErrorStack> {
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls())?;
    configure(&mut b, min)?;
    Ok(b)
}

/// A context serving one certificate with Palisade's settings.
fn context_for(cert: &LoadedCert, min: TlsVersion, sid: usize) -> Result<SslContext, TlsError> {
    let fail = |e: ErrorStack| {
        err(
            cert.info.origin.clone(),
            format!("BoringSSL refused the certificate: {}", ssl_reason(&e)),
        )
    };
    let mut b = acceptor_builder(min).map_err(fail)?;
    let leaf = cert.chain.first().ok_or_else(|| {
        err(
            cert.info.origin.clone(),
            "no certificate in the chain".to_string(),
        )
    })?;
    b.set_certificate(leaf).map_err(fail)?;
    for extra in cert.chain.iter().skip(1) {
        b.add_extra_chain_cert(extra.clone()).map_err(fail)?;
    }
    b.set_private_key(&cert.key).map_err(fail)?;
    b.check_private_key().map_err(fail)?;
    // Sessions resume only under the certificate that issued them.
    b.set_session_id_context(format!("palisade-{sid}").as_bytes())
        .map_err(fail)?;
    Ok(b.build().into_context())
}

/// The certificates a TLS listener serves, chosen per handshake by SNI name.
pub struct CertStore {
    default: SslContext,
    exact: HashMap<String, SslContext>,
    /// `*.example.com` is stored under `example.com`.
    wildcard: HashMap<String, SslContext>,
    infos: Vec<CertInfo>,
}

impl fmt::Debug for CertStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertStore")
            .field("certificates", &self.infos)
            .finish()
    }
}

impl CertStore {
    /// Reads and checks every certificate the policy names.
    pub fn load(tls: &TlsPolicy) -> Result<CertStore, TlsError> {
        let mut certs = vec![load_pair(&tls.cert, &tls.key)?];
        if let Some((dir, origin)) = &tls.certs_dir {
            certs.extend(load_dir(dir, origin)?);
        }
        let mut exact = HashMap::new();
        let mut wildcard = HashMap::new();
        let mut owner: HashMap<String, String> = HashMap::new();
        let mut default = None;
        for (i, cert) in certs.iter().enumerate() {
            let ctx = context_for(cert, tls.min_version, i)?;
            for name in &cert.info.names {
                if let Some(first) = owner.insert(name.clone(), cert.info.origin.clone()) {
                    return Err(err(
                        cert.info.origin.clone(),
                        format!(
                            "the name {name} is also in the certificate from {first}; each name must \
                             have one certificate"
                        ),
                    ));
                }
                match name.strip_prefix("*.") {
                    Some(parent) => wildcard.insert(parent.to_string(), ctx.clone()),
                    None => exact.insert(name.clone(), ctx.clone()),
                };
            }
            if i == 0 {
                default = Some(ctx);
            }
        }
        let default =
            default.ok_or_else(|| err(tls.cert.origin.to_string(), "no certificate loaded"))?;
        Ok(CertStore {
            default,
            exact,
            wildcard,
            infos: certs.into_iter().map(|c| c.info).collect(),
        })
    }

    /// The context for a client's SNI name: exact name, else a wildcard one label up, else the
    /// default certificate.
    fn select(&self, sni: Option<&str>) -> &SslContext {
        let Some(name) = sni else {
            return &self.default;
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if let Some(ctx) = self.exact.get(&name) {
            return ctx;
        }
        name.split_once('.')
            .and_then(|(_, parent)| self.wildcard.get(parent))
            .unwrap_or(&self.default)
    }

    /// The loaded certificates, the default first.
    pub fn certificates(&self) -> &[CertInfo] {
        &self.infos
    }
}

type SharedStore = Arc<RwLock<Arc<CertStore>>>;

fn current(store: &SharedStore) -> Arc<CertStore> {
    // A poisoned lock only means a reload panicked mid-swap; the Arc inside is still whole.
    match store.read() {
        Ok(g) => Arc::clone(&g),
        Err(poisoned) => Arc::clone(&poisoned.into_inner()),
    }
}

fn tls_settings(min: TlsVersion, store: &SharedStore) -> Result<TlsSettings, TlsError> {
    let mut b = acceptor_builder(min).map_err(|e| {
        err(
            "PALISADE_TLS_MIN_VERSION",
            format!("BoringSSL: {}", ssl_reason(&e)),
        )
    })?;
    let store = Arc::clone(store);
    // BoringSSL calls this for every handshake, with or without SNI, so the default
    // certificate is also picked from the current store (a reload replaces it too).
    b.set_servername_callback(move |ssl, _alert| {
        let certs = current(&store);
        let ctx = certs.select(ssl.servername(boring::ssl::NameType::HOST_NAME));
        ssl.set_ssl_context(ctx)
            .map_err(|_| boring::ssl::SniError::ALERT_FATAL)
    });
    Ok(TlsSettings::from(b))
}

/// A running TLS listener: its port and its certificates, which [`TlsListener::reload`] re-reads.
#[derive(Debug, Clone)]
pub struct TlsListener {
    port: u16,
    replaces_plain: bool,
    policy: TlsPolicy,
    store: SharedStore,
}

impl TlsListener {
    /// The port TLS listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// TLS took the public port: the caller must not add a plain-HTTP listener there.
    pub fn replaces_plain(&self) -> bool {
        self.replaces_plain
    }

    /// The certificates in use now.
    pub fn certificates(&self) -> Vec<CertInfo> {
        current(&self.store).certificates().to_vec()
    }

    /// Re-reads every certificate and key from the policy's files and, if all are good, serves
    /// them to new handshakes; established connections keep theirs. On error nothing changes.
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = Arc::new(CertStore::load(&self.policy)?);
        warn_expiring(fresh.certificates());
        match self.store.write() {
            Ok(mut g) => *g = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        Ok(())
    }
}

fn warn_expiring(certs: &[CertInfo]) {
    for c in certs {
        if c.days_left < EXPIRY_WARNING_DAYS {
            tracing::warn!(
                certificate = %c.origin,
                subject = %c.subject,
                not_after = %c.not_after,
                days_left = c.days_left,
                "TLS certificate expires soon; renew it and send SIGHUP (or restart)"
            );
        }
    }
}

/// Refuses a TLS port something else holds; says whether IPv6 is available on it.
fn probe_port(port: u16) -> Result<bool, TlsError> {
    let in_use = |addr: &str, e: std::io::Error| {
        err(
            "PALISADE_TLS_PORT",
            format!("cannot listen on {addr}: {e}; choose a free port"),
        )
    };
    TcpListener::bind(("0.0.0.0", port))
        .map(drop)
        .map_err(|e| in_use(&format!("0.0.0.0:{port}"), e))?;
    match TcpListener::bind(("::", port)) {
        Ok(l) => {
            drop(l);
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            Err(in_use(&format!("[::]:{port}"), e))
        }
        Err(_) => Ok(false),
    }
}

/// Adds the TLS listeners `tls` asks for to `service` (on 0.0.0.0 and, with `ipv6`, on `[::]`),
/// after loading and checking every certificate, and starts reloading them on SIGHUP.
///
/// `ipv6` is what the caller found for the public port; a separate TLS port is probed here.
/// Returns `None` when TLS is not configured. When [`TlsListener::replaces_plain`] is true the
/// caller must not add its plain-HTTP listener on the public port.
pub fn add_tls_listener<A>(
    service: &mut Service<A>,
    tls: Option<&TlsPolicy>,
    ipv6: bool,
) -> Result<Option<TlsListener>, TlsError> {
    let Some(tls) = tls else {
        return Ok(None);
    };
    let Some(port) = tls.port else {
        return Err(err(
            "PALISADE_TLS_PORT",
            "no port to listen on: set PORT (TLS then takes the public port) or PALISADE_TLS_PORT",
        ));
    };
    let store: SharedStore = Arc::new(RwLock::new(Arc::new(CertStore::load(tls)?)));
    let ipv6 = if tls.replaces_plain {
        ipv6
    } else {
        probe_port(port)?
    };
    let mut v4 = TcpSocketOptions::default();
    v4.so_reuseport = Some(false);
    service.add_tls_with_settings(
        &format!("0.0.0.0:{port}"),
        Some(v4),
        tls_settings(tls.min_version, &store)?,
    );
    if ipv6 {
        let mut v6 = TcpSocketOptions::default();
        v6.ipv6_only = Some(true);
        v6.so_reuseport = Some(false);
        service.add_tls_with_settings(
            &format!("[::]:{port}"),
            Some(v6),
            tls_settings(tls.min_version, &store)?,
        );
    }
    let listener = TlsListener {
        port,
        replaces_plain: tls.replaces_plain,
        policy: tls.clone(),
        store,
    };
    let certs = listener.certificates();
    warn_expiring(&certs);
    for c in &certs {
        tracing::info!(
            certificate = %c.origin,
            subject = %c.subject,
            names = ?c.names,
            not_after = %c.not_after,
            key = %c.key,
            "TLS certificate loaded"
        );
    }
    tracing::info!(
        tls_port = port,
        ipv6,
        min_version = tls.min_version.as_str(),
        plain_http_on_public_port = !tls.replaces_plain,
        "TLS listener configured (ALPN h2, http/1.1)"
    );
    reload_on_sighup(listener.clone())?;
    Ok(Some(listener))
}

/// Installs the SIGHUP handler now (so a SIGHUP can no longer kill the process) and reloads
/// the certificates on each one from a small thread of its own.
fn reload_on_sighup(listener: TlsListener) -> Result<(), TlsError> {
    use tokio::signal::unix::{signal, SignalKind};
    let setup = |e: std::io::Error| err("SIGHUP", format!("cannot watch for reload: {e}"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(setup)?;
    let mut hup = {
        let _guard = rt.enter();
        signal(SignalKind::hangup()).map_err(setup)?
    };
    std::thread::Builder::new()
        .name("palisade-tls-reload".into())
        .spawn(move || {
            rt.block_on(async move {
                while hup.recv().await.is_some() {
                    match listener.reload() {
                        Ok(()) => tracing::info!(
                            certificates = listener.certificates().len(),
                            "SIGHUP: TLS certificates reloaded; new handshakes use them"
                        ),
                        Err(e) => tracing::error!(
                            error = %e,
                            "SIGHUP: TLS certificates NOT reloaded, still serving the previous ones"
                        ),
                    }
                }
            })
        })
        .map(drop)
        .map_err(setup)
}

/// What `palisade check` prints about transport security: where TLS is terminated, versions,
/// suites, ALPN, and each certificate's subject and expiry. Loads and checks the certificates,
/// so a bad one is an error here as at startup.
pub fn describe_transport(policy: &Policy) -> Result<String, TlsError> {
    let mut s = String::from("Transport security (HIPAA §164.312(e)(1)):\n");
    let public = policy
        .public_port
        .map_or_else(|| "(PORT unset)".to_string(), |p| p.to_string());
    let Some(tls) = &policy.tls else {
        if policy.dyno.is_some() {
            s.push_str(
                "  TLS terminated by: the Heroku router (clients use HTTPS to the router; the router \
                 speaks HTTP to this dyno inside Heroku's network)\n",
            );
            s.push_str(&format!(
                "  palisade listens on: port {public}, plain HTTP from the router\n"
            ));
        } else {
            s.push_str(&format!(
                "  TLS terminated by: nothing in Palisade. Port {public} serves plain HTTP: put a \
                 TLS-terminating load balancer in front, or set PALISADE_TLS_CERT and \
                 PALISADE_TLS_KEY (docs/tls.md)\n"
            ));
        }
        s.push_str("  HSTS: sent on every response\n");
        return Ok(s);
    };
    let store = CertStore::load(tls)?;
    let port = tls
        .port
        .map_or_else(|| "(PORT unset)".to_string(), |p| p.to_string());
    s.push_str("  TLS terminated by: Palisade (native TLS, BoringSSL)\n");
    if tls.replaces_plain {
        s.push_str(&format!(
            "  listens on: port {port}, TLS only (plain HTTP there gets no HTTP answer)\n"
        ));
    } else {
        s.push_str(&format!(
            "  listens on: port {port} with TLS; port {public} keeps serving plain HTTP\n"
        ));
    }
    match tls.min_version {
        TlsVersion::Tls13 => s.push_str(
            "  versions: TLS 1.3 only (suites AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305)\n",
        ),
        TlsVersion::Tls12 => s.push_str(&format!(
            "  versions: TLS 1.3, and TLS 1.2 with {}\n",
            TLS12_CIPHERS.replace(':', ", ")
        )),
    }
    s.push_str(&format!(
        "  key exchange: {} (forward secrecy on every connection)\n",
        GROUPS.replace(':', ", ")
    ));
    s.push_str("  ALPN: h2, http/1.1\n");
    s.push_str("  HSTS: sent on every response\n");
    for (i, c) in store.certificates().iter().enumerate() {
        let role = if i == 0 {
            "default certificate"
        } else {
            "SNI certificate"
        };
        s.push_str(&format!(
            "  {role}: {} — {}; names {}; {}; expires {} ({} days){}\n",
            c.origin,
            c.subject,
            if c.names.is_empty() {
                "(none)".to_string()
            } else {
                c.names.join(", ")
            },
            c.key,
            c.not_after,
            c.days_left,
            if c.days_left < EXPIRY_WARNING_DAYS {
                " — RENEW SOON"
            } else {
                ""
            }
        ));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use boring::ec::{EcGroup, EcKey};
    use boring::hash::MessageDigest;
    use boring::x509::extension::SubjectAlternativeName;
    use boring::x509::{X509NameBuilder, X509};

    /// A self-signed EC P-256 certificate for `names`, valid from `from` to `to` days from now.
    fn self_signed(names: &[&str], from: i64, to: i64) -> (String, String) {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_nid(Nid::COMMONNAME, names[0]).unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        b.set_not_before(&Asn1Time::from_unix(now + from * 86400).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::from_unix(now + to * 86400).unwrap())
            .unwrap();
        let mut san = SubjectAlternativeName::new();
        for n in names {
            san.dns(n);
        }
        let san = san.build(&b.x509v3_context(None, None)).unwrap();
        b.append_extension(&san).unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        let cert = String::from_utf8(b.build().to_pem().unwrap()).unwrap();
        let key = String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap();
        (cert, key)
    }

    fn pem(var: &str, text: &str) -> PemSource {
        PemSource {
            origin: Source::Env(var.into()),
            value: PemValue::Inline(text.into()),
        }
    }

    fn policy(cert: &str, key: &str) -> TlsPolicy {
        TlsPolicy {
            cert: pem("PALISADE_TLS_CERT", cert),
            key: pem("PALISADE_TLS_KEY", key),
            certs_dir: None,
            port: Some(8443),
            replaces_plain: true,
            min_version: TlsVersion::Tls13,
        }
    }

    #[test]
    fn good_pair_loads_with_names_subject_and_expiry() {
        let (c, k) = self_signed(&["example.test", "www.example.test"], -1, 30);
        let store = CertStore::load(&policy(&c, &k)).unwrap();
        let info = &store.certificates()[0];
        assert_eq!(info.subject, "CN=example.test");
        assert_eq!(info.names, vec!["example.test", "www.example.test"]);
        assert_eq!(info.key, "EC P-256");
        assert!((29..=30).contains(&info.days_left), "{info:?}");
        assert_eq!(info.origin, "config var PALISADE_TLS_CERT");
    }

    #[test]
    fn mismatched_key_names_the_key_variable() {
        let (c, _) = self_signed(&["a.test"], -1, 30);
        let (_, other) = self_signed(&["b.test"], -1, 30);
        let e = CertStore::load(&policy(&c, &other)).unwrap_err();
        assert_eq!(e.setting, "config var PALISADE_TLS_KEY");
        assert!(e.problem.contains("does not match"), "{e}");
        assert!(e.problem.contains("PALISADE_TLS_CERT"), "{e}");
    }

    #[test]
    fn expired_and_not_yet_valid_are_refused() {
        let (c, k) = self_signed(&["old.test"], -30, -1);
        let e = CertStore::load(&policy(&c, &k)).unwrap_err();
        assert_eq!(e.setting, "config var PALISADE_TLS_CERT");
        assert!(e.problem.contains("expired on"), "{e}");
        let (c, k) = self_signed(&["future.test"], 2, 30);
        let e = CertStore::load(&policy(&c, &k)).unwrap_err();
        assert!(e.problem.contains("not valid before"), "{e}");
    }

    #[test]
    fn swapped_and_garbage_values_get_a_clear_message() {
        let (c, k) = self_signed(&["a.test"], -1, 30);
        let e = CertStore::load(&policy(&k, &c)).unwrap_err();
        assert!(e.problem.contains("private key, not a certificate"), "{e}");
        let e = CertStore::load(&policy(&c, "-----BEGIN PRIVATE KEY-----\nAAAA\n")).unwrap_err();
        assert_eq!(e.setting, "config var PALISADE_TLS_KEY");
        assert!(e.problem.contains("not a PEM private key"), "{e}");
        assert!(
            !e.to_string().contains("AAAA"),
            "the key text must not be echoed: {e}"
        );
    }

    #[test]
    fn missing_file_names_the_variable_and_path() {
        let (c, _) = self_signed(&["a.test"], -1, 30);
        let mut p = policy(&c, "");
        p.key = PemSource {
            origin: Source::Env("PALISADE_TLS_KEY".into()),
            value: PemValue::File("/nonexistent/site.key".into()),
        };
        let e = CertStore::load(&p).unwrap_err();
        assert_eq!(e.setting, "config var PALISADE_TLS_KEY");
        assert!(e.problem.contains("/nonexistent/site.key"), "{e}");
    }

    #[test]
    fn sni_selection_exact_wildcard_default() {
        let dir = std::env::temp_dir().join(format!("palisade-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (c2, k2) = self_signed(&["api.example.test"], -1, 30);
        let (c3, k3) = self_signed(&["*.apps.example.test"], -1, 30);
        std::fs::write(dir.join("api.crt"), c2).unwrap();
        std::fs::write(dir.join("api.key"), k2).unwrap();
        std::fs::write(dir.join("wild.crt"), c3).unwrap();
        std::fs::write(dir.join("wild.key"), k3).unwrap();
        let (c, k) = self_signed(&["example.test"], -1, 30);
        let mut p = policy(&c, &k);
        p.certs_dir = Some((dir.clone(), Source::Env("PALISADE_TLS_CERTS_DIR".into())));
        let store = CertStore::load(&p).unwrap();
        assert_eq!(store.certificates().len(), 3);
        let served = |ctx: &SslContext| subject_of(ctx.certificate().unwrap());
        assert_eq!(served(store.select(None)), "CN=example.test");
        assert_eq!(
            served(store.select(Some("unknown.test"))),
            "CN=example.test"
        );
        assert_eq!(
            served(store.select(Some("API.example.test."))),
            "CN=api.example.test"
        );
        assert_eq!(
            served(store.select(Some("x.apps.example.test"))),
            "CN=*.apps.example.test"
        );
        // A wildcard covers exactly one label.
        assert_eq!(
            served(store.select(Some("a.b.apps.example.test"))),
            "CN=example.test"
        );
        assert_eq!(
            served(store.select(Some("apps.example.test"))),
            "CN=example.test"
        );

        // The same name in two certificates is refused, naming both files.
        let (dup, dupk) = self_signed(&["api.example.test"], -1, 30);
        std::fs::write(dir.join("zdup.crt"), dup).unwrap();
        std::fs::write(dir.join("zdup.key"), dupk).unwrap();
        let e = CertStore::load(&p).unwrap_err();
        assert!(e.setting.contains("zdup.crt"), "{e}");
        assert!(e.problem.contains("api.crt"), "{e}");
        // A certificate without its key names the missing key file.
        std::fs::remove_file(dir.join("zdup.key")).unwrap();
        let e = CertStore::load(&p).unwrap_err();
        assert!(e.setting.contains("zdup.key"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn weak_rsa_key_is_refused() {
        use boring::rsa::Rsa;
        let key = PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_nid(Nid::COMMONNAME, "weak.test")
            .unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
            .unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        let c = String::from_utf8(b.build().to_pem().unwrap()).unwrap();
        let k = String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap();
        let e = CertStore::load(&policy(&c, &k)).unwrap_err();
        assert!(e.problem.contains("too weak"), "{e}");
    }

    #[test]
    fn alpn_prefers_h2_then_http11_and_ignores_unknown() {
        assert_eq!(
            select_next_proto(ALPN_WIRE, b"\x08http/1.1\x02h2"),
            Some(&b"h2"[..])
        );
        assert_eq!(
            select_next_proto(ALPN_WIRE, b"\x08http/1.1"),
            Some(&b"http/1.1"[..])
        );
        assert_eq!(select_next_proto(ALPN_WIRE, b"\x06spdy/3"), None);
    }

    #[test]
    fn contexts_accept_the_configuration() {
        // BoringSSL must accept every list we give it, for both minimum versions.
        acceptor_builder(TlsVersion::Tls13).unwrap();
        acceptor_builder(TlsVersion::Tls12).unwrap();
    }
}
