//! Whole-value shell syntax checks that do not depend on reading a command word: arithmetic
//! expansion probes, language-level process functions, server-side includes and cmd.exe batch
//! control syntax.

use super::Present;
use crate::ascii::{byte_table, position_in, starts_with_ci, NextIn};

pub(crate) const ARITHMETIC: &str = "shell:arithmetic";
pub(crate) const EXEC_FUNCTION: &str = "shell:exec-function";
pub(crate) const SSI: &str = "shell:ssi";
pub(crate) const CMD_BATCH: &str = "shell:cmd-batch";

type Hit = (&'static str, usize, usize);

pub(crate) fn check(b: &[u8], present: Present) -> Option<Hit> {
    // Each check but the batch one needs its byte; without it the search for it is skipped.
    let arithmetic = || {
        present
            .has(Present::DOLLAR)
            .then(|| arithmetic(b))
            .flatten()
    };
    let ssi = || present.has(Present::LT).then(|| ssi(b)).flatten();
    let exec_function = || {
        present
            .has(Present::PAREN)
            .then(|| exec_function(b))
            .flatten()
    };
    arithmetic()
        .or_else(ssi)
        .or_else(exec_function)
        .or_else(|| batch(b, present.has(Present::BATCH_SEPARATOR)))
}

/// `$((93+76))`: commix-style probes echo an arithmetic result to confirm execution.
fn arithmetic(b: &[u8]) -> Option<Hit> {
    // Each `$` is looked at once (a vectorised byte search; prose rarely has one).
    for at in memchr::memchr_iter(b'$', b) {
        if b.get(at + 1..at + 3) != Some(b"((") {
            continue;
        }
        let body_start = at + 3;
        let mut j = body_start;
        while j < b.len()
            && (b[j].is_ascii_alphanumeric()
                || matches!(b[j], b'+' | b'-' | b'*' | b'/' | b'%' | b' ' | b'_'))
        {
            j += 1;
        }
        if j > body_start && b.get(j..j + 2) == Some(b"))") {
            return Some((ARITHMETIC, at, j + 2));
        }
    }
    None
}

/// `<!--#exec cmd="…"-->`, `<!--#include virtual=…-->`.
fn ssi(b: &[u8]) -> Option<Hit> {
    // The marker has no letters, so an exact search finds it (at each `<`, rare in prose).
    let at = memchr::memchr_iter(b'<', b).find(|&at| b[at..].starts_with(b"<!--#"))?;
    let directive = &b[at + 5..];
    [
        "exec", "include", "echo", "config", "printenv", "fsize", "flastmod",
    ]
    .iter()
    .any(|d| starts_with_ci(directive, 0, d.as_bytes()))
    .then_some((SSI, at, (at + 10).min(b.len())))
}

/// Language functions that spawn a process or evaluate code, called with a literal,
/// variable or backtick argument: `system('id')`, `passthru(\`…\`)`, `phpinfo()`,
/// `os.popen("id")`, `Runtime.getRuntime().exec("id")`.
fn exec_function(b: &[u8]) -> Option<Hit> {
    let n = b.len();
    // Visit each `(` once and read the name before it, so ordinary words cost nothing.
    for paren in memchr::memchr_iter(b'(', b) {
        let mut start = paren;
        while start > 0 && (b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_') {
            start -= 1;
        }
        let name = &b[start..paren];
        let qualified_by =
            |q: &[u8]| start > q.len() && b[..start - 1].ends_with(q) && b[start - 1] == b'.';
        let known = matches!(
            name,
            b"system"
                | b"exec"
                | b"passthru"
                | b"shell_exec"
                | b"popen"
                | b"proc_open"
                | b"pcntl_exec"
                | b"phpinfo"
                | b"eval"
                | b"assert"
                | b"execSync"
                | b"spawnSync"
                | b"execFile"
        ) || (matches!(
            name,
            b"call" | b"check_output" | b"check_call" | b"run" | b"Popen"
        ) && qualified_by(b"subprocess"));
        if !known || (start > 0 && b[start - 1] == b'_') {
            continue;
        }
        let ok = match b.get(paren + 1).copied() {
            Some(b'\'' | b'"' | b'`' | b'$') => true,
            Some(b')') => name == b"phpinfo",
            Some(c) if c.is_ascii_alphabetic() => {
                // Nested call: `eval(base64_decode(…))`, `system(print(…))`.
                let rest = &b[paren + 1..n.min(paren + 64)];
                let k = rest
                    .iter()
                    .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                    .unwrap_or(rest.len());
                rest.get(k) == Some(&b'(')
            }
            _ => false,
        };
        if ok {
            return Some((EXEC_FUNCTION, start, paren + 1));
        }
    }
    None
}

/// cmd.exe control syntax at a command position: `FOR [/D|/R|/L|/F …] %x IN (…) DO …` and
/// `IF [/I] [NOT] EXIST|DEFINED|ERRORLEVEL x cmd` / `IF a==b cmd` / `IF a EQU b cmd`.
fn batch(b: &[u8], separators: bool) -> Option<Hit> {
    // Command positions are the start and the byte after each `& | ( ; \n \r`; only those are
    // visited (two vectorised searches), not every word. A hit is the leftmost one, so the
    // first hit of each search is enough and the earlier of the two wins.
    let mut blanks = NextIn::new(&BLANK);
    if let Some(hit) = batch_at(b, 0, &mut blanks) {
        return Some(hit);
    }
    if !separators {
        return None;
    }
    let mut first_after =
        |mut found: memchr::Memchr3<'_>| found.find_map(|p| batch_at(b, p + 1, &mut blanks));
    let grouping = first_after(memchr::memchr3_iter(b'&', b'|', b'(', b));
    let line = first_after(memchr::memchr3_iter(b';', b'\n', b'\r', b));
    match (grouping, line) {
        (Some(g), Some(l)) => Some(if g.1 < l.1 { g } else { l }),
        (hit, None) | (None, hit) => hit,
    }
}

/// `FOR`/`IF` batch syntax in the command at command position `from` (after blanks and `@`).
fn batch_at(b: &[u8], from: usize, blanks: &mut NextIn) -> Option<Hit> {
    let n = b.len();
    let lead = b.get(from..)?;
    let i = from
        + lead
            .iter()
            .position(|c| !matches!(c, b' ' | b'\t' | b'@'))
            .unwrap_or(lead.len());
    let word_end = i + b[i..]
        .iter()
        .position(|c| !c.is_ascii_alphabetic())
        .unwrap_or(n - i);
    let word = &b[i..word_end];
    let is_for = word.eq_ignore_ascii_case(b"for");
    if !is_for && !word.eq_ignore_ascii_case(b"if") {
        return None;
    }
    // A batch line is short; looking at most 512 bytes ahead keeps this linear.
    let rest = &b[word_end..n.min(word_end + 512)];
    // Every form of `FOR` and `IF` has at least two arguments, so needs a blank after the
    // first: without one in reach there is nothing to tokenize (`if(if(if(…` would otherwise
    // tokenize 512 bytes at each `(`; the next blank is remembered across positions).
    let first_arg = rest
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .map_or(n, |p| word_end + p);
    if blanks.next(b, first_arg) >= word_end + rest.len() {
        return None;
    }
    let found = if is_for {
        batch_for(rest)
    } else {
        batch_if(rest)
    };
    found.then_some((CMD_BATCH, i, word_end))
}

/// ASCII whitespace as `u8::is_ascii_whitespace` has it (what splits batch arguments).
const BLANK: [bool; 256] = byte_table(b" \t\n\x0c\r");

/// What ends an unquoted run of a batch token: ASCII whitespace, or a `"` that opens a quote.
const TOKEN_BREAK: [bool; 256] = byte_table(b" \t\n\x0c\r\"");

/// Splits batch arguments at whitespace outside `"…"`. Runs are found by vectorised searches:
/// every `FOR`/`IF` position reads up to 512 bytes ahead, and a value can hold many of them.
fn batch_tokens(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < s.len() && s[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= s.len() {
            return None;
        }
        let start = i;
        loop {
            i += position_in(&s[i..], &TOKEN_BREAK).unwrap_or(s.len() - i);
            if s.get(i) != Some(&b'"') {
                break;
            }
            // Inside quotes, whitespace does not split; an unclosed quote runs to the end.
            i += 1;
            i += memchr::memchr(b'"', &s[i..]).map_or(s.len() - i, |p| p + 1);
        }
        Some(&s[start..i])
    })
}

