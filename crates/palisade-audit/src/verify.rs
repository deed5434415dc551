//! `palisade audit verify`: checks exported logs for deleted, edited, reordered lines and shows
//! restarts. Works on raw lines or lines with logplex/syslog prefixes, several dynos interleaved.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, BufRead};

use serde::Serialize;

use crate::chain::{chain_hash, to_hex, ChainHash, ALG_HMAC, ALG_SHA256, GENESIS};
use crate::logline::{parse_line, Parsed, NO_HASH_AT_END};

/// How to verify.
#[derive(Clone, Default)]
pub struct VerifyOptions {
    /// The HMAC key the logs were written with. With a key, every line must be HMAC-chained and every
    /// hash is checked; without one, keyed lines are checked for order and links only.
    pub key: Option<Vec<u8>>,
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Lines are missing from a chain (deleted).
    Gap,
    /// A line's content does not match its hash (edited).
    Edited,
    /// A line's `prev` does not match the previous line's hash (edited hash, or a line replaced).
    ChainBroken,
    /// A line appears after a line with a higher sequence number.
    Reordered,
    /// Two different lines claim the same sequence number.
    Conflict,
    /// A line looks like an audit line but cannot be read.
    Malformed,
    /// A plain SHA-256 line where the verifier holds a key (a forged chain).
    Downgraded,
    /// The same line twice (a drain redelivered it). Not tampering.
    Duplicate,
    /// Lines Palisade itself announced as lost on write. Not tampering.
    DeclaredLoss,
    /// The export starts in the middle of a chain. Not tampering.
    StartsMidStream,
    /// Keyed hashes could not be checked because no key was given. Not tampering.
    HashesNotChecked,
    /// The start of a line cut off by an output failure, followed by Palisade's loss notice.
    /// Not tampering.
    PartialLine,
}

impl FindingKind {
    /// Whether this finding means the log was altered.
    pub fn is_tampering(self) -> bool {
        !matches!(
            self,
            FindingKind::Duplicate
                | FindingKind::DeclaredLoss
                | FindingKind::StartsMidStream
                | FindingKind::HashesNotChecked
                | FindingKind::PartialLine
        )
    }

    fn label(self) -> &'static str {
        match self {
            FindingKind::Gap => "gap",
            FindingKind::Edited => "edited",
            FindingKind::ChainBroken => "chain broken",
            FindingKind::Reordered => "reordered",
            FindingKind::Conflict => "conflicting lines",
            FindingKind::Malformed => "malformed",
            FindingKind::Downgraded => "unkeyed line",
            FindingKind::Duplicate => "duplicate",
            FindingKind::DeclaredLoss => "declared loss",
            FindingKind::StartsMidStream => "starts mid-chain",
            FindingKind::HashesNotChecked => "hashes not checked",
            FindingKind::PartialLine => "partial line",
        }
    }
}

/// One problem or notable fact, with the 1-based line number it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What.
    pub kind: FindingKind,
    /// Line number in the input (1-based).
    pub line: usize,
    /// Dyno of the chain concerned.
    pub dyno: Option<String>,
    /// Boot id of the chain concerned.
    pub boot_id: Option<String>,
    /// Sequence number concerned.
    pub seq: Option<u64>,
    /// Human explanation.
    pub detail: String,
}

/// One chain: one process on one dyno.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainSummary {
    /// Dyno name.
    pub dyno: String,
    /// Boot id.
    pub boot_id: String,
    /// `hmac-sha256` or `sha256`.
    pub algorithm: String,
    /// Lines in this chain.
    pub lines: usize,
    /// Lowest and highest sequence number seen.
    pub seq_range: (u64, u64),
    /// First and last input line.
    pub line_range: (usize, usize),
}

/// A dyno that started a new process (a new boot id) within the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Restart {
    /// Dyno name.
    pub dyno: String,
    /// Line where the new boot's first line appears.
    pub line: usize,
    /// The boot before.
    pub previous_boot_id: String,
    /// The new boot.
    pub boot_id: String,
}

/// The result of [`verify_logs`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Input lines read.
    pub lines_read: usize,
    /// Lines recognised as audit lines.
    pub audit_lines: usize,
    /// Other lines (router logs, app output), ignored.
    pub other_lines: usize,
    /// Lines whose hash was recomputed.
    pub hashes_checked: usize,
    /// One entry per chain (dyno + boot), in order of first appearance.
    pub chains: Vec<ChainSummary>,
    /// Process restarts per dyno.
    pub restarts: Vec<Restart>,
    /// Everything found, ordered by line.
    pub findings: Vec<Finding>,
}

