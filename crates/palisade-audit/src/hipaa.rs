//! The HIPAA Security Rule checklist behind `palisade check --hipaa` and the report.
//!
//! [`hipaa_checklist`] maps the effective policy ([`PolicySummary`]) to items under §164.312(a)(1),
//! §164.312(b), §164.312(e)(1), §164.306(a) and §164.308(a)(1), each pass / warn / fail with the config
//! change that fixes it, followed by the safeguards Palisade cannot provide (marked "not covered").
//! A checklist is an aid for your own risk analysis, not a compliance certificate.

use serde::{Deserialize, Serialize};

use crate::html::push_escaped;

/// One year in seconds: the HSTS max-age browsers' preload lists expect.
pub const HSTS_RECOMMENDED_MAX_AGE: u64 = 31_536_000;

/// Enforcement mode of the rule engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Requests over the anomaly threshold are refused.
    #[default]
    Block,
    /// Matches are logged, nothing is refused.
    Monitor,
}

/// The facts about the effective policy the checklist needs. The lead fills it from the validated
/// policy and also puts it in the startup event so the report can render the checklist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PolicySummary {
    /// Block or monitor.
    pub mode: Mode,
    /// Paranoia level (1–4).
    pub paranoia: u8,
    /// `X-Forwarded-Proto: http` is redirected to HTTPS.
    pub https_redirect: bool,
    /// `Strict-Transport-Security` is added to responses.
    pub hsts: bool,
    /// HSTS `max-age` in seconds.
    pub hsts_max_age: u64,
    /// Palisade terminates TLS itself (not behind Heroku's router).
    pub tls_terminated_by_palisade: bool,
    /// Minimum TLS version when Palisade terminates TLS, e.g. `"1.2"` or `"1.3"`.
    pub tls_min_version: Option<String>,
    /// IP allow/block lists are configured.
    pub ip_controls: bool,
    /// Country controls are configured.
    pub geo_controls: bool,
    /// At least one rate limit is configured.
    pub rate_limits: bool,
    /// An audit HMAC key is set (keyed hash chain).
    pub audit_key_set: bool,
    /// At least one alert webhook is configured.
    pub alerts_configured: bool,
    /// PHI redaction in logs is on.
    pub phi_redaction: bool,
    /// Identifier-like path segments are masked in logs.
    pub mask_path_ids: bool,
    /// Ruleset version in force.
    pub rules_version: String,
}

impl Default for PolicySummary {
    /// Palisade's defaults with no configuration: block mode, paranoia 1, HTTPS redirect and HSTS on,
    /// TLS at the router, redaction on, no key, no alerts, no access lists, no rate limits.
    fn default() -> Self {
        PolicySummary {
            mode: Mode::Block,
            paranoia: 1,
            https_redirect: true,
            hsts: true,
            hsts_max_age: HSTS_RECOMMENDED_MAX_AGE,
            tls_terminated_by_palisade: false,
            tls_min_version: None,
            ip_controls: false,
            geo_controls: false,
            rate_limits: false,
            audit_key_set: false,
            alerts_configured: false,
            phi_redaction: true,
            mask_path_ids: true,
            rules_version: String::new(),
        }
    }
}

/// Outcome of one checklist item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Safeguard not provided by Palisade: yours (or Heroku's) to handle.
    NotCovered,
    /// Configured as recommended.
    Pass,
    /// Works, but a recommended setting is missing.
    Warn,
    /// A protection Palisade offers is switched off.
    Fail,
}

impl CheckStatus {
    /// Short upper-case label for terminals and reports.
    pub fn label(self) -> &'static str {
        match self {
            CheckStatus::Pass => "PASS",
            CheckStatus::Warn => "WARN",
            CheckStatus::Fail => "FAIL",
            CheckStatus::NotCovered => "NOT COVERED",
        }
    }
}

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChecklistItem {
    /// Stable id, e.g. `audit-key`.
    pub id: String,
    /// The Security Rule section, e.g. `§164.312(b)`.
    pub standard: String,
    /// What is checked.
    pub title: String,
    /// Outcome.
    pub status: CheckStatus,
    /// Why this status.
    pub detail: String,
    /// The configuration change (or action) that fixes a warn/fail, or what to do for a not-covered item.
    pub fix: Option<String>,
}

