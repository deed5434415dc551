//! Palisade's configuration: `PALISADE_*` environment variables (Heroku config vars) and an
//! optional `palisade.yml` become one validated, typed [`Policy`].
//!
//! Precedence: environment variable, then `palisade.yml`, then the default. Every setting is
//! listed in [`settings::ALL`] (and so in `docs/configuration.md`). A bad value is a
//! [`ConfigError`] that names the variable or file key (with its line), the value, and what is
//! allowed; Palisade refuses to start rather than run with a policy the user did not ask for.

mod error;
mod file;
mod limits;
mod rules;
pub mod settings;
mod tls;
pub mod values;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub use error::{ConfigError, Source};
pub use file::ConfigFile;
pub use limits::*;
pub use rules::{RulesPolicy, DEFAULT_RULES_POLL_INTERVAL};
use settings::Setting;
pub use tls::{PemSource, PemValue, TlsPolicy, TlsVersion, DEFAULT_TLS_MIN_VERSION};

/// Default boot wait ([`settings::BOOT_TIMEOUT`]).
pub const DEFAULT_BOOT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default drain deadline on SIGTERM ([`settings::DRAIN_TIMEOUT`]).
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest drain allowed: Heroku sends SIGKILL 30 s after SIGTERM.
pub const MAX_DRAIN_TIMEOUT: Duration = Duration::from_secs(25);
/// Default idle keep-alive for client connections; longer than the Heroku router's.
pub const DEFAULT_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(120);
/// Default app connect timeout.
pub const DEFAULT_UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default app read timeout (Heroku's router answers H12 at 30 s).
pub const DEFAULT_UPSTREAM_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default paranoia level.
pub const DEFAULT_PARANOIA: u8 = 1;
/// Default anomaly threshold (one critical hit).
pub const DEFAULT_ANOMALY_THRESHOLD: u32 = 5;
/// Default body inspection limit.
pub const DEFAULT_MAX_INSPECT_BODY: u64 = 1 << 20;
/// Default config file name.
pub const DEFAULT_CONFIG_FILE: &str = "palisade.yml";

/// Whether blocking verdicts are enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Blocking verdicts answer 403.
    Block,
    /// Blocking verdicts are only logged.
    Monitor,
}

/// What happens to a request body larger than the inspection limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OversizeBody {
    /// 413 in block mode (logged only in monitor mode).
    Reject,
    /// Forwarded uninspected, and logged.
    Pass,
}

/// HSTS parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hsts {
    /// `max-age` in seconds.
    pub max_age: u64,
    /// `includeSubDomains`.
    pub include_subdomains: bool,
    /// `preload`.
    pub preload: bool,
}

/// HTTPS enforcement and response headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportPolicy {
    /// Redirect plain HTTP (as reported by the trusted router) to HTTPS.
    pub https_redirect: bool,
    /// Host every redirect goes to.
    pub canonical_host: Option<String>,
    /// Host patterns a redirect may keep (`*.example.org`); empty = any syntactically valid host.
    pub allowed_hosts: Vec<String>,
    /// HSTS, when on.
    pub hsts: Option<Hsts>,
    /// Add the default security headers.
    pub security_headers: bool,
    /// Extra `Permissions-Policy` header.
    pub permissions_policy: Option<String>,
    /// Replace app-set security headers.
    pub override_app_headers: bool,
    /// Remove `Server` / `X-Powered-By`.
    pub hide_server_headers: bool,
}

/// Default HSTS max-age: two years.
pub const DEFAULT_HSTS_MAX_AGE: u64 = 63_072_000;

fn parse_host_name(t: &str) -> Result<String, String> {
    let h = t.trim().trim_end_matches('.').to_ascii_lowercase();
    let ok = !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(h)
    } else {
        Err("a host name such as portal.example-clinic.org (no scheme, port or path)".into())
    }
}

