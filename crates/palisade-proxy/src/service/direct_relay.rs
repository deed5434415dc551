//! The direct relay: plain HTTP/1 GET and HEAD requests without a body — nearly all of an app's
//! traffic — go to the app from `proxy_upstream_filter` over Palisade's own keep-alive pool
//! ([`crate::app_pool`]) instead of through pingora-proxy's upstream machinery, which spends a
//! per-request task, channels and a pool-watch task on every request (measured: about 16 µs of
//! CPU per small request, more than everything Palisade itself does; README, Benchmarks).
//!
//! Everything else — bodies, upgrades (WebSocket), HTTP/2, anything with hop-by-hop headers or an
//! unusual target — takes the ordinary path. Both paths run the same hooks in the same order
//! (`upstream_request_filter`, `response_filter`, `fail_to_proxy`, `logging`), so what the app
//! and the client see does not depend on which path a request took; the integration tests drive
//! both. What this path does that Pingora's did, on purpose: the app gets HTTP/1.1 with the
//! client's `Connection` header removed; a response the app delimits by closing (no length, not
//! chunked) is re-framed chunked so the client connection survives; 1xx interim responses are
//! not forwarded; a failure on a reused connection before any response byte is retried once.

use http::header;
use pingora::protocols::http::v1::client::HttpSession as AppSession;

use super::*;
use crate::app_pool::AppConnection;

/// Hop-by-hop or framing request headers whose presence sends a request the ordinary way (their
/// handling — stripping, nominations, upgrades, bodies — is Pingora's).
fn needs_ordinary_path(name: &http::HeaderName) -> bool {
    *name == header::CONTENT_LENGTH
        || *name == header::TRANSFER_ENCODING
        || *name == header::UPGRADE
        || *name == header::TE
        || *name == header::TRAILER
        || *name == header::EXPECT
        || *name == header::PROXY_AUTHORIZATION
        || *name == header::PROXY_AUTHENTICATE
        || matches!(
            name.as_str(),
            "keep-alive" | "proxy-connection" | "http2-settings"
        )
}

/// Whether a request can take the direct relay: GET or HEAD over HTTP/1.0 or 1.1, an
/// origin-form target, exactly one `Host` without userinfo, no body or framing headers, no
/// hop-by-hop headers beyond a plain `Connection: close` / `keep-alive`.
pub(crate) fn relays_directly(req: &RequestHeader) -> bool {
    if !matches!(req.method, http::Method::GET | http::Method::HEAD)
        || !matches!(req.version, http::Version::HTTP_11 | http::Version::HTTP_10)
        || req.raw_path().first() != Some(&b'/')
    {
        return false;
    }
    let mut hosts = 0;
    let mut connections = 0;
    for (name, value) in req.headers.iter() {
        if *name == header::HOST {
            hosts += 1;
            if value.as_bytes().contains(&b'@') {
                return false;
            }
        } else if *name == header::CONNECTION {
            connections += 1;
            let v = value.as_bytes().trim_ascii();
            if !(v.eq_ignore_ascii_case(b"close") || v.eq_ignore_ascii_case(b"keep-alive")) {
                return false;
            }
        } else if needs_ordinary_path(name) {
            return false;
        }
    }
    hosts == 1 && connections <= 1
}

impl PalisadeProxy {
    /// Relays a request [`relays_directly`] accepted: head to the app, the app's response back,
    /// streamed chunk by chunk. Errors carry their side (app or client) for `fail_to_proxy`.
    pub(super) async fn relay_directly(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let addr = self.app.addr();
        let conn = self.app_pool.get(addr).await?;
        let mut app = match self.exchange_head(session, ctx, conn).await {
            Ok(app) => app,
            Err((e, reused)) if reused && retryable(&e) => {
                // Most likely the app closed this idle connection just now; a bodyless GET or
                // HEAD is safe to send again, once, on a fresh connection.
                let stream = self.app_pool.connect(addr).await?;
                let conn = AppConnection {
                    stream,
                    reused: false,
                };
                self.exchange_head(session, ctx, conn)
                    .await
                    .map_err(|(e, _)| e)?
            }
            Err((e, _)) => return Err(e),
        };

        let mut head = Box::new(
            app.resp_header()
                .ok_or_else(|| Error::new(ErrorType::InvalidHTTPHeader).into_up())?
                .clone(),
        );
        let done = app.is_body_done();
        let no_body = session.req_header().method == http::Method::HEAD
            || matches!(head.status.as_u16(), 204 | 304);
        if !no_body
            && !done
            && head.headers.get(header::TRANSFER_ENCODING).is_none()
            && head.headers.get(header::CONTENT_LENGTH).is_none()
        {
            // The app ends this body by closing: re-frame it chunked so the client's
            // connection does not have to close too (as Pingora's path does).
            head.set_version(http::Version::HTTP_11);
            head.insert_header(header::TRANSFER_ENCODING, "chunked")?;
        }
        self.response_filter(session, &mut head, ctx).await?;
        session
            .write_response_header(head, done)
            .await
            .map_err(|e| e.into_down())?;
        if !done {
            while let Some(chunk) = app.read_body_bytes().await.map_err(|e| e.into_up())? {
                session
                    .write_response_body(Some(chunk), false)
                    .await
                    .map_err(|e| e.into_down())?;
            }
        }
        // Ends the body's framing (the last chunk, or nothing at all for a sized body).
        session
            .write_response_body(None, true)
            .await
            .map_err(|e| e.into_down())?;
        app.respect_keepalive();
        if let Some(stream) = app.reuse().await {
            self.app_pool.put(stream, addr);
        }
        Ok(())
    }

