//! Policy → the components the proxy runs with: the detection engine, access control, the audit
//! configuration, and the response-header policy. `palisade check` builds the same components, so
//! anything that would stop `palisade run` fails the build first.

use std::sync::Arc;

use palisade_access::{
    AccessConfig, AccessControl, IpListConfig, RateLimit, RateRule, RedisConfig, RedisUrl,
    SharedLimiter, TcpConnector,
};
use palisade_audit::{AuditConfig, PolicySummary};
use palisade_engine::{embedded_rulesets, Engine, EngineConfig, UserRules};
use palisade_policy::{settings, Mode, Policy, Source};
use palisade_proxy::headers::{AddedHeader, HeaderName, ResponseHeaderPolicy};
use serde::Deserialize;

/// Everything built from the policy.
pub struct Components {
    /// Compiled rules (embedded rulesets + the user's rules and exclusions).
    pub engine: Arc<Engine>,
    /// Access control (identity, lists, geo, bots, rate limits, bans).
    pub access: Arc<AccessControl>,
    /// The audit sink's configuration.
    pub audit: AuditConfig,
    /// Response headers added by Palisade.
    pub headers: ResponseHeaderPolicy,
}

/// Builds every component; errors are worded for `palisade check` and boot.
pub fn build(policy: &Policy) -> Result<Components, String> {
    let engine = build_engine(policy)?;
    let access_config = access_config(policy)?;
    // The config var (collected by the policy's settings table; `access.redis.tls_verify` in
    // palisade.yml is read with the rest of the access section).
    let verify_var = policy.external.get(REDIS_TLS_VERIFY).cloned();
    let shared = shared_limiter(policy, &access_config, verify_var.as_deref())?;
    let access = AccessControl::with_shared(access_config, shared)
        .map_err(|e| format!("access control: {e}"))?;
    let audit = audit_config(policy)?;
    Ok(Components {
        engine: Arc::new(engine),
        access: Arc::new(access),
        audit,
        headers: response_headers(policy)?,
    })
}

fn file_label(policy: &Policy) -> String {
    policy
        .config_file
        .as_ref()
        .map_or_else(|| "palisade.yml".to_string(), |p| p.display().to_string())
}

/// The engine: embedded rulesets + user rules and exclusions from `palisade.yml`.
pub fn build_engine(policy: &Policy) -> Result<Engine, String> {
    let user = match &policy.config_text {
        Some(text) => UserRules::from_palisade_yml(text)
            .map_err(|e| format!("{}: {e}", file_label(policy)))?,
        None => UserRules::empty(),
    };
    let config = EngineConfig {
        paranoia: policy.paranoia,
        anomaly_threshold: policy.anomaly_threshold,
        max_inspect_body: usize::try_from(policy.max_inspect_body).unwrap_or(usize::MAX),
        ..EngineConfig::default()
    };
    Engine::compile(embedded_rulesets(), &user, &config).map_err(|e| format!("rules: {e}"))
}

#[derive(Deserialize, Default)]
struct AccessSection {
    #[serde(default)]
    access: Option<AccessConfig>,
}

