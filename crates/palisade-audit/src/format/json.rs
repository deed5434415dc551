//! JSON Lines with flat dotted keys: `{"@timestamp":"…","event.kind":"event","client.ip":"…",…}`.

use crate::record::{Record, Val};

/// Bytes JSON strings must escape: the quote, the backslash, C0 controls and DEL (DEL is legal
/// JSON but escaped so that a log line never carries raw control bytes).
const NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t[0x7f] = true;
    t
};

/// Appends `s` as a JSON string literal.
// Every logged value passes through here: clean runs are copied whole, found with one table lookup
// per byte, instead of a branchy per-byte match.
pub(crate) fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    while let Some(offset) = bytes[start..]
        .iter()
        .position(|&b| NEEDS_ESCAPE[usize::from(b)])
    {
        let i = start + offset;
        // `i` is an ASCII byte's index, so both slices end on character boundaries.
        out.push_str(&s[start..i]);
        match bytes[i] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 15)]));
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Appends `"key":`. Keys are the crate's own static dotted names: no escaping needed.
fn push_key(out: &mut String, key: &str) {
    debug_assert!(!key.bytes().any(|b| NEEDS_ESCAPE[usize::from(b)]));
    out.push('"');
    out.push_str(key);
    out.push_str("\":");
}

pub(super) fn push_u64(out: &mut String, n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut v = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or("0"));
}

pub(super) fn write_record(rec: &Record<'_>, out: &mut String) {
    out.push('{');
    for (i, (key, val)) in rec.fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_key(out, key);
        match val {
            Val::Str(s) => push_json_str(out, s),
            Val::U64(n) => push_u64(out, *n),
            Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Val::List(items) => {
                out.push('[');
                for (j, item) in items.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    push_json_str(out, item);
                }
                out.push(']');
            }
            Val::Hits(hits) => {
                out.push('[');
                for (j, h) in hits.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    out.push_str("{\"id\":");
                    push_json_str(out, &h.id);
                    out.push_str(",\"category\":");
                    push_json_str(out, &h.category);
                    out.push_str(",\"target\":");
                    push_json_str(out, &h.target);
                    out.push_str(",\"snippet\":");
                    push_json_str(out, &h.snippet);
                    out.push_str(",\"score\":");
                    push_u64(out, u64::from(h.score));
                    out.push('}');
                }
                out.push(']');
            }
            Val::Counts(counts) => {
                out.push('{');
                for (j, (name, n)) in counts.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    push_json_str(out, name);
                    out.push(':');
                    push_u64(out, *n);
                }
                out.push('}');
            }
            Val::Json(v) => out.push_str(&v.to_string()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_into_valid_json() {
        let nasty = "a\"b\\c\nd\u{1}e\u{7f}é";
        let mut out = String::new();
        push_json_str(&mut out, nasty);
        assert_eq!(out, "\"a\\\"b\\\\c\\nd\\u0001e\\u007fé\"");
        let back: String = serde_json::from_str(&out).unwrap();
        assert_eq!(back, nasty);
    }

    #[test]
    fn numbers_are_written() {
        for n in [0u64, 7, 10, 1234567890, u64::MAX] {
            let mut out = String::new();
            push_u64(&mut out, n);
            assert_eq!(out, n.to_string());
        }
    }
}