/// Config variable names used in fix hints; kept together so they match the policy crate
/// (`palisade-policy/src/settings.rs`, checked by a test in the `palisade` crate).
pub mod vars {
    /// Engine mode.
    pub const MODE: &str = "PALISADE_MODE";
    /// HTTPS redirect switch.
    pub const HTTPS_REDIRECT: &str = "PALISADE_HTTPS_REDIRECT";
    /// HSTS max-age.
    pub const HSTS_MAX_AGE: &str = "PALISADE_HSTS_MAX_AGE";
    /// Only these networks may reach the app (per-path lists go in `palisade.yml`).
    pub const IP_ALLOWLIST: &str = "PALISADE_IP_ALLOWLIST";
    /// Networks refused with 403.
    pub const IP_BLOCKLIST: &str = "PALISADE_IP_BLOCKLIST";
    /// Only these countries may reach the app.
    pub const GEO_ALLOW_COUNTRIES: &str = "PALISADE_GEO_ALLOW_COUNTRIES";
    /// Per-client-IP limit over all requests.
    pub const RATE_LIMIT: &str = "PALISADE_RATE_LIMIT";
    /// Per-route rate limits.
    pub const RATE_LIMITS: &str = "PALISADE_RATE_LIMITS";
    /// Audit HMAC key.
    pub const AUDIT_KEY: &str = "PALISADE_AUDIT_KEY";
    /// Alert webhooks.
    pub const ALERT_WEBHOOKS: &str = "PALISADE_ALERT_WEBHOOKS";
    /// Path identifier masking.
    pub const MASK_PATH_IDS: &str = "PALISADE_MASK_PATH_IDS";

    /// Every name above.
    pub const ALL: &[&str] = &[
        MODE,
        HTTPS_REDIRECT,
        HSTS_MAX_AGE,
        IP_ALLOWLIST,
        IP_BLOCKLIST,
        GEO_ALLOW_COUNTRIES,
        RATE_LIMIT,
        RATE_LIMITS,
        AUDIT_KEY,
        ALERT_WEBHOOKS,
        MASK_PATH_IDS,
    ];
}

const ACCESS: &str = "§164.312(a)(1)";
const AUDIT: &str = "§164.312(b)";
const TRANSMISSION: &str = "§164.312(e)(1)";
const GENERAL: &str = "§164.306(a)";
const MANAGEMENT: &str = "§164.308(a)(1)";

struct Builder(Vec<ChecklistItem>);

impl Builder {
    fn add(
        &mut self,
        id: &str,
        standard: &str,
        title: &str,
        status: CheckStatus,
        detail: String,
        fix: Option<String>,
    ) {
        self.0.push(ChecklistItem {
            id: id.to_owned(),
            standard: standard.to_owned(),
            title: title.to_owned(),
            status,
            detail,
            fix,
        });
    }
}

