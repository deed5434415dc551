//! Audit configuration: what the lead builds from the validated policy (or from environment variables
//! with [`AuditConfig::from_vars`]).

use std::fmt;
use std::time::Duration;

use crate::alert::url::WebhookUrl;
use crate::redact::sanitize_dyno;

/// Line format on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// JSON Lines with flat dotted ECS keys (the default; the only format `report` reads).
    #[default]
    Json,
    /// ArcSight Common Event Format.
    Cef,
    /// l2met / logfmt `key=value`.
    L2met,
}

impl LogFormat {
    /// Parses `json`, `cef` or `l2met` (case-insensitive).
    pub fn parse(value: &str) -> Result<Self, ConfigError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(LogFormat::Json),
            "cef" => Ok(LogFormat::Cef),
            "l2met" | "logfmt" => Ok(LogFormat::L2met),
            _ => Err(ConfigError::new(
                vars::LOG_FORMAT,
                value,
                "one of json, cef, l2met",
            )),
        }
    }
}

/// Body shape of a webhook call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookKind {
    /// A JSON object with counts, top rules and samples (see docs/audit-log.md).
    Generic,
    /// Slack-compatible `{"text": "..."}` (also understood by Mattermost, Rocket.Chat, Teams workflows).
    Slack,
}

/// One alert destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Where to POST.
    pub url: WebhookUrl,
    /// Body shape.
    pub kind: WebhookKind,
}

impl Webhook {
    /// Parses `URL`, `json:URL` or `slack:URL`; a bare URL on `hooks.slack.com` is Slack, else generic.
    pub fn parse(spec: &str) -> Result<Self, ConfigError> {
        let spec = spec.trim();
        let (kind, url) = if let Some(rest) = spec.strip_prefix("slack:") {
            (Some(WebhookKind::Slack), rest)
        } else if let Some(rest) = spec.strip_prefix("json:") {
            (Some(WebhookKind::Generic), rest)
        } else {
            (None, spec)
        };
        let url = WebhookUrl::parse(url).map_err(|why| {
            ConfigError::new(
                vars::ALERT_WEBHOOKS,
                &WebhookUrl::redacted_text(url),
                &format!("an http:// or https:// URL ({why})"),
            )
        })?;
        let kind = kind.unwrap_or(if url.host.eq_ignore_ascii_case("hooks.slack.com") {
            WebhookKind::Slack
        } else {
            WebhookKind::Generic
        });
        Ok(Webhook { url, kind })
    }
}

/// Everything the audit sink needs.
#[derive(Clone, PartialEq, Eq)]
pub struct AuditConfig {
    /// Line format.
    pub format: LogFormat,
    /// HMAC-SHA256 key for the hash chain; `None` means a plain SHA-256 chain.
    pub hmac_key: Option<Vec<u8>>,
    /// Mask identifier-like path segments (numbers, UUIDs, MRN-like tokens, e-mails). Default on.
    pub mask_path_ids: bool,
    /// Dyno name (`DYNO`), sanitised; `local` off Heroku.
    pub dyno: String,
    /// Alert destinations; empty disables alerts (no alert thread is started).
    pub webhooks: Vec<Webhook>,
    /// Aggregation window for alerts.
    pub alert_window: Duration,
    /// Most webhook calls per destination per window.
    pub alert_max_per_window: u32,
    /// Include client IPs in alerts (off: alert channels such as Slack are rarely covered by a BAA).
    pub alert_client_ips: bool,
    /// How often the summary (counters) event is written.
    pub summary_interval: Duration,
    /// Events queued for the writer before new ones are dropped (and counted).
    pub queue_capacity: usize,
    /// Security events queued for the alert task before new ones are dropped (and counted).
    pub alert_queue_capacity: usize,
}

impl fmt::Debug for AuditConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditConfig")
            .field("format", &self.format)
            .field("hmac_key", &self.hmac_key.as_ref().map(|_| "<set>"))
            .field("mask_path_ids", &self.mask_path_ids)
            .field("dyno", &self.dyno)
            .field(
                "webhooks",
                &self
                    .webhooks
                    .iter()
                    .map(|w| w.url.redacted())
                    .collect::<Vec<_>>(),
            )
            .field("alert_window", &self.alert_window)
            .field("alert_max_per_window", &self.alert_max_per_window)
            .field("alert_client_ips", &self.alert_client_ips)
            .field("summary_interval", &self.summary_interval)
            .field("queue_capacity", &self.queue_capacity)
            .field("alert_queue_capacity", &self.alert_queue_capacity)
            .finish()
    }
}