fn list(text: &str) -> Vec<String> {
    text.split([',', ' ', '\n', '\t'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn invalid(var: &str, value: &str, allowed: impl std::fmt::Display) -> String {
    format!("config var {var}: invalid value {value:?}; allowed: {allowed}")
}

/// The access-control configuration: the `access:` section of `palisade.yml`, then config-var
/// overrides.
pub fn access_config(policy: &Policy) -> Result<AccessConfig, String> {
    let mut c = match &policy.config_text {
        Some(text) => serde_yaml::from_str::<AccessSection>(text)
            .map_err(|e| format!("{}: access: {e}", file_label(policy)))?
            .access
            .unwrap_or_default(),
        None => AccessConfig::default(),
    };
    let ext = |s: settings::Setting| policy.external.get(s.env).map(String::as_str);
    use palisade_access::identity::ForwardedMode;
    // Behind the Heroku router the right-most X-Forwarded-For entry is the client; elsewhere the
    // socket, unless the user says otherwise (in the file or the config var).
    // Looked up structurally: a top-level `mode: block` next to a `client_ip:` section without
    // `mode` must not count (that would silently make the router the client on Heroku).
    let file_sets_mode = policy
        .config_text
        .as_deref()
        .and_then(|t| serde_yaml::from_str::<serde_yaml::Value>(t).ok())
        .is_some_and(|v| !v["access"]["client_ip"]["mode"].is_null());
    match ext(settings::TRUSTED_PROXY) {
        Some(v) if v.trim().eq_ignore_ascii_case("auto") => {
            c.client_ip.mode = auto_mode(policy);
        }
        Some(v) => {
            c.client_ip.mode = v.parse::<ForwardedMode>().map_err(|_| {
                invalid(
                    settings::TRUSTED_PROXY.env,
                    v,
                    "auto, heroku, socket, trusted_peers",
                )
            })?;
        }
        None if !file_sets_mode => c.client_ip.mode = auto_mode(policy),
        None => {}
    }
    if let Some(v) = ext(settings::TRUSTED_PROXY_IPS) {
        c.client_ip.trusted_proxies.ips = list(v);
    }
    if let Some(v) = ext(settings::IP_ALLOWLIST) {
        c.allow = IpListConfig::from_ips(list(v));
    }
    if let Some(v) = ext(settings::IP_BLOCKLIST) {
        c.block.ips = list(v);
    }
    if let Some(v) = ext(settings::GEO_DATABASE) {
        c.geo.database = Some(v.trim().into());
    }
    if let Some(v) = ext(settings::GEO_ALLOW_COUNTRIES) {
        c.geo.allow_countries = list(v)
            .iter()
            .map(|s| s.parse())
            .collect::<Result<_, _>>()
            .map_err(|e| invalid(settings::GEO_ALLOW_COUNTRIES.env, v, e))?;
    }
    if let Some(v) = ext(settings::GEO_BLOCK_COUNTRIES) {
        c.geo.block_countries = list(v)
            .iter()
            .map(|s| s.parse())
            .collect::<Result<_, _>>()
            .map_err(|e| invalid(settings::GEO_BLOCK_COUNTRIES.env, v, e))?;
    }
    if let Some(v) = ext(settings::ANONYMOUS_DATABASE) {
        c.anonymous.database = Some(v.trim().into());
    }
    if let Some(v) = ext(settings::ANONYMOUS_BLOCK) {
        c.anonymous.block = list(v)
            .iter()
            .map(|s| s.parse())
            .collect::<Result<_, _>>()
            .map_err(|e| invalid(settings::ANONYMOUS_BLOCK.env, v, e))?;
    }
    if let Some(v) = ext(settings::RATE_LIMIT) {
        c.rate_limits.global = Some(
            v.parse::<RateLimit>()
                .map_err(|e| invalid(settings::RATE_LIMIT.env, v, e))?,
        );
    }
    if let Some(v) = ext(settings::RATE_LIMITS) {
        c.rate_limits.rules = v
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(RateRule::parse)
            .collect::<Result<_, _>>()
            .map_err(|e| invalid(settings::RATE_LIMITS.env, v, e))?;
    }
    if let Some(v) = ext(settings::REDIS_URL) {
        // The config var (or Heroku's REDIS_URL) gives the URL only: keep the file's timeout and
        // key prefix.
        match c.redis.as_mut() {
            Some(redis) => redis.url = v.trim().to_string(),
            None => c.redis = Some(RedisConfig::new(v.trim())),
        }
    }
    Ok(c)
}

/// Config var: whether to verify the Redis server's certificate for `rediss://` (`true`/`false`;
/// `access.redis.tls_verify` in palisade.yml). Default: on for `PALISADE_REDIS_URL` and
/// `access.redis.url`, off for Heroku's own `REDIS_URL` (Heroku Redis serves self-signed
/// certificates).
pub const REDIS_TLS_VERIFY: &str = settings::REDIS_TLS_VERIFY.env;

/// Where the Redis URL came from: it names the setting in errors and picks the TLS default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RedisUrlSource {
    /// `PALISADE_REDIS_URL`: set on purpose by the operator.
    PalisadeVar,
    /// `REDIS_URL`, which the Heroku Redis add-on sets (self-signed certificates).
    HerokuRedisUrl,
    /// `access.redis.url` in `palisade.yml`.
    File,
}

impl RedisUrlSource {
    fn of(policy: &Policy) -> RedisUrlSource {
        let env_source = policy.provenance.iter().rev().find_map(|(s, _, src)| {
            match (s.env == settings::REDIS_URL.env, src) {
                (true, Source::Env(name)) => Some(name.as_str()),
                _ => None,
            }
        });
        match env_source {
            Some("REDIS_URL") => RedisUrlSource::HerokuRedisUrl,
            Some(_) => RedisUrlSource::PalisadeVar,
            None => RedisUrlSource::File,
        }
    }

    fn label(self) -> &'static str {
        match self {
            RedisUrlSource::PalisadeVar => "config var PALISADE_REDIS_URL",
            RedisUrlSource::HerokuRedisUrl => {
                "config var REDIS_URL (set by Heroku Redis; override with PALISADE_REDIS_URL)"
            }
            RedisUrlSource::File => "palisade.yml access.redis.url",
        }
    }
}

/// Whether to verify the certificate of a `rediss://` server: `PALISADE_REDIS_TLS_VERIFY` if set,
/// else on, except for Heroku's `REDIS_URL`, whose certificates are self-signed.
fn redis_tls_verify(
    source: RedisUrlSource,
    var: Option<&str>,
    file: Option<bool>,
) -> Result<bool, String> {
    match (var, file) {
        (Some(v), _) => palisade_policy::values::parse_bool(v)
            .map_err(|allowed| invalid(REDIS_TLS_VERIFY, v, allowed)),
        (None, Some(f)) => Ok(f),
        (None, None) => Ok(source != RedisUrlSource::HerokuRedisUrl),
    }
}

/// The Redis-shared limiter, if Redis is configured: plain TCP for `redis://`, BoringSSL for
/// `rediss://`. A bad URL or `PALISADE_REDIS_TLS_VERIFY` value refuses the configuration, naming
/// the setting; an unreachable Redis does not (limits fall back to local state).
fn shared_limiter(
    policy: &Policy,
    config: &AccessConfig,
    verify_var: Option<&str>,
) -> Result<Option<SharedLimiter>, String> {
    let source = RedisUrlSource::of(policy);
    // Checked even without Redis, so a typo does not wait for the day Redis is attached.
    let verify = redis_tls_verify(
        source,
        verify_var,
        config.redis.as_ref().and_then(|r| r.tls_verify),
    )?;
    let Some(redis) = &config.redis else {
        return Ok(None);
    };
    let url = RedisUrl::parse(&redis.url).map_err(|e| format!("{}: {e}", source.label()))?;
    let limiter = if url.tls {
        let connector = crate::redis_tls::TlsRedisConnector::new(verify)?;
        if connector.verifies() {
            tracing::info!(
                redis = %url,
                "shared rate limits over TLS; the Redis certificate is verified \
                 (system CA bundle, or SSL_CERT_FILE)"
            );
        } else {
            let why = if verify_var.is_some() || redis.tls_verify.is_some() {
                "PALISADE_REDIS_TLS_VERIFY / access.redis.tls_verify is false"
            } else {
                "REDIS_URL comes from Heroku Redis, whose certificates are self-signed"
            };
            tracing::warn!(
                redis = %url,
                "shared rate limits over TLS WITHOUT certificate verification ({why}): \
                 traffic is encrypted but the server is not authenticated; set \
                 PALISADE_REDIS_TLS_VERIFY=true to require a trusted certificate"
            );
        }
        SharedLimiter::with_connector(redis, connector)
    } else {
        SharedLimiter::with_connector(redis, TcpConnector)
    };
    // The URL is already checked; what is left (timeout, key prefix) names its own key.
    limiter
        .map(Some)
        .map_err(|e| format!("access control: {e}"))
}

fn auto_mode(policy: &Policy) -> palisade_access::identity::ForwardedMode {
    if policy.dyno.is_some() {
        palisade_access::identity::ForwardedMode::Heroku
    } else {
        palisade_access::identity::ForwardedMode::Socket
    }
}

/// The audit configuration from the audit settings (config var > file > default).
pub fn audit_config(policy: &Policy) -> Result<AuditConfig, String> {
    let dyno = policy.dyno.clone();
    AuditConfig::from_vars(|name| {
        if name == "DYNO" {
            return dyno.clone();
        }
        policy.external.get(name).cloned()
    })
    .map_err(|e| e.to_string())
}

/// The response-header policy: HSTS, security headers, leak removal. Every value is checked
/// here, at boot and in `palisade check`, so a response never silently lacks a header.
pub fn response_headers(policy: &Policy) -> Result<ResponseHeaderPolicy, String> {
    let t = &policy.transport;
    let header = |name: &'static str, value: &str, override_app: bool| {
        AddedHeader::new(name, value, override_app)
            .map_err(|_| format!("response header {name}: {value:?} is not a valid header value"))
    };
    let mut add = Vec::new();
    if let Some(h) = &t.hsts {
        let value = ResponseHeaderPolicy::hsts_value(h.max_age, h.include_subdomains, h.preload);
        // Transport security is Palisade's job: its HSTS wins over an app's weaker one.
        add.push(header("strict-transport-security", &value, true)?);
    }
    if t.security_headers {
        for (name, value) in [
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "strict-origin-when-cross-origin"),
            ("x-frame-options", "SAMEORIGIN"),
        ] {
            add.push(header(name, value, t.override_app_headers)?);
        }
    }
    if let Some(pp) = &t.permissions_policy {
        add.push(header("permissions-policy", pp, t.override_app_headers)?);
    }
    let remove = if t.hide_server_headers {
        vec![
            HeaderName::from_static("server"),
            HeaderName::from_static("x-powered-by"),
        ]
    } else {
        Vec::new()
    };
    Ok(ResponseHeaderPolicy { add, remove })
}

