//! The HTTP/1 lane's request pipeline (the connection loop is `crate::lane`): for a head the lane
//! parsed itself, the same steps as `request_filter` → relay → `logging`, with the same events,
//! pages and access line, but without Pingora's session.
//!
//! Requests the ordinary path would answer with a page of its own before access control (load
//! shedding, the HTTPS redirect, the boot hold, the per-client concurrency cap) are handed back
//! untouched (`None`) and take the ordinary path, so those answers have one implementation.
//! From access control on, the lane answers itself: access control counts rate-limit tokens and
//! blocks, so running it twice would count a request twice.

use std::io::Write as _;

use palisade_policy::LimitsPolicy;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::*;
use crate::lane::push_field;
use crate::lane::request::{LaneHead, MAX_HEADERS};
use crate::lane::response::{self, RelayError, ResponseRules};
use crate::shedding;

/// Bodies up to this size are copied behind the head and written with it.
const INLINE_BODY: usize = 16 * 1024;

/// Buffers one client connection's lane requests reuse.
#[derive(Debug, Default)]
pub(crate) struct LaneBuffers {
    /// The head written to the app.
    upstream: Vec<u8>,
    /// What the app sends.
    from_app: Vec<u8>,
    /// What goes to the client.
    to_client: Vec<u8>,
}

impl LaneBuffers {
    /// Whether a large request or response grew any buffer past `keep` bytes.
    pub(crate) fn larger_than(&self, keep: usize) -> bool {
        [&self.upstream, &self.from_app, &self.to_client]
            .iter()
            .any(|b| b.capacity() > keep)
    }

    /// Drops buffers a large request or response grew past `keep` bytes.
    pub(crate) fn shrink(&mut self, keep: usize) {
        for b in [&mut self.upstream, &mut self.from_app, &mut self.to_client] {
            if b.capacity() > keep {
                *b = Vec::new();
            }
        }
    }
}

/// What a served request leaves of the client connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LaneEnd {
    /// Ready for the next request.
    KeepOpen,
    /// Close it (the client asked, a refusal, a failure, or shutdown).
    Close,
}

/// What the head alone decided for a lane request (`PalisadeProxy::admit_lane`).
// Moved once per request; boxing the context would allocate on the hot path.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Admission {
    /// Allowed by access control: inspection and the relay follow, once the body is read.
    Admitted(RequestCtx),
    /// Refused and answered (page written, access line emitted): the connection closes.
    Answered(LaneEnd),
}

/// Why an admitted lane request's body did not arrive whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFailure {
    /// Slower on average than `min_body_rate` once `body_rate_grace` had passed.
    TooSlow,
    /// No byte came within the read timeout (`body_rate_grace`, or Pingora's 60 s without a
    /// `min_body_rate`).
    Stalled,
    /// The client closed the connection or failed mid-body.
    Closed,
}

impl PalisadeProxy {
    /// Request-head limits, for the lane's acceptance check.
    pub(crate) fn limits(&self) -> &LimitsPolicy {
        &self.settings.limits
    }

    /// The largest request body the lane may read itself: `cap`, narrowed by the bodies the
    /// ordinary path would hold for inspection (`max_inspect_body`) and accept at all
    /// (`max_body`), so every larger body keeps its one treatment there (413, or pass).
    pub(crate) fn lane_max_body(&self, cap: usize) -> usize {
        let max_body = self
            .settings
            .limits
            .max_body
            .map_or(usize::MAX, |m| usize::try_from(m).unwrap_or(usize::MAX));
        cap.min(self.settings.max_inspect_body).min(max_body)
    }

    /// How long an idle client connection is kept between requests.
    pub(crate) fn keepalive_timeout(&self) -> Duration {
        self.settings.keepalive_timeout
    }

