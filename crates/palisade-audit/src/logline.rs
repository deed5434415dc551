//! Reading exported lines back: find our payload behind logplex/syslog prefixes, split off the hash,
//! extract the chain fields.

use serde_json::{Map, Value};

use crate::chain::{from_hex, ChainHash};
use crate::format::{
    CEF_LINE_START, JSON_HASH_MARKER, JSON_LINE_START, KV_HASH_MARKER, KV_LINE_START,
};

/// Parse error of a line that stops before its hash field (cut short).
pub(crate) const NO_HASH_AT_END: &str = "line does not end with the hash field";

/// An audit line read back.
#[derive(Debug)]
pub(crate) struct Parsed<'a> {
    /// The bytes the hash covers.
    pub body: &'a str,
    pub hash: ChainHash,
    pub dyno: String,
    pub boot_id: String,
    pub seq: u64,
    pub alg: String,
    pub prev: ChainHash,
    /// Seq range announced by an `audit_lines_lost` notice.
    pub lost: Option<(u64, u64)>,
    /// All fields, for JSON lines.
    pub fields: Option<Map<String, Value>>,
}

/// `None`: not one of ours (another process's output, a router line). `Some(Err)`: looks like ours
/// but is damaged.
pub(crate) fn parse_line(raw: &str) -> Option<Result<Parsed<'_>, &'static str>> {
    let line = raw.trim_end_matches(['\n', '\r', ' ', '\t']);
    if let Some(i) = line.find(JSON_LINE_START) {
        return Some(parse_json(&line[i..]));
    }
    if let Some(i) = line.find(CEF_LINE_START) {
        return Some(parse_kv(&line[i..]));
    }
    if let Some(i) = line.find(KV_LINE_START) {
        return Some(parse_kv(&line[i..]));
    }
    if line.contains("palisade.hash") || line.contains("palisade.seq") {
        return Some(Err(
            "audit line without a recognisable start (prefix edited?)",
        ));
    }
    None
}

fn parse_json(payload: &str) -> Result<Parsed<'_>, &'static str> {
    let without_close = payload.strip_suffix("\"}").ok_or(NO_HASH_AT_END)?;
    let pos = without_close
        .rfind(JSON_HASH_MARKER)
        .ok_or("no palisade.hash field")?;
    let hash = from_hex(&without_close[pos + JSON_HASH_MARKER.len()..])
        .ok_or("palisade.hash is not 64 hex digits")?;
    let body = &payload[..pos];
    let fields: Map<String, Value> = serde_json::from_str(payload).map_err(|_| "not valid JSON")?;
    let text = |k: &str| fields.get(k).and_then(Value::as_str).map(str::to_owned);
    let num = |k: &str| fields.get(k).and_then(Value::as_u64);
    let dyno = text("palisade.dyno").ok_or("no palisade.dyno")?;
    let boot_id = text("palisade.boot_id").ok_or("no palisade.boot_id")?;
    let seq = num("palisade.seq").ok_or("no palisade.seq")?;
    let alg = text("palisade.chain").ok_or("no palisade.chain")?;
    let prev = text("palisade.prev")
        .as_deref()
        .and_then(from_hex)
        .ok_or("no valid palisade.prev")?;
    let lost = num("palisade.lost.from_seq").zip(num("palisade.lost.to_seq"));
    Ok(Parsed {
        body,
        hash,
        dyno,
        boot_id,
        seq,
        alg,
        prev,
        lost,
        fields: Some(fields),
    })
}

fn kv_value<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    let needle = format!(" {key}=");
    let start = body.rfind(&needle)? + needle.len();
    let rest = &body[start..];
    Some(rest.split(' ').next().unwrap_or(rest))
}

fn parse_kv(payload: &str) -> Result<Parsed<'_>, &'static str> {
    let pos = payload
        .rfind(KV_HASH_MARKER)
        .ok_or("no palisade.hash field")?;
    let hash = from_hex(&payload[pos + KV_HASH_MARKER.len()..])
        .ok_or("palisade.hash is not 64 hex digits")?;
    let body = &payload[..pos];
    let get = |k: &str| kv_value(body, k).ok_or("missing chain field");
    let seq = get("palisade.seq")?
        .parse()
        .map_err(|_| "palisade.seq is not a number")?;
    let prev = from_hex(get("palisade.prev")?).ok_or("no valid palisade.prev")?;
    let lost = kv_value(body, "palisade.lost.from_seq")
        .and_then(|v| v.parse().ok())
        .zip(kv_value(body, "palisade.lost.to_seq").and_then(|v| v.parse().ok()));
    Ok(Parsed {
        body,
        hash,
        dyno: get("palisade.dyno")?.to_owned(),
        boot_id: get("palisade.boot_id")?.to_owned(),
        seq,
        alg: get("palisade.chain")?.to_owned(),
        prev,
        lost,
        fields: None,
    })
}
