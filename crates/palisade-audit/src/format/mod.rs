//! Line formats: JSON (default), l2met/logfmt and CEF. All three carry the same flat dotted keys and
//! end with the same chain fields, so `verify` handles each the same way.

mod access_json;
mod cef;
mod json;
mod kv;

use crate::chain::{push_hex, ChainHash};
use crate::config::LogFormat;
use crate::record::Record;

pub(crate) use access_json::write_access_json;
pub(crate) use json::push_json_str;

/// Marker before the hash in JSON lines (`…,"palisade.hash":"<64 hex>"}`).
pub const JSON_HASH_MARKER: &str = ",\"palisade.hash\":\"";
/// Marker before the hash in l2met and CEF lines (`… palisade.hash=<64 hex>`).
pub const KV_HASH_MARKER: &str = " palisade.hash=";
/// How a JSON line starts (used to find it behind logplex/syslog prefixes).
pub const JSON_LINE_START: &str = "{\"@timestamp\":\"";
/// How an l2met line starts.
pub const KV_LINE_START: &str = "@timestamp=";
/// How a CEF line starts.
pub const CEF_LINE_START: &str = "CEF:0|";

/// Chain fields written after the event's own fields.
pub(crate) struct ChainFields<'a> {
    pub dyno: &'a str,
    pub boot_id: &'a str,
    pub seq: u64,
    pub alg: &'static str,
    pub prev: &'a ChainHash,
}

/// Writes the event fields (the line's opening, no chain fields, no closing).
pub(crate) fn write_record(format: LogFormat, rec: &Record<'_>, out: &mut String) {
    match format {
        LogFormat::Json => json::write_record(rec, out),
        LogFormat::L2met => kv::write_record(rec, out),
        LogFormat::Cef => cef::write_record(rec, out),
    }
}

/// Appends the chain fields (dyno, boot id, seq, algorithm, prev).
pub(crate) fn write_chain(format: LogFormat, c: &ChainFields<'_>, out: &mut String) {
    // Dyno and boot id are sanitised at startup (`[A-Za-z0-9._-]`, hex): they need no quoting in
    // any format, but JSON still escapes them in case that ever changes.
    let fields: [(&str, &str); 2] = [("palisade.dyno", c.dyno), ("palisade.boot_id", c.boot_id)];
    match format {
        LogFormat::Json => {
            for (k, v) in fields {
                out.push_str(",\"");
                out.push_str(k);
                out.push_str("\":");
                push_json_str(out, v);
            }
            out.push_str(",\"palisade.seq\":");
            json::push_u64(out, c.seq);
            out.push_str(",\"palisade.chain\":\"");
            out.push_str(c.alg);
            out.push_str("\",\"palisade.prev\":\"");
            push_hex(out, c.prev);
            out.push('"');
        }
        LogFormat::L2met | LogFormat::Cef => {
            for (k, v) in fields {
                out.push(' ');
                out.push_str(k);
                out.push('=');
                out.push_str(v);
            }
            out.push_str(" palisade.seq=");
            json::push_u64(out, c.seq);
            out.push_str(" palisade.chain=");
            out.push_str(c.alg);
            out.push_str(" palisade.prev=");
            push_hex(out, c.prev);
        }
    }
}

/// Bytes [`append_hash`] adds (so the writer can check the line limit before hashing).
pub(crate) fn trailer_len(format: LogFormat) -> usize {
    match format {
        LogFormat::Json => JSON_HASH_MARKER.len() + 64 + 2,
        LogFormat::L2met | LogFormat::Cef => KV_HASH_MARKER.len() + 64,
    }
}

/// Appends the hash field and closes the line (no newline).
pub(crate) fn append_hash(format: LogFormat, hash: &ChainHash, out: &mut String) {
    match format {
        LogFormat::Json => {
            out.push_str(JSON_HASH_MARKER);
            push_hex(out, hash);
            out.push_str("\"}");
        }
        LogFormat::L2met | LogFormat::Cef => {
            out.push_str(KV_HASH_MARKER);
            push_hex(out, hash);
        }
    }
}
