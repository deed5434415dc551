//! Palisade's own responses (403, 413, 429, 502, 503, 504, redirects): small, self-contained,
//! carrying the request id and never a stack trace or internal detail.

use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::prelude::*;

/// What the user sees for a status, in one sentence.
pub fn explanation(status: u16) -> &'static str {
    match status {
        400 => "The request was malformed and was not passed on.",
        403 => "This request was blocked by the application firewall.",
        404 => "Not found.",
        405 => "This method is not allowed here.",
        408 => "The request took too long to arrive.",
        413 => "The request body is larger than this service accepts.",
        414 => "The request URL is too long.",
        429 => "Too many requests. Please wait and try again.",
        431 => "The request headers are too large.",
        502 => "The application could not be reached or failed to answer.",
        503 => "The service is starting or overloaded. Please try again shortly.",
        504 => "The application took too long to answer.",
        _ => "The request could not be completed.",
    }
}

/// The reason phrase for a status, for the page title.
pub fn reason(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}

/// The HTML body of a page. The request id is log-safe by construction (see `request_id`), so it
/// can be embedded without escaping beyond what its alphabet already guarantees.
pub fn html(status: u16, request_id: &str) -> Bytes {
    Bytes::from(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{status} {reason}</title>\
         <meta name=\"viewport\" content=\"width=device-width\"></head>\
         <body style=\"font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;color:#222\">\
         <h1>{status} {reason}</h1><p>{explanation}</p>\
         <p style=\"color:#666\">Request ID: <code>{request_id}</code><br>\
         If you contact support, include this ID.</p></body></html>\n",
        reason = reason(status),
        explanation = explanation(status),
    ))
}

/// Builds the response header for an own page.
pub fn header(status: u16, request_id: &str, body_len: usize) -> Result<ResponseHeader> {
    let mut h = ResponseHeader::build(status, Some(6))?;
    h.insert_header("content-type", "text/html; charset=utf-8")?;
    h.insert_header("content-length", body_len.to_string())?;
    h.insert_header("cache-control", "no-store")?;
    h.insert_header("x-request-id", request_id)?;
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_carries_request_id_and_no_internals() {
        let body = html(502, "abc-123");
        let s = std::str::from_utf8(&body).unwrap_or_default();
        assert!(s.contains("abc-123"));
        assert!(s.contains("502 Bad Gateway"));
        assert!(!s.to_lowercase().contains("panic"));
    }
}