/// Evaluates the effective policy against the checklist. Items Palisade covers come first (pass /
/// warn / fail), then the safeguards it does not cover.
pub fn hipaa_checklist(p: &PolicySummary) -> Vec<ChecklistItem> {
    use CheckStatus::{Fail, NotCovered, Pass, Warn};
    let mut b = Builder(Vec::new());

    // §164.312(a)(1) Access control.
    if p.ip_controls || p.geo_controls {
        let what = match (p.ip_controls, p.geo_controls) {
            (true, true) => "IP and country controls are configured",
            (true, false) => "IP controls are configured",
            _ => "country controls are configured",
        };
        b.add(
            "access-network",
            ACCESS,
            "Network access restrictions",
            Pass,
            what.to_owned(),
            None,
        );
    } else {
        b.add(
            "access-network",
            ACCESS,
            "Network access restrictions",
            Warn,
            "no IP or country restriction: admin and internal paths are reachable from anywhere"
                .to_owned(),
            Some(format!(
                "restrict admin paths by IP in palisade.yml (access.paths: - path: /admin/** \
                 allow: ips: [203.0.113.0/24]), or the whole app with {}=203.0.113.0/24 or {}=US",
                vars::IP_ALLOWLIST,
                vars::GEO_ALLOW_COUNTRIES
            )),
        );
    }

    // §164.312(b) Audit controls.
    b.add(
        "audit-log",
        AUDIT,
        "Request and security-decision audit log",
        Pass,
        "one JSON line per request and per security decision on stdout (logplex)".to_owned(),
        None,
    );
    if p.audit_key_set {
        b.add(
            "audit-key",
            AUDIT,
            "Tamper-evident log (keyed hash chain)",
            Pass,
            "lines are chained with HMAC-SHA256".to_owned(),
            None,
        );
    } else {
        b.add(
            "audit-key",
            AUDIT,
            "Tamper-evident log (keyed hash chain)",
            Warn,
            "lines are chained with plain SHA-256: deletions and careless edits show, but anyone can recompute the chain".to_owned(),
            Some(format!("heroku config:set {}=$(openssl rand -hex 32)", vars::AUDIT_KEY)),
        );
    }
    if p.phi_redaction {
        b.add(
            "audit-phi",
            AUDIT,
            "No PHI in logs",
            Pass,
            "query values, bodies, cookies and credentials are never logged".to_owned(),
            None,
        );
    } else {
        b.add(
            "audit-phi",
            AUDIT,
            "No PHI in logs",
            Fail,
            "PHI redaction is switched off".to_owned(),
            // No setting switches redaction off in Palisade, so there is no variable to unset.
            Some(
                "run an official Palisade build: PHI redaction is always on and cannot be configured off"
                    .to_owned(),
            ),
        );
    }
    if p.mask_path_ids {
        b.add(
            "audit-path-ids",
            AUDIT,
            "Identifiers in URL paths masked",
            Pass,
            "numbers, UUIDs, MRN-like tokens and e-mail addresses in paths are masked".to_owned(),
            None,
        );
    } else {
        b.add(
            "audit-path-ids",
            AUDIT,
            "Identifiers in URL paths masked",
            Warn,
            "paths are logged as sent: record numbers or e-mail addresses in URLs reach the logs"
                .to_owned(),
            Some(format!("heroku config:set {}=true", vars::MASK_PATH_IDS)),
        );
    }

    // §164.312(e)(1) Transmission security.
    if p.https_redirect {
        b.add(
            "transmission-redirect",
            TRANSMISSION,
            "HTTP redirected to HTTPS",
            Pass,
            "plain-HTTP requests are redirected before reaching the app".to_owned(),
            None,
        );
    } else {
        b.add(
            "transmission-redirect",
            TRANSMISSION,
            "HTTP redirected to HTTPS",
            Fail,
            "plain-HTTP requests reach the app".to_owned(),
            Some(format!("heroku config:set {}=true", vars::HTTPS_REDIRECT)),
        );
    }
    match (p.hsts, p.hsts_max_age) {
        (true, age) if age >= HSTS_RECOMMENDED_MAX_AGE => b.add(
            "transmission-hsts",
            TRANSMISSION,
            "HSTS",
            Pass,
            format!("Strict-Transport-Security max-age={age}"),
            None,
        ),
        (true, age) => b.add(
            "transmission-hsts",
            TRANSMISSION,
            "HSTS",
            Warn,
            format!("max-age={age} is shorter than one year"),
            Some(format!(
                "heroku config:set {}={HSTS_RECOMMENDED_MAX_AGE}",
                vars::HSTS_MAX_AGE
            )),
        ),
        (false, _) => b.add(
            "transmission-hsts",
            TRANSMISSION,
            "HSTS",
            Fail,
            "browsers are not told to insist on HTTPS".to_owned(),
            Some(format!(
                "heroku config:set {}={HSTS_RECOMMENDED_MAX_AGE}",
                vars::HSTS_MAX_AGE
            )),
        ),
    }
    if p.tls_terminated_by_palisade {
        match p.tls_min_version.as_deref() {
            Some("1.3") | Some("1.2") => b.add(
                "transmission-tls",
                TRANSMISSION,
                "TLS version at Palisade",
                Pass,
                format!(
                    "TLS {} or newer",
                    p.tls_min_version.as_deref().unwrap_or_default()
                ),
                None,
            ),
            other => b.add(
                "transmission-tls",
                TRANSMISSION,
                "TLS version at Palisade",
                Fail,
                format!("minimum TLS version is {}", other.unwrap_or("not set")),
                // Palisade has no TLS-version setting: TLS is terminated by the Heroku router.
                Some(
                    "require TLS 1.2 or newer wherever TLS terminates (the Heroku router \
                     does; Private Spaces: `spaces-strict-tls`); Palisade has no TLS setting"
                        .to_owned(),
                ),
            ),
        }
    }

    // §164.306(a) Protect against reasonably anticipated threats.
    b.add(
        "threats-rules",
        GENERAL,
        "Attack detection rules",
        if p.rules_version.is_empty() {
            Warn
        } else {
            Pass
        },
        if p.rules_version.is_empty() {
            "ruleset version unknown".to_owned()
        } else {
            format!(
                "ruleset {} at paranoia level {}",
                p.rules_version, p.paranoia
            )
        },
        p.rules_version
            .is_empty()
            .then(|| "upgrade to a Palisade release that reports its ruleset version".to_owned()),
    );
    if p.rate_limits {
        b.add(
            "threats-rate-limits",
            GENERAL,
            "Rate limits",
            Pass,
            "rate limits are configured".to_owned(),
            None,
        );
    } else {
        b.add(
            "threats-rate-limits",
            GENERAL,
            "Rate limits",
            Warn,
            "no rate limit: credential stuffing and scraping are not slowed".to_owned(),
            Some(format!(
                "e.g. heroku config:set {}=\"POST /login 10/minute\" and {}=600/minute \
                 (or access.rate_limits in palisade.yml)",
                vars::RATE_LIMITS,
                vars::RATE_LIMIT
            )),
        );
    }

    // §164.308(a)(1) Security management process.
    match p.mode {
        Mode::Block => b.add(
            "management-mode",
            MANAGEMENT,
            "WAF enforcing",
            Pass,
            "block mode: detected attacks are refused".to_owned(),
            None,
        ),
        Mode::Monitor => b.add(
            "management-mode",
            MANAGEMENT,
            "WAF enforcing",
            Warn,
            "monitor mode: attacks are logged but reach the app".to_owned(),
            Some(format!(
                "heroku config:set {}=block once false positives are tuned",
                vars::MODE
            )),
        ),
    }
    if p.alerts_configured {
        b.add(
            "management-alerts",
            MANAGEMENT,
            "Security alerts (activity review)",
            Pass,
            "security events are sent to a webhook".to_owned(),
            None,
        );
    } else {
        b.add(
            "management-alerts",
            MANAGEMENT,
            "Security alerts (activity review)",
            Warn,
            "nobody is told when attacks are blocked; review depends on someone reading logs"
                .to_owned(),
            Some(format!(
                "heroku config:set {}=slack:https://hooks.slack.com/services/…",
                vars::ALERT_WEBHOOKS
            )),
        );
    }

    // Not covered by Palisade.
    let not_covered: [(&str, &str, &str, &str); 9] = [
        ("external-baa", "§164.308(b)(1)", "Business associate agreement with Heroku",
         "Heroku signs a BAA only for Shield Private Spaces; PHI must not run on the Common Runtime"),
        ("external-retention", "§164.316(b)(2)", "Log retention for six years",
         "Palisade writes to stdout only: add a log drain to a store that keeps logs six years (and signs a BAA)"),
        ("external-router-tls", TRANSMISSION, "TLS at Heroku's router",
         "TLS ends at Heroku's router (TLS 1.2+ on the Common Runtime); in Private Spaces enable strict TLS"),
        ("external-router-logs", AUDIT, "Heroku router logs",
         "Heroku's router logs every request path with its query string to the same log stream: keep PHI out of URLs"),
        ("external-authentication", "§164.312(d)", "Person or entity authentication",
         "user login, MFA and session handling are the app's job"),
        ("external-authorisation", ACCESS, "Unique user identification and authorisation",
         "per-user access rules and emergency access are the app's job"),
        ("external-encryption-at-rest", "§164.312(a)(2)(iv)", "Encryption at rest",
         "databases and backups: use Shield data services"),
        ("external-risk-analysis", "§164.308(a)(1)(ii)(A)", "Risk analysis",
         "document your own risk analysis; this checklist is one input"),
        ("external-training", "§164.308(a)(5)", "Workforce security awareness training", "an organisational safeguard"),
    ];
    for (id, standard, title, what) in not_covered {
        b.add(
            id,
            standard,
            title,
            NotCovered,
            "not covered by Palisade".to_owned(),
            Some(what.to_owned()),
        );
    }
    b.0
}

