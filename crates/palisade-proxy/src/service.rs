//! The Pingora `ProxyHttp` implementation: where every request goes, in pipeline order
//! (cheapest first): identity → HTTPS redirect → access control → inspection of the head, then of
//! the body (before the app sees a byte of it) → boot hold → the app → response headers → one
//! access event.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use http::header::{
    HeaderName, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, EXPECT, HOST, REFERER,
    TRANSFER_ENCODING, USER_AGENT,
};
use palisade_access::{AccessControl, AccessDecision, AccessRequest, BlockRecord, HeaderLookup};
use palisade_audit::{AccessEvent, Action, AuditSink, Control, RequestInfo, SecurityEvent};
use palisade_engine::{BodyPlan, ContentCoding, Engine, RequestHead, Verdict};
use palisade_policy::{LimitsPolicy, Mode, OversizeBody};
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::{ErrorSource, ErrorType};

use crate::app::AppTarget;
use crate::app_pool::AppPool;
use crate::headers::ResponseHeaderPolicy;
use crate::inflight::{Inflight, InflightGuard};
use crate::pages;
use crate::redirect::{https_location, RedirectHosts};
use crate::request_id::RequestId;
use palisade_engine::decode::sniff::{looks_like_text, SNIFF_LEN};
use palisade_engine::request::{method_overrides, resolved_path};

mod direct_relay;
mod hardening;
mod lane;

pub(crate) use lane::{Admission, BodyFailure, LaneBuffers, LaneEnd};

/// Bodies up to this size are read before the app is contacted (Pingora's retry buffer replays
/// them); larger ones are held chunk by chunk in `request_body_filter` and released only after
/// inspection, so in both cases the app sees no body byte of a blocked request.
pub const PREREAD_BODY_LIMIT: usize = 64 * 1024;

// Non-standard names looked up on every request, parsed once (a `&str` lookup parses its name
// each time).
static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// Pooled app connections are closed after this long idle: before a typical app server's own
/// idle timeout (Node's is 5 s), so Palisade is the side that stops using them.
const APP_IDLE_TIMEOUT: Duration = Duration::from_secs(4);

/// Settings the proxy needs on the request path, resolved from the policy once at startup.
#[derive(Debug, Clone)]
pub struct ProxySettings {
    /// Client keep-alive idle timeout.
    pub keepalive_timeout: Duration,
    /// App connect timeout.
    pub upstream_connect_timeout: Duration,
    /// App read timeout (between reads).
    pub upstream_read_timeout: Duration,
    /// Behind the Heroku router: its `X-Forwarded-*` headers are authoritative and passed on
    /// unchanged; otherwise Palisade sets them from the socket.
    pub behind_heroku_router: bool,
    /// Headers added to every response.
    pub response_headers: ResponseHeaderPolicy,
    /// Block or monitor.
    pub mode: Mode,
    /// Redirect `X-Forwarded-Proto: http` to HTTPS.
    pub https_redirect: bool,
    /// Which hosts redirects may go to.
    pub redirect_hosts: RedirectHosts,
    /// Body inspection limit.
    pub max_inspect_body: usize,
    /// Over-limit bodies.
    pub oversize_body: OversizeBody,
    /// Write one access event per request.
    pub access_log: bool,
    /// Request limits, body pace and concurrency caps (issue #8, `service/hardening.rs`).
    pub limits: LimitsPolicy,
}

/// Where the current rules come from (a fixed engine, or a handle that rule updates swap).
pub trait EngineSource: Send + Sync {
    /// The engine new requests should use.
    fn current(&self) -> Arc<Engine>;
}

/// An engine that never changes.
pub struct FixedEngine(pub Arc<Engine>);

impl EngineSource for FixedEngine {
    fn current(&self) -> Arc<Engine> {
        self.0.clone()
    }
}

/// The proxy: one instance shared by every worker thread. Cloning it is cheap and shares
/// everything that changes (pool, counters, engine, access state): the HTTP/1 lane (`lane/`)
/// holds a clone next to Pingora's.
#[derive(Clone)]
pub struct PalisadeProxy {
    settings: ProxySettings,
    app: Arc<AppTarget>,
    inflight: Inflight,
    audit: AuditSink,
    engine: Arc<dyn EngineSource>,
    access: Arc<AccessControl>,
    per_ip: Option<Arc<crate::shedding::PerIpConcurrency>>,
    /// Idle app connections of the direct relay (`service/direct_relay.rs`) and the lane.
    app_pool: Arc<AppPool>,
}

