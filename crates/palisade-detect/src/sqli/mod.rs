//! SQL injection detection.
//!
//! The value is lexed three times: as it is, as if it sat inside a `'…'` literal and as if it
//! sat inside a `"…"` literal (the last two only when that quote occurs). Each token stream is
//! then checked against a small grammar of injection shapes, see [`checks`]. A detection needs
//! SQL *syntax* (a keyword in a position where it forms a statement, a comparison of two
//! literals after a boolean operator, a quote breakout followed by SQL, …), never a lone word,
//! so clinical text such as "select specialty hospital" or "drop in blood pressure" passes.

mod checks;
mod keywords;
mod lexer;

use std::cell::RefCell;

use crate::ascii::{byte_table, char_span};
use crate::{Detection, DetectorKind};
use keywords::Kw;
use lexer::{lex, Lexed};

/// Cheap pre-filter: `false` means [`sqli`] cannot fire on this value.
///
/// Every check needs a quote, a comment, an operator, a parenthesis, a `;`, or a statement
/// keyword such as `union`, `select` or `true`; values without any of these (most identifiers,
/// codes, plain words) are skipped without lexing.
pub fn sqli_candidate(input: &[u8]) -> bool {
    // Sixteen bytes a step without a branch per byte (most values have no such byte, or only
    // late).
    let punctuation = input.chunks(16).any(|chunk| {
        chunk.iter().fold(false, |seen, &b| {
            seen | CANDIDATE_PUNCTUATION[usize::from(b)]
        })
    });
    if punctuation {
        return true;
    }
    // No punctuation: only keyword-led shapes remain (`1 union select 1`, `select a from b`,
    // `1 or true`, `exec master..xp_cmdshell`, `from information_schema.tables`).
    let mut rest = input;
    loop {
        // The next word: a run of letters, digits and `_`.
        let Some(start) = rest.iter().position(|&b| CANDIDATE_WORD[usize::from(b)]) else {
            return false;
        };
        rest = &rest[start..];
        let len = rest
            .iter()
            .position(|&b| !CANDIDATE_WORD[usize::from(b)])
            .unwrap_or(rest.len());
        let word = &rest[..len];
        let statement_word = matches!(
            keywords::lookup(word),
            Kw::Union
                | Kw::Select
                | Kw::True
                | Kw::Drop
                | Kw::Create
                | Kw::Exec
                | Kw::Waitfor
                | Kw::Shutdown
                | Kw::Order
                | Kw::Procedure
        );
        if statement_word || keywords::is_catalog_name(word) {
            return true;
        }
        rest = &rest[len..];
    }
}

/// Bytes of a word for [`sqli_candidate`]'s keyword search.
const CANDIDATE_WORD: [bool; 256] =
    byte_table(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");

/// The punctuation [`sqli_candidate`] looks for, as a 256-entry table.
const CANDIDATE_PUNCTUATION: [bool; 256] = byte_table(b"'\"`;#(=<>-/|&@:");

/// Detects SQL injection in one decoded value.
///
/// Returns the first injection shape found, with a fingerprint such as `"sqli:union-select"`,
/// `"sqli:stacked-query"`, `"sqli:time-delay"`, `"sqli:tautology"`, `"sqli:breakout-comment"`,
/// `"sqli:breakout-logic"`, `"sqli:order-by"`, `"sqli:subquery"`, `"sqli:statement"`,
/// `"sqli:dangerous-function"`, `"sqli:catalog"`, `"sqli:server-variable"`,
/// `"sqli:into-outfile"` or `"sqli:mysql-comment"` (the full list is [`FINGERPRINTS`]).
pub fn sqli(input: &str) -> Option<Detection> {
    if !sqli_candidate(input.as_bytes()) {
        return None;
    }
    // The token buffer is kept per thread, so lexing does not allocate once it has grown.
    LEXED.with(|cell| match cell.try_borrow_mut() {
        Ok(mut lexed) => {
            let found = lex_and_check(input, &mut lexed);
            if lexed.tokens.capacity() > MAX_KEPT_TOKENS {
                // A huge value's buffer is not worth keeping for the values after it.
                *lexed = Lexed::default();
            }
            found
        }
        Err(_) => lex_and_check(input, &mut Lexed::default()),
    })
}

/// Capacity above which the per-thread token buffer is freed after use (32 bytes a token).
const MAX_KEPT_TOKENS: usize = 4096;

thread_local! {
    static LEXED: RefCell<Lexed> = RefCell::new(Lexed::default());
}

/// Lexes `input` in each starting context and runs the grammar checks on each token stream.
fn lex_and_check(input: &str, lexed: &mut Lexed) -> Option<Detection> {
    let bytes = input.as_bytes();
    for quote in [None, Some(b'\''), Some(b'"')] {
        if let Some(q) = quote {
            if memchr::memchr(q, bytes).is_none() {
                continue;
            }
        }
        lex(bytes, quote, lexed);
        if let Some((fingerprint, start, end)) = checks::analyse(bytes, lexed, quote.is_some()) {
            return Some(Detection::new(
                DetectorKind::Sqli,
                fingerprint,
                char_span(input, start, end),
            ));
        }
    }
    None
}

/// Every fingerprint [`sqli`] can return.
pub const FINGERPRINTS: &[&str] = checks::FINGERPRINTS;

#[cfg(test)]
mod tests;
