//! Efficacy check for the detectors on the shared evaluation corpora.
//!
//! ```sh
//! cargo run --release -p palisade-detect --example detect_eval -- [CORPUS_DIR] [OUT_DIR]
//! ```
//! Defaults: `../shared/corpus` relative to the workspace (falls back to `/work/shared/corpus`)
//! and `target/detect-eval`. Extracts decoded leaves from every request (query and form values
//! URL-decoded up to 3 rounds, JSON string leaves, XML text and attribute values, multipart
//! parts, cookies, User-Agent and Referer), runs each detector on each leaf and prints, per set,
//! category and label, how many requests each detector flags. Also runs `libinjectionrs` (SQLi
//! and XSS) on the same leaves for comparison. False positives and misses are written to
//! OUT_DIR. When the corpus directory is absent it says so and exits successfully.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use palisade_detect::{shell, sqli, xss, Detection};
use serde_json::Value;

const DETECTORS: [&str; 6] = ["sqli", "xss", "shell", "any", "li-sqli", "li-xss"];

#[derive(Default)]
struct Counts {
    requests: usize,
    hits: [usize; 6],
    leaves: usize,
    leaf_hits: [usize; 3],
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let corpus = args.get(1).map(PathBuf::from).or_else(|| {
        [
            "../shared/corpus",
            "../../shared/corpus",
            "/work/shared/corpus",
        ]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_dir())
    });
    let Some(corpus) = corpus.filter(|p| p.is_dir()) else {
        println!(
            "detect_eval: corpus directory not found (pass it as the first argument); skipping"
        );
        return;
    };
    let out_dir = args
        .get(2)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/detect-eval"));
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut fp_log = File::create(out_dir.join("false-positives.txt")).unwrap();
    let mut miss_log = File::create(out_dir.join("misses.txt")).unwrap();
    let mut li_log = File::create(out_dir.join("libinjection-only.txt")).unwrap();
    let mut table: BTreeMap<(String, String, String), Counts> = BTreeMap::new();

    let mut files: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".jsonl.gz"))
        .collect();
    files.sort();
    for file in files {
        eval_file(&file, &mut table, &mut fp_log, &mut miss_log, &mut li_log);
    }
    println!(
        "{:<12} {:<22} {:<7} {:>6} | {:>6} {:>6} {:>6} {:>6} | {:>7} {:>7} | leaves  leaf-hit% (sqli xss shell)",
        "set", "category", "label", "n", "sqli", "xss", "shell", "any", "li-sqli", "li-xss"
    );
    let mut totals: BTreeMap<(String, String), Counts> = BTreeMap::new();
    for ((set, cat, label), c) in &table {
        print_row(set, cat, label, c);
        let t = totals.entry((set.clone(), label.clone())).or_default();
        t.requests += c.requests;
        t.leaves += c.leaves;
        for k in 0..6 {
            t.hits[k] += c.hits[k];
        }
        for k in 0..3 {
            t.leaf_hits[k] += c.leaf_hits[k];
        }
    }
    println!("--- totals");
    for ((set, label), c) in &totals {
        print_row(set, "ALL", label, c);
    }
    println!(
        "false positives and misses written to {}",
        out_dir.display()
    );
}