    /// Everything that needs only the head: the checks that hand a request back to the
    /// ordinary path (`None`, nothing written), then access control. A refusal is answered
    /// here, before any of the body is read, as the ordinary path answers it.
    pub(crate) async fn admit_lane<C: AsyncWrite + Unpin>(
        &self,
        head: &LaneHead<'_, '_>,
        client: &mut C,
        peer: Option<IpAddr>,
    ) -> Option<Admission> {
        let plain_http = head
            .first_header(&X_FORWARDED_PROTO)
            .is_some_and(|v| v.eq_ignore_ascii_case(b"http"));
        if (self.settings.https_redirect && plain_http) || !self.app.is_ready() {
            return None;
        }
        let mut ctx = self.new_ctx();
        // The in-flight count includes this request, as on the ordinary path.
        if shedding::overloaded(self.inflight.current(), self.settings.limits.max_inflight) {
            return None;
        }
        ctx.request_id = RequestId::accept_or_generate_bytes(head.first_header(&X_REQUEST_ID));
        if let Some(peer) = peer {
            self.identify(peer, head.values(&X_FORWARDED_FOR), &mut ctx);
        }
        if let (Some(table), Some(ip)) = (&self.per_ip, ctx.client_ip) {
            // A client over its cap is answered (429) by the ordinary path.
            ctx.guard.hold_ip_slot(table.try_enter(ip)?);
        }
        let Some(refusal) = self.check_access(head, head, &mut ctx).await else {
            return Some(Admission::Admitted(ctx));
        };
        let retry = refusal.retry_after_secs;
        let (end, status, bytes_out) = self
            .lane_page(client, &mut ctx, head, refusal.status, retry)
            .await;
        if self.settings.access_log {
            // The body, if any, was not read: the connection closes with the page.
            self.emit_access(head, &mut ctx, status, false, 0, bytes_out);
        }
        Some(Admission::Answered(end))
    }

    /// Inspects an admitted request with its whole `body` and relays it (or answers 403), then
    /// writes its access line.
    #[allow(clippy::too_many_arguments)] // one request's parts, kept apart for the borrow checker
    pub(crate) async fn finish_lane<C: AsyncWrite + Unpin>(
        &self,
        head: &LaneHead<'_, '_>,
        body: &[u8],
        client: &mut C,
        peer: Option<IpAddr>,
        bufs: &mut LaneBuffers,
        mut ctx: RequestCtx,
        shutting_down: bool,
    ) -> LaneEnd {
        let (end, status, bytes_out) = if self.lane_inspect(head, body, &mut ctx) {
            self.lane_page(client, &mut ctx, head, 403, None).await
        } else {
            self.lane_relay(head, body, client, peer, bufs, &mut ctx, shutting_down)
                .await
        };
        if self.settings.access_log {
            self.emit_access(head, &mut ctx, status, false, body.len(), bytes_out);
        }
        end
    }

    /// Answers an admitted request whose body did not arrive whole, as the ordinary path
    /// answers the same upload: 408 for a body slower than `min_body_rate` (with its `limits`
    /// event) or one that stalled, nothing for a client that left. `bytes_in`: body bytes read.
    pub(crate) async fn lane_body_failed<C: AsyncWrite + Unpin>(
        &self,
        head: &LaneHead<'_, '_>,
        client: &mut C,
        mut ctx: RequestCtx,
        failure: BodyFailure,
        bytes_in: usize,
    ) -> LaneEnd {
        let (_, status, bytes_out) = match failure {
            BodyFailure::TooSlow => {
                let (status, _) = self.record_body_refusal(head, &mut ctx, false);
                self.lane_page(client, &mut ctx, head, status, None).await
            }
            // The client's failures, answered as any other failure (408, or nothing).
            BodyFailure::Stalled | BodyFailure::Closed => {
                let kind = if failure == BodyFailure::Stalled {
                    ErrorType::ReadTimedout
                } else {
                    ErrorType::ConnectionClosed
                };
                let error = Error::explain(kind, "reading the request body").into_down();
                self.lane_failure(client, &mut ctx, head, &error).await
            }
        };
        if self.settings.access_log {
            self.emit_access(head, &mut ctx, status, false, bytes_in, bytes_out);
        }
        LaneEnd::Close
    }