fn batch_for(rest: &[u8]) -> bool {
    let mut tokens = batch_tokens(rest).take(12);
    // Switches, options and a root path may precede the loop variable.
    let var = loop {
        match tokens.next() {
            Some(t) if t.first() == Some(&b'%') => break t,
            Some(t)
                if t.first() == Some(&b'/') || t.first() == Some(&b'"') || t.contains(&b':') => {}
            _ => return false,
        }
    };
    if var.len() < 2 || var.len() > 34 {
        return false;
    }
    let Some(kw) = tokens.next() else {
        return false;
    };
    if !(kw.eq_ignore_ascii_case(b"in") || starts_with_ci(kw, 0, b"in(")) {
        return false;
    }
    // `(set)` then `DO`.
    let Some(close) = rest.iter().position(|&c| c == b')') else {
        return false;
    };
    let after = &rest[close + 1..];
    let after = after
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .map_or(&after[after.len()..], |p| &after[p..]);
    starts_with_ci(after, 0, b"do") && after.get(2).is_none_or(|c| !c.is_ascii_alphanumeric())
}

fn batch_if(rest: &[u8]) -> bool {
    let mut held: [&[u8]; 8] = [&[]; 8];
    let mut count = 0;
    for (slot, token) in held.iter_mut().zip(batch_tokens(rest)) {
        *slot = token;
        count += 1;
    }
    let tokens = &held[..count];
    let mut k = 0;
    if tokens.get(k).is_some_and(|t| t.eq_ignore_ascii_case(b"/i")) {
        k += 1;
    }
    if tokens
        .get(k)
        .is_some_and(|t| t.eq_ignore_ascii_case(b"not"))
    {
        k += 1;
    }
    let Some(first) = tokens.get(k) else {
        return false;
    };
    // The command after the condition starts like one (`echo`, `(ECHO`, `@echo`, `"x"`), not
    // like C or Python (`{`, `||`, `break:`).
    let has_command_after = |idx: usize| {
        tokens.get(idx).is_some_and(|t| {
            t.first().is_some_and(|&c| {
                c.is_ascii_alphabetic() || matches!(c, b'(' | b'@' | b'"' | b'%' | b'.')
            })
        }) && !tokens
            .get(idx.saturating_sub(1))
            .is_some_and(|t| t.ends_with(b":"))
    };
    if first.eq_ignore_ascii_case(b"exist") {
        return has_command_after(k + 2);
    }
    if first.eq_ignore_ascii_case(b"errorlevel") || first.eq_ignore_ascii_case(b"cmdextversion") {
        return tokens
            .get(k + 1)
            .is_some_and(|t| t.iter().all(u8::is_ascii_digit))
            && has_command_after(k + 2);
    }
    if first.eq_ignore_ascii_case(b"defined") {
        // `IF DEFINED var cmd`; prose "if defined by the…" has no batch-looking command.
        let Some(cmd) = tokens.get(k + 2) else {
            return false;
        };
        let var = tokens.get(k + 1).copied().unwrap_or(b"");
        return cmd.starts_with(b"(")
            || var
                .iter()
                .any(|c| c.is_ascii_digit() || *c == b'_' || *c == b'%')
            || var.iter().all(|c| c.is_ascii_uppercase())
            || [&b"set"[..], b"echo", b"goto", b"call", b"cmd", b"exit"]
                .iter()
                .any(|w| cmd.eq_ignore_ascii_case(w));
    }
    // `a==b cmd`, `"a" == "b" cmd`, `a EQU b cmd`.
    if let Some(eq) = tokens[k..]
        .iter()
        .position(|t| memchr::memmem::find(t, b"==").is_some())
    {
        let idx = k + eq;
        let t = tokens[idx];
        let glued = t.len() > 2 && !t.starts_with(b"==") && !t.ends_with(b"==");
        return if glued {
            has_command_after(idx + 1)
        } else {
            has_command_after(idx + 2)
        };
    }
    tokens.get(k + 1).is_some_and(|op| {
        [&b"equ"[..], b"neq", b"lss", b"leq", b"gtr", b"geq"]
            .iter()
            .any(|w| op.eq_ignore_ascii_case(w))
    }) && has_command_after(k + 3)
}