fn pct(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

fn print_row(set: &str, cat: &str, label: &str, c: &Counts) {
    let h = |k: usize| pct(c.hits[k], c.requests);
    println!(
        "{:<12} {:<22} {:<7} {:>6} | {:>5.1}% {:>5.1}% {:>5.1}% {:>5.1}% | {:>6.1}% {:>6.1}% | {:>6} {:.3} {:.3} {:.3}",
        set,
        cat,
        label,
        c.requests,
        h(0),
        h(1),
        h(2),
        h(3),
        h(4),
        h(5),
        c.leaves,
        pct(c.leaf_hits[0], c.leaves),
        pct(c.leaf_hits[1], c.leaves),
        pct(c.leaf_hits[2], c.leaves),
    );
}

/// The detector expected to catch a category, if any.
fn expected_detector(category: &str) -> Option<usize> {
    match category {
        "sqli" => Some(0),
        "xss" => Some(1),
        "cmdexe" | "rce" | "shellshock" => Some(2),
        _ => None,
    }
}

fn eval_file(
    file: &Path,
    table: &mut BTreeMap<(String, String, String), Counts>,
    fp_log: &mut File,
    miss_log: &mut File,
    li_log: &mut File,
) {
    let reader = BufReader::new(GzDecoder::new(File::open(file).unwrap()));
    for line in reader.lines() {
        let line = line.unwrap();
        let Ok(rec) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let set = rec["set"].as_str().unwrap_or("?").to_string();
        let category = rec["category"].as_str().unwrap_or("?").to_string();
        let label = rec["label"].as_str().unwrap_or("?").to_string();
        let id = rec["id"].as_str().unwrap_or("?").to_string();
        // CRS: only paranoia level 1 attack tests are expected at PL1.
        let cat_key = if set == "crs" && label == "attack" {
            let pl = rec["meta"]["pl"].as_u64().unwrap_or(1);
            if pl > 1 {
                format!("{category}-pl{pl}+")
            } else {
                category.clone()
            }
        } else {
            category.clone()
        };
        let leaves = leaves(&rec);
        let c = table
            .entry((set.clone(), cat_key, label.clone()))
            .or_default();
        c.requests += 1;
        c.leaves += leaves.len();
        let mut first: [Option<(Detection, String)>; 3] = [None, None, None];
        let mut li = [false, false];
        for leaf in &leaves {
            let found = [sqli(leaf), xss(leaf), shell(leaf)];
            for (k, d) in found.into_iter().enumerate() {
                if let Some(d) = d {
                    c.leaf_hits[k] += 1;
                    if first[k].is_none() {
                        first[k] = Some((d, leaf.clone()));
                    }
                }
            }
            if !li[0] && libinjectionrs::detect_sqli(leaf.as_bytes()).is_injection() {
                li[0] = true;
            }
            if !li[1] && libinjectionrs::detect_xss(leaf.as_bytes()).is_injection() {
                li[1] = true;
            }
        }
        for (hit, found) in c.hits.iter_mut().zip(&first) {
            if found.is_some() {
                *hit += 1;
            }
        }
        if first.iter().any(Option::is_some) {
            c.hits[3] += 1;
        }
        for (hit, found) in c.hits[4..].iter_mut().zip(li) {
            if found {
                *hit += 1;
            }
        }
        if label == "benign" {
            for (d, leaf) in first.iter().flatten() {
                writeln!(
                    fp_log,
                    "{id}\t{}\t{:?}\t{}",
                    d.fingerprint,
                    leaf.get(d.span.clone()).unwrap_or(""),
                    snippet(leaf, &d.span)
                )
                .unwrap();
            }
        } else if let Some(k) = expected_detector(&category) {
            if first[k].is_none() {
                let mut all = leaves.join(" ␟ ");
                truncate(&mut all, 400);
                writeln!(miss_log, "{id}\t{}\t{all}", DETECTORS[k]).unwrap();
                if k < 2 && li[k] {
                    writeln!(li_log, "{id}\t{}\t{all}", DETECTORS[k]).unwrap();
                }
            }
        }
    }
}

fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

fn snippet(leaf: &str, span: &std::ops::Range<usize>) -> String {
    let mut start = span.start.saturating_sub(80);
    while !leaf.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (span.end + 80).min(leaf.len());
    while !leaf.is_char_boundary(end) {
        end += 1;
    }
    leaf[start..end].replace(['\n', '\r', '\t'], " ")
}

/// Decoded leaves of one request.
fn leaves(rec: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let path = rec["path"].as_str().unwrap_or("");
    let (path_part, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    for seg in path_part.split('/').filter(|s| !s.is_empty()) {
        push_leaf(&mut out, url_decode_rounds(seg, false));
    }
    if let Some(q) = query {
        form_leaves(q, &mut out);
    }
    let mut content_type = String::new();
    if let Some(headers) = rec["headers"].as_array() {
        for h in headers {
            let name = h[0].as_str().unwrap_or("").to_ascii_lowercase();
            let value = h[1].as_str().unwrap_or("");
            match name.as_str() {
                "content-type" => content_type = value.to_ascii_lowercase(),
                "user-agent" | "referer" => push_leaf(&mut out, url_decode_rounds(value, false)),
                "cookie" => {
                    for kv in value.split(';') {
                        let v = kv.split_once('=').map_or(kv, |(_, v)| v);
                        push_leaf(&mut out, url_decode_rounds(v.trim(), false));
                    }
                }
                _ => {}
            }
        }
    }
    let body = match (rec["body"].as_str(), rec["body_encoding"].as_str()) {
        (Some(b), Some("base64")) => String::from_utf8_lossy(&base64_decode(b)).into_owned(),
        (Some(b), _) => b.to_string(),
        (None, _) => String::new(),
    };
    if !body.is_empty() {
        body_leaves(&body, &content_type, &mut out);
    }
    out
}

fn body_leaves(body: &str, content_type: &str, out: &mut Vec<String>) {
    if content_type.contains("x-www-form-urlencoded") {
        form_leaves(body, out);
    } else if content_type.contains("json") {
        match serde_json::from_str::<Value>(body) {
            Ok(v) => json_leaves(&v, out),
            Err(_) => push_leaf(out, body.to_string()),
        }
    } else if content_type.contains("xml") {
        xml_leaves(body, out);
    } else if content_type.contains("multipart/form-data") {
        let boundary = content_type
            .split("boundary=")
            .nth(1)
            .map(|b| b.trim_matches('"').to_string())
            .unwrap_or_default();
        if boundary.is_empty() {
            push_leaf(out, body.to_string());
            return;
        }
        for part in body.split(&format!("--{boundary}")) {
            let content = part.split_once("\r\n\r\n").map_or(part, |(_, c)| c);
            let content = content.trim_end_matches("\r\n");
            if !content.trim().is_empty() && content.trim() != "--" {
                push_leaf(out, content.to_string());
            }
        }
    } else {
        push_leaf(out, body.to_string());
    }
}

fn push_leaf(out: &mut Vec<String>, s: String) {
    if !s.is_empty() {
        out.push(s);
    }
}

fn form_leaves(q: &str, out: &mut Vec<String>) {
    for kv in q.split('&') {
        let (k, v) = kv.split_once('=').unwrap_or(("", kv));
        if !k.is_empty() {
            let key = url_decode_rounds(k, true);
            if key.len() > 24 || key.bytes().any(|b| !b.is_ascii_alphanumeric() && b != b'_') {
                push_leaf(out, key);
            }
        }
        push_leaf(out, url_decode_rounds(v, true));
    }
}

fn json_leaves(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => push_leaf(out, s.clone()),
        Value::Array(a) => a.iter().for_each(|x| json_leaves(x, out)),
        Value::Object(o) => {
            for (k, x) in o {
                if k.bytes()
                    .any(|b| !b.is_ascii_alphanumeric() && b != b'_' && b != b'-')
                {
                    push_leaf(out, k.clone());
                }
                json_leaves(x, out);
            }
        }
        _ => {}
    }
}

/// Crude XML split: text nodes and attribute values, entity-decoded for the basic five.
fn xml_leaves(body: &str, out: &mut Vec<String>) {
    let mut rest = body;
    while let Some(lt) = rest.find('<') {
        let text = &rest[..lt];
        if !text.trim().is_empty() {
            push_leaf(out, xml_unescape(text.trim()));
        }
        let after = &rest[lt..];
        let Some(gt) = after.find('>') else {
            rest = "";
            break;
        };
        let tag = &after[..gt];
        let mut parts = tag.split('"');
        parts.next();
        while let Some(val) = parts.next() {
            if !val.is_empty() {
                push_leaf(out, xml_unescape(val));
            }
            parts.next();
        }
        rest = &after[gt + 1..];
    }
    if !rest.trim().is_empty() {
        push_leaf(out, xml_unescape(rest.trim()));
    }
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn url_decode_rounds(s: &str, plus_is_space: bool) -> String {
    let mut cur = url_decode(s.as_bytes(), plus_is_space);
    for _ in 0..2 {
        if !has_escape(&cur) {
            break;
        }
        cur = url_decode(&cur, false);
    }
    String::from_utf8_lossy(&cur).into_owned()
}

fn has_escape(b: &[u8]) -> bool {
    b.windows(3)
        .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
}

fn url_decode(b: &[u8], plus_is_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit) =>
            {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

fn base64_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut buf = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => continue,
        };
        buf = (buf << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    out
}
