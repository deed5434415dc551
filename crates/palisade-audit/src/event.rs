//! The events the proxy hands to the sink.
//!
//! These structs are the PHI boundary: they have no field for query values, request or response bodies,
//! cookies, `Authorization` or any other header value besides `User-Agent`, `Referer` and the request
//! id. Strings are passed raw (as the proxy saw them); the writer redacts and bounds them, off the
//! request thread.

use std::borrow::Cow;
use std::net::IpAddr;
use std::time::SystemTime;

use crate::hipaa::PolicySummary;

/// What Palisade did with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Action {
    /// Passed to the app.
    #[default]
    Allow,
    /// Refused by a rule (WAF in block mode) or a transport check.
    Block,
    /// A rule matched in monitor mode: logged, passed to the app.
    Monitor,
    /// Refused by a rate limit.
    Limit,
    /// Refused by an access control (IP, geo, anonymous network, bot).
    Deny,
    /// The client was banned for a while (repeat offender).
    Ban,
    /// Redirected (HTTPS redirect).
    Redirect,
}

impl Action {
    /// Every action, for tables and tests.
    pub const ALL: [Action; 7] = [
        Action::Allow,
        Action::Block,
        Action::Monitor,
        Action::Limit,
        Action::Deny,
        Action::Ban,
        Action::Redirect,
    ];

    /// The lowercase name used in logs (`palisade.action`).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Block => "block",
            Action::Monitor => "monitor",
            Action::Limit => "limit",
            Action::Deny => "deny",
            Action::Ban => "ban",
            Action::Redirect => "redirect",
        }
    }

    /// Whether the request was refused (the app never saw it).
    pub fn is_refusal(self) -> bool {
        matches!(
            self,
            Action::Block | Action::Limit | Action::Deny | Action::Ban
        )
    }
}

/// Which part of Palisade made a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Control {
    /// The rule engine (anomaly scoring).
    Waf,
    /// IP allow/block lists.
    Ip,
    /// Country controls.
    Geo,
    /// Anonymous networks (Tor, VPN, hosting ranges).
    Anon,
    /// Bot controls.
    Bot,
    /// Rate limits.
    RateLimit,
    /// Protocol checks (smuggling, bad methods, HTTPS redirect).
    Protocol,
    /// Size and count limits.
    Limits,
}

impl Control {
    /// Every control, in a fixed order (the index of [`Control::index`]).
    pub const ALL: [Control; 8] = [
        Control::Waf,
        Control::Ip,
        Control::Geo,
        Control::Anon,
        Control::Bot,
        Control::RateLimit,
        Control::Protocol,
        Control::Limits,
    ];

    /// The lowercase name used in logs (`palisade.control`).
    pub fn as_str(self) -> &'static str {
        match self {
            Control::Waf => "waf",
            Control::Ip => "ip",
            Control::Geo => "geo",
            Control::Anon => "anon",
            Control::Bot => "bot",
            Control::RateLimit => "ratelimit",
            Control::Protocol => "protocol",
            Control::Limits => "limits",
        }
    }

    /// Position in [`Control::ALL`], for fixed-size counter arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// One rule that matched.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleHit {
    /// Rule id, e.g. `942100`.
    pub id: String,
    /// Rule category, e.g. `sqli`.
    pub category: String,
    /// The target NAME that matched (`args:q`, `headers:User-Agent`, `body`), never its value.
    pub target: String,
    /// The matched text, already masked by the engine; bounded and masked again by the writer.
    pub snippet: String,
    /// The rule's anomaly score contribution.
    pub score: u32,
}

/// TLS details when Palisade itself terminated TLS.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsInfo {
    /// Protocol version, e.g. `TLSv1.3`.
    pub version: Cow<'static, str>,
    /// Cipher suite name.
    pub cipher: Cow<'static, str>,
}

/// Request facts shared by access and security events. All strings are raw; the writer redacts them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestInfo {
    /// When the request arrived; the sink fills in "now" when `None`.
    pub time: Option<SystemTime>,
    /// The client IP as Palisade determined it (trusted-proxy aware).
    pub client_ip: Option<IpAddr>,
    /// ISO 3166-1 alpha-2 country of the client, when geo lookup is on.
    pub country: Option<String>,
    /// HTTP method.
    pub method: String,
    /// The decoded path as the proxy saw it (the writer strips any query and masks identifiers).
    pub path: String,
    /// Query parameter NAMES; use [`crate::redact::query_param_names`] on the raw query to fill this.
    pub query_param_names: Vec<String>,
    /// `User-Agent` header (bounded to 256 bytes by the writer).
    pub user_agent: Option<String>,
    /// `Referer` header (query, fragment and credentials removed by the writer).
    pub referrer: Option<String>,
    /// Request id (`X-Request-Id` from Heroku's router, or generated).
    pub request_id: Option<String>,
}