fn parse_host_patterns(t: &str) -> Result<Vec<String>, String> {
    t.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.strip_prefix("*.") {
            Some(rest) => parse_host_name(rest).map(|h| format!("*.{h}")),
            None => parse_host_name(p),
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| "comma-separated host names, `*.example.org` wildcards allowed".to_string())
}

/// Where the app is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// Supervisor mode: Palisade starts the app on this loopback port (`None`: pick a free one).
    Child {
        /// Fixed app port, if configured.
        port: Option<u16>,
    },
    /// Proxy-only mode: an app Palisade does not manage.
    External {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
}

/// The effective, validated policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Kill switch (`false`: run the app unprotected).
    pub enabled: bool,
    /// Running on a Heroku dyno (`DYNO` is set), which turns on router-aware defaults.
    pub dyno: Option<String>,
    /// Public port, when one is configured.
    pub public_port: Option<u16>,
    /// `PALISADE_PUBLIC_PORT` was set: a `.profile.d` script moved the public port out of `PORT`,
    /// so `$PORT` in the web command is already the app's private port.
    pub port_remapped: bool,
    /// Where requests go.
    pub upstream: Upstream,
    /// Boot wait.
    pub boot_timeout: Duration,
    /// Drain deadline on SIGTERM.
    pub drain_timeout: Duration,
    /// Client keep-alive idle timeout.
    pub keepalive_timeout: Duration,
    /// App connect timeout.
    pub upstream_connect_timeout: Duration,
    /// App read timeout.
    pub upstream_read_timeout: Duration,
    /// Worker threads.
    pub threads: usize,
    /// Plain HTTP/1.1 GET/HEAD requests take the HTTP/1 lane.
    pub http1_lane: bool,
    /// Block or monitor.
    pub mode: Mode,
    /// Paranoia level 1-4.
    pub paranoia: u8,
    /// Anomaly score threshold.
    pub anomaly_threshold: u32,
    /// Body inspection limit in bytes.
    pub max_inspect_body: u64,
    /// Over-limit body handling.
    pub oversize_body: OversizeBody,
    /// Per-request access log on stdout.
    pub access_log: bool,
    /// HTTPS enforcement and response headers.
    pub transport: TransportPolicy,
    /// Raw values of settings parsed by other crates (access control, audit), by variable name,
    /// with env > file precedence already applied.
    pub external: BTreeMap<&'static str, String>,
    /// The config file's text, for crates that parse their own sections (`rules`, `access`).
    pub config_text: Option<String>,
    /// The config file that was read, if any.
    pub config_file: Option<PathBuf>,
    /// Each setting's effective value and where it came from, for `palisade check`.
    pub provenance: Vec<(Setting, String, Source)>,
    /// Native TLS termination (`PALISADE_TLS_*`), when configured; `None`: plain HTTP only (on
    /// Heroku the router terminates TLS).
    pub tls: Option<TlsPolicy>,
    /// Ruleset bundles: boot file, update URL, poll interval, extra trusted key.
    pub rules: RulesPolicy,
    /// Request limits, slow-client deadlines and concurrency caps (issue #8).
    pub limits: LimitsPolicy,
}

/// Inputs to [`load`]: an environment snapshot and the config file's contents.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Environment variables (only `PALISADE_*`, `PORT`, `DYNO` are read).
    pub env: BTreeMap<String, String>,
    /// `(path, text)` of `palisade.yml`, if one was found.
    pub file: Option<(PathBuf, String)>,
}

impl Inputs {
    /// Snapshot of this process's environment, and the config file it names (or
    /// `./palisade.yml` if present). A config file named by `PALISADE_CONFIG` or `explicit` that
    /// cannot be read is an error; a missing default file is not.
    pub fn from_process(explicit: Option<PathBuf>) -> Result<Inputs, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        let named = explicit.or_else(|| env.get(settings::CONFIG.env).map(PathBuf::from));
        let file = match named {
            Some(path) => match std::fs::read_to_string(&path) {
                Ok(text) => Some((path, text)),
                Err(e) => {
                    return Err(ConfigError::Io {
                        path: path.display().to_string(),
                        message: e.to_string(),
                    })
                }
            },
            None => {
                let path = PathBuf::from(DEFAULT_CONFIG_FILE);
                match std::fs::read_to_string(&path) {
                    Ok(text) => Some((path, text)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) => {
                        return Err(ConfigError::Io {
                            path: path.display().to_string(),
                            message: e.to_string(),
                        })
                    }
                }
            }
        };
        Ok(Inputs { env, file })
    }
}