/// Default values, named.
pub mod defaults {
    use std::time::Duration;
    /// Alert aggregation window.
    pub const ALERT_WINDOW: Duration = Duration::from_secs(10);
    /// Webhook calls per destination per window.
    pub const ALERT_MAX_PER_WINDOW: u32 = 2;
    /// Summary event interval.
    pub const SUMMARY_INTERVAL: Duration = Duration::from_secs(60);
    /// Writer queue length (events).
    pub const QUEUE_CAPACITY: usize = 65_536;
    /// Alert queue length (security events).
    pub const ALERT_QUEUE_CAPACITY: usize = 4_096;
    /// Shortest accepted HMAC key, bytes.
    pub const MIN_KEY_BYTES: usize = 16;
}

/// Environment variable names read by [`AuditConfig::from_vars`].
pub mod vars {
    /// `json`, `cef` or `l2met`.
    pub const LOG_FORMAT: &str = "PALISADE_LOG_FORMAT";
    /// HMAC key (any string of 16+ bytes; `openssl rand -hex 32` recommended).
    pub const AUDIT_KEY: &str = "PALISADE_AUDIT_KEY";
    /// `true`/`false`.
    pub const MASK_PATH_IDS: &str = "PALISADE_MASK_PATH_IDS";
    /// Comma-separated webhook specs (`slack:URL`, `json:URL` or `URL`).
    pub const ALERT_WEBHOOKS: &str = "PALISADE_ALERT_WEBHOOKS";
    /// Alert window in seconds.
    pub const ALERT_WINDOW: &str = "PALISADE_ALERT_WINDOW";
    /// Webhook calls per destination per window.
    pub const ALERT_MAX_PER_WINDOW: &str = "PALISADE_ALERT_MAX_PER_WINDOW";
    /// `true`/`false`: client IPs in alerts.
    pub const ALERT_CLIENT_IPS: &str = "PALISADE_ALERT_CLIENT_IPS";
    /// Heroku's dyno name.
    pub const DYNO: &str = "DYNO";
}

impl Default for AuditConfig {
    /// JSON, no key, path ids masked, no alerts, dyno from `DYNO` (or `local`).
    fn default() -> Self {
        AuditConfig {
            format: LogFormat::Json,
            hmac_key: None,
            mask_path_ids: true,
            dyno: sanitize_dyno(&std::env::var(vars::DYNO).unwrap_or_default()),
            webhooks: Vec::new(),
            alert_window: defaults::ALERT_WINDOW,
            alert_max_per_window: defaults::ALERT_MAX_PER_WINDOW,
            alert_client_ips: false,
            summary_interval: defaults::SUMMARY_INTERVAL,
            queue_capacity: defaults::QUEUE_CAPACITY,
            alert_queue_capacity: defaults::ALERT_QUEUE_CAPACITY,
        }
    }
}

impl AuditConfig {
    /// Builds a config from variables looked up by `get` (pass `|k| std::env::var(k).ok()`); unset
    /// variables keep their defaults. Errors name the variable, the value and what is allowed.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut c = AuditConfig {
            dyno: sanitize_dyno(&get(vars::DYNO).unwrap_or_default()),
            ..AuditConfig::default()
        };
        if let Some(v) = get(vars::LOG_FORMAT) {
            c.format = LogFormat::parse(&v)?;
        }
        if let Some(v) = get(vars::AUDIT_KEY) {
            c.hmac_key = Some(v.into_bytes());
        }
        if let Some(v) = get(vars::MASK_PATH_IDS) {
            c.mask_path_ids = parse_bool(vars::MASK_PATH_IDS, &v)?;
        }
        if let Some(v) = get(vars::ALERT_CLIENT_IPS) {
            c.alert_client_ips = parse_bool(vars::ALERT_CLIENT_IPS, &v)?;
        }
        if let Some(v) = get(vars::ALERT_WEBHOOKS) {
            c.webhooks = v
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(Webhook::parse)
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = get(vars::ALERT_WINDOW) {
            let secs = parse_range(
                vars::ALERT_WINDOW,
                &v,
                1,
                3600,
                "whole seconds from 1 to 3600",
            )?;
            c.alert_window = Duration::from_secs(secs);
        }
        if let Some(v) = get(vars::ALERT_MAX_PER_WINDOW) {
            c.alert_max_per_window = parse_range(
                vars::ALERT_MAX_PER_WINDOW,
                &v,
                1,
                100,
                "a whole number from 1 to 100",
            )? as u32;
        }
        c.validate()?;
        Ok(c)
    }

    /// Checks values a struct literal could get wrong.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(key) = &self.hmac_key {
            if key.len() < defaults::MIN_KEY_BYTES {
                return Err(ConfigError::new(
                    vars::AUDIT_KEY,
                    &format!("<secret, {} bytes>", key.len()),
                    &format!(
                        "at least {} bytes (try `openssl rand -hex 32`)",
                        defaults::MIN_KEY_BYTES
                    ),
                ));
            }
        }
        if self.alert_window.is_zero() {
            return Err(ConfigError::new(
                vars::ALERT_WINDOW,
                "0",
                "whole seconds from 1 to 3600",
            ));
        }
        if self.alert_max_per_window == 0 {
            return Err(ConfigError::new(
                vars::ALERT_MAX_PER_WINDOW,
                "0",
                "a whole number from 1 to 100",
            ));
        }
        if self.queue_capacity == 0 || self.alert_queue_capacity == 0 {
            return Err(ConfigError::new("queue_capacity", "0", "at least 1"));
        }
        if self.summary_interval.is_zero() {
            return Err(ConfigError::new(
                "summary_interval",
                "0",
                "a positive duration",
            ));
        }
        Ok(())
    }
}

