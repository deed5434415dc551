//! Replays the evaluation corpora (`/work/shared/corpus/*.jsonl.gz`) through the engine exactly as
//! the proxy would — raw request-target, headers (plus `X-Forwarded-Proto: https` and an
//! `X-Forwarded-For`), body decoded by its content type — and prints per-set TPR / FPR in
//! waf-eval's terms, plus a failures dump (misses and false positives with rule ids).
//!
//! ```sh
//! cargo run --release -p palisade-engine --example corpus_eval -- /work/shared/corpus \
//!     [--failures /tmp/failures.txt] [--paranoia N] [--threshold N]
//! ```
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use flate2::read::GzDecoder;
use palisade_engine::{embedded_rulesets, Engine, EngineConfig, RequestHead, UserRules, Verdict};

#[derive(Default)]
struct Tally {
    attack: usize,
    attack_blocked: usize,
    benign: usize,
    benign_blocked: usize,
}

impl Tally {
    fn add(&mut self, attack: bool, blocked: bool) {
        if attack {
            self.attack += 1;
            self.attack_blocked += usize::from(blocked);
        } else {
            self.benign += 1;
            self.benign_blocked += usize::from(blocked);
        }
    }
    fn tpr(&self) -> f64 {
        if self.attack == 0 {
            f64::NAN
        } else {
            self.attack_blocked as f64 / self.attack as f64
        }
    }
    fn fpr(&self) -> f64 {
        if self.benign == 0 {
            f64::NAN
        } else {
            self.benign_blocked as f64 / self.benign as f64
        }
    }
    fn line(&self, name: &str) -> String {
        format!(
            "{name:<28} attack_tpr={:.4} ({}/{}) benign_fpr={:.4} ({}/{})",
            self.tpr(),
            self.attack_blocked,
            self.attack,
            self.fpr(),
            self.benign_blocked,
            self.benign
        )
    }
}

fn b64(s: &str) -> Vec<u8> {
    palisade_engine::transform::base64_decode::decode(s.trim().as_bytes()).unwrap_or_default()
}