    /// Inspects the head and the body (when the engine reads its content type), in one
    /// transaction as the ordinary path does; true when the verdict blocks.
    fn lane_inspect(&self, head: &LaneHead<'_, '_>, body: &[u8], ctx: &mut RequestCtx) -> bool {
        let engine = self.engine.current();
        let mut fields: [(&str, &[u8]); MAX_HEADERS] = [("", &[]); MAX_HEADERS];
        for (slot, h) in fields.iter_mut().zip(head.headers) {
            *slot = (h.name, h.value);
        }
        let verdict = {
            let mut tx = engine.transaction();
            tx.inspect_head(&RequestHead {
                method: head.method,
                target: head.target.as_bytes(),
                headers: fields.get(..head.headers.len()).unwrap_or_default(),
            });
            if !body.is_empty() {
                // The whole body is here: the engine sniffs binary media itself.
                tx.inspect_body(head.first_header(&CONTENT_TYPE), body);
            }
            tx.into_verdict()
        };
        if self.judge(head, ctx, &verdict) {
            self.count_block(head, ctx);
            ctx.outcome = "blocked";
            return true;
        }
        false
    }

    /// Writes one of Palisade's own pages and closes, as `respond` does on the ordinary path.
    /// Returns the end, the status and the body bytes written.
    async fn lane_page<C: AsyncWrite + Unpin>(
        &self,
        client: &mut C,
        ctx: &mut RequestCtx,
        head: &LaneHead<'_, '_>,
        status: u16,
        retry_after_secs: Option<u64>,
    ) -> (LaneEnd, u16, usize) {
        ctx.own_status = Some(status);
        let body = pages::html(status, ctx.request_id.as_str());
        let Ok(mut header) = pages::header(status, ctx.request_id.as_str(), body.len()) else {
            return (LaneEnd::Close, status, 0);
        };
        if let Some(secs) = retry_after_secs {
            let _ = header.insert_header("retry-after", secs.to_string());
        }
        self.settings
            .response_headers
            .apply_to_own_response(&mut header);
        let with_body = head.method != "HEAD";
        let mut out = Vec::with_capacity(512 + if with_body { body.len() } else { 0 });
        // Writing to a Vec cannot fail.
        let _ = write!(out, "HTTP/1.1 {status} {}\r\n", pages::reason(status));
        for (name, value) in header.headers.iter() {
            push_field(&mut out, name.as_str().as_bytes(), value.as_bytes());
        }
        let date = pingora::protocols::http::date::get_cached_date();
        push_field(&mut out, b"date", date.as_bytes());
        // A refused request's connection is closed, as on the ordinary path.
        out.extend_from_slice(b"connection: close\r\n\r\n");
        if with_body {
            out.extend_from_slice(&body);
        }
        let sent = client.write_all(&out).await.is_ok() && client.flush().await.is_ok();
        if !sent && ctx.outcome == "success" {
            ctx.outcome = "client_disconnect";
        }
        let bytes = if sent && with_body { body.len() } else { 0 };
        (LaneEnd::Close, status, bytes)
    }