/// The policy summary the HIPAA checklist and the report read. `rules_version` is the ruleset
/// in force (at boot a signed bundle may replace the embedded one).
pub fn policy_summary(policy: &Policy, audit: &AuditConfig, rules_version: &str) -> PolicySummary {
    let ext = |s: settings::Setting| policy.external.contains_key(s.env);
    let access_yaml = policy
        .config_text
        .as_deref()
        .is_some_and(|t| t.lines().any(|l| l.starts_with("access:")));
    PolicySummary {
        mode: match policy.mode {
            Mode::Block => palisade_audit::Mode::Block,
            Mode::Monitor => palisade_audit::Mode::Monitor,
        },
        paranoia: policy.paranoia,
        https_redirect: policy.transport.https_redirect,
        hsts: policy.transport.hsts.is_some(),
        hsts_max_age: policy.transport.hsts.as_ref().map_or(0, |h| h.max_age),
        tls_terminated_by_palisade: policy.tls.is_some(),
        tls_min_version: policy.tls.as_ref().map(|t| format!("{:?}", t.min_version)),
        ip_controls: access_yaml || ext(settings::IP_ALLOWLIST) || ext(settings::IP_BLOCKLIST),
        geo_controls: ext(settings::GEO_ALLOW_COUNTRIES) || ext(settings::GEO_BLOCK_COUNTRIES),
        rate_limits: ext(settings::RATE_LIMIT) || ext(settings::RATE_LIMITS),
        audit_key_set: audit.hmac_key.is_some(),
        alerts_configured: !audit.webhooks.is_empty(),
        phi_redaction: true,
        mask_path_ids: audit.mask_path_ids,
        rules_version: rules_version.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use palisade_policy::Inputs;

    fn policy(env: &[(&str, &str)], file: Option<&str>) -> Policy {
        let inputs = Inputs {
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            file: file.map(|t| ("palisade.yml".into(), t.to_string())),
        };
        palisade_policy::load(&inputs).unwrap()
    }

    fn limiter(
        env: &[(&str, &str)],
        file: Option<&str>,
        verify: Option<&str>,
    ) -> Result<Option<SharedLimiter>, String> {
        let p = policy(env, file);
        shared_limiter(&p, &access_config(&p)?, verify)
    }

    #[test]
    fn redis_url_source_names_the_setting() {
        let heroku = policy(&[("REDIS_URL", "rediss://:pw@h:1")], None);
        assert_eq!(RedisUrlSource::of(&heroku), RedisUrlSource::HerokuRedisUrl);
        let both = policy(
            &[
                ("REDIS_URL", "rediss://:pw@h:1"),
                ("PALISADE_REDIS_URL", "rediss://:pw@h:2"),
            ],
            None,
        );
        assert_eq!(RedisUrlSource::of(&both), RedisUrlSource::PalisadeVar);
        let file = policy(&[], Some("access:\n  redis:\n    url: rediss://h:3\n"));
        assert_eq!(RedisUrlSource::of(&file), RedisUrlSource::File);
    }

    #[test]
    fn tls_verification_defaults_off_only_for_herokus_redis_url() {
        use RedisUrlSource::*;
        assert!(!redis_tls_verify(HerokuRedisUrl, None, None).unwrap());
        assert!(redis_tls_verify(PalisadeVar, None, None).unwrap());
        assert!(redis_tls_verify(File, None, None).unwrap());
        assert!(redis_tls_verify(HerokuRedisUrl, Some("true"), None).unwrap());
        assert!(!redis_tls_verify(PalisadeVar, Some("false"), None).unwrap());
        // palisade.yml's access.redis.tls_verify, overridden by the config var.
        assert!(!redis_tls_verify(File, None, Some(false)).unwrap());
        assert!(redis_tls_verify(HerokuRedisUrl, None, Some(true)).unwrap());
        assert!(redis_tls_verify(File, Some("true"), Some(false)).unwrap());
        let err = redis_tls_verify(PalisadeVar, Some("maybe"), None).unwrap_err();
        assert!(
            err.contains(REDIS_TLS_VERIFY) && err.contains("maybe"),
            "{err}"
        );
    }

    #[test]
    fn rediss_urls_build_a_tls_limiter_and_bad_urls_name_their_variable() {
        let shared = limiter(&[("REDIS_URL", "rediss://:pw@127.0.0.1:6380")], None, None)
            .unwrap()
            .unwrap();
        assert!(shared.url().tls);
        let plain = limiter(
            &[("PALISADE_REDIS_URL", "redis://127.0.0.1:6379")],
            None,
            None,
        )
        .unwrap()
        .unwrap();
        assert!(!plain.url().tls);
        assert!(limiter(&[], None, None).unwrap().is_none());

        let err = limiter(
            &[("PALISADE_REDIS_URL", "rediss://:secret@host:notaport")],
            None,
            None,
        )
        .unwrap_err();
        assert!(err.contains("PALISADE_REDIS_URL"), "{err}");
        assert!(!err.contains("secret"), "{err}");
        let err = limiter(&[("REDIS_URL", "http://:secret@host")], None, None).unwrap_err();
        assert!(err.contains("config var REDIS_URL"), "{err}");
        assert!(!err.contains("secret"), "{err}");
        let err = limiter(
            &[],
            Some("access:\n  redis:\n    url: redis://h:99999\n"),
            None,
        )
        .unwrap_err();
        assert!(err.contains("access.redis.url"), "{err}");
        // A bad verify value is refused even before Redis is attached.
        let err = limiter(&[], None, Some("sometimes")).unwrap_err();
        assert!(err.contains(REDIS_TLS_VERIFY), "{err}");
    }

    #[test]
    fn hipaa_fix_hints_name_real_settings() {
        for name in palisade_audit::hipaa::vars::ALL {
            assert!(
                palisade_policy::settings::ALL
                    .iter()
                    .any(|s| s.env == *name),
                "the HIPAA checklist names {name}, which is not a setting"
            );
        }
    }
}