impl VerifyReport {
    /// Whether any finding means tampering.
    pub fn tampered(&self) -> bool {
        self.findings.iter().any(|f| f.kind.is_tampering())
    }

    /// Process exit code for `palisade audit verify`: 0 intact, 1 tampered, 2 nothing to verify.
    pub fn exit_code(&self) -> i32 {
        if self.tampered() {
            1
        } else if self.audit_lines == 0 {
            2
        } else {
            0
        }
    }

    /// Human-readable report.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let dynos: std::collections::BTreeSet<&str> =
            self.chains.iter().map(|c| c.dyno.as_str()).collect();
        let _ = writeln!(
            out,
            "{} lines read: {} audit lines in {} chain(s) from {} dyno(s), {} other lines ignored; {} hashes recomputed",
            self.lines_read,
            self.audit_lines,
            self.chains.len(),
            dynos.len(),
            self.other_lines,
            self.hashes_checked
        );
        for c in &self.chains {
            let _ = writeln!(
                out,
                "  chain {} boot {}: {} lines, seq {}-{}, input lines {}-{}, {}",
                c.dyno,
                c.boot_id,
                c.lines,
                c.seq_range.0,
                c.seq_range.1,
                c.line_range.0,
                c.line_range.1,
                c.algorithm
            );
        }
        for r in &self.restarts {
            let _ = writeln!(
                out,
                "  restart: {} at line {} (boot {} -> {})",
                r.dyno, r.line, r.previous_boot_id, r.boot_id
            );
        }
        for f in &self.findings {
            let tag = if f.kind.is_tampering() {
                "TAMPERING"
            } else {
                "note"
            };
            let chain = match (&f.dyno, &f.boot_id) {
                (Some(d), Some(b)) => format!(" [{d} {b}]"),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "  {tag}: line {}{chain}: {}: {}",
                f.line,
                f.kind.label(),
                f.detail
            );
        }
        let tampering = self
            .findings
            .iter()
            .filter(|f| f.kind.is_tampering())
            .count();
        let verdict = if tampering > 0 {
            format!("RESULT: TAMPERED ({tampering} finding(s))")
        } else if self.audit_lines == 0 {
            "RESULT: NO AUDIT LINES FOUND".to_owned()
        } else {
            "RESULT: OK, chains intact".to_owned()
        };
        let _ = writeln!(out, "{verdict}");
        out
    }
}

#[derive(Debug, Clone)]
struct Entry {
    line: usize,
    seq: u64,
    prev: ChainHash,
    hash: ChainHash,
    lost: Option<(u64, u64)>,
}

struct Chain {
    dyno: String,
    boot_id: String,
    alg: String,
    entries: Vec<Entry>,
}

/// Incremental verifier (the report feeds it the lines it reads).
pub(crate) struct Verifier {
    key: Option<Vec<u8>>,
    report: VerifyReport,
    chains: Vec<Chain>,
    index: HashMap<(String, String), usize>,
    unchecked_noted: Vec<bool>,
    /// A line cut short (no hash field) waiting to see whether a loss notice follows it.
    cut_line: Option<usize>,
}

impl Verifier {
    pub(crate) fn new(options: &VerifyOptions) -> Self {
        Verifier {
            key: options.key.clone(),
            report: VerifyReport::default(),
            chains: Vec::new(),
            index: HashMap::new(),
            unchecked_noted: Vec::new(),
            cut_line: None,
        }
    }

    fn finding(
        &mut self,
        kind: FindingKind,
        line: usize,
        chain: Option<(&str, &str)>,
        seq: Option<u64>,
        detail: String,
    ) {
        self.report.findings.push(Finding {
            kind,
            line,
            dyno: chain.map(|c| c.0.to_owned()),
            boot_id: chain.map(|c| c.1.to_owned()),
            seq,
            detail,
        });
    }