/// Reads one setting with precedence env > file > default, recording where it came from.
struct Resolver<'a> {
    env: &'a BTreeMap<String, String>,
    file: Option<&'a ConfigFile>,
    provenance: Vec<(Setting, String, Source)>,
}

impl<'a> Resolver<'a> {
    /// Returns the raw text and its source for `s`, or `None` to use the default.
    fn raw(&self, s: Setting) -> Result<Option<(String, Source)>, ConfigError> {
        if let Some(v) = self.env.get(s.env) {
            return Ok(Some((v.clone(), Source::Env(s.env.to_string()))));
        }
        if let (false, Some(file)) = (s.key.is_empty(), self.file) {
            if let Some(v) = file.scalar(s.key)? {
                return Ok(Some((v, file.source(s.key))));
            }
        }
        Ok(None)
    }

    /// Parses a setting with `parse`, or takes `default`.
    fn get<T, F>(&mut self, s: Setting, default: T, parse: F) -> Result<T, ConfigError>
    where
        F: Fn(&str) -> Result<T, String>,
    {
        match self.raw(s)? {
            Some((text, source)) => match parse(&text) {
                Ok(v) => {
                    self.provenance.push((s, text, source));
                    Ok(v)
                }
                Err(allowed) => Err(ConfigError::Invalid {
                    source,
                    value: text,
                    allowed,
                }),
            },
            None => {
                self.provenance
                    .push((s, s.default.to_string(), Source::Default));
                Ok(default)
            }
        }
    }

    /// Like [`Self::get`] for settings with no default value.
    fn get_opt<T, F>(&mut self, s: Setting, parse: F) -> Result<Option<T>, ConfigError>
    where
        F: Fn(&str) -> Result<T, String>,
    {
        self.get(s, None, |t| parse(t).map(Some))
    }
}

/// Settings whose values are parsed and validated by the crate that uses them (access control,
/// audit); the policy only applies precedence and records provenance.
pub const EXTERNAL: &[Setting] = &[
    settings::TRUSTED_PROXY,
    settings::TRUSTED_PROXY_IPS,
    settings::IP_ALLOWLIST,
    settings::IP_BLOCKLIST,
    settings::GEO_DATABASE,
    settings::GEO_ALLOW_COUNTRIES,
    settings::GEO_BLOCK_COUNTRIES,
    settings::ANONYMOUS_DATABASE,
    settings::ANONYMOUS_BLOCK,
    settings::RATE_LIMIT,
    settings::RATE_LIMITS,
    settings::REDIS_URL,
    settings::REDIS_TLS_VERIFY,
    settings::LOG_FORMAT,
    settings::AUDIT_KEY,
    settings::MASK_PATH_IDS,
    settings::ALERT_WEBHOOKS,
    settings::ALERT_WINDOW,
    settings::ALERT_MAX_PER_WINDOW,
    settings::ALERT_CLIENT_IPS,
];

fn secs(lo: u64, hi: u64) -> impl Fn(&str) -> Result<Duration, String> {
    move |t| values::parse_duration(t, Duration::from_secs(lo), Duration::from_secs(hi))
}