/// A body being held until it has been inspected.
struct HeldBody {
    buf: BytesMut,
    /// Binary media whose first bytes are still to be seen: it is released as it comes when they
    /// are not text, and held whole for inspection like any other body when they are.
    sniffing: bool,
}

/// Per-request state, dropped when Pingora is done with the request.
pub struct RequestCtx {
    started: Instant,
    request_id: RequestId,
    own_status: Option<u16>,
    outcome: &'static str,
    client_ip: Option<IpAddr>,
    country: Option<String>,
    action: Action,
    control: Option<Control>,
    score: u32,
    hits: Vec<palisade_audit::RuleHit>,
    engine: Option<Arc<Engine>>,
    held: Option<HeldBody>,
    /// Palisade answered the client's `Expect: 100-continue` itself (to read the body for
    /// inspection first), so the app is not asked again.
    continue_sent: bool,
    upstream_status: Option<u16>,
    guard: hardening::GuardState,
    _inflight: InflightGuard,
}

/// The status Palisade answers for a failed request: the status an error carries, 504 for an
/// app that timed out, 502 for one that failed, 408/400 for a client's fault, 0 when the client
/// is gone (nothing can be written).
fn error_status(e: &Error) -> u16 {
    match (e.esource(), e.etype()) {
        (_, ErrorType::HTTPStatus(code)) => *code,
        (ErrorSource::Upstream, ErrorType::ReadTimedout | ErrorType::WriteTimedout) => 504,
        (ErrorSource::Upstream, _) => 502,
        (ErrorSource::Downstream, ErrorType::ReadTimedout) => 408,
        (
            ErrorSource::Downstream,
            ErrorType::ReadError | ErrorType::WriteError | ErrorType::ConnectionClosed,
        ) => 0,
        (ErrorSource::Downstream, _) => 400,
        (ErrorSource::Internal | ErrorSource::Unset, ErrorType::ConnectTimedout) => 504,
        (
            ErrorSource::Internal | ErrorSource::Unset,
            ErrorType::ConnectRefused | ErrorType::ConnectError | ErrorType::ConnectNoRoute,
        ) => 502,
        _ => 500,
    }
}

/// An HTTP/1.1 request waiting for `100 Continue` before it sends its body (an HTTP/1.0 client's
/// expectation is ignored, RFC 9110 §10.1.1).
fn expects_continue(req: &RequestHeader) -> bool {
    req.version == http::Version::HTTP_11
        && req
            .headers
            .get(EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// The access line's outcome for a failure answered with `code` (0: the client is gone).
fn failure_outcome(code: u16) -> &'static str {
    match code {
        0 => "client_disconnect",
        502 => "app_error",
        504 => "app_timeout",
        408 | 400 => "bad_request",
        _ => "error",
    }
}

fn timeout_secs(d: Duration) -> u64 {
    d.as_secs().max(1)
}

/// Header lookup over Pingora's request header for key-by-header rate limits.
struct Headers<'a>(&'a RequestHeader);

/// Up to this many header fields, [`Headers`] finds a name by walking the fields.
const LINEAR_LOOKUP_MAX_FIELDS: usize = 16;

impl HeaderLookup for Headers<'_> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        let headers = &self.0.headers;
        // The bot check asks for four scanner-only names on every request. A `&str` lookup
        // lower-cases and hashes the name each time; on a head of a few fields, comparing the
        // (lower-case) stored names is several times cheaper and finds the same first value.
        if headers.len() <= LINEAR_LOOKUP_MAX_FIELDS {
            return headers
                .iter()
                .find(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_bytes());
        }
        headers.get(name).map(|v| v.as_bytes())
    }
}

fn audit_hits(v: &Verdict) -> Vec<palisade_audit::RuleHit> {
    v.hits
        .iter()
        .map(|h| palisade_audit::RuleHit {
            id: h.rule_id.to_string(),
            category: h.category.clone(),
            target: h.target.clone(),
            snippet: h.snippet.clone(),
            score: h.score,
        })
        .collect()
}

fn access_control_kind(c: palisade_access::Control) -> Control {
    use palisade_access::Control as A;
    match c {
        A::Ban | A::IpAllowlist | A::IpBlocklist => Control::Ip,
        A::Geo => Control::Geo,
        A::AnonymousNetwork => Control::Anon,
        A::Bot => Control::Bot,
        A::RateLimit => Control::RateLimit,
    }
}