/// The worst status among items Palisade covers (`Pass` for an empty list).
pub fn checklist_worst(items: &[ChecklistItem]) -> CheckStatus {
    items
        .iter()
        .map(|i| i.status)
        .filter(|s| *s != CheckStatus::NotCovered)
        .max()
        .unwrap_or(CheckStatus::Pass)
}

/// Plain-text rendering for `palisade check --hipaa`.
pub fn render_checklist_text(items: &[ChecklistItem]) -> String {
    let mut out = String::from(
        "HIPAA Security Rule checklist (an aid for your risk analysis, not a certification)\n",
    );
    let count = |s: CheckStatus| items.iter().filter(|i| i.status == s).count();
    out.push_str(&format!(
        "{} pass, {} warn, {} fail, {} not covered by Palisade\n\n",
        count(CheckStatus::Pass),
        count(CheckStatus::Warn),
        count(CheckStatus::Fail),
        count(CheckStatus::NotCovered)
    ));
    for item in items {
        out.push_str(&format!(
            "[{:<11}] {:<22} {}: {}\n",
            item.status.label(),
            item.standard,
            item.title,
            item.detail
        ));
        if let Some(fix) = &item.fix {
            let lead = if item.status == CheckStatus::NotCovered {
                "what to do"
            } else {
                "fix"
            };
            out.push_str(&format!("{:>37} {lead}: {fix}\n", ""));
        }
    }
    out
}

