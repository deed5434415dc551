//! A SQL lexer tolerant of every dialect an attacker may target (MySQL, PostgreSQL, MSSQL,
//! Oracle, SQLite). It turns a value into token classes; comments are not emitted as tokens but
//! recorded on the token before them, so `UNION/**/SELECT` reads as `UNION SELECT`.

use super::keywords::{lookup, Kw};
use crate::ascii::byte_table;

/// Token class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Quoted string literal.
    Str,
    /// Numeric literal (decimal, float, hex, binary).
    Num,
    /// A recognised SQL keyword (see [`Kw`]).
    Keyword,
    /// Identifier or unrecognised word (including backtick and bracket quoted identifiers).
    Word,
    /// A word followed by `(`.
    Func,
    /// `@var` or `@@var`.
    Var,
    /// Comparison: `=`, `<`, `>`, `<=`, `>=`, `<>`, `!=`, `<=>`, `:=`.
    Cmp,
    /// `||` or `&&`.
    LogicOp,
    /// Any other operator: `+ - * / % | & ^ ~ ! :: ?`.
    Op,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `,`
    Comma,
    /// `;`
    Semi,
    /// Anything else.
    Other,
}

/// Flag on a string token: the closing quote was found.
pub(crate) const CLOSED: u8 = 1;
/// Flag on a string token: the lexer started inside it (it ends at the first quote of the
/// input), i.e. the value broke out of a quoted SQL literal.
pub(crate) const BREAKOUT: u8 = 2;
/// Flag on any token: a comment follows it.
pub(crate) const COMMENT_AFTER: u8 = 4;
/// Flag on a function token: `(` follows the name directly.
pub(crate) const TIGHT: u8 = 8;

/// One lexeme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub class: Class,
    pub kw: Kw,
    pub start: usize,
    pub end: usize,
    pub flags: u8,
}

impl Token {
    pub(crate) fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
    pub(crate) fn is_kw(&self, kw: Kw) -> bool {
        self.class == Class::Keyword && self.kw == kw
    }
    /// `and`, `or`, `xor`, `&&`, `||`.
    pub(crate) fn is_logic(&self) -> bool {
        self.class == Class::LogicOp
            || (self.class == Class::Keyword && matches!(self.kw, Kw::And | Kw::Or | Kw::Xor))
    }
    /// A comparison operator, including word operators such as `LIKE`.
    pub(crate) fn is_cmp(&self) -> bool {
        self.class == Class::Cmp
            || (self.class == Class::Keyword
                && matches!(
                    self.kw,
                    Kw::Like | Kw::Rlike | Kw::Regexp | Kw::Is | Kw::Sounds | Kw::Between | Kw::In
                ))
    }
}

/// Result of lexing one value in one starting context.
#[derive(Debug, Default)]
pub(crate) struct Lexed {
    pub tokens: Vec<Token>,
    /// A comment started before the first token.
    pub leading_comment: bool,
    /// The input ended inside or right after a comment (the classic way to cut off the rest of
    /// the original query).
    pub ends_with_comment: bool,
    /// A MySQL executable comment `/*! … */` was seen.
    pub mysql_exec_comment: bool,
    /// Any comment was seen.
    pub any_comment: bool,
}

/// Blanks between tokens.
const SPACE: [bool; 256] = byte_table(b" \t\n\r\x0b\x0c\0");