fn parse_bool(key: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::new(key, value, "true or false")),
    }
}

fn parse_range(
    key: &str,
    value: &str,
    min: u64,
    max: u64,
    allowed: &str,
) -> Result<u64, ConfigError> {
    match value.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ConfigError::new(key, value, allowed)),
    }
}

/// A bad configuration value: which key, what value, what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Variable or key name.
    pub key: String,
    /// The offending value (secrets are replaced by a size note, URLs lose their path).
    pub value: String,
    /// What would be accepted.
    pub allowed: String,
}

impl ConfigError {
    fn new(key: &str, value: &str, allowed: &str) -> Self {
        ConfigError {
            key: key.to_owned(),
            value: value.to_owned(),
            allowed: allowed.to_owned(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {}={:?}: expected {}",
            self.key, self.value, self.allowed
        )
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<AuditConfig, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        AuditConfig::from_vars(|k| map.get(k).cloned())
    }

    #[test]
    fn variables_are_read() {
        let c = from(&[
            ("DYNO", "web.3"),
            ("PALISADE_LOG_FORMAT", "L2MET"),
            ("PALISADE_AUDIT_KEY", "0123456789abcdef0123"),
            ("PALISADE_MASK_PATH_IDS", "off"),
            (
                "PALISADE_ALERT_WEBHOOKS",
                "slack:https://hooks.example.com/T/B/x, http://127.0.0.1:9/h",
            ),
            ("PALISADE_ALERT_WINDOW", "30"),
        ])
        .unwrap();
        assert_eq!(c.dyno, "web.3");
        assert_eq!(c.format, LogFormat::L2met);
        assert!(c.hmac_key.is_some() && !c.mask_path_ids);
        assert_eq!(c.webhooks.len(), 2);
        assert_eq!(c.webhooks[0].kind, WebhookKind::Slack);
        assert_eq!(c.webhooks[1].kind, WebhookKind::Generic);
        assert_eq!(c.alert_window, Duration::from_secs(30));
        assert_eq!(from(&[]).unwrap().dyno, "local");
    }

    #[test]
    fn errors_name_key_value_and_allowed() {
        let e = from(&[("PALISADE_LOG_FORMAT", "xml")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid PALISADE_LOG_FORMAT=\"xml\": expected one of json, cef, l2met"
        );
        let e = from(&[("PALISADE_AUDIT_KEY", "short")]).unwrap_err();
        assert_eq!(e.key, "PALISADE_AUDIT_KEY");
        assert!(!e.to_string().contains("short"), "secret echoed: {e}");
        let e = from(&[("PALISADE_ALERT_WEBHOOKS", "ftp://example.org/secret-token")]).unwrap_err();
        assert_eq!(e.key, "PALISADE_ALERT_WEBHOOKS");
        assert!(
            !e.to_string().contains("secret-token"),
            "URL path echoed: {e}"
        );
        assert_eq!(
            from(&[("PALISADE_ALERT_WINDOW", "0")]).unwrap_err().key,
            "PALISADE_ALERT_WINDOW"
        );
        assert_eq!(
            from(&[("PALISADE_MASK_PATH_IDS", "maybe")])
                .unwrap_err()
                .allowed,
            "true or false"
        );
    }

    #[test]
    fn debug_hides_secrets() {
        let c = from(&[
            ("PALISADE_AUDIT_KEY", "super-secret-key-material"),
            (
                "PALISADE_ALERT_WEBHOOKS",
                "https://hooks.slack.com/services/T0/B0/SECRET",
            ),
        ])
        .unwrap();
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("super-secret") && !dbg.contains("SECRET"),
            "{dbg}"
        );
    }
}