/// HTML table rendering (a fragment, styled by the report's stylesheet classes `pass`/`warn`/`fail`/`nc`).
pub fn render_checklist_html(items: &[ChecklistItem]) -> String {
    let mut out = String::from("<table class=\"checklist\"><thead><tr><th>Status</th><th>Standard</th><th>Check</th><th>Detail</th><th>Fix / what to do</th></tr></thead><tbody>");
    for item in items {
        let class = match item.status {
            CheckStatus::Pass => "pass",
            CheckStatus::Warn => "warn",
            CheckStatus::Fail => "fail",
            CheckStatus::NotCovered => "nc",
        };
        out.push_str(&format!(
            "<tr class=\"{class}\"><td><span class=\"badge {class}\">{}</span></td><td>",
            item.status.label()
        ));
        push_escaped(&mut out, &item.standard);
        out.push_str("</td><td>");
        push_escaped(&mut out, &item.title);
        out.push_str("</td><td>");
        push_escaped(&mut out, &item.detail);
        out.push_str("</td><td>");
        if let Some(fix) = &item.fix {
            out.push_str("<code>");
            push_escaped(&mut out, fix);
            out.push_str("</code>");
        }
        out.push_str("</td></tr>");
    }
    out.push_str("</tbody></table>");
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn status_of(items: &[ChecklistItem], id: &str) -> CheckStatus {
        items
            .iter()
            .find(|i| i.id == id)
            .map(|i| i.status)
            .unwrap_or_else(|| panic!("no item {id}"))
    }

    #[test]
    fn defaults_warn_about_missing_key_alerts_lists_and_limits() {
        let items = hipaa_checklist(&PolicySummary::default());
        assert_eq!(status_of(&items, "audit-key"), CheckStatus::Warn);
        assert_eq!(status_of(&items, "management-alerts"), CheckStatus::Warn);
        assert_eq!(status_of(&items, "access-network"), CheckStatus::Warn);
        assert_eq!(status_of(&items, "threats-rate-limits"), CheckStatus::Warn);
        assert_eq!(
            status_of(&items, "transmission-redirect"),
            CheckStatus::Pass
        );
        assert_eq!(status_of(&items, "transmission-hsts"), CheckStatus::Pass);
        assert_eq!(status_of(&items, "audit-phi"), CheckStatus::Pass);
        assert!(
            items.iter().all(|i| i.id != "transmission-tls"),
            "TLS at the router is not Palisade's item"
        );
        assert_eq!(checklist_worst(&items), CheckStatus::Warn);
        for item in items
            .iter()
            .filter(|i| matches!(i.status, CheckStatus::Warn | CheckStatus::Fail))
        {
            assert!(item.fix.is_some(), "{} has no fix", item.id);
        }
    }

    #[test]
    fn fully_configured_policy_passes() {
        let p = PolicySummary {
            ip_controls: true,
            rate_limits: true,
            audit_key_set: true,
            alerts_configured: true,
            tls_terminated_by_palisade: true,
            tls_min_version: Some("1.3".into()),
            rules_version: "2026.12.1".into(),
            ..PolicySummary::default()
        };
        let items = hipaa_checklist(&p);
        assert_eq!(checklist_worst(&items), CheckStatus::Pass);
        assert_eq!(status_of(&items, "transmission-tls"), CheckStatus::Pass);
        assert!(items
            .iter()
            .any(|i| i.id == "external-baa" && i.status == CheckStatus::NotCovered));
        assert!(items.iter().any(|i| i.id == "external-retention"));
    }

    #[test]
    fn switched_off_protections_fail() {
        let p = PolicySummary {
            https_redirect: false,
            hsts: false,
            phi_redaction: false,
            mode: Mode::Monitor,
            tls_terminated_by_palisade: true,
            tls_min_version: Some("1.0".into()),
            ..PolicySummary::default()
        };
        let items = hipaa_checklist(&p);
        for id in [
            "transmission-redirect",
            "transmission-hsts",
            "audit-phi",
            "transmission-tls",
        ] {
            assert_eq!(status_of(&items, id), CheckStatus::Fail, "{id}");
        }
        assert_eq!(status_of(&items, "management-mode"), CheckStatus::Warn);
        let short = PolicySummary {
            hsts_max_age: 300,
            ..PolicySummary::default()
        };
        assert_eq!(
            status_of(&hipaa_checklist(&short), "transmission-hsts"),
            CheckStatus::Warn
        );
    }

    #[test]
    fn renderings_carry_every_item() {
        let items = hipaa_checklist(&PolicySummary::default());
        let text = render_checklist_text(&items);
        let html = render_checklist_html(&items);
        for item in &items {
            assert!(text.contains(&item.title), "{}", item.title);
            assert!(
                html.contains(&crate::html::escape(&item.title)),
                "{}",
                item.title
            );
        }
        for section in [ACCESS, AUDIT, TRANSMISSION, GENERAL, MANAGEMENT] {
            assert!(text.contains(section), "{section}");
        }
        assert!(text.contains("fix: heroku config:set PALISADE_AUDIT_KEY"));
    }

    #[test]
    fn summary_round_trips_through_json_with_defaults_for_missing_keys() {
        let p = PolicySummary {
            mode: Mode::Monitor,
            paranoia: 2,
            ..PolicySummary::default()
        };
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.contains("\"mode\":\"monitor\""));
        assert_eq!(serde_json::from_str::<PolicySummary>(&json).unwrap(), p);
        let partial: PolicySummary = serde_json::from_str("{\"paranoia\":3}").unwrap();
        assert_eq!(partial.paranoia, 3);
        assert!(partial.phi_redaction);
    }
}
