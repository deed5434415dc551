//! Response headers Palisade adds: HSTS and the other security headers, on the app's responses and
//! on Palisade's own pages alike.

/// Header names as the policy holds them (re-exported so the policy's builder needs no `http`).
pub use http::header::HeaderName;
use http::header::{HeaderValue, InvalidHeaderValue};
use pingora::http::ResponseHeader;

/// Default HSTS max-age: two years.
pub const DEFAULT_HSTS_MAX_AGE: u64 = 63_072_000;

/// One header Palisade sets on responses. The value is validated once, when the policy is
/// built; each response then shares its bytes (a reference count, no copy or allocation).
#[derive(Debug, Clone)]
pub struct AddedHeader {
    /// Lower-case header name (what Pingora's insert takes without copying).
    pub name: &'static str,
    /// The same name parsed once, for lookups (a `&str` lookup parses the name every time).
    pub key: HeaderName,
    /// Value.
    pub value: HeaderValue,
    /// Replace a value the app set (otherwise the app's value is respected).
    pub override_app: bool,
}

impl AddedHeader {
    /// A header to add; fails when `value` is not a valid header value.
    pub fn new(
        name: &'static str,
        value: &str,
        override_app: bool,
    ) -> Result<AddedHeader, InvalidHeaderValue> {
        Ok(AddedHeader {
            name,
            key: HeaderName::from_static(name),
            value: HeaderValue::from_str(value)?,
            override_app,
        })
    }
}

/// Which headers are added to and removed from responses.
#[derive(Debug, Clone, Default)]
pub struct ResponseHeaderPolicy {
    /// Headers to add.
    pub add: Vec<AddedHeader>,
    /// Header names to remove from app responses (e.g. `x-powered-by`).
    pub remove: Vec<HeaderName>,
}

impl ResponseHeaderPolicy {
    /// HSTS with the given parameters.
    pub fn hsts_value(max_age: u64, include_subdomains: bool, preload: bool) -> String {
        let mut v = format!("max-age={max_age}");
        if include_subdomains {
            v.push_str("; includeSubDomains");
        }
        if preload {
            v.push_str("; preload");
        }
        v
    }

    /// Applies the policy to a response from the app: app-set values win unless told to override.
    pub fn apply_to_app_response(&self, resp: &mut ResponseHeader) {
        for name in &self.remove {
            resp.remove_header(name);
        }
        for h in &self.add {
            if h.override_app || !resp.headers.contains_key(&h.key) {
                // Name and value were validated when the policy was built; a failure here is
                // impossible in practice and would only drop the header, never the response.
                let _ = resp.insert_header(h.name, h.value.clone());
            }
        }
    }

    /// Applies the policy to one of Palisade's own responses.
    pub fn apply_to_own_response(&self, resp: &mut ResponseHeader) {
        for h in &self.add {
            let _ = resp.insert_header(h.name, h.value.clone());
        }
    }
}

/// The field names an app response's `Connection` values nominate as hop-by-hop (RFC 9110
/// §7.6.1), which a proxy must not forward: every listed option except `close`, `keep-alive`
/// (about the connection itself, which Palisade states anew) and `upgrade` (a switch the proxy
/// carries through), and except the framing fields, which Palisade frames the message by.
pub(crate) fn nominated_fields<'v>(
    connection_values: impl Iterator<Item = &'v [u8]>,
) -> impl Iterator<Item = &'v [u8]> {
    connection_values
        .flat_map(|v| v.split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|t| {
            !t.is_empty()
                && ![
                    &b"close"[..],
                    b"keep-alive",
                    b"upgrade",
                    b"content-length",
                    b"transfer-encoding",
                ]
                .iter()
                .any(|k| t.eq_ignore_ascii_case(k))
        })
}

/// Removes the fields an app response's `Connection` nominates (see `nominated_fields`).
pub fn strip_connection_nominated(resp: &mut ResponseHeader) {
    let names: Vec<HeaderName> = nominated_fields(
        resp.headers
            .get_all(http::header::CONNECTION)
            .iter()
            .map(HeaderValue::as_bytes),
    )
    .filter_map(|t| HeaderName::from_bytes(t).ok())
    .collect();
    for name in &names {
        resp.remove_header(name);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn connection_nominated_fields_are_stripped_but_framing_and_upgrade_stay() {
        let mut resp = ResponseHeader::build(200, None).unwrap();
        for (n, v) in [
            ("connection", "keep-alive, X-Internal-Token"),
            ("connection", " upgrade ,x-trace,content-length"),
            ("x-internal-token", "secret"),
            ("x-trace", "t"),
            ("upgrade", "websocket"),
            ("content-length", "2"),
            ("x-public", "yes"),
        ] {
            resp.append_header(n, v).unwrap();
        }
        strip_connection_nominated(&mut resp);
        for gone in ["x-internal-token", "x-trace"] {
            assert!(resp.headers.get(gone).is_none(), "{gone}");
        }
        for kept in ["upgrade", "content-length", "x-public", "connection"] {
            assert!(resp.headers.get(kept).is_some(), "{kept}");
        }
    }

    fn policy() -> ResponseHeaderPolicy {
        ResponseHeaderPolicy {
            add: vec![
                AddedHeader::new(
                    "strict-transport-security",
                    &ResponseHeaderPolicy::hsts_value(DEFAULT_HSTS_MAX_AGE, true, false),
                    true,
                )
                .unwrap(),
                AddedHeader::new("x-frame-options", "DENY", false).unwrap(),
            ],
            remove: vec![HeaderName::from_static("x-powered-by")],
        }
    }

    #[test]
    fn app_values_are_respected_unless_overridden() {
        let mut r = ResponseHeader::build(200, None).unwrap();
        r.insert_header("x-frame-options", "SAMEORIGIN").unwrap();
        r.insert_header("strict-transport-security", "max-age=1")
            .unwrap();
        r.insert_header("x-powered-by", "Express").unwrap();
        policy().apply_to_app_response(&mut r);
        assert_eq!(r.headers["x-frame-options"], "SAMEORIGIN");
        assert_eq!(
            r.headers["strict-transport-security"],
            "max-age=63072000; includeSubDomains"
        );
        assert!(r.headers.get("x-powered-by").is_none());
    }

    #[test]
    fn own_responses_get_every_header_and_invalid_values_are_refused() {
        let mut r = ResponseHeader::build(403, None).unwrap();
        policy().apply_to_own_response(&mut r);
        assert_eq!(r.headers["x-frame-options"], "DENY");
        assert!(AddedHeader::new("permissions-policy", "a\r\nb: c", false).is_err());
    }
}
