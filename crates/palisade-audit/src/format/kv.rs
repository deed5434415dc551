//! l2met / logfmt: `@timestamp=… event.kind=event client.ip=… url.path=/x …`.
//!
//! Values that need it are quoted as JSON string literals. In the summary event, counters get l2met's
//! `count#` prefix and latency percentiles `sample#`, so Heroku's metrics add-ons pick them up.

use super::json::push_json_str;
use crate::record::{Record, Val};

pub(super) fn push_kv_value(out: &mut String, v: &str) {
    let plain = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '=' && c != '\\');
    if plain {
        out.push_str(v);
    } else {
        push_json_str(out, v);
    }
}

fn metric_prefix(key: &str) -> &'static str {
    match key.strip_prefix("palisade.summary.") {
        Some(rest) if rest.starts_with("latency_") => "sample#",
        Some("interval_s") | Some("lost_lines_total") => "sample#",
        Some(_) => "count#",
        None => "",
    }
}

pub(super) fn write_record(rec: &Record<'_>, out: &mut String) {
    for (i, (key, val)) in rec.fields.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        match val {
            Val::Str(s) => {
                out.push_str(key);
                out.push('=');
                push_kv_value(out, s);
            }
            Val::U64(n) => out.push_str(&format!("{}{key}={n}", metric_prefix(key))),
            Val::Bool(b) => out.push_str(&format!("{key}={b}")),
            Val::List(items) => {
                out.push_str(key);
                out.push('=');
                push_kv_value(out, &items.join(","));
            }
            Val::Hits(hits) => {
                for (j, h) in hits.iter().enumerate() {
                    if j > 0 {
                        out.push(' ');
                    }
                    out.push_str(&format!("{key}.{j}.id="));
                    push_kv_value(out, &h.id);
                    out.push_str(&format!(" {key}.{j}.target="));
                    push_kv_value(out, &h.target);
                    out.push_str(&format!(" {key}.{j}.snippet="));
                    push_kv_value(out, &h.snippet);
                    out.push_str(&format!(" {key}.{j}.score={}", h.score));
                }
                if hits.is_empty() {
                    out.push_str(&format!("{key}=none"));
                }
            }
            Val::Counts(counts) => {
                if counts.is_empty() {
                    out.push_str(&format!("{key}=none"));
                }
                for (j, (name, n)) in counts.iter().enumerate() {
                    if j > 0 {
                        out.push(' ');
                    }
                    let safe: String = name
                        .chars()
                        .map(|c| {
                            if c.is_ascii_graphic() && c != '=' && c != '"' {
                                c
                            } else {
                                '_'
                            }
                        })
                        .collect();
                    out.push_str(&format!("{}{key}.{safe}={n}", metric_prefix(key)));
                }
            }
            Val::Json(v) => {
                out.push_str(key);
                out.push('=');
                push_json_str(out, &v.to_string());
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_only_when_needed() {
        let mut out = String::new();
        push_kv_value(&mut out, "/plain/path");
        out.push(' ');
        push_kv_value(&mut out, "Mozilla/5.0 (X11) a=b \"q\"");
        out.push(' ');
        push_kv_value(&mut out, "");
        assert_eq!(out, "/plain/path \"Mozilla/5.0 (X11) a=b \\\"q\\\"\" \"\"");
    }
}
