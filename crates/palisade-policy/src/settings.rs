//! The table of every setting: config var, `palisade.yml` key, default, meaning, example.
//!
//! This table is the single source of truth for `docs/configuration.md` (a test checks that every
//! row appears there) and for `palisade check`, which prints each effective value with its source.

/// One documented setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// Environment variable (Heroku config var).
    pub env: &'static str,
    /// Dotted key in `palisade.yml`, or `""` when the setting is environment-only.
    pub key: &'static str,
    /// Default, as a user would write it.
    pub default: &'static str,
    /// What it does, for a busy reader.
    pub meaning: &'static str,
    /// An example value.
    pub example: &'static str,
}

macro_rules! settings {
    ($( $(#[$doc:meta])* $name:ident = ($env:expr, $key:expr, $default:expr, $meaning:expr, $example:expr); )*) => {
        $( $(#[$doc])* pub const $name: Setting = Setting { env: $env, key: $key, default: $default, meaning: $meaning, example: $example }; )*
        /// Every setting, in documentation order.
        pub const ALL: &[Setting] = &[ $( $name ),* ];
    };
}

settings! {
    /// Kill switch.
    ENABLED = ("PALISADE_ENABLED", "", "true",
        "Kill switch. `false` makes `palisade run` start the app directly on the public port with a loud warning: NO protection.",
        "false");
    /// Config file path.
    CONFIG = ("PALISADE_CONFIG", "", "palisade.yml",
        "Path of the optional YAML policy file (relative to the app directory). A missing default file is fine; a missing file you named is an error.",
        "config/palisade.yml");
    /// Public port.
    PORT = ("PORT", "", "(set by Heroku)",
        "Public port Palisade listens on (0.0.0.0 and [::]). Heroku sets it.",
        "5000");
    /// Public port when profile.d remapped PORT.
    PUBLIC_PORT = ("PALISADE_PUBLIC_PORT", "", "(unset)",
        "Public port, when set it wins over PORT. The buildpack's .profile.d script sets it for web dynos and gives the app a private PORT.",
        "5000");
    /// App port.
    APP_PORT = ("PALISADE_APP_PORT", "app_port", "(a free loopback port)",
        "Private loopback port for the app. The app is started with PORT set to it. Must differ from the public port.",
        "3000");
    /// Upstream for proxy-only mode.
    UPSTREAM = ("PALISADE_UPSTREAM", "upstream", "(unset)",
        "Proxy-only mode: forward to this HOST:PORT instead of starting a child process (same as `--upstream`).",
        "127.0.0.1:8080");
    /// Boot wait.
    BOOT_TIMEOUT = ("PALISADE_BOOT_TIMEOUT", "boot_timeout", "60s",
        "How long requests are held while the app boots; after that they get 503 with Retry-After.",
        "90s");
    /// Drain.
    DRAIN_TIMEOUT = ("PALISADE_DRAIN_TIMEOUT", "drain_timeout", "20s",
        "On SIGTERM, how long in-flight requests may take to finish before Palisade exits (max 25s: Heroku kills at 30s).",
        "10s");
    /// Downstream keep-alive.
    KEEPALIVE_TIMEOUT = ("PALISADE_KEEPALIVE_TIMEOUT", "keepalive_timeout", "120s",
        "Idle keep-alive timeout for client connections. Keep it longer than the Heroku router's idle timeout so the router closes first.",
        "180s");
    /// Connect timeout.
    UPSTREAM_CONNECT_TIMEOUT = ("PALISADE_UPSTREAM_CONNECT_TIMEOUT", "upstream_connect_timeout", "5s",
        "Timeout for connecting to the app.",
        "2s");
    /// Read timeout.
    UPSTREAM_READ_TIMEOUT = ("PALISADE_UPSTREAM_READ_TIMEOUT", "upstream_read_timeout", "30s",
        "How long to wait for the app between reads (first byte, then each chunk). Expiry answers 504. Heroku's router gives up at 30s.",
        "60s");
    /// Worker threads.
    THREADS = ("PALISADE_THREADS", "threads", "(CPU count)",
        "Proxy worker threads.",
        "2");
    /// WAF mode.
    MODE = ("PALISADE_MODE", "mode", "block",
        "`block` answers 403 when the anomaly score reaches the threshold; `monitor` only logs what would have been blocked.",
        "monitor");
    /// Paranoia level.
    PARANOIA = ("PALISADE_PARANOIA", "paranoia", "1",
        "Rule paranoia level 1-4. Higher catches more and blocks more benign traffic.",
        "2");
    /// Anomaly threshold.
    ANOMALY_THRESHOLD = ("PALISADE_ANOMALY_THRESHOLD", "anomaly_threshold", "5",
        "Anomaly score at which a request is blocked (one critical rule scores 5).",
        "10");
    /// Body inspection limit.
    MAX_INSPECT_BODY = ("PALISADE_MAX_INSPECT_BODY", "max_inspect_body", "1MiB",
        "Request bodies up to this size are buffered and inspected before the app sees a byte.",
        "4MiB");
    /// What to do with bodies over the inspection limit.
    OVERSIZE_BODY = ("PALISADE_OVERSIZE_BODY", "oversize_body", "reject",
        "Bodies over max_inspect_body: `reject` answers 413 (in block mode); `pass` forwards them uninspected (logged).",
        "pass");
    /// Access log on/off.
    ACCESS_LOG = ("PALISADE_ACCESS_LOG", "access_log", "true",
        "One JSON line per request on stdout. Security events are always logged.",
        "false");
    // --- Rule updates (issue #10) ---
    /// Ruleset bundle URL.
    RULES_URL = ("PALISADE_RULES_URL", "rules_url", "(unset)",
        "Poll this URL for signed ruleset bundles and swap each newer one in without a restart. A bundle that fails its signature, checksums or version checks, or cannot be fetched, changes nothing (audited). `https://` needs a TLS-enabled build.",
        "https://rules.example.org/palisade.bundle");
    /// Poll interval.
    RULES_POLL_INTERVAL = ("PALISADE_RULES_POLL_INTERVAL", "rules_poll_interval", "15m",
        "Time between polls of the rules URL (1s to 24h; jitter only shortens it, failures back off up to 8x). Uses ETag/If-None-Match.",
        "1h");
    /// Extra trusted signing key.
    RULES_PUBKEY = ("PALISADE_RULES_PUBKEY", "rules_pubkey", "(unset)",
        "One more Ed25519 public key (64 hex digits, from `palisade rules keygen`) trusted to sign bundles, besides the compiled-in project key: for organisations publishing their own virtual patches.",
        "d14ab2644b7cb2483d224e875f193ace61dbd10b9d64b62ce0ee4899a8a88ba6");
    /// Bundle file loaded at boot.
    RULES_BUNDLE = ("PALISADE_RULES_BUNDLE", "rules_bundle", "(unset)",
        "A signed bundle file to load at boot instead of the embedded rulesets (the buildpack fetches one at build time). A refused file leaves the embedded rules in force.",
        ".palisade/rules.bundle");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_are_unique_and_prefixed() {
        let mut seen = std::collections::HashSet::new();
        for s in ALL {
            assert!(seen.insert(s.env), "duplicate {}", s.env);
            assert!(
                s.env.starts_with("PALISADE_") || s.env == "PORT",
                "{} lacks the PALISADE_ prefix",
                s.env
            );
            assert!(!s.meaning.is_empty() && !s.example.is_empty());
        }
    }
}

/// The settings table as Markdown (one row per setting), embedded in `docs/configuration.md`.
pub fn markdown_table() -> String {
    let mut s = String::from(
        "| Config var | `palisade.yml` key | Default | Meaning | Example |\n|---|---|---|---|---|\n",
    );
    for st in ALL {
        let key = if st.key.is_empty() {
            "—".to_string()
        } else {
            format!("`{}`", st.key)
        };
        s.push_str(&format!(
            "| `{}` | {} | {} | {} | `{}` |\n",
            st.env,
            key,
            st.default,
            st.meaning.replace('|', "\\|"),
            st.example
        ));
    }
    s
}

#[cfg(test)]
mod doc_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const BEGIN: &str =
        "<!-- settings-table:begin (generated from crates/palisade-policy/src/settings.rs) -->\n";
    const END: &str = "<!-- settings-table:end -->";

    /// `docs/configuration.md` must carry the current table. `UPDATE_DOCS=1 cargo test -p
    /// palisade-policy` rewrites it.
    #[test]
    fn configuration_doc_lists_every_setting() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md");
        let doc = std::fs::read_to_string(path).unwrap();
        let (Some(b), Some(e)) = (doc.find(BEGIN), doc.find(END)) else {
            panic!("docs/configuration.md lacks the settings-table markers");
        };
        let current = &doc[b + BEGIN.len()..e];
        let want = markdown_table();
        if current != want {
            if std::env::var_os("UPDATE_DOCS").is_some() {
                let new = format!("{}{}{}{}", &doc[..b], BEGIN, want, &doc[e..]);
                std::fs::write(path, new).unwrap();
            } else {
                panic!("docs/configuration.md is out of date: run UPDATE_DOCS=1 cargo test -p palisade-policy");
            }
        }
    }
}
