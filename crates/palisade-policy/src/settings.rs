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
    /// HTTP/1 lane on/off.
    HTTP1_LANE = ("PALISADE_HTTP1_LANE", "http1_lane", "true",
        "Serve plain HTTP/1.1 requests (GET, HEAD, DELETE and OPTIONS without a body; POST, PUT and PATCH with a Content-Length body up to 1 MiB) through Palisade's own HTTP/1 lane (same checks, same logs, about half the CPU per small request). `false` sends every request through Pingora's proxy instead: an escape hatch if you suspect the lane, not a security setting.",
        "false");
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
        "Request bodies up to this size are buffered and inspected before the app sees a byte. A gzip or deflate body is inflated for inspection up to this size too (past it: rule 100370).",
        "4MiB");
    /// What to do with bodies over the inspection limit.
    OVERSIZE_BODY = ("PALISADE_OVERSIZE_BODY", "oversize_body", "reject",
        "Bodies over max_inspect_body: `reject` answers 413 (in block mode); `pass` forwards them uninspected (logged). Binary media counts only if its first bytes are text. A compressed body that inflates past the limit is rule 100370 either way; exclude that rule where such bodies must pass.",
        "pass");
    /// HTTPS redirect.
    HTTPS_REDIRECT = ("PALISADE_HTTPS_REDIRECT", "https_redirect", "auto",
        "Redirect plain-HTTP requests (X-Forwarded-Proto: http from the trusted router) to HTTPS: 301 for GET/HEAD, 308 otherwise. `auto` = on behind the Heroku router (DYNO set); `off` for local development.",
        "off");
    /// Canonical host for redirects.
    CANONICAL_HOST = ("PALISADE_CANONICAL_HOST", "canonical_host", "(unset)",
        "Host every HTTPS redirect goes to. Unset: the request's own Host (only names allowed by allowed_hosts when that is set); never an attacker-chosen host when either is set.",
        "portal.example-clinic.org");
    /// Allowed hosts.
    ALLOWED_HOSTS = ("PALISADE_ALLOWED_HOSTS", "allowed_hosts", "(any)",
        "Comma-separated host names (`*.example.org` wildcards) that redirects may keep; any other Host gets 400 instead of a redirect.",
        "example-clinic.org,*.example-clinic.org");
    /// HSTS on/off.
    HSTS = ("PALISADE_HSTS", "hsts.enabled", "true",
        "Send Strict-Transport-Security on every response, Palisade's own pages included.",
        "true");
    /// HSTS max-age.
    HSTS_MAX_AGE = ("PALISADE_HSTS_MAX_AGE", "hsts.max_age", "63072000",
        "HSTS max-age in seconds (default two years).",
        "31536000");
    /// HSTS includeSubDomains.
    HSTS_INCLUDE_SUBDOMAINS = ("PALISADE_HSTS_INCLUDE_SUBDOMAINS", "hsts.include_subdomains", "true",
        "Add includeSubDomains to HSTS.",
        "false");
    /// HSTS preload.
    HSTS_PRELOAD = ("PALISADE_HSTS_PRELOAD", "hsts.preload", "false",
        "Add preload to HSTS (only after you have submitted the domain to the preload list).",
        "true");
    /// Security headers.
    SECURITY_HEADERS = ("PALISADE_SECURITY_HEADERS", "security_headers.enabled", "true",
        "Add X-Content-Type-Options: nosniff, Referrer-Policy: strict-origin-when-cross-origin, X-Frame-Options: SAMEORIGIN unless the app set them.",
        "false");
    /// Permissions-Policy.
    PERMISSIONS_POLICY = ("PALISADE_PERMISSIONS_POLICY", "security_headers.permissions_policy", "(unset)",
        "A Permissions-Policy header to add (unset by default: telehealth apps need camera and microphone).",
        "geolocation=(), payment=()");
    /// Override app headers.
    SECURITY_HEADERS_OVERRIDE = ("PALISADE_SECURITY_HEADERS_OVERRIDE", "security_headers.override", "false",
        "Replace security headers the app set itself (default: the app's values are respected).",
        "true");
    /// Strip leaky headers.
    HIDE_SERVER_HEADERS = ("PALISADE_HIDE_SERVER_HEADERS", "security_headers.hide_server", "true",
        "Remove Server and X-Powered-By from the app's responses.",
        "false");
    /// Client IP source.
    TRUSTED_PROXY = ("PALISADE_TRUSTED_PROXY", "access.client_ip.mode", "auto",
        "Where the client IP comes from: `heroku` (right-most X-Forwarded-For entry, appended by the router), `socket`, or `trusted_peers`. `auto` = heroku when DYNO is set. Spoofed left-most entries never count.",
        "socket");
    /// CDN ranges.
    TRUSTED_PROXY_IPS = ("PALISADE_TRUSTED_PROXY_IPS", "access.client_ip.trusted_proxies.ips", "(none)",
        "CIDRs of a CDN in front of the router, skipped from the right of X-Forwarded-For.",
        "173.245.48.0/20,2400:cb00::/32");
    /// Global allowlist.
    IP_ALLOWLIST = ("PALISADE_IP_ALLOWLIST", "access.allow.ips", "(none)",
        "Only these CIDRs may reach the app (comma-separated). Per-path allowlists (e.g. /admin/**) go in palisade.yml `access.paths`.",
        "198.51.100.0/24,2001:db8::/32");
    /// Global blocklist.
    IP_BLOCKLIST = ("PALISADE_IP_BLOCKLIST", "access.block.ips", "(none)",
        "CIDRs refused with 403 (comma-separated). List files (Tor exits, FireHOL) go in `access.block.files`.",
        "203.0.113.0/24");
    /// Geo database.
    GEO_DATABASE = ("PALISADE_GEO_DATABASE", "access.geo.database", "(none)",
        "MaxMind-format Country/City database (GeoLite2, GeoIP2, DB-IP lite). Also used to log the client's country.",
        ".palisade/GeoLite2-Country.mmdb");
    /// Geo allow.
    GEO_ALLOW_COUNTRIES = ("PALISADE_GEO_ALLOW_COUNTRIES", "access.geo.allow_countries", "(any)",
        "Only these ISO country codes may reach the app (comma-separated).",
        "US,CA");
    /// Geo block.
    GEO_BLOCK_COUNTRIES = ("PALISADE_GEO_BLOCK_COUNTRIES", "access.geo.block_countries", "(none)",
        "ISO country codes refused with 403 (comma-separated).",
        "KP,IR");
    /// Anonymous-IP database.
    ANONYMOUS_DATABASE = ("PALISADE_ANONYMOUS_DATABASE", "access.anonymous.database", "(none)",
        "GeoIP2 Anonymous-IP database.",
        ".palisade/GeoIP2-Anonymous-IP.mmdb");
    /// Anonymous categories.
    ANONYMOUS_BLOCK = ("PALISADE_ANONYMOUS_BLOCK", "access.anonymous.block", "(none)",
        "Anonymous-network categories refused with 403: vpn, tor, public_proxy, hosting, residential_proxy (comma-separated).",
        "tor,public_proxy");
    /// Global rate limit.
    RATE_LIMIT = ("PALISADE_RATE_LIMIT", "access.rate_limits.global", "(none)",
        "Per-client-IP limit over all requests, e.g. `600/minute` (burst defaults to the limit). Over it: 429 with Retry-After.",
        "600/minute");
    /// Per-route rate limits.
    RATE_LIMITS = ("PALISADE_RATE_LIMITS", "access.rate_limits.rules", "(none)",
        "Per-route limits, `;`-separated: METHOD PATH-PATTERN N/unit [burst=N] [key=ip|header:NAME].",
        "POST /login 5/minute; POST /api/** 100/minute key=header:X-Api-Key");
    /// Redis for shared limits.
    REDIS_URL = ("PALISADE_REDIS_URL", "access.redis.url", "(REDIS_URL if set)",
        "Redis shared by every dyno for rate limits and bans (redis:// or rediss://). Unreachable: local limits, a warning once a minute.",
        "rediss://:secret@host:6380");
    /// Redis TLS certificate verification.
    REDIS_TLS_VERIFY = ("PALISADE_REDIS_TLS_VERIFY", "access.redis.tls_verify", "true (false for Heroku's REDIS_URL)",
        "For rediss://, whether the Redis server's certificate must chain to the system CA bundle (or SSL_CERT_FILE) and match the host. Heroku Redis certificates are self-signed, so its REDIS_URL is encrypted but not verified unless this is true.",
        "false");
    /// Log format.
    LOG_FORMAT = ("PALISADE_LOG_FORMAT", "audit.format", "json",
        "Audit line format on stdout: json (ECS names), cef, or l2met key=value.",
        "cef");
    /// Audit HMAC key.
    AUDIT_KEY = ("PALISADE_AUDIT_KEY", "", "(unset: plain SHA-256 chain)",
        "Secret (≥ 16 bytes) that keys the audit hash chain (HMAC-SHA256); `palisade audit verify --key` checks it. Config var only: never commit it.",
        "$(openssl rand -hex 32)");
    /// Mask ids in paths.
    MASK_PATH_IDS = ("PALISADE_MASK_PATH_IDS", "audit.mask_path_ids", "true",
        "Mask path segments that look like identifiers (digits, UUIDs, MRN-like tokens, emails) in audit lines.",
        "false");
    /// Alert webhooks.
    ALERT_WEBHOOKS = ("PALISADE_ALERT_WEBHOOKS", "audit.alert_webhooks", "(none)",
        "Comma-separated webhook URLs for security alerts; prefix `slack:` for Slack-compatible payloads.",
        "slack:https://hooks.slack.com/services/T000/B000/XXX");
    /// Alert window.
    ALERT_WINDOW = ("PALISADE_ALERT_WINDOW", "audit.alert_window", "10",
        "Seconds over which security events are aggregated into one alert.",
        "60");
    /// Alert cap.
    ALERT_MAX_PER_WINDOW = ("PALISADE_ALERT_MAX_PER_WINDOW", "audit.alert_max_per_window", "2",
        "Most webhook calls per window (floods become one summary).",
        "5");
    /// Alert client IPs.
    ALERT_CLIENT_IPS = ("PALISADE_ALERT_CLIENT_IPS", "audit.alert_client_ips", "false",
        "Include client IPs in alerts (they may be personal data under your policies).",
        "true");
    /// Access log on/off.
    ACCESS_LOG = ("PALISADE_ACCESS_LOG", "access_log", "true",
        "One JSON line per request on stdout. Security events are always logged.",
        "false");
    // --- TLS (issue #5) ---
    /// Default certificate chain.
    TLS_CERT = ("PALISADE_TLS_CERT", "tls.cert", "(unset: no TLS)",
        "Native TLS (not needed on Heroku, whose router terminates TLS): the default certificate chain, leaf first, as PEM text or the path of a PEM file. Needs PALISADE_TLS_KEY. Expired or unreadable: Palisade refuses to start. See docs/tls.md.",
        "/etc/palisade/site.crt");
    /// Default private key.
    TLS_KEY = ("PALISADE_TLS_KEY", "tls.key", "(unset)",
        "Private key of PALISADE_TLS_CERT, as PEM text or the path of a PEM file (a path only in palisade.yml: never commit a key). Must match the certificate. Never printed.",
        "/etc/palisade/site.key");
    /// Extra certificates for SNI.
    TLS_CERTS_DIR = ("PALISADE_TLS_CERTS_DIR", "tls.certs_dir", "(unset)",
        "Directory of more NAME.crt + NAME.key pairs; each certificate is served to clients asking (SNI) for a DNS name in its subjectAltName. Other names get PALISADE_TLS_CERT. Reloaded with the default certificate on SIGHUP.",
        "/etc/palisade/certs");
    /// TLS port.
    TLS_PORT = ("PALISADE_TLS_PORT", "tls.port", "(the public port)",
        "Port TLS listens on. Unset (or equal to the public port): the public port speaks TLS only and plain HTTP is refused. Another port: TLS there, and the public port keeps serving plain HTTP (required on Heroku, where the router speaks plain HTTP to PORT).",
        "5443");
    /// Lowest TLS version.
    TLS_MIN_VERSION = ("PALISADE_TLS_MIN_VERSION", "tls.min_version", "1.3",
        "`1.3`: TLS 1.3 only. `1.2`: also TLS 1.2 with NIST SP 800-52r2 suites (ECDHE with AES-GCM or ChaCha20-Poly1305: no CBC, no RSA key exchange, no SHA-1). Nothing older is possible.",
        "1.2");
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
    // --- Limits and slow clients (issue #8) ---
    /// Request target length.
    MAX_URI_LENGTH = ("PALISADE_MAX_URI_LENGTH", "limits.max_uri_length", "8KiB",
        "Longest request target (path and query) accepted; longer gets 414. Pingora itself refuses a whole request head over 1 MiB with 400.",
        "16KiB");
    /// Header count.
    MAX_HEADER_COUNT = ("PALISADE_MAX_HEADER_COUNT", "limits.max_header_count", "100",
        "Most request header fields accepted (1-256); more gets 431. Pingora itself refuses more than 256 with 400.",
        "64");
    /// Total header bytes.
    MAX_HEADER_BYTES = ("PALISADE_MAX_HEADER_BYTES", "limits.max_header_bytes", "32KiB",
        "Largest total size of the request header fields (names + values); more gets 431.",
        "64KiB");
    /// Whole-body limit.
    MAX_BODY = ("PALISADE_MAX_BODY", "limits.max_body", "100MiB",
        "Largest request body accepted at all, inspected or not (`off` = no limit); more gets 413, before the app sees the body when Content-Length says so, otherwise when the limit is crossed.",
        "20MiB");
    /// Query argument count.
    MAX_ARGS = ("PALISADE_MAX_ARGS", "limits.max_args", "256",
        "Most query-string arguments accepted; more gets 400.",
        "100");
    /// Total deadline for the request head.
    HEADER_TIMEOUT = ("PALISADE_HEADER_TIMEOUT", "limits.header_timeout", "10s",
        "Total time a client has to send a request head, from the connection (or, on a kept-alive connection, the head's first byte) to its end; a slowloris client trickling bytes cannot extend it. Over it the connection is closed.",
        "5s");
    /// Minimum body rate.
    MIN_BODY_RATE = ("PALISADE_MIN_BODY_RATE", "limits.min_body_rate", "1KiB",
        "Slowest average request-body upload accepted, in bytes per second, judged after body_rate_grace (`off` = no minimum); slower gets 408.",
        "4KiB");
    /// Grace before the body rate is judged.
    BODY_RATE_GRACE = ("PALISADE_BODY_RATE_GRACE", "limits.body_rate_grace", "10s",
        "How long a body may take before min_body_rate applies; also the longest a body may stall between two reads.",
        "30s");
    /// Per-client concurrency.
    MAX_CONCURRENT_PER_IP = ("PALISADE_MAX_CONCURRENT_PER_IP", "limits.max_concurrent_per_ip", "64",
        "Most requests one client IP (the trusted-proxy client IP) may have in flight at once (`off` = no cap); more gets 429 with Retry-After.",
        "16");
    /// Global in-flight cap.
    MAX_INFLIGHT = ("PALISADE_MAX_INFLIGHT", "limits.max_inflight", "1024",
        "Most requests in flight in this process (`off` = no cap); over it new requests are shed with 503 and Retry-After before they reach the app.",
        "256");
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
