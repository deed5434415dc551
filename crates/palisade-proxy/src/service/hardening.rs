//! The request path's floor under attack and load (issue #8), first thing after identity: load
//! shedding, head limits and framing checks ([`crate::limits`]), the whole-body limit, the
//! per-client concurrency cap ([`crate::shedding`]), and the body pace
//! ([`crate::slow_client::BodyRate`]). Every refusal emits one security event and answers with
//! Palisade's own page; the connection is closed after it (see `respond`).

use pingora::protocols::http::ServerSession;

use super::*;
use crate::limits::{check_head, content_length};
use crate::shedding::{self, IpSlot, PER_IP_RETRY_AFTER_SECS, SHED_RETRY_AFTER_SECS};
use crate::slow_client::BodyRate;

/// Per-request state of these checks.
#[derive(Debug, Default)]
pub(super) struct GuardState {
    /// This request's slot in its client's concurrency cap, released with the context.
    ip_slot: Option<IpSlot>,
    /// The body's pace, from the moment the head was accepted.
    body: Option<BodyRate>,
}

impl GuardState {
    /// Holds the request's slot in its client's concurrency cap (the HTTP/1 lane takes it
    /// itself), released with the context.
    pub(super) fn hold_ip_slot(&mut self, slot: IpSlot) {
        self.ip_slot = Some(slot);
    }
}

impl PalisadeProxy {
    /// Answers a refused request: one security event, then the page.
    #[allow(clippy::too_many_arguments)]
    async fn refuse(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        status: u16,
        action: Action,
        control: Control,
        reason: &'static str,
        outcome: &'static str,
        retry_after: Option<u64>,
    ) -> Result<()> {
        self.security(session, ctx, action, control, reason.into(), Some(status));
        ctx.outcome = outcome;
        let extra: Vec<(&'static str, String)> = retry_after
            .map(|s| vec![("retry-after", s.to_string())])
            .unwrap_or_default();
        self.respond(session, ctx, status, &extra).await
    }

    /// Returns true when the request was refused (and answered).
    pub(super) async fn guard_request(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<bool> {
        let limits = &self.settings.limits;
        // Shed before any work: the in-flight count includes this request.
        if shedding::overloaded(self.inflight.current(), limits.max_inflight) {
            self.refuse(
                session,
                ctx,
                503,
                Action::Limit,
                Control::Limits,
                "load shed: more requests in flight than max_inflight",
                "shed",
                Some(SHED_RETRY_AFTER_SECS),
            )
            .await?;
            return Ok(true);
        }
        let raw = match session.as_downstream() {
            ServerSession::H1(h1) => Some(h1.get_headers_raw_bytes()),
            _ => None,
        };
        if let Some(v) = check_head(session.req_header(), raw.as_deref(), limits) {
            let control = if v.protocol {
                Control::Protocol
            } else {
                Control::Limits
            };
            self.refuse(
                session,
                ctx,
                v.status,
                Action::Block,
                control,
                v.reason,
                v.outcome,
                None,
            )
            .await?;
            return Ok(true);
        }
        if let (Some(max), Some(len)) = (limits.max_body, content_length(session.req_header())) {
            if len > max {
                self.refuse(
                    session,
                    ctx,
                    413,
                    Action::Block,
                    Control::Limits,
                    "Content-Length over max_body",
                    "body_too_large",
                    None,
                )
                .await?;
                return Ok(true);
            }
        }
        if let (Some(table), Some(ip)) = (&self.per_ip, ctx.client_ip) {
            match table.try_enter(ip) {
                Some(slot) => ctx.guard.ip_slot = Some(slot),
                None => {
                    self.refuse(
                        session,
                        ctx,
                        429,
                        Action::Limit,
                        Control::Limits,
                        "client over max_concurrent_per_ip",
                        "rate_limited",
                        Some(PER_IP_RETRY_AFTER_SECS),
                    )
                    .await?;
                    return Ok(true);
                }
            }
        }
        // An upgraded connection (WebSocket) is a long-lived stream that may idle, not a
        // request body: neither the body pace nor the body limit applies to it.
        if session.is_upgrade_req() {
            return Ok(false);
        }
        if limits.min_body_rate.is_some() {
            // A body that stalls completely never reaches `request_body_filter`: bound each read.
            session.set_read_timeout(Some(limits.body_rate_grace));
        }
        ctx.guard.body = Some(BodyRate::start());
        Ok(false)
    }

    /// Counts a body chunk: over `max_body` → 413, slower than `min_body_rate` → 408.
    pub(super) fn guard_body(
        &self,
        session: &Session,
        chunk_len: usize,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let limits = &self.settings.limits;
        let Some(rate) = ctx.guard.body.as_mut() else {
            return Ok(());
        };
        let fast_enough = rate.record(
            chunk_len,
            limits.min_body_rate.unwrap_or(0),
            limits.body_rate_grace,
        );
        let too_big = limits.max_body.is_some_and(|m| rate.bytes() > m);
        if too_big || !fast_enough {
            // Judged once: the error ends the request.
            ctx.guard.body = None;
            return Err(self.refuse_body(session, ctx, too_big));
        }
        Ok(())
    }

    /// The security event and the error for a body refused while it is read: over `max_body`
    /// (413) when `too_big`, else slower than `min_body_rate` (408).
    pub(super) fn refuse_body(
        &self,
        session: &Session,
        ctx: &mut RequestCtx,
        too_big: bool,
    ) -> Box<Error> {
        let (status, reason) = self.record_body_refusal(session, ctx, too_big);
        Error::explain(ErrorType::HTTPStatus(status), reason)
    }

    /// Records a body refused while it is read (security event, outcome) on either path;
    /// returns the status to answer and the reason.
    pub(super) fn record_body_refusal(
        &self,
        req: &impl RequestFacts,
        ctx: &mut RequestCtx,
        too_big: bool,
    ) -> (u16, &'static str) {
        let (status, reason, outcome) = if too_big {
            (413, "request body over max_body", "body_too_large")
        } else {
            (
                408,
                "request body slower than min_body_rate",
                "body_too_slow",
            )
        };
        self.security(
            req,
            ctx,
            Action::Block,
            Control::Limits,
            reason.into(),
            Some(status),
        );
        ctx.outcome = outcome;
        (status, reason)
    }
}