    /// Feeds one input line (1-based number) with its parse result.
    pub(crate) fn push(&mut self, line: usize, parsed: Option<&Result<Parsed<'_>, &'static str>>) {
        self.report.lines_read += 1;
        let p = match parsed {
            None => {
                self.report.other_lines += 1;
                return;
            }
            Some(Err(why)) => {
                self.report.audit_lines += 1;
                self.settle_cut_line(false);
                if *why == NO_HASH_AT_END {
                    self.cut_line = Some(line);
                } else {
                    self.finding(FindingKind::Malformed, line, None, None, (*why).to_owned());
                }
                return;
            }
            Some(Ok(p)) => {
                self.settle_cut_line(p.lost.is_some());
                p
            }
        };
        self.report.audit_lines += 1;
        let chain_id = (p.dyno.as_str(), p.boot_id.as_str());
        let idx = match self.index.get(&(p.dyno.clone(), p.boot_id.clone())) {
            Some(i) => *i,
            None => {
                let i = self.chains.len();
                self.index.insert((p.dyno.clone(), p.boot_id.clone()), i);
                self.chains.push(Chain {
                    dyno: p.dyno.clone(),
                    boot_id: p.boot_id.clone(),
                    alg: p.alg.clone(),
                    entries: Vec::new(),
                });
                self.unchecked_noted.push(false);
                i
            }
        };
        let key = match (p.alg.as_str(), &self.key) {
            (ALG_SHA256, Some(_)) => {
                self.finding(
                    FindingKind::Downgraded,
                    line,
                    Some(chain_id),
                    Some(p.seq),
                    "plain SHA-256 line, but the log is expected to be keyed: anyone can forge such a line".to_owned(),
                );
                None
            }
            (ALG_SHA256, None) => Some(None),
            (ALG_HMAC, Some(k)) => Some(Some(k.clone())),
            (ALG_HMAC, None) => {
                if !self.unchecked_noted[idx] {
                    self.unchecked_noted[idx] = true;
                    self.finding(
                        FindingKind::HashesNotChecked,
                        line,
                        Some(chain_id),
                        Some(p.seq),
                        "keyed chain and no key given: order and links checked, content edits not (pass the key)".to_owned(),
                    );
                }
                None
            }
            (other, _) => {
                self.finding(
                    FindingKind::Malformed,
                    line,
                    Some(chain_id),
                    Some(p.seq),
                    format!("unknown chain algorithm {other:?}"),
                );
                return;
            }
        };
        if let Some(key) = key {
            self.report.hashes_checked += 1;
            let expected = chain_hash(key.as_deref(), p.body.as_bytes());
            if expected != p.hash {
                self.finding(
                    FindingKind::Edited,
                    line,
                    Some(chain_id),
                    Some(p.seq),
                    "content does not match its hash".to_owned(),
                );
            }
        }
        if self.chains[idx].alg != p.alg {
            self.finding(
                FindingKind::ChainBroken,
                line,
                Some(chain_id),
                Some(p.seq),
                format!("chain algorithm changed to {}", p.alg),
            );
        }
        self.chains[idx].entries.push(Entry {
            line,
            seq: p.seq,
            prev: p.prev,
            hash: p.hash,
            lost: p.lost,
        });
    }

    /// Classifies a pending cut-short line: harmless when Palisade's loss notice follows it.
    fn settle_cut_line(&mut self, loss_notice_follows: bool) {
        if let Some(line) = self.cut_line.take() {
            if loss_notice_follows {
                let detail =
                    "line cut short by an output failure; the loss notice follows".to_owned();
                self.finding(FindingKind::PartialLine, line, None, None, detail);
            } else {
                self.finding(
                    FindingKind::Malformed,
                    line,
                    None,
                    None,
                    NO_HASH_AT_END.to_owned(),
                );
            }
        }
    }