/// One line per request, written when the response is done.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccessEvent {
    /// The request.
    pub request: RequestInfo,
    /// Status sent to the client.
    pub status: u16,
    /// What Palisade did.
    pub action: Action,
    /// Which control decided, when the action is not `Allow`.
    pub control: Option<Control>,
    /// Total anomaly score from the engine.
    pub anomaly_score: u32,
    /// Rule hits (at most 16 are logged; more are counted in `palisade.hits_dropped`).
    pub hits: Vec<RuleHit>,
    /// Time from first byte received to last byte sent, microseconds.
    pub duration_us: u64,
    /// Time Palisade itself added (checks, buffering), microseconds; feeds the latency histogram.
    pub added_latency_us: Option<u64>,
    /// Request bytes received from the client (head + body).
    pub bytes_in: u64,
    /// Response bytes sent to the client.
    pub bytes_out: u64,
    /// Status the app returned, when the request reached it.
    pub upstream_status: Option<u16>,
    /// TLS details when Palisade terminated TLS.
    pub tls: Option<TlsInfo>,
}

/// One line per security decision (block, monitor hit, rate limit, ban, geo/IP/bot denial).
#[derive(Debug, Clone, PartialEq)]
pub struct SecurityEvent {
    /// The request.
    pub request: RequestInfo,
    /// What Palisade did.
    pub action: Action,
    /// Which control decided.
    pub control: Control,
    /// A fixed, human-readable reason from configuration or code (`"anomaly score over threshold"`,
    /// `"country denied"`). Never request data: it is logged and sent in alerts.
    pub reason: Cow<'static, str>,
    /// Anomaly score, for WAF decisions.
    pub anomaly_score: u32,
    /// Threshold the score was compared with, for WAF decisions.
    pub threshold: Option<u32>,
    /// Rule hits behind the decision.
    pub hits: Vec<RuleHit>,
    /// Status sent to the client, if the request was refused.
    pub status: Option<u16>,
    /// Ban length in seconds, for bans.
    pub ban_seconds: Option<u64>,
}

impl SecurityEvent {
    /// A security event with no hits or scores; fill the rest with struct update syntax.
    pub fn new(
        request: RequestInfo,
        action: Action,
        control: Control,
        reason: impl Into<Cow<'static, str>>,
    ) -> Self {
        SecurityEvent {
            request,
            action,
            control,
            reason: reason.into(),
            anomaly_score: 0,
            threshold: None,
            hits: Vec::new(),
            status: None,
            ban_seconds: None,
        }
    }
}

/// A change of what is in force at runtime, or a refused or failed attempt at one — e.g. a
/// ruleset bundle swapped in, refused or unreachable. Written into the hash chain like every
/// other event, so an auditor sees exactly which rules protected which requests.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigChangeEvent {
    /// When; `None` means now.
    pub time: Option<SystemTime>,
    /// `event.action`, e.g. `rules-updated`.
    pub action: &'static str,
    /// `event.type`: `change` for a change or refused change, `access` for a failed fetch.
    pub event_type: &'static str,
    /// `true` when the change happened (`event.outcome` success), `false` when it was refused or failed.
    pub success: bool,
    /// `event.reason` for a failure (a short machine-readable word, e.g. `signature`).
    pub reason: Option<String>,
    /// `message`: one sentence for the person reading the log (at most 500 bytes are kept).
    pub message: String,
    /// Where the details go, e.g. `palisade.rules`.
    pub details_key: &'static str,
    /// A small JSON object with the details (versions, counts, signer); no request data.
    pub details: serde_json::Value,
}

/// The effective policy at startup; the lead emits one when Palisade starts serving.
#[derive(Debug, Clone, PartialEq)]
pub struct StartupEvent {
    /// When; `None` means now.
    pub time: Option<SystemTime>,
    /// Palisade version.
    pub version: String,
    /// Ruleset version.
    pub rules_version: String,
    /// A compact JSON object summarising the effective policy (the lead decides its keys). Keep it
    /// under ~6 KB: a larger one is replaced by a size note to respect the 10,000-byte line limit.
    pub policy: serde_json::Value,
    /// The facts the HIPAA checklist needs; the report renders the checklist from the latest one.
    pub hipaa: PolicySummary,
}