    /// Sends the request head on `conn` and reads the app's final response head. On failure,
    /// also says whether the connection was a reused one.
    async fn exchange_head(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        conn: AppConnection,
    ) -> std::result::Result<AppSession, (Box<Error>, bool)> {
        let reused = conn.reused;
        let fail = |e: Box<Error>| (e, reused);
        let mut head = session.req_header().clone();
        head.set_version(http::Version::HTTP_11);
        // The client's `Connection` is about the client's connection, not the app's.
        head.remove_header(&header::CONNECTION);
        self.upstream_request_filter(session, &mut head, ctx)
            .await
            .map_err(fail)?;
        let mut app = AppSession::new(conn.stream);
        app.read_timeout = Some(self.settings.upstream_read_timeout);
        app.write_timeout = Some(self.settings.upstream_read_timeout);
        app.write_request_header(Box::new(head))
            .await
            .map_err(|e| fail(e.into_up()))?;
        app.read_response().await.map_err(|e| fail(e.into_up()))?;
        // Interim responses (100, 103) are not forwarded; 101 was not asked for.
        while app
            .resp_header()
            .is_some_and(|h| h.status.is_informational())
        {
            if app.resp_header().is_some_and(|h| h.status == 101) {
                return Err(fail(
                    Error::explain(
                        ErrorType::InvalidHTTPHeader,
                        "101 Switching Protocols to a request that asked for no upgrade",
                    )
                    .into_up(),
                ));
            }
            app.read_response().await.map_err(|e| fail(e.into_up()))?;
        }
        Ok(app)
    }
}

/// Failures that, on a reused connection, mean the app closed it while idle — not a slow or
/// broken app (a timeout is never retried: it would double the wait).
fn retryable(e: &Error) -> bool {
    matches!(
        e.etype(),
        ErrorType::ConnectionClosed | ErrorType::ReadError | ErrorType::WriteError
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn req(method: &str, target: &str, headers: &[(&str, &str)]) -> RequestHeader {
        let mut r = RequestHeader::build(method, target.as_bytes(), None).unwrap();
        for (n, v) in headers {
            r.append_header(n.to_string(), *v).unwrap();
        }
        r
    }

    #[test]
    fn plain_gets_and_heads_relay_directly() {
        let browser = [
            ("host", "example.test"),
            ("user-agent", "Mozilla/5.0"),
            ("accept", "text/html"),
            ("cookie", "a=b"),
            ("x-forwarded-for", "203.0.113.9"),
        ];
        assert!(relays_directly(&req("GET", "/", &browser)));
        assert!(relays_directly(&req("HEAD", "/a?b=c", &browser)));
        assert!(relays_directly(&req(
            "GET",
            "/",
            &[("host", "h"), ("connection", " Keep-Alive ")]
        )));
        assert!(relays_directly(&req(
            "GET",
            "/",
            &[("host", "h"), ("connection", "close")]
        )));
        let mut v10 = req("GET", "/", &[("host", "h")]);
        v10.set_version(http::Version::HTTP_10);
        assert!(relays_directly(&v10));
    }

    #[test]
    fn anything_else_takes_the_ordinary_path() {
        let h = ("host", "example.test");
        for (method, target, extra) in [
            ("POST", "/", None),
            ("PUT", "/", None),
            ("DELETE", "/", None),
            ("OPTIONS", "*", None),
            ("GET", "http://example.test/", None),
            ("GET", "/", Some(("content-length", "0"))),
            ("GET", "/", Some(("transfer-encoding", "chunked"))),
            ("GET", "/ws", Some(("upgrade", "websocket"))),
            ("GET", "/", Some(("connection", "upgrade"))),
            ("GET", "/", Some(("connection", "close, x-secret"))),
            ("GET", "/", Some(("keep-alive", "timeout=5"))),
            ("GET", "/", Some(("proxy-connection", "keep-alive"))),
            ("GET", "/", Some(("proxy-authorization", "Basic eA=="))),
            ("GET", "/", Some(("te", "trailers"))),
            ("GET", "/", Some(("trailer", "x"))),
            ("GET", "/", Some(("expect", "100-continue"))),
            ("GET", "/", Some(("http2-settings", "AAMAAABkAAQAAP__"))),
            ("GET", "/", Some(("host", "second.test"))),
        ] {
            let mut headers = vec![h];
            headers.extend(extra);
            assert!(
                !relays_directly(&req(method, target, &headers)),
                "{method} {target} {extra:?}"
            );
        }
        assert!(!relays_directly(&req("GET", "/", &[])), "no Host");
        assert!(!relays_directly(&req("GET", "/", &[("host", "u@h")])));
        assert!(!relays_directly(&req(
            "GET",
            "/",
            &[
                ("host", "h"),
                ("connection", "close"),
                ("connection", "close")
            ]
        )));
        let mut h2 = req("GET", "/", &[h]);
        h2.set_version(http::Version::HTTP_2);
        assert!(!relays_directly(&h2));
    }

    #[test]
    fn only_idle_close_failures_are_retried() {
        for t in [
            ErrorType::ConnectionClosed,
            ErrorType::ReadError,
            ErrorType::WriteError,
        ] {
            assert!(retryable(&Error::new(t)));
        }
        for t in [
            ErrorType::ReadTimedout,
            ErrorType::WriteTimedout,
            ErrorType::InvalidHTTPHeader,
            ErrorType::ConnectTimedout,
        ] {
            assert!(!retryable(&Error::new(t)));
        }
    }
}