    pub(crate) fn finish(mut self) -> VerifyReport {
        self.settle_cut_line(false);
        let chains = std::mem::take(&mut self.chains);
        let mut last_boot: HashMap<String, String> = HashMap::new();
        for chain in &chains {
            let id = Some((chain.dyno.as_str(), chain.boot_id.as_str()));
            let first_line = chain.entries.first().map_or(0, |e| e.line);
            if let Some(prev) = last_boot.insert(chain.dyno.clone(), chain.boot_id.clone()) {
                self.report.restarts.push(Restart {
                    dyno: chain.dyno.clone(),
                    line: first_line,
                    previous_boot_id: prev,
                    boot_id: chain.boot_id.clone(),
                });
            }
            // Order as found in the file.
            let mut highest: Option<&Entry> = None;
            for e in &chain.entries {
                match highest {
                    Some(h) if e.seq < h.seq => self.finding(
                        FindingKind::Reordered,
                        e.line,
                        id,
                        Some(e.seq),
                        format!("seq {} comes after seq {} (line {})", e.seq, h.seq, h.line),
                    ),
                    Some(h) if e.seq == h.seq => {}
                    _ => highest = Some(e),
                }
            }
            // Links and gaps in sequence order.
            let mut sorted: Vec<&Entry> = chain.entries.iter().collect();
            sorted.sort_by_key(|e| (e.seq, e.line));
            let declared: Vec<(u64, u64)> = chain.entries.iter().filter_map(|e| e.lost).collect();
            if let Some(first) = sorted.first() {
                if first.seq == 1 && first.prev != GENESIS {
                    self.finding(
                        FindingKind::ChainBroken,
                        first.line,
                        id,
                        Some(1),
                        "first line of a boot must have prev = 0…0".to_owned(),
                    );
                } else if first.seq > 1 {
                    self.finding(
                        FindingKind::StartsMidStream,
                        first.line,
                        id,
                        Some(first.seq),
                        format!(
                            "export starts at seq {}; earlier lines are outside it",
                            first.seq
                        ),
                    );
                }
            }
            for pair in sorted.windows(2) {
                let (a, b) = (pair[0], pair[1]);
                if b.seq == a.seq {
                    let (kind, what) = if a.hash == b.hash {
                        (FindingKind::Duplicate, "same line twice")
                    } else {
                        (
                            FindingKind::Conflict,
                            "two different lines with the same seq",
                        )
                    };
                    self.finding(
                        kind,
                        b.line,
                        id,
                        Some(b.seq),
                        format!("{what} (lines {} and {})", a.line, b.line),
                    );
                    continue;
                }
                if b.seq == a.seq + 1 {
                    if b.prev != a.hash {
                        self.finding(
                            FindingKind::ChainBroken,
                            b.line,
                            id,
                            Some(b.seq),
                            format!(
                                "prev {}… does not match the hash of seq {} (line {})",
                                &to_hex(&b.prev)[..12],
                                a.seq,
                                a.line
                            ),
                        );
                    }
                    continue;
                }
                let (from, to) = (a.seq + 1, b.seq - 1);
                let covered = declared.iter().any(|(f, t)| *f <= from && to <= *t);
                let kind = if covered {
                    FindingKind::DeclaredLoss
                } else {
                    FindingKind::Gap
                };
                let why = if covered {
                    "announced by Palisade as lost on write"
                } else {
                    "deleted"
                };
                self.finding(
                    kind,
                    b.line,
                    id,
                    Some(from),
                    format!(
                        "seq {from}-{to} missing ({} line(s)) between lines {} and {}: {why}",
                        to - from + 1,
                        a.line,
                        b.line
                    ),
                );
            }
            let seqs = (
                sorted.first().map_or(0, |e| e.seq),
                sorted.last().map_or(0, |e| e.seq),
            );
            let lines = (
                chain.entries.first().map_or(0, |e| e.line),
                chain.entries.last().map_or(0, |e| e.line),
            );
            self.report.chains.push(ChainSummary {
                dyno: chain.dyno.clone(),
                boot_id: chain.boot_id.clone(),
                algorithm: chain.alg.clone(),
                lines: chain.entries.len(),
                seq_range: seqs,
                line_range: lines,
            });
        }
        self.report.findings.sort_by_key(|f| f.line);
        self.report
    }
}

/// Reads lines, tolerating invalid UTF-8 (replaced) and CRLF.
pub(crate) fn for_each_line<R: BufRead>(
    mut reader: R,
    mut f: impl FnMut(usize, &str),
) -> io::Result<()> {
    let mut buf = Vec::new();
    let mut n = 0;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            return Ok(());
        }
        n += 1;
        f(n, &String::from_utf8_lossy(&buf));
    }
}

/// Verifies exported logs without a key (plain chains fully, keyed chains for order and links).
pub fn verify_logs<R: BufRead>(reader: R) -> io::Result<VerifyReport> {
    verify_logs_with(reader, &VerifyOptions::default())
}

/// Verifies exported logs with options (e.g. the HMAC key).
pub fn verify_logs_with<R: BufRead>(
    reader: R,
    options: &VerifyOptions,
) -> io::Result<VerifyReport> {
    let mut v = Verifier::new(options);
    for_each_line(reader, |n, line| {
        let parsed = parse_line(line);
        v.push(n, parsed.as_ref());
    })?;
    Ok(v.finish())
}