/// Builds the policy from `inputs`. Errors name the variable or file key, the value, and what is
/// allowed.
pub fn load(inputs: &Inputs) -> Result<Policy, ConfigError> {
    let file = match &inputs.file {
        Some((path, text)) => Some(ConfigFile::parse(path, text)?),
        None => None,
    };
    let mut r = Resolver {
        env: &inputs.env,
        file: file.as_ref(),
        provenance: Vec::new(),
    };
    use settings as s;
    let enabled = r.get(s::ENABLED, true, values::parse_bool)?;
    let port = r.get_opt(s::PORT, values::parse_port)?;
    let public_override = r.get_opt(s::PUBLIC_PORT, values::parse_port)?;
    let app_port = r.get_opt(s::APP_PORT, values::parse_port)?;
    let upstream_ext = r.get_opt(s::UPSTREAM, values::parse_host_port)?;
    let public_port = public_override.or(port);
    // The buildpack's .profile.d keeps the public port in PALISADE_PUBLIC_PORT and gives the app a
    // private PORT; the app then uses that one.
    let app_port = app_port.or(match (public_override, port) {
        (Some(public), Some(p)) if p != public => Some(p),
        _ => None,
    });
    if let (Some(a), Some(p)) = (app_port, public_port) {
        if a == p {
            return Err(ConfigError::Conflict {
                message: format!(
                    "the app port ({a}) equals the public port: the app would take the port Palisade must \
                     listen on and bypass it. Unset PALISADE_APP_PORT or choose another port."
                ),
            });
        }
    }
    let upstream = match upstream_ext {
        Some((host, port)) => Upstream::External { host, port },
        None => Upstream::Child { port: app_port },
    };
    let boot_timeout = r.get(s::BOOT_TIMEOUT, DEFAULT_BOOT_TIMEOUT, secs(1, 600))?;
    let drain_timeout = r.get(s::DRAIN_TIMEOUT, DEFAULT_DRAIN_TIMEOUT, secs(1, 25))?;
    let keepalive_timeout = r.get(
        s::KEEPALIVE_TIMEOUT,
        DEFAULT_KEEPALIVE_TIMEOUT,
        secs(1, 3600),
    )?;
    let upstream_connect_timeout = r.get(
        s::UPSTREAM_CONNECT_TIMEOUT,
        DEFAULT_UPSTREAM_CONNECT_TIMEOUT,
        secs(1, 60),
    )?;
    let upstream_read_timeout = r.get(
        s::UPSTREAM_READ_TIMEOUT,
        DEFAULT_UPSTREAM_READ_TIMEOUT,
        secs(1, 3600),
    )?;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = r.get(s::THREADS, cpus, |t| {
        values::parse_int(t, 1, 256).map(|n| n as usize)
    })?;
    let http1_lane = r.get(s::HTTP1_LANE, true, values::parse_bool)?;
    let mode = r.get(s::MODE, Mode::Block, |t| {
        values::parse_choice(t, &["block", "monitor"]).map(|i| {
            if i == 0 {
                Mode::Block
            } else {
                Mode::Monitor
            }
        })
    })?;
    let paranoia = r.get(s::PARANOIA, DEFAULT_PARANOIA, |t| {
        values::parse_int(t, 1, 4).map(|n| n as u8)
    })?;
    let anomaly_threshold = r.get(s::ANOMALY_THRESHOLD, DEFAULT_ANOMALY_THRESHOLD, |t| {
        values::parse_int(t, 1, 1000).map(|n| n as u32)
    })?;
    let max_inspect_body = r.get(s::MAX_INSPECT_BODY, DEFAULT_MAX_INSPECT_BODY, |t| {
        values::parse_size(t, 1024, 64 << 20)
    })?;
    let oversize_body = r.get(s::OVERSIZE_BODY, OversizeBody::Reject, |t| {
        values::parse_choice(t, &["reject", "pass"]).map(|i| {
            if i == 0 {
                OversizeBody::Reject
            } else {
                OversizeBody::Pass
            }
        })
    })?;
    let access_log = r.get(s::ACCESS_LOG, true, values::parse_bool)?;
    let dyno = inputs.env.get("DYNO").filter(|d| !d.is_empty()).cloned();
    let redirect = r.get(s::HTTPS_REDIRECT, None, |t| {
        values::parse_choice(t, &["auto", "on", "off", "true", "false"]).map(|i| match i {
            0 => None,
            1 | 3 => Some(true),
            _ => Some(false),
        })
    })?;
    let hsts_on = r.get(s::HSTS, true, values::parse_bool)?;
    let hsts = Hsts {
        max_age: r.get(s::HSTS_MAX_AGE, DEFAULT_HSTS_MAX_AGE, |t| {
            values::parse_int(t, 0, 10 * 365 * 86_400)
        })?,
        include_subdomains: r.get(s::HSTS_INCLUDE_SUBDOMAINS, true, values::parse_bool)?,
        preload: r.get(s::HSTS_PRELOAD, false, values::parse_bool)?,
    };
    if hsts.preload && (hsts.max_age < 31_536_000 || !hsts.include_subdomains) {
        return Err(ConfigError::Conflict {
            message:
                "PALISADE_HSTS_PRELOAD=true needs PALISADE_HSTS_MAX_AGE of at least 31536000 and \
                      PALISADE_HSTS_INCLUDE_SUBDOMAINS=true (the preload list's requirements)"
                    .into(),
        });
    }
    let transport = TransportPolicy {
        https_redirect: redirect.unwrap_or(dyno.is_some()),
        canonical_host: r.get_opt(s::CANONICAL_HOST, parse_host_name)?,
        allowed_hosts: r.get(s::ALLOWED_HOSTS, Vec::new(), parse_host_patterns)?,
        hsts: hsts_on.then_some(hsts),
        security_headers: r.get(s::SECURITY_HEADERS, true, values::parse_bool)?,
        permissions_policy: r.get_opt(s::PERMISSIONS_POLICY, |t| {
            if t.bytes().all(|b| (0x20..0x7f).contains(&b)) && !t.trim().is_empty() {
                Ok(t.trim().to_string())
            } else {
                Err("a header value of printable ASCII, e.g. geolocation=(), payment=()".into())
            }
        })?,
        override_app_headers: r.get(s::SECURITY_HEADERS_OVERRIDE, false, values::parse_bool)?,
        hide_server_headers: r.get(s::HIDE_SERVER_HEADERS, true, values::parse_bool)?,
    };
    let mut external = BTreeMap::new();
    for setting in EXTERNAL {
        // The `access:` section is deserialised whole by the access-control crate (lists and
        // all); here only its config-var overrides are collected.
        let raw = if setting.key.starts_with("access.") {
            inputs
                .env
                .get(setting.env)
                .map(|v| (v.clone(), Source::Env(setting.env.to_string())))
        } else {
            r.raw(*setting)?
        };
        if let Some((text, source)) = raw {
            external.insert(setting.env, text.clone());
            r.provenance.push((*setting, text, source));
        }
    }
    if !external.contains_key(s::REDIS_URL.env) {
        if let Some(url) = inputs.env.get("REDIS_URL").filter(|u| !u.is_empty()) {
            external.insert(s::REDIS_URL.env, url.clone());
            r.provenance.push((
                s::REDIS_URL,
                "(from REDIS_URL)".into(),
                Source::Env("REDIS_URL".into()),
            ));
        }
    }
    let tls = tls::load_tls(&mut r, public_port, &upstream, dyno.is_some())?;
    let rules = rules::resolve(&mut r)?;
    let limits = limits::resolve(&mut r)?;
    Ok(Policy {
        enabled,
        dyno,
        public_port,
        port_remapped: public_override.is_some(),
        upstream,
        boot_timeout,
        drain_timeout,
        keepalive_timeout,
        upstream_connect_timeout,
        upstream_read_timeout,
        threads,
        http1_lane,
        mode,
        paranoia,
        anomaly_threshold,
        max_inspect_body,
        oversize_body,
        access_log,
        transport,
        external,
        config_text: inputs.file.as_ref().map(|(_, t)| t.clone()),
        config_file: inputs.file.as_ref().map(|(p, _)| p.clone()),
        provenance: r.provenance,
        tls,
        rules,
        limits,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn inputs(env: &[(&str, &str)], file: Option<&str>) -> Inputs {
        Inputs {
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            file: file.map(|t| (PathBuf::from("palisade.yml"), t.to_string())),
        }
    }

    #[test]
    fn defaults_are_safe() {
        let p = load(&inputs(&[("PORT", "5000")], None)).unwrap();
        assert!(p.enabled);
        assert_eq!(p.mode, Mode::Block);
        assert_eq!(p.paranoia, 1);
        assert_eq!(p.public_port, Some(5000));
        assert_eq!(p.upstream, Upstream::Child { port: None });
        assert_eq!(p.drain_timeout, DEFAULT_DRAIN_TIMEOUT);
    }

    #[test]
    fn env_beats_file_beats_default() {
        let p = load(&inputs(
            &[("PALISADE_PARANOIA", "3")],
            Some("paranoia: 2\nmode: monitor\n"),
        ))
        .unwrap();
        assert_eq!(p.paranoia, 3);
        assert_eq!(p.mode, Mode::Monitor);
        let src = p
            .provenance
            .iter()
            .find(|(s, _, _)| s.env == "PALISADE_MODE")
            .unwrap();
        assert!(matches!(&src.2, Source::File { key, .. } if key == "mode"));
    }

    #[test]
    fn bad_env_value_names_variable_value_and_allowed() {
        let e = load(&inputs(&[("PALISADE_PARANOIA", "7")], None)).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("PALISADE_PARANOIA"), "{msg}");
        assert!(msg.contains("\"7\""), "{msg}");
        assert!(msg.contains("from 1 to 4"), "{msg}");
    }

    #[test]
    fn bad_file_value_names_line() {
        let e = load(&inputs(&[], Some("mode: block\nparanoia: 7\n"))).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("line 2"), "{msg}");
        assert!(msg.contains("paranoia"), "{msg}");
    }

    #[test]
    fn profile_d_remap_gives_app_the_private_port() {
        let p = load(&inputs(
            &[("PORT", "3001"), ("PALISADE_PUBLIC_PORT", "5000")],
            None,
        ))
        .unwrap();
        assert_eq!(p.public_port, Some(5000));
        assert_eq!(p.upstream, Upstream::Child { port: Some(3001) });
    }

    #[test]
    fn app_port_equal_to_public_port_is_refused() {
        let e = load(&inputs(
            &[("PORT", "5000"), ("PALISADE_APP_PORT", "5000")],
            None,
        ))
        .unwrap_err();
        assert!(e.to_string().contains("bypass"), "{e}");
    }

    #[test]
    fn https_redirect_is_on_behind_heroku_by_default() {
        let p = load(&inputs(&[("DYNO", "web.1")], None)).unwrap();
        assert!(p.transport.https_redirect);
        let p = load(&inputs(&[], None)).unwrap();
        assert!(!p.transport.https_redirect);
        let p = load(&inputs(
            &[("DYNO", "web.1"), ("PALISADE_HTTPS_REDIRECT", "off")],
            None,
        ))
        .unwrap();
        assert!(!p.transport.https_redirect);
    }

    #[test]
    fn hosts_are_validated() {
        let e = load(&inputs(
            &[("PALISADE_CANONICAL_HOST", "https://x.org/")],
            None,
        ))
        .unwrap_err();
        assert!(e.to_string().contains("PALISADE_CANONICAL_HOST"), "{e}");
        let p = load(&inputs(
            &[("PALISADE_ALLOWED_HOSTS", "a.org, *.b.org")],
            None,
        ))
        .unwrap();
        assert_eq!(p.transport.allowed_hosts, vec!["a.org", "*.b.org"]);
    }

    #[test]
    fn drain_timeout_is_capped_below_herokus_kill() {
        let e = load(&inputs(&[("PALISADE_DRAIN_TIMEOUT", "30s")], None)).unwrap_err();
        assert!(e.to_string().contains("PALISADE_DRAIN_TIMEOUT"));
    }
}