fn run(engine: &Engine, rec: &serde_json::Value, n: usize) -> Verdict {
    let method = rec["method"].as_str().unwrap_or("GET");
    let path = rec["path"].as_str().unwrap_or("/");
    let mut headers: Vec<(String, Vec<u8>)> = rec["headers"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|h| {
                    (
                        h[0].as_str().unwrap_or("").to_string(),
                        h[1].as_str().unwrap_or("").as_bytes().to_vec(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    headers.push(("X-Forwarded-Proto".into(), b"https".to_vec()));
    headers.push((
        "X-Forwarded-For".into(),
        format!("198.51.100.{}", n % 250 + 1).into_bytes(),
    ));
    let body: Vec<u8> = match (rec["body"].as_str(), rec["body_encoding"].as_str()) {
        (Some(b), Some("base64")) => b64(b),
        (Some(b), _) => b.as_bytes().to_vec(),
        _ => Vec::new(),
    };
    let refs: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_slice()))
        .collect();
    let ct = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.as_slice());
    let mut tx = engine.transaction();
    tx.inspect_head(&RequestHead {
        method,
        target: path.as_bytes(),
        headers: &refs,
    });
    if !body.is_empty() {
        tx.inspect_body(ct, &body);
    }
    tx.into_verdict()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut inputs: Vec<PathBuf> = Vec::new();
    let mut failures: Option<PathBuf> = None;
    let mut cfg = EngineConfig::default();
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--failures" => {
                failures = args.get(i + 1).map(PathBuf::from);
                i += 1;
            }
            "--paranoia" => {
                cfg.paranoia = args.get(i + 1).and_then(|v| v.parse().ok()).unwrap_or(1);
                i += 1;
            }
            "--threshold" => {
                cfg.anomaly_threshold = args.get(i + 1).and_then(|v| v.parse().ok()).unwrap_or(5);
                i += 1;
            }
            other => inputs.push(PathBuf::from(other)),
        }
        i += 1;
    }
    if inputs.is_empty() {
        inputs.push(PathBuf::from("/work/shared/corpus"));
    }
    let mut files: Vec<PathBuf> = Vec::new();
    for p in &inputs {
        if p.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(p)
                .unwrap()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.to_string_lossy().ends_with(".jsonl.gz"))
                .collect();
            v.sort();
            files.extend(v);
        } else if p.exists() {
            files.push(p.clone());
        }
    }
    if files.is_empty() {
        eprintln!("corpus_eval: no *.jsonl.gz corpus found at {:?} (the shared corpus is only present on developer machines); nothing to do", inputs);
        std::process::exit(2);
    }
    let t0 = Instant::now();
    let engine =
        Engine::compile(embedded_rulesets(), &UserRules::empty(), &cfg).unwrap_or_else(|e| {
            eprintln!("corpus_eval: rules do not compile: {e}");
            std::process::exit(1);
        });
    println!(
        "engine: {} rules, {} views, version {}, compiled in {:?}, paranoia {}, threshold {}",
        engine.rule_count(),
        engine.view_count(),
        engine.version(),
        t0.elapsed(),
        cfg.paranoia,
        cfg.anomaly_threshold
    );
    let mut out = failures.as_ref().map(|f| std::fs::File::create(f).unwrap());
    let mut overall = Tally::default();
    let mut per_set: BTreeMap<String, Tally> = BTreeMap::new();
    let mut per_cat: BTreeMap<String, Tally> = BTreeMap::new();
    let mut crs_floor = Tally::default();
    let mut fp_rules: BTreeMap<u32, usize> = BTreeMap::new();
    let mut n = 0usize;
    let t1 = Instant::now();
    for f in &files {
        let reader = BufReader::new(GzDecoder::new(std::fs::File::open(f).unwrap()));
        for line in reader.lines() {
            let line = line.unwrap();
            let rec: serde_json::Value = match serde_json::from_str(&line) {
                Ok(v) => v,
                Err(_) => continue,
            };
            n += 1;
            let attack = rec["label"] == "attack";
            let set = rec["set"].as_str().unwrap_or("?").to_string();
            let cat = rec["category"].as_str().unwrap_or("?").to_string();
            let v = run(&engine, &rec, n);
            overall.add(attack, v.blocked);
            per_set
                .entry(set.clone())
                .or_default()
                .add(attack, v.blocked);
            per_cat
                .entry(format!("{set}/{cat}"))
                .or_default()
                .add(attack, v.blocked);
            if set == "crs" && attack {
                let m = &rec["meta"];
                let rid = m["rule_id"].as_u64().unwrap_or(0);
                let fam = rid / 1000;
                if m["pl"].as_u64() == Some(1) && (fam == 913 || (930..=944).contains(&fam)) {
                    crs_floor.add(true, v.blocked);
                }
            }
            if !attack && v.blocked {
                for h in &v.hits {
                    *fp_rules.entry(h.rule_id).or_default() += 1;
                }
            }
            if let Some(o) = out.as_mut() {
                if attack != v.blocked {
                    let hits: Vec<String> = v
                        .hits
                        .iter()
                        .map(|h| format!("{}@{}[{}]", h.rule_id, h.target, h.snippet))
                        .collect();
                    let body = rec["body"].as_str().unwrap_or("");
                    let body: String = body.chars().take(300).collect();
                    writeln!(
                        o,
                        "{} {} score={} hits={} | {} {} | body={:?}",
                        if attack { "MISS" } else { "FP" },
                        rec["id"].as_str().unwrap_or("?"),
                        v.score,
                        hits.join(","),
                        rec["method"].as_str().unwrap_or(""),
                        rec["path"]
                            .as_str()
                            .unwrap_or("")
                            .chars()
                            .take(300)
                            .collect::<String>(),
                        body
                    )
                    .unwrap();
                }
            }
        }
    }
    let el = t1.elapsed();
    println!(
        "replayed {n} requests in {el:?} ({:.1} µs/request)",
        el.as_secs_f64() * 1e6 / n.max(1) as f64
    );
    for (k, t) in &per_cat {
        println!("  {}", t.line(k));
    }
    for (k, t) in &per_set {
        println!("{}", t.line(k));
    }
    println!("{}", crs_floor.line("crs PL1 913/930-944 (floor)"));
    println!("false-positive rules: {:?}", fp_rules);
    println!(
        "overall: attack_tpr={:.4} benign_fpr={:.4} ba={:.4} other=0 n={}",
        overall.tpr(),
        overall.fpr(),
        (overall.tpr() + 1.0 - overall.fpr()) / 2.0,
        n
    );
    let _ = Path::new("");
}
