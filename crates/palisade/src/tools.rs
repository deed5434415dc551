//! Offline subcommands: `explain` (one request through the engine), `audit verify` (check an
//! exported log's tamper-evidence chain) and `report` (HTML compliance report from exported logs).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::{check, wiring, EXIT_CONFIG};

/// `palisade explain [FILE]`: parse a raw HTTP/1.1 request (file or stdin) and print every rule
/// that fired, on which target, after which transforms, with the score and the verdict — using
/// the effective policy (paranoia, threshold, user rules and exclusions).
pub fn explain(file: Option<PathBuf>, config: Option<PathBuf>) -> ExitCode {
    let policy = match check::load_policy(config) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("palisade: configuration refused: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let engine = match wiring::build_engine(&policy) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("palisade: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let mut raw = Vec::new();
    let read = match &file {
        Some(path) => File::open(path).and_then(|mut f| f.read_to_end(&mut raw)),
        None => std::io::stdin().read_to_end(&mut raw),
    };
    if let Err(e) = read {
        eprintln!("palisade explain: cannot read the request: {e}");
        return ExitCode::from(1);
    }
    // Files written by hand often use bare LF line ends; accept them.
    if !raw.windows(2).any(|w| w == b"\r\n") {
        raw = normalise_line_ends(&raw);
    }
    match palisade_engine::explain_raw(&engine, &raw) {
        Ok(explanation) => {
            print!("{explanation}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("palisade explain: not a valid HTTP/1.1 request: {e}");
            ExitCode::from(1)
        }
    }
}

fn normalise_line_ends(raw: &[u8]) -> Vec<u8> {
    // Only the head: the body (after the first blank line) is kept byte for byte.
    let split = raw
        .windows(2)
        .position(|w| w == b"\n\n")
        .map_or(raw.len(), |i| i + 2);
    let mut out = Vec::with_capacity(raw.len() + 64);
    for &b in &raw[..split] {
        if b == b'\n' {
            out.extend_from_slice(b"\r\n");
        } else {
            out.push(b);
        }
    }
    out.extend_from_slice(&raw[split..]);
    out
}

fn open_logs(files: &[PathBuf]) -> Result<Box<dyn std::io::BufRead>, String> {
    if files.is_empty() {
        return Ok(Box::new(BufReader::new(std::io::stdin())));
    }
    let mut all = Vec::new();
    for f in files {
        let mut file = File::open(f).map_err(|e| format!("{}: {e}", f.display()))?;
        file.read_to_end(&mut all)
            .map_err(|e| format!("{}: {e}", f.display()))?;
        if !all.ends_with(b"\n") {
            all.push(b'\n');
        }
    }
    Ok(Box::new(std::io::Cursor::new(all)))
}

fn key_from_env() -> Option<Vec<u8>> {
    std::env::var("PALISADE_AUDIT_KEY")
        .ok()
        .filter(|k| !k.is_empty())
        .map(String::into_bytes)
}

/// `palisade audit verify FILE…`: exit 0 when intact, 1 when tampering was found, 2 when the
/// input holds no audit lines.
pub fn audit_verify(files: &[PathBuf], json: bool) -> ExitCode {
    let reader = match open_logs(files) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("palisade audit verify: {e}");
            return ExitCode::from(2);
        }
    };
    let opts = palisade_audit::VerifyOptions {
        key: key_from_env(),
    };
    match palisade_audit::verify_logs_with(reader, &opts) {
        Ok(report) => {
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).unwrap_or_default()
                );
            } else {
                print!("{}", report.to_text());
            }
            ExitCode::from(u8::try_from(report.exit_code()).unwrap_or(1))
        }
        Err(e) => {
            eprintln!("palisade audit verify: {e}");
            ExitCode::from(2)
        }
    }
}

/// `palisade report FILE… --out report.html`.
pub fn report(files: &[PathBuf], out: &PathBuf, title: Option<String>) -> ExitCode {
    let reader = match open_logs(files) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("palisade report: {e}");
            return ExitCode::from(2);
        }
    };
    let mut opts = palisade_audit::ReportOptions {
        key: key_from_env(),
        ..Default::default()
    };
    if let Some(t) = title {
        opts.title = t;
    }
    let mut file = match File::create(out) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("palisade report: cannot write {}: {e}", out.display());
            return ExitCode::from(1);
        }
    };
    match palisade_audit::render_report_with(reader, &mut file, &opts) {
        Ok(stats) => {
            eprintln!("palisade report: wrote {} ({stats:?})", out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("palisade report: {e}");
            ExitCode::from(1)
        }
    }
}
