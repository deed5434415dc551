//! Length bounds and character hygiene for free-text fields.

use std::borrow::Cow;

/// Appended where a value was cut.
pub const TRUNCATION_MARK: &str = "...";
/// Longest `user_agent.original` logged, in bytes.
pub const USER_AGENT_MAX_BYTES: usize = 256;
/// Longest rule-hit snippet logged, in bytes (the engine masks it first; this bound is the backstop).
pub const SNIPPET_MAX_BYTES: usize = 64;
/// Longest `http.request.id` logged (Heroku's router keeps ids of 20–200 characters).
pub const REQUEST_ID_MAX_BYTES: usize = 200;
const DYNO_MAX_BYTES: usize = 64;

/// The longest prefix of `s` that is at most `max` bytes and ends on a character boundary.
pub fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Control characters (newlines, escapes, NUL) replaced by U+FFFD: they have no business in a logged
/// value, would let a client forge line breaks in l2met/CEF, and cost 6 bytes each once escaped.
pub fn scrub_controls(s: &str) -> Cow<'_, str> {
    // Printable ASCII (nearly every value) has no controls; only other bytes need the char walk
    // (C1 controls are two-byte UTF-8 sequences).
    let printable_ascii = s.bytes().all(|b| (0x20..0x7f).contains(&b));
    if !printable_ascii && s.chars().any(char::is_control) {
        Cow::Owned(
            s.chars()
                .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(s)
    }
}

/// `s` without control characters, cut to at most `max` bytes, with [`TRUNCATION_MARK`] at the end
/// when something was cut. Borrows `s` when it is already clean and short enough (the usual case).
pub fn bound_text(s: &str, max: usize) -> Cow<'_, str> {
    let s = scrub_controls(s);
    if s.len() <= max {
        return s;
    }
    let keep = truncate_utf8(&s, max.saturating_sub(TRUNCATION_MARK.len()));
    let mut out = String::with_capacity(keep.len() + TRUNCATION_MARK.len());
    out.push_str(keep);
    out.push_str(TRUNCATION_MARK);
    Cow::Owned(out)
}

/// Defensive second pass over a rule hit's matched text (already masked by the engine): bounded to
/// [`SNIPPET_MAX_BYTES`], runs of four or more digits replaced by `#`, and any word containing `@`
/// replaced by `{email}`, so a card number, MRN or address that slipped through is still not logged.
pub fn redact_snippet(s: &str) -> String {
    let bounded = truncate_utf8(s, SNIPPET_MAX_BYTES);
    let mut out = String::with_capacity(bounded.len());
    for (i, word) in bounded.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if word.contains('@') {
            out.push_str("{email}");
            continue;
        }
        let mut run = String::new();
        for c in word.chars() {
            if c.is_ascii_digit() {
                run.push(c);
                continue;
            }
            flush_digits(&mut out, &mut run);
            out.push(if c.is_control() { '\u{FFFD}' } else { c });
        }
        flush_digits(&mut out, &mut run);
    }
    if bounded.len() < s.len() {
        out.push_str(TRUNCATION_MARK);
    }
    out
}

fn flush_digits(out: &mut String, run: &mut String) {
    if run.len() >= 4 {
        out.extend(std::iter::repeat_n('#', run.len()));
    } else {
        out.push_str(run);
    }
    run.clear();
}

/// A request id reduced to the characters request ids use (`[A-Za-z0-9._:+/=-]`), others become `_`,
/// bounded to [`REQUEST_ID_MAX_BYTES`]. Borrows when nothing changes (ids from Heroku's router).
pub fn sanitize_request_id(s: &str) -> Cow<'_, str> {
    fn allowed(b: u8) -> bool {
        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'+' | b'/' | b'=' | b'-')
    }
    let bounded = truncate_utf8(s, REQUEST_ID_MAX_BYTES);
    if bounded.bytes().all(allowed) {
        return Cow::Borrowed(bounded);
    }
    Cow::Owned(
        bounded
            .chars()
            .map(|c| match u8::try_from(c) {
                Ok(b) if allowed(b) => c,
                _ => '_',
            })
            .collect(),
    )
}

/// A dyno name (`web.1`, `run.2345`) reduced to `[A-Za-z0-9._-]`, at most 64 bytes; empty becomes
/// `local`. It appears unquoted in l2met/CEF trailers, so it must not contain spaces or `=`.
pub fn sanitize_dyno(s: &str) -> String {
    let cleaned: String = truncate_utf8(s.trim(), DYNO_MAX_BYTES)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "local".to_owned()
    } else {
        cleaned
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate_utf8("héllo", 2), "h");
        assert_eq!(truncate_utf8("héllo", 3), "hé");
        assert_eq!(truncate_utf8("abc", 10), "abc");
        let long = "ü".repeat(300);
        let b = bound_text(&long, USER_AGENT_MAX_BYTES);
        assert!(
            b.len() <= USER_AGENT_MAX_BYTES && b.ends_with(TRUNCATION_MARK),
            "{}",
            b.len()
        );
        assert_eq!(bound_text("short", 10), "short");
        assert_eq!(bound_text("a\nb\u{1b}[31m", 20), "a\u{FFFD}b\u{FFFD}[31m");
        assert_eq!(redact_snippet("x\r\ny"), "x\u{FFFD}\u{FFFD}y");
    }

    #[test]
    fn snippets_lose_numbers_and_addresses() {
        assert_eq!(redact_snippet("union select 1,2,3"), "union select 1,2,3");
        assert_eq!(
            redact_snippet("card 4111111111111111 ok"),
            "card ################ ok"
        );
        assert_eq!(
            redact_snippet("mail jane@example.org now"),
            "mail {email} now"
        );
        let long = "a".repeat(200);
        let r = redact_snippet(&long);
        assert_eq!(r.len(), SNIPPET_MAX_BYTES + TRUNCATION_MARK.len());
    }

    #[test]
    fn request_ids_and_dynos_are_sanitised() {
        assert_eq!(sanitize_request_id("abc-123 <x>"), "abc-123__x_");
        assert_eq!(
            sanitize_request_id(&"x".repeat(500)).len(),
            REQUEST_ID_MAX_BYTES
        );
        assert_eq!(sanitize_dyno("web.1"), "web.1");
        assert_eq!(sanitize_dyno("we b=1"), "we_b_1");
        assert_eq!(sanitize_dyno(""), "local");
    }
}