/// The rule hit behind an access-control refusal, so its security and access lines carry a
/// stable `rule.id` (`access.ip_blocklist`, `access.rate_limit`, `access.ban`, …) next to the
/// detail (`block:global:config`, `bot:sqlmap`, the rate rule's name), which comes from the
/// configuration or a fixed list, never from the request.
fn access_hit(control: palisade_access::Control, detail: &str) -> palisade_audit::RuleHit {
    palisade_audit::RuleHit {
        id: format!("access.{}", control.as_str()),
        category: "access".to_string(),
        target: detail.to_string(),
        snippet: String::new(),
        score: 0,
    }
}

/// Query parameter names for the access event. A part without `=` (`?Jane-Doe`) is a value, not
/// a name, so it becomes `{bare}` (the audit crate's extractor, which the writer then bounds and
/// masks again).
fn query_param_names(query: Option<&str>) -> Vec<String> {
    query
        .map(|q| palisade_audit::redact::query_param_names(q, false))
        .unwrap_or_default()
}

/// What the audit events and the checks need to know about a request, whichever path read it:
/// Pingora's session or the HTTP/1 lane's own parsed head (`lane/`).
pub(crate) trait RequestFacts: Sync {
    /// Method as sent.
    fn method(&self) -> &str;
    /// Path of the target, without the query.
    fn path(&self) -> &str;
    /// Query of the target, without the `?`.
    fn query(&self) -> Option<&str>;
    /// First value of a header.
    fn first_header(&self, name: &HeaderName) -> Option<&[u8]>;
}

impl RequestFacts for Session {
    fn method(&self) -> &str {
        self.req_header().method.as_str()
    }

    fn path(&self) -> &str {
        self.req_header().uri.path()
    }

    fn query(&self) -> Option<&str> {
        self.req_header().uri.query()
    }

    fn first_header(&self, name: &HeaderName) -> Option<&[u8]> {
        self.get_header(name).map(|v| v.as_bytes())
    }
}

/// An access-control refusal: the status to answer and, for rate limits, when to come back.
struct Refusal {
    status: u16,
    retry_after_secs: Option<u64>,
}

impl PalisadeProxy {
    /// Builds the proxy in front of `app`.
    pub fn new(
        settings: ProxySettings,
        app: Arc<AppTarget>,
        inflight: Inflight,
        audit: AuditSink,
        engine: Arc<dyn EngineSource>,
        access: Arc<AccessControl>,
    ) -> Self {
        let per_ip = settings
            .limits
            .max_concurrent_per_ip
            .map(crate::shedding::PerIpConcurrency::new);
        let app_pool = Arc::new(AppPool::new(
            APP_IDLE_TIMEOUT,
            settings.upstream_connect_timeout,
        ));
        PalisadeProxy {
            per_ip,
            app_pool,
            settings,
            app,
            inflight,
            audit,
            engine,
            access,
        }
    }

    fn request_info(&self, req: &impl RequestFacts, ctx: &RequestCtx) -> RequestInfo {
        Self::request_info_with(req, ctx, ctx.country.clone())
    }

    /// [`Self::request_info`] with the country given (the access line, the request's last use
    /// of it, moves it out of the context instead of cloning it).
    fn request_info_with(
        req: &impl RequestFacts,
        ctx: &RequestCtx,
        country: Option<String>,
    ) -> RequestInfo {
        RequestInfo {
            time: Some(SystemTime::now() - ctx.started.elapsed()),
            client_ip: ctx.client_ip,
            country,
            method: req.method().to_string(),
            path: req.path().to_string(),
            query_param_names: query_param_names(req.query()),
            user_agent: req
                .first_header(&USER_AGENT)
                .map(|v| String::from_utf8_lossy(v).into_owned()),
            referrer: req
                .first_header(&REFERER)
                .map(|v| String::from_utf8_lossy(v).into_owned()),
            request_id: Some(ctx.request_id.as_str().to_owned()),
        }
    }

    /// Records a security decision on the context and emits its security event.
    fn security(
        &self,
        session: &impl RequestFacts,
        ctx: &mut RequestCtx,
        action: Action,
        control: Control,
        reason: String,
        status: Option<u16>,
    ) {
        ctx.action = action;
        ctx.control = Some(control);
        let mut ev = SecurityEvent::new(self.request_info(session, ctx), action, control, reason);
        ev.status = status;
        ev.anomaly_score = ctx.score;
        ev.hits = ctx.hits.clone();
        self.audit.security(ev);
    }