/// ASCII bytes of a word: letters, digits, `_` and `$` (bytes >= 0x80 are word bytes too, see
/// [`word_at`]).
const ASCII_WORD: [bool; 256] =
    byte_table(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$");

/// ASCII bytes that start a plain word token: letters, `_` and `$` (not digits, which start
/// numbers).
const WORD_START: [bool; 256] =
    byte_table(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_$");

fn is_space(b: u8) -> bool {
    SPACE[usize::from(b)]
}

fn is_word_byte(b: u8) -> bool {
    ASCII_WORD[usize::from(b)] || b >= 0x80
}

/// A word byte at `i` that is not the start of a NBSP or U+FFFD separator.
fn word_at(input: &[u8], i: usize) -> bool {
    let b = input[i];
    if b < 0x80 {
        return ASCII_WORD[usize::from(b)];
    }
    if b == 0xc2 && input.get(i + 1) == Some(&0xa0) {
        return false;
    }
    if b == 0xef && input.get(i + 1) == Some(&0xbf) && input.get(i + 2) == Some(&0xbd) {
        return false;
    }
    is_word_byte(b)
}

/// Lexes `input`. When `quote` is `Some(q)` the lexer starts inside a string literal opened
/// with `q` (as if the application had written `'…` around the value).
pub(crate) fn lex(input: &[u8], quote: Option<u8>, out: &mut Lexed) {
    out.tokens.clear();
    out.leading_comment = false;
    out.ends_with_comment = false;
    out.mysql_exec_comment = false;
    out.any_comment = false;
    let n = input.len();
    // About one token per five bytes of prose: reserve once instead of growing by doubling.
    out.tokens.reserve(n / 5 + 4);
    let mut i = 0;
    if let Some(q) = quote {
        let (end, closed) = scan_string(input, 0, q);
        let mut flags = BREAKOUT;
        if closed {
            flags |= CLOSED;
        }
        out.tokens.push(Token {
            class: Class::Str,
            kw: Kw::None,
            start: 0,
            end,
            flags,
        });
        i = end;
    }
    // Nesting depth of MySQL `/*! … */` executable comments whose close we still expect.
    let mut exec_depth = 0usize;
    while i < n {
        let b = input[i];
        if is_space(b) {
            i += 1;
            continue;
        }
        // Most tokens of most values are plain words; none of the comment or operator cases
        // below applies to a byte that starts one.
        if WORD_START[usize::from(b)] {
            out.ends_with_comment = false;
            let end = scan_word(input, i);
            let (token, after_blanks) = word_token(input, i, end);
            out.tokens.push(token);
            // The blanks after the word are already read.
            i = after_blanks;
            continue;
        }
        // NBSP (`%A0` decoded as Latin-1) and U+FFFD (an undecodable byte such as a raw
        // `%A0`) separate tokens the way MySQL treats 0xA0.
        if b >= 0x80 {
            if b == 0xc2 && input.get(i + 1) == Some(&0xa0) {
                i += 2;
                continue;
            }
            if b == 0xef && input.get(i + 1) == Some(&0xbf) && input.get(i + 2) == Some(&0xbd) {
                i += 3;
                continue;
            }
        }
        out.ends_with_comment = false;
        // Comments.
        let quoted_hash = b == b'#'
            && i > 0
            && matches!(input[i - 1], b'\'' | b'"')
            && input.get(i + 1) == Some(&input[i - 1]);
        let comment_end =
            if (b == b'#' && !quoted_hash) || (b == b'-' && input.get(i + 1) == Some(&b'-')) {
                Some(line_end(input, i))
            } else if b == b'/' && input.get(i + 1) == Some(&b'*') {
                if input.get(i + 2) == Some(&b'!') {
                    // `/*!50000 select */`: MySQL runs the content. Skip the marker and version.
                    out.mysql_exec_comment = true;
                    out.any_comment = true;
                    exec_depth += 1;
                    i += 3;
                    while i < n && input[i].is_ascii_digit() {
                        i += 1;
                    }
                    continue;
                }
                Some(match find_from(input, i + 2, b"*/") {
                    Some(e) => e + 2,
                    None => n,
                })
            } else if b == b'*' && exec_depth > 0 && input.get(i + 1) == Some(&b'/') {
                exec_depth -= 1;
                i += 2;
                continue;
            } else {
                None
            };
        if let Some(end) = comment_end {
            out.any_comment = true;
            match out.tokens.last_mut() {
                Some(t) => t.flags |= COMMENT_AFTER,
                None => out.leading_comment = true,
            }
            // A comment that cuts off the query: `/* …`, or `--`/`#` followed by a blank, a
            // symbol or nothing — not `--keep` or `#217511`, which prose and options use.
            let marker = if b == b'/' || b == b'-' { 2 } else { 1 };
            out.ends_with_comment = b == b'/'
                || input
                    .get(i + marker)
                    .is_none_or(|c| !c.is_ascii_alphanumeric());
            i = end;
            continue;
        }
        let start = i;
        let (class, end, flags) = match b {
            // PostgreSQL JSON operators: `->`, `->>`, `@>`, `<@`, `@?`, `?|`, `?&`.
            b'@' if matches!(input.get(i + 1), Some(b'>' | b'?')) => (Class::Cmp, i + 2, 0),
            b'<' if input.get(i + 1) == Some(&b'@') => (Class::Cmp, i + 2, 0),
            b'-' if input.get(i + 1) == Some(&b'>') => {
                let e = if input.get(i + 2) == Some(&b'>') {
                    i + 3
                } else {
                    i + 2
                };
                (Class::Cmp, e, 0)
            }
            b'?' if matches!(input.get(i + 1), Some(b'|' | b'&')) => (Class::Cmp, i + 2, 0),
            b'\'' | b'"' => {
                let (end, closed) = scan_string(input, i + 1, b);
                (Class::Str, end, if closed { CLOSED } else { 0 })
            }
            b'`' => (Class::Word, delimited(input, i + 1, b'`'), 0),
            b'[' => (Class::Word, delimited(input, i + 1, b']'), 0),
            b'0'..=b'9' => {
                let end = scan_number(input, i);
                let mut word_end = end;
                while word_end < n && word_at(input, word_end) {
                    word_end += 1;
                }
                if word_end == end {
                    (Class::Num, end, 0)
                } else if lookup(&input[end..word_end]) != Kw::None {
                    // `1union`, `1and` – MySQL splits these.
                    (Class::Num, end, 0)
                } else {
                    (Class::Word, word_end, 0)
                }
            }
            b'.' if input.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                (Class::Num, scan_number(input, i), 0)
            }
            b'@' => {
                let mut e = i + 1;
                if input.get(e) == Some(&b'@') {
                    e += 1;
                }
                while e < n && (word_at(input, e) || input[e] == b'.') {
                    e += 1;
                }
                (Class::Var, e, 0)
            }
            b'=' => (Class::Cmp, i + 1, 0),
            b'<' => {
                let e = match (input.get(i + 1), input.get(i + 2)) {
                    (Some(b'='), Some(b'>')) => i + 3,
                    (Some(b'=' | b'>'), _) => i + 2,
                    _ => i + 1,
                };
                (Class::Cmp, e, 0)
            }
            b'>' => {
                let e = if input.get(i + 1) == Some(&b'=') {
                    i + 2
                } else {
                    i + 1
                };
                (Class::Cmp, e, 0)
            }
            b'!' if input.get(i + 1) == Some(&b'=') => (Class::Cmp, i + 2, 0),
            b':' if input.get(i + 1) == Some(&b'=') => (Class::Cmp, i + 2, 0),
            b'|' if input.get(i + 1) == Some(&b'|') => (Class::LogicOp, i + 2, 0),
            b'&' if input.get(i + 1) == Some(&b'&') => (Class::LogicOp, i + 2, 0),
            b':' if input.get(i + 1) == Some(&b':') => (Class::Op, i + 2, 0),
            b'+' | b'-' | b'*' | b'/' | b'%' | b'|' | b'&' | b'^' | b'~' | b'!' | b'?' | b':' => {
                (Class::Op, i + 1, 0)
            }
            b'(' => (Class::LParen, i + 1, 0),
            b')' => (Class::RParen, i + 1, 0),
            b',' => (Class::Comma, i + 1, 0),
            b';' => (Class::Semi, i + 1, 0),
            _ if word_at(input, i) => (Class::Word, scan_word(input, i), 0),
            _ => {
                // Skip a whole UTF-8 sequence so token bounds stay on char boundaries.
                let mut e = i + 1;
                while e < n && (input[e] & 0xc0) == 0x80 {
                    e += 1;
                }
                (Class::Other, e, 0)
            }
        };
        let token = if class == Class::Word && !matches!(b, b'`' | b'[') {
            word_token(input, start, end).0
        } else {
            Token {
                class,
                kw: Kw::None,
                start,
                end,
                flags,
            }
        };
        out.tokens.push(token);
        i = end.max(i + 1);
    }
}

/// The token for the unquoted word `input[start..end]` (a keyword, a function call or a word),
/// and where the blanks after it end.
fn word_token(input: &[u8], start: usize, end: usize) -> (Token, usize) {
    let mut token = Token {
        class: Class::Word,
        kw: lookup(&input[start..end]),
        start,
        end,
        flags: 0,
    };
    if token.kw != Kw::None {
        token.class = Class::Keyword;
    }
    // A name followed by `(` is a call, unless it is a keyword that takes a
    // parenthesised operand (`IN (`, `VALUES (`, `AND (`).
    let mut j = end;
    while j < input.len() && is_space(input[j]) {
        j += 1;
    }
    // `user(`, `database(`, `schema(`: object words that are also functions.
    if input.get(j) == Some(&b'(') && matches!(token.kw, Kw::None | Kw::Object) {
        token.class = Class::Func;
        if j == end {
            token.flags |= TIGHT;
        }
    }
    (token, j)
}

fn line_end(input: &[u8], from: usize) -> usize {
    input[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(input.len(), |p| from + p + 1)
}

fn find_from(input: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    input
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

/// Scans a string body starting after the opening quote; returns (end, closed) where `end` is
/// just past the closing quote. Handles doubled quotes and backslash escapes.
fn scan_string(input: &[u8], from: usize, q: u8) -> (usize, bool) {
    let n = input.len();
    let mut i = from;
    while i < n {
        let b = input[i];
        if b == b'\\' {
            i += 2;
            continue;
        }
        if b == q {
            if input.get(i + 1) == Some(&q) {
                i += 2;
                continue;
            }
            return (i + 1, true);
        }
        i += 1;
    }
    (n, false)
}

fn delimited(input: &[u8], from: usize, close: u8) -> usize {
    match input
        .get(from..)
        .and_then(|r| r.iter().position(|&b| b == close))
    {
        Some(p) => from + p + 1,
        None => input.len(),
    }
}

fn scan_word(input: &[u8], from: usize) -> usize {
    let n = input.len();
    let mut i = from;
    loop {
        // Runs of ASCII word bytes by table; a byte >= 0x80 continues the word unless it starts
        // a separator (see [`word_at`]).
        loop {
            i += input[i..]
                .iter()
                .position(|&b| !ASCII_WORD[usize::from(b)])
                .unwrap_or(n - i);
            if i < n && input[i] >= 0x80 && word_at(input, i) {
                i += 1;
            } else {
                break;
            }
        }
        // Qualified names: `information_schema.tables`, `master..xp_cmdshell`.
        let mut j = i;
        while j < n && input[j] == b'.' && j - i < 2 {
            j += 1;
        }
        if j > i && j < n && (input[j].is_ascii_alphabetic() || input[j] == b'_') {
            i = j;
            continue;
        }
        return i;
    }
}

fn scan_number(input: &[u8], from: usize) -> usize {
    let n = input.len();
    let mut i = from;
    if input.get(i) == Some(&b'0') && matches!(input.get(i + 1), Some(b'x' | b'X' | b'b' | b'B')) {
        let mut j = i + 2;
        while j < n && input[j].is_ascii_hexdigit() {
            j += 1;
        }
        if j > i + 2 {
            return j;
        }
    }
    while i < n && input[i].is_ascii_digit() {
        i += 1;
    }
    if i < n && input[i] == b'.' {
        i += 1;
        while i < n && input[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i < n && matches!(input[i], b'e' | b'E') {
        let mut j = i + 1;
        if j < n && matches!(input[j], b'+' | b'-') {
            j += 1;
        }
        if j < n && input[j].is_ascii_digit() {
            while j < n && input[j].is_ascii_digit() {
                j += 1;
            }
            i = j;
        } else if j < n && !is_word_byte(input[j]) {
            // MySQL accepts `1.e(` / `1e)` as a number: consume the bare exponent.
            i = j;
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(s: &str, q: Option<u8>) -> Vec<Class> {
        let mut l = Lexed::default();
        lex(s.as_bytes(), q, &mut l);
        l.tokens.iter().map(|t| t.class).collect()
    }

    #[test]
    fn lexes_union_with_inline_comment() {
        let mut l = Lexed::default();
        lex(b"1 UNION/**/SELECT password FROM users--", None, &mut l);
        let kws: Vec<Kw> = l.tokens.iter().map(|t| t.kw).collect();
        assert_eq!(
            kws,
            vec![
                Kw::None,
                Kw::Union,
                Kw::Select,
                Kw::None,
                Kw::From,
                Kw::None
            ]
        );
        assert!(l.ends_with_comment);
    }

    #[test]
    fn breakout_context_closes_at_first_quote() {
        let c = classes("x' or 'a'='a", Some(b'\''));
        assert_eq!(
            c,
            vec![
                Class::Str,
                Class::Keyword,
                Class::Str,
                Class::Cmp,
                Class::Str
            ]
        );
    }

    #[test]
    fn mysql_executable_comment_is_lexed_as_code() {
        let mut l = Lexed::default();
        lex(b"1 /*!50000union*/ select 1", None, &mut l);
        assert!(l.mysql_exec_comment);
        assert_eq!(l.tokens[1].kw, Kw::Union);
    }

    #[test]
    fn numbers_and_words() {
        assert_eq!(
            classes("5mg 0x41 1.e(", None)[..3],
            [Class::Word, Class::Num, Class::Num]
        );
        assert_eq!(classes("1union", None), vec![Class::Num, Class::Keyword]);
        assert_eq!(classes("sleep(5)", None)[0], Class::Func);
        assert_eq!(classes("@@version", None), vec![Class::Var]);
    }
}
