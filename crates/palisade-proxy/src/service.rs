//! The Pingora `ProxyHttp` implementation: where every request goes, in pipeline order.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::{ErrorSource, ErrorType};

use crate::access_log::{AccessLog, AccessRecord};
use crate::app::AppTarget;
use crate::headers::ResponseHeaderPolicy;
use crate::inflight::{Inflight, InflightGuard};
use crate::inspect::{engine_for_request, head_blocked, Inspection};
use crate::{pages, request_id};

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
}

/// The proxy: one instance shared by every worker thread.
pub struct PalisadeProxy {
    settings: ProxySettings,
    app: Arc<AppTarget>,
    inflight: Inflight,
    log: AccessLog,
    inspection: Option<Inspection>,
}

impl PalisadeProxy {
    /// Inspects every request head with the rules in `rules` (swapped at runtime); `enforce`
    /// answers 403 to blocking verdicts (block mode), otherwise they are only recorded.
    pub fn with_rules(mut self, rules: palisade_rules::RulesHandle, enforce: bool) -> Self {
        self.inspection = Some(Inspection { rules, enforce });
        self
    }

    /// Builds the proxy in front of `app`.
    pub fn new(
        settings: ProxySettings,
        app: Arc<AppTarget>,
        inflight: Inflight,
        log: AccessLog,
    ) -> Self {
        PalisadeProxy {
            settings,
            app,
            inflight,
            log,
            inspection: None,
        }
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
        let body = pages::html(status, &ctx.request_id);
        let mut header = pages::header(status, &ctx.request_id, body.len())?;
        for (name, value) in extra {
            header.insert_header(*name, value.as_str())?;
        }
        self.settings
            .response_headers
            .apply_to_own_response(&mut header);
        ctx.own_status = Some(status);
        // HEAD gets the headers only.
        let head_only = session.req_header().method == http::Method::HEAD;
        session
            .write_response_header(Box::new(header), head_only)
            .await?;
        if !head_only {
            session.write_response_body(Some(body), true).await?;
        }
        Ok(())
    }
}

/// Per-request state, dropped when Pingora is done with the request.
pub struct RequestCtx {
    started: Instant,
    request_id: String,
    own_status: Option<u16>,
    outcome: &'static str,
    /// The rules this request is inspected with, taken once at `request_filter`.
    engine: Option<Arc<palisade_engine::Engine>>,
    _inflight: InflightGuard,
}

fn timeout_secs(d: Duration) -> u64 {
    d.as_secs().max(1)
}

#[async_trait]
impl ProxyHttp for PalisadeProxy {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx {
            started: Instant::now(),
            request_id: String::new(),
            own_status: None,
            outcome: "success",
            engine: None,
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
        ctx.request_id = request_id::accept_or_generate(
            session.get_header("x-request-id").map(|v| v.as_bytes()),
        );

        // Hold the request while the app boots; past the boot deadline answer 503.
        if !self.app.is_ready() && !self.app.wait_ready().await {
            ctx.outcome = "app_not_ready";
            let retry = self.app.retry_after_secs().max(5).to_string();
            self.respond(session, ctx, 503, &[("retry-after", retry)])
                .await?;
            return Ok(true);
        }
        if let Some(inspection) = &self.inspection {
            let engine = engine_for_request(inspection);
            let blocked = head_blocked(&engine, session.req_header());
            ctx.engine = Some(engine);
            if blocked {
                ctx.outcome = if inspection.enforce {
                    "blocked"
                } else {
                    "monitored"
                };
                if inspection.enforce {
                    self.respond(session, ctx, 403, &[]).await?;
                    return Ok(true);
                }
            }
        }
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
        // Close pooled app connections before a typical app server's own idle timeout.
        peer.options.idle_timeout = Some(Duration::from_secs(4));
        Ok(Box::new(peer))
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        upstream: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        upstream.insert_header("x-request-id", ctx.request_id.as_str())?;
        if !self.settings.behind_heroku_router {
            // No trusted router in front: the socket is the truth. Append the peer to the chain
            // (the app decides how much of it to trust) and state the scheme we received.
            if let Some(peer) = session
                .client_addr()
                .and_then(|a| a.as_inet())
                .map(|a| a.ip())
            {
                let xff = match upstream.headers.get("x-forwarded-for") {
                    Some(prev) => format!("{}, {peer}", String::from_utf8_lossy(prev.as_bytes())),
                    None => peer.to_string(),
                };
                upstream.insert_header("x-forwarded-for", xff)?;
            }
            upstream.insert_header("x-forwarded-proto", "http")?;
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        self.settings
            .response_headers
            .apply_to_app_response(upstream_response);
        if upstream_response.headers.get("x-request-id").is_none() {
            upstream_response.insert_header("x-request-id", ctx.request_id.as_str())?;
        }
        Ok(())
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        let code = match (e.esource(), e.etype()) {
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
        };
        ctx.outcome = match code {
            0 => "client_disconnect",
            502 => "app_error",
            504 => "app_timeout",
            408 | 400 => "bad_request",
            _ => "error",
        };
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

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut RequestCtx) {
        let status = session
            .response_written()
            .map(|r| r.status.as_u16())
            .or(ctx.own_status)
            .unwrap_or(0);
        if e.is_some() && ctx.outcome == "success" {
            ctx.outcome = "error";
        }
        let req = session.req_header();
        self.log.emit(&AccessRecord {
            request_id: &ctx.request_id,
            client_ip: session
                .client_addr()
                .and_then(|a| a.as_inet())
                .map(|a| a.ip()),
            method: req.method.as_str(),
            path: req.uri.path(),
            status,
            user_agent: session.get_header("user-agent").map(|v| v.as_bytes()),
            referrer: session.get_header("referer").map(|v| v.as_bytes()),
            duration: ctx.started.elapsed(),
            bytes_in: session.body_bytes_read(),
            bytes_out: session.body_bytes_sent(),
            outcome: ctx.outcome,
        });
    }
}