    /// Counts a refusal towards a temporary ban and reports the ban when it starts.
    fn count_block(&self, session: &impl RequestFacts, ctx: &mut RequestCtx) {
        let Some(ip) = ctx.client_ip else { return };
        if let BlockRecord::Banned(d) = self.access.record_block(ip) {
            let mut ev = SecurityEvent::new(
                self.request_info(session, ctx),
                Action::Ban,
                Control::Ip,
                "too many blocked requests: temporary ban",
            );
            ev.ban_seconds = Some(d.as_secs());
            ev.hits = vec![access_hit(palisade_access::Control::Ban, "temporary-ban")];
            self.audit.security(ev);
        }
    }

    /// Resolves the client's address (the socket peer, or the trusted `X-Forwarded-For` chain)
    /// and its country into the context: one answer for every control and the audit log.
    fn identify<'a>(
        &self,
        peer: IpAddr,
        mut xff: impl Iterator<Item = &'a [u8]>,
        ctx: &mut RequestCtx,
    ) {
        // The router sends exactly one X-Forwarded-For: pass it without collecting a Vec
        // (an allocation per request); several go through a Vec.
        let ip = match (xff.next(), xff.next()) {
            (None, _) => self.access.identity().resolve(peer, &[]),
            (Some(only), None) => self.access.identity().resolve(peer, &[only]),
            (Some(first), Some(second)) => {
                let all: Vec<&[u8]> = [first, second].into_iter().chain(xff).collect();
                self.access.identity().resolve(peer, &all)
            }
        };
        ctx.client_ip = Some(ip);
        ctx.country = self.access.country(ip).map(|c| c.to_string());
    }

    /// Access control (lists, geo, anonymous networks, bots, rate limits, bans). A refusal has
    /// already emitted its security event and set the outcome; the caller writes the page.
    async fn check_access(
        &self,
        req: &impl RequestFacts,
        lookup: &(dyn HeaderLookup + Sync),
        ctx: &mut RequestCtx,
    ) -> Option<Refusal> {
        let ip = ctx.client_ip?;
        let decision = {
            let path = resolved_path(req.path().as_bytes());
            let overrides = method_overrides(
                req.method(),
                |name| lookup.header(name),
                req.query().map(str::as_bytes),
            );
            let areq = AccessRequest {
                ip,
                method: req.method(),
                method_overrides: &overrides,
                path: &path,
                user_agent: req.first_header(&USER_AGENT),
                headers: lookup,
            };
            if self.access.shared().is_some() {
                self.access.check_shared(&areq).await
            } else {
                self.access.check(&areq)
            }
        };
        if let Some(w) = self.access.take_shared_warning() {
            tracing::warn!(warning = %w, "shared rate limits unavailable; using local limits");
        }
        match decision {
            AccessDecision::Allow => None,
            AccessDecision::Deny { status, reason } => {
                let action = if matches!(reason, palisade_access::DenyReason::Banned { .. }) {
                    Action::Ban
                } else {
                    Action::Deny
                };
                let control = access_control_kind(reason.control());
                let text = format!("{} [{}]", reason, reason.rule());
                ctx.hits = vec![access_hit(reason.control(), &reason.rule())];
                self.security(req, ctx, action, control, text, Some(status));
                if action != Action::Ban {
                    self.count_block(req, ctx);
                }
                ctx.outcome = "denied";
                Some(Refusal {
                    status,
                    retry_after_secs: None,
                })
            }
            AccessDecision::Limit {
                status,
                retry_after_secs,
                rule,
            } => {
                ctx.hits = vec![access_hit(palisade_access::Control::RateLimit, &rule)];
                self.security(
                    req,
                    ctx,
                    Action::Limit,
                    Control::RateLimit,
                    format!("rate limit {rule}"),
                    Some(status),
                );
                // A client that keeps going past its 429s (credential stuffing) earns a ban.
                self.count_block(req, ctx);
                ctx.outcome = "rate_limited";
                Some(Refusal {
                    status,
                    retry_after_secs: Some(retry_after_secs),
                })
            }
        }
    }

    /// The request's one access event (`logging`, and the lane's end of a request).
    fn emit_access(
        &self,
        req: &impl RequestFacts,
        ctx: &mut RequestCtx,
        status: u16,
        failed: bool,
        bytes_in: usize,
        bytes_out: usize,
    ) {
        if failed && ctx.outcome == "success" {
            ctx.outcome = "error";
        }
        let country = ctx.country.take();
        let event = AccessEvent {
            request: Self::request_info_with(req, ctx, country),
            status,
            action: ctx.action,
            control: ctx.control,
            anomaly_score: ctx.score,
            hits: std::mem::take(&mut ctx.hits),
            duration_us: u64::try_from(ctx.started.elapsed().as_micros()).unwrap_or(u64::MAX),
            added_latency_us: None,
            bytes_in: bytes_in as u64,
            bytes_out: bytes_out as u64,
            upstream_status: ctx.upstream_status,
            tls: None,
        };
        self.audit.access(event);
    }

    /// Writes one of Palisade's own responses (with the security headers, which Pingora's
    /// `response_filter` does not add to responses written here) and records its status.
    async fn respond(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        status: u16,
        extra: &[(&'static str, String)],
    ) -> Result<()> {
        let body = pages::html(status, ctx.request_id.as_str());
        let mut header = pages::header(status, ctx.request_id.as_str(), body.len())?;
        for (name, value) in extra {
            header.insert_header(*name, value.as_str())?;
        }
        self.settings
            .response_headers
            .apply_to_own_response(&mut header);
        ctx.own_status = Some(status);
        // A refused request's body is not read: close the connection rather than parse it.
        if status >= 400 {
            session.set_keepalive(None);
        }
        let head_only = session.req_header().method == http::Method::HEAD;
        session
            .write_response_header(Box::new(header), head_only)
            .await?;
        if !head_only {
            session.write_response_body(Some(body), true).await?;
        }
        Ok(())
    }

    /// Applies a verdict: 403 in block mode, a monitor event otherwise. Returns whether the
    /// request was refused.
    fn judge(&self, session: &impl RequestFacts, ctx: &mut RequestCtx, verdict: &Verdict) -> bool {
        if verdict.hits.is_empty() {
            return false;
        }
        ctx.score = verdict.score;
        ctx.hits = audit_hits(verdict);
        if !verdict.blocked {
            return false;
        }
        let first = verdict
            .hits
            .iter()
            .max_by_key(|h| h.score)
            .map_or_else(String::new, |h| format!("{} {}", h.rule_id, h.category));
        match self.settings.mode {
            Mode::Block => {
                self.security(
                    session,
                    ctx,
                    Action::Block,
                    Control::Waf,
                    format!("anomaly score {} (rule {first})", verdict.score),
                    Some(403),
                );
                true
            }
            Mode::Monitor => {
                self.security(
                    session,
                    ctx,
                    Action::Monitor,
                    Control::Waf,
                    format!(
                        "would block: anomaly score {} (rule {first})",
                        verdict.score
                    ),
                    None,
                );
                ctx.action = Action::Monitor;
                false
            }
        }
    }

    fn headers_for_engine(req: &RequestHeader) -> Vec<(&str, &[u8])> {
        req.headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect()
    }

    /// Inspects path, query, headers and cookies, plus a small body read in full now. Returns
    /// true when the request was answered (blocked).
    async fn inspect(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        let engine = self.engine.current();
        let req = session.req_header();
        let content_type = req.headers.get(CONTENT_TYPE).map(|v| v.as_bytes().to_vec());
        let chunked = req
            .headers
            .get(TRANSFER_ENCODING)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"chunked"));
        let length = req
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
            .and_then(|v| v.trim().parse::<usize>().ok());
        let has_body = chunked || length.is_some_and(|n| n > 0);
        let coding = req
            .headers
            .get_all(CONTENT_ENCODING)
            .iter()
            .fold(ContentCoding::Identity, |c, v| c.and_field(v.as_bytes()));
        let plan = engine.body_plan(content_type.as_deref(), coding);
        let wants_body = has_body && plan == BodyPlan::Inspect;
        let sniff = has_body && plan == BodyPlan::Sniff;

        if wants_body && length.is_some_and(|n| n > self.settings.max_inspect_body) {
            if let Some(refused) = self.oversize(session, ctx).await? {
                return Ok(refused);
            }
        }
        // A small body is read whole, to be inspected (or, when binary, sniffed) by the engine now.
        let preread =
            (wants_body || sniff) && !chunked && length.is_some_and(|n| n <= PREREAD_BODY_LIMIT);
        let mut body = BytesMut::new();
        if preread {
            if expects_continue(session.req_header()) {
                // The client sends the body only after a 100 (RFC 9110 §10.1.1), and the app,
                // which would send it, is contacted only after the body has been inspected.
                session
                    .write_continue_response()
                    .await
                    .map_err(|e| e.into_down())?;
                ctx.continue_sent = true;
            }
            // Pingora's retry buffer keeps what we read here and replays it to the app.
            session.enable_retry_buffering();
            // Paced as `request_body_filter` paces a streamed body (which sees these bytes only
            // when Pingora replays them to the app); a read that times out is the client's.
            let limits = &self.settings.limits;
            let mut pace = crate::slow_client::BodyRate::start();
            while let Some(chunk) = session
                .read_request_body()
                .await
                .map_err(|e| e.into_down())?
            {
                let min_rate = limits.min_body_rate.unwrap_or(0);
                if !pace.record(chunk.len(), min_rate, limits.body_rate_grace) {
                    return Err(self.refuse_body(session, ctx, false));
                }
                body.extend_from_slice(&chunk);
                if body.len() > PREREAD_BODY_LIMIT {
                    break;
                }
            }
        }
        let verdict = {
            let req = session.req_header();
            let headers = Self::headers_for_engine(req);
            let mut tx = engine.transaction();
            tx.inspect_head(&RequestHead {
                method: req.method.as_str(),
                target: req.raw_path(),
                headers: &headers,
            });
            if preread {
                tx.inspect_body(content_type.as_deref(), &body);
            }
            tx.into_verdict()
        };
        if self.judge(session, ctx, &verdict) {
            self.count_block(session, ctx);
            ctx.outcome = "blocked";
            self.respond(session, ctx, 403, &[]).await?;
            return Ok(true);
        }
        if (wants_body || sniff) && !preread {
            ctx.held = Some(HeldBody {
                buf: BytesMut::new(),
                sniffing: sniff,
            });
        }
        ctx.engine = Some(engine);
        Ok(false)
    }

    /// A body over the inspection limit. `Some(true)` = answered (413), `None` = let it pass.
    async fn oversize(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<Option<bool>> {
        let reject = self.settings.oversize_body == OversizeBody::Reject
            && self.settings.mode == Mode::Block;
        let action = if reject {
            Action::Block
        } else {
            Action::Monitor
        };
        self.security(
            session,
            ctx,
            action,
            Control::Limits,
            format!(
                "request body larger than the inspection limit ({} bytes)",
                self.settings.max_inspect_body
            ),
            reject.then_some(413),
        );
        if reject {
            ctx.outcome = "body_too_large";
            self.respond(session, ctx, 413, &[]).await?;
            return Ok(Some(true));
        }
        Ok(None)
    }

    /// The HTTPS redirect, when the trusted router says the client spoke plain HTTP.
    async fn redirect(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        let req = session.req_header();
        let plain = req
            .headers
            .get(&X_FORWARDED_PROTO)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"http"));
        if !plain {
            return Ok(false);
        }
        let host = req
            .headers
            .get(HOST)
            .map(|h| h.as_bytes())
            .or_else(|| req.uri.host().map(str::as_bytes));
        let location = https_location(&self.settings.redirect_hosts, host, req.raw_path());
        let Some(location) = location else {
            // No trusted host to send the client to: refuse rather than redirect anywhere.
            ctx.outcome = "bad_host";
            self.respond(session, ctx, 400, &[]).await?;
            return Ok(true);
        };
        let status = if matches!(req.method, http::Method::GET | http::Method::HEAD) {
            301
        } else {
            308
        };
        ctx.action = Action::Redirect;
        ctx.outcome = "redirect";
        let mut header = ResponseHeader::build(status, Some(6))?;
        header.insert_header("location", location)?;
        header.insert_header("content-length", "0")?;
        header.insert_header("cache-control", "no-store")?;
        header.insert_header("x-request-id", ctx.request_id.header_value())?;
        self.settings
            .response_headers
            .apply_to_own_response(&mut header);
        ctx.own_status = Some(status);
        session
            .write_response_header(Box::new(header), true)
            .await?;
        Ok(true)
    }
}

