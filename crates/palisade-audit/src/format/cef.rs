//! ArcSight Common Event Format:
//! `CEF:0|Palisade|Palisade WAF|<version>|<signature>|<name>|<severity>|<extension>`.
//!
//! ECS keys with a CEF dictionary equivalent are renamed (`client.ip` → `src`, `url.path` → `request`,
//! …); the others keep their dotted names, which CEF consumers accept as custom keys.

use super::json::push_json_str;
use crate::record::{Record, Val};
use crate::time::parse_rfc3339_micros;

fn cef_key(key: &str) -> &str {
    match key {
        "client.ip" => "src",
        "http.request.method" => "requestMethod",
        "url.path" => "request",
        "user_agent.original" => "requestClientApplication",
        "http.request.referrer" => "requestContext",
        "http.request.id" => "externalId",
        "event.action" => "act",
        "event.outcome" => "outcome",
        "event.reason" => "reason",
        "http.request.bytes" => "in",
        "http.response.bytes" => "out",
        other => other,
    }
}

fn push_header(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '\\' => out.push_str("\\\\"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
}

fn push_ext_value(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '=' => out.push_str("\\="),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
}

pub(super) fn write_record(rec: &Record<'_>, out: &mut String) {
    out.push_str("CEF:0|Palisade|Palisade WAF|");
    out.push_str(env!("CARGO_PKG_VERSION"));
    out.push('|');
    push_header(out, &rec.cef.signature);
    out.push('|');
    push_header(out, &rec.cef.name);
    out.push_str(&format!("|{}|", rec.cef.severity));
    let mut first = true;
    let mut sep = |out: &mut String| {
        if !first {
            out.push(' ');
        }
        first = false;
    };
    for (key, val) in &rec.fields {
        if *key == "@timestamp" {
            if let Val::Str(ts) = val {
                sep(out);
                // CEF's `rt` is milliseconds since the epoch; the RFC 3339 form stays alongside.
                if let Some(micros) = parse_rfc3339_micros(ts) {
                    out.push_str(&format!("rt={} ", micros / 1000));
                }
                out.push_str("@timestamp=");
                push_ext_value(out, ts);
            }
            continue;
        }
        let key = cef_key(key);
        match val {
            Val::Str(s) => {
                sep(out);
                out.push_str(key);
                out.push('=');
                push_ext_value(out, s);
            }
            Val::U64(n) => {
                sep(out);
                out.push_str(&format!("{key}={n}"));
            }
            Val::Bool(b) => {
                sep(out);
                out.push_str(&format!("{key}={b}"));
            }
            Val::List(items) => {
                sep(out);
                out.push_str(key);
                out.push('=');
                push_ext_value(out, &items.join(","));
            }
            Val::Hits(hits) => {
                for (j, h) in hits.iter().enumerate() {
                    sep(out);
                    out.push_str(&format!("{key}.{j}.id="));
                    push_ext_value(out, &h.id);
                    out.push_str(&format!(" {key}.{j}.target="));
                    push_ext_value(out, &h.target);
                    out.push_str(&format!(" {key}.{j}.snippet="));
                    push_ext_value(out, &h.snippet);
                    out.push_str(&format!(" {key}.{j}.score={}", h.score));
                }
            }
            Val::Counts(counts) => {
                for (name, n) in counts {
                    sep(out);
                    let safe: String = name
                        .chars()
                        .map(|c| {
                            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                                c
                            } else {
                                '_'
                            }
                        })
                        .collect();
                    out.push_str(&format!("{key}.{safe}={n}"));
                }
            }
            Val::Json(v) => {
                sep(out);
                out.push_str(key);
                out.push('=');
                let mut json = String::new();
                push_json_str(&mut json, &v.to_string());
                push_ext_value(out, &json);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn header_and_extension_escaping() {
        let mut h = String::new();
        push_header(&mut h, "a|b\\c\nd");
        assert_eq!(h, "a\\|b\\\\c d");
        let mut e = String::new();
        push_ext_value(&mut e, "k=v\\x\ny");
        assert_eq!(e, "k\\=v\\\\x\\ny");
    }
}
