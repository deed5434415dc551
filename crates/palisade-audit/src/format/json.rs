//! JSON Lines with flat dotted keys: `{"@timestamp":"…","event.kind":"event","client.ip":"…",…}`.

use crate::record::{Record, Val};

/// Appends `s` as a JSON string literal.
pub(crate) fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0..=0x1f | 0x7f => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match escape {
            Some(e) => out.push_str(e),
            None => out.push_str(&format!("\\u{b:04x}")),
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

fn push_u64(out: &mut String, n: u64) {
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
    for b in &buf[i..] {
        out.push(char::from(*b));
    }
}

pub(super) fn write_record(rec: &Record<'_>, out: &mut String) {
    out.push('{');
    for (i, (key, val)) in rec.fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_str(out, key);
        out.push(':');
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