#[async_trait]
impl ProxyHttp for PalisadeProxy {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx {
            started: Instant::now(),
            request_id: RequestId::default(),
            own_status: None,
            outcome: "success",
            client_ip: None,
            country: None,
            action: Action::Allow,
            control: None,
            score: 0,
            hits: Vec::new(),
            engine: None,
            held: None,
            continue_sent: false,
            upstream_status: None,
            guard: hardening::GuardState::default(),
            _inflight: self.inflight.enter(),
        }
    }

    async fn early_request_filter(
        &self,
        session: &mut Session,
        _ctx: &mut RequestCtx,
    ) -> Result<()> {
        // Pingora keeps idle client connections forever by default; bound them, but longer than
        // the router's idle timeout so the router is always the side that closes.
        if session.get_keepalive().is_some() {
            session.set_keepalive(Some(timeout_secs(self.settings.keepalive_timeout)));
        }
        Ok(())
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        ctx.request_id = RequestId::accept_or_generate(session.get_header(&X_REQUEST_ID));

        // 1. Identity: one answer for every control and the audit log.
        if let Some(peer) = session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.ip())
        {
            let values = session
                .req_header()
                .headers
                .get_all(&X_FORWARDED_FOR)
                .iter()
                .map(|v| v.as_bytes());
            self.identify(peer, values, ctx);
        }

        // Limits, framing checks, concurrency caps and load shedding (issue #8).
        if self.guard_request(session, ctx).await? {
            return Ok(true);
        }

        // 2. Transport: HTTPS only.
        if self.settings.https_redirect && self.redirect(session, ctx).await? {
            return Ok(true);
        }

        // 3. Access control.
        let refusal = {
            let lookup = Headers(session.req_header());
            self.check_access(&*session, &lookup, ctx).await
        };
        if let Some(refusal) = refusal {
            let extra: Vec<(&'static str, String)> = refusal
                .retry_after_secs
                .map(|s| vec![("retry-after", s.to_string())])
                .unwrap_or_default();
            self.respond(session, ctx, refusal.status, &extra).await?;
            return Ok(true);
        }

        // 4. Inspection (head, and small bodies now).
        if self.inspect(session, ctx).await? {
            return Ok(true);
        }

        // 5. Hold the request while the app boots; past the boot deadline answer 503.
        if !self.app.is_ready() && !self.app.wait_ready().await {
            ctx.outcome = "app_not_ready";
            let retry = self.app.retry_after_secs().max(5).to_string();
            self.respond(session, ctx, 503, &[("retry-after", retry)])
                .await?;
            return Ok(true);
        }
        Ok(false)
    }

    async fn request_body_filter(
        &self,
        session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        self.guard_body(session, body.as_ref().map_or(0, Bytes::len), ctx)?;
        let Some(held) = ctx.held.as_mut() else {
            return Ok(());
        };
        if let Some(chunk) = body.take() {
            held.buf.extend_from_slice(&chunk);
        }
        if held.sniffing {
            if held.buf.len() < SNIFF_LEN && !end_of_stream {
                *body = Some(Bytes::new());
                return Ok(());
            }
            if !looks_like_text(&held.buf) {
                // Media, as labelled: streamed on uninspected, from the bytes held so far.
                *body = ctx.held.take().map(|h| h.buf.freeze());
                return Ok(());
            }
            held.sniffing = false;
        }
        if held.buf.len() > self.settings.max_inspect_body {
            let reject = self.settings.oversize_body == OversizeBody::Reject
                && self.settings.mode == Mode::Block;
            let released = ctx.held.take().map(|h| h.buf.freeze());
            if reject {
                self.security(
                    session,
                    ctx,
                    Action::Block,
                    Control::Limits,
                    format!(
                        "request body larger than the inspection limit ({} bytes)",
                        self.settings.max_inspect_body
                    ),
                    Some(413),
                );
                ctx.outcome = "body_too_large";
                return Error::e_explain(
                    ErrorType::HTTPStatus(413),
                    "body over the inspection limit",
                );
            }
            self.security(
                session,
                ctx,
                Action::Monitor,
                Control::Limits,
                "request body over the inspection limit forwarded uninspected".into(),
                None,
            );
            *body = released;
            return Ok(());
        }
        if !end_of_stream {
            // Hold: an empty chunk keeps the stream open without sending anything.
            *body = Some(Bytes::new());
            return Ok(());
        }
        let buf = ctx.held.take().map(|h| h.buf.freeze()).unwrap_or_default();
        let verdict = match ctx.engine.clone() {
            Some(engine) => {
                let req = session.req_header();
                let headers = Self::headers_for_engine(req);
                let content_type = req.headers.get(CONTENT_TYPE).map(|v| v.as_bytes());
                let mut tx = engine.transaction();
                tx.inspect_head(&RequestHead {
                    method: req.method.as_str(),
                    target: req.raw_path(),
                    headers: &headers,
                });
                tx.inspect_body(content_type, &buf);
                tx.into_verdict()
            }
            None => Verdict::default(),
        };
        if self.judge(session, ctx, &verdict) {
            self.count_block(session, ctx);
            ctx.outcome = "blocked";
            return Error::e_explain(ErrorType::HTTPStatus(403), "blocked by inspection");
        }
        *body = Some(buf);
        Ok(())
    }

    async fn proxy_upstream_filter(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<bool> {
        if !direct_relay::relays_directly(session.req_header()) {
            return Ok(true);
        }
        self.relay_directly(session, ctx).await?;
        Ok(false)
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        let mut peer = HttpPeer::new(self.app.addr(), false, String::new());
        peer.options.connection_timeout = Some(self.settings.upstream_connect_timeout);
        peer.options.read_timeout = Some(self.settings.upstream_read_timeout);
        peer.options.write_timeout = Some(self.settings.upstream_read_timeout);
        peer.options.idle_timeout = Some(APP_IDLE_TIMEOUT);
        Ok(Box::new(peer))
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        upstream: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        // Behind the router the accepted id is usually the request's own, single X-Request-Id:
        // inserting it again would change nothing but cost a name parse and two map writes.
        let mut sent = upstream.headers.get_all(&X_REQUEST_ID).iter();
        let unchanged = sent
            .next()
            .is_some_and(|v| v.as_bytes() == ctx.request_id.as_str().as_bytes())
            && sent.next().is_none();
        if !unchanged {
            upstream.insert_header("x-request-id", ctx.request_id.header_value())?;
        }
        if ctx.continue_sent {
            // The body is already read and follows the head at once.
            upstream.remove_header(&EXPECT);
        }
        // A TLS connection comes straight from the client (the router never speaks TLS to a dyno).
        let tls = session.digest().is_some_and(|d| d.ssl_digest.is_some());
        if !self.settings.behind_heroku_router || tls {
            // No trusted router in front: the socket is the truth. Append the peer to the chain
            // (the app decides how much of it to trust) and state the scheme we received.
            if let Some(peer) = session
                .client_addr()
                .and_then(|a| a.as_inet())
                .map(|a| a.ip())
            {
                let xff = match upstream.headers.get(&X_FORWARDED_FOR) {
                    Some(prev) => format!("{}, {peer}", String::from_utf8_lossy(prev.as_bytes())),
                    None => peer.to_string(),
                };
                upstream.insert_header("x-forwarded-for", xff)?;
            }
            upstream.insert_header("x-forwarded-proto", if tls { "https" } else { "http" })?;
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        ctx.upstream_status = Some(upstream_response.status.as_u16());
        crate::headers::strip_connection_nominated(upstream_response);
        self.settings
            .response_headers
            .apply_to_app_response(upstream_response);
        if !upstream_response.headers.contains_key(&X_REQUEST_ID) {
            upstream_response.insert_header("x-request-id", ctx.request_id.header_value())?;
        }
        Ok(())
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        let code = error_status(e);
        if ctx.outcome == "success" {
            ctx.outcome = failure_outcome(code);
        }
        if code > 0 && session.response_written().is_none() {
            if let Err(write_err) = self.respond(session, ctx, code, &[]).await {
                tracing::debug!(error = %write_err, "could not write error page; client gone");
            }
        } else if code > 0 {
            // Headers already went out (e.g. the app died mid-body): the status is what was sent.
            ctx.own_status = None;
        }
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }

    /// What Pingora's own error lines ("Fail to proxy: …") say about the request. Its default
    /// is the raw target with the query, which may hold PHI (`?name=…&dob=…`) and would reach
    /// the log drain through stderr: the method, the path and the request id say enough.
    fn request_summary(&self, session: &Session, ctx: &RequestCtx) -> String {
        format!(
            "{} {}, request id {}",
            session.req_header().method,
            session.req_header().uri.path(),
            ctx.request_id.as_str()
        )
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut RequestCtx) {
        if !self.settings.access_log {
            return;
        }
        let status = session
            .response_written()
            .map(|r| r.status.as_u16())
            .or(ctx.own_status)
            .unwrap_or(0);
        let (bytes_in, bytes_out) = (session.body_bytes_read(), session.body_bytes_sent());
        self.emit_access(&*session, ctx, status, e.is_some(), bytes_in, bytes_out);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn header_lookup_finds_what_the_map_finds() {
        for extra in [0, LINEAR_LOOKUP_MAX_FIELDS] {
            let mut req = RequestHeader::build("GET", b"/", None).unwrap();
            req.append_header("Host", "h").unwrap();
            req.append_header("X-Scanner", "one").unwrap();
            req.append_header("x-scanner", "two").unwrap();
            req.append_header("X-Api-Key", "k1").unwrap();
            for i in 0..extra {
                req.append_header(format!("x-filler-{i}"), "v").unwrap();
            }
            let lookup = Headers(&req);
            for name in [
                "x-scanner",
                "X-Scanner",
                "x-api-key",
                "X-API-KEY",
                "host",
                "x-wipp",
                "acunetix-product",
                "",
                "not a name",
            ] {
                assert_eq!(
                    lookup.header(name),
                    req.headers.get(name).map(|v| v.as_bytes()),
                    "{name} with {extra} extra fields"
                );
            }
            assert_eq!(lookup.header("x-scanner"), Some(&b"one"[..]));
        }
    }
}