    /// Relays the request to the app over the pool and the response back. A failure before
    /// the client saw anything gets the ordinary path's 502/504 page.
    #[allow(clippy::too_many_arguments)] // one request's parts, kept apart for the borrow checker
    async fn lane_relay<C: AsyncWrite + Unpin>(
        &self,
        head: &LaneHead<'_, '_>,
        body: &[u8],
        client: &mut C,
        peer: Option<IpAddr>,
        bufs: &mut LaneBuffers,
        ctx: &mut RequestCtx,
        shutting_down: bool,
    ) -> (LaneEnd, u16, usize) {
        // Behind the router its X-Forwarded-* are passed on as they came; elsewhere the socket
        // is the truth (the lane never sees TLS connections).
        let from_socket = if self.settings.behind_heroku_router {
            None
        } else {
            peer
        };
        head.write_upstream(&mut bufs.upstream, ctx.request_id.as_str(), from_socket);
        // A small body goes out with the head in one write; a large one from the connection
        // buffer it was read into, without a copy.
        let body = if body.len() <= INLINE_BODY {
            bufs.upstream.extend_from_slice(body);
            &[][..]
        } else {
            body
        };
        // Sent again after a race with the app's idle close only when repeating it is harmless
        // (RFC 9110 §9.2.2), as Pingora's own retry policy.
        let idempotent = matches!(head.method, "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS");
        let keep_client = !head.close && !shutting_down;
        let rules = ResponseRules {
            policy: &self.settings.response_headers,
            request_id: ctx.request_id.as_str().as_bytes(),
            head_request: head.method == "HEAD",
            keep_client,
        };
        let addr = self.app.addr();
        let read_timeout = self.settings.upstream_read_timeout;
        let mut conn = match self.app_pool.get(addr).await {
            Ok(c) => c,
            Err(e) => return self.lane_failure(client, ctx, head, &e).await,
        };
        let result = loop {
            let result = response::relay(
                &mut conn.stream,
                client,
                &[&bufs.upstream, body],
                &rules,
                read_timeout,
                &mut bufs.from_app,
                &mut bufs.to_client,
            )
            .await;
            match &result {
                Err(RelayError::BeforeHead {
                    error,
                    nothing_received: true,
                }) if idempotent && conn.reused && *error.esource() == ErrorSource::Upstream => {
                    // Most likely the app closed this idle connection just now; an idempotent
                    // request is safe to send again, once, on a fresh connection.
                    conn = match self.app_pool.connect(addr).await {
                        Ok(stream) => crate::app_pool::AppConnection {
                            stream,
                            reused: false,
                        },
                        Err(e) => return self.lane_failure(client, ctx, head, &e).await,
                    };
                }
                _ => break result,
            }
        };
        match result {
            Ok(r) => {
                ctx.upstream_status = Some(r.status);
                if r.app_reusable {
                    self.app_pool.put(conn.stream, addr);
                }
                let end = if keep_client && r.client_reusable {
                    LaneEnd::KeepOpen
                } else {
                    LaneEnd::Close
                };
                (
                    end,
                    r.status,
                    usize::try_from(r.body_bytes).unwrap_or(usize::MAX),
                )
            }
            Err(RelayError::BeforeHead { error, .. }) => {
                self.lane_failure(client, ctx, head, &error).await
            }
            Err(RelayError::AfterHead {
                error,
                status,
                body_bytes,
            }) => {
                // The client has the app's status already: the connection is closed mid-body.
                ctx.upstream_status = Some(status);
                ctx.outcome = if *error.esource() == ErrorSource::Downstream {
                    "client_disconnect"
                } else {
                    "app_error"
                };
                self.log_failure(&error, status, ctx, head);
                let bytes = usize::try_from(body_bytes).unwrap_or(usize::MAX);
                (LaneEnd::Close, status, bytes)
            }
        }
    }

    /// A failure before the client saw a response: the ordinary path's page (502, 504, 408)
    /// and outcome, or nothing when the client itself is gone.
    async fn lane_failure<C: AsyncWrite + Unpin>(
        &self,
        client: &mut C,
        ctx: &mut RequestCtx,
        head: &LaneHead<'_, '_>,
        error: &Error,
    ) -> (LaneEnd, u16, usize) {
        let code = error_status(error);
        ctx.outcome = failure_outcome(code);
        self.log_failure(error, code, ctx, head);
        if code == 0 {
            return (LaneEnd::Close, 0, 0);
        }
        self.lane_page(client, ctx, head, code, None).await
    }

    /// The diagnostic line for a failed request (stderr), as Pingora writes for the ordinary
    /// path — but with the path only: a query may hold PHI.
    fn log_failure(&self, error: &Error, status: u16, ctx: &RequestCtx, head: &LaneHead<'_, '_>) {
        if status == 0 {
            return;
        }
        tracing::error!(
            error = %error,
            status,
            method = head.method,
            path = head.path,
            request_id = ctx.request_id.as_str(),
            "request failed"
        );
    }
}
