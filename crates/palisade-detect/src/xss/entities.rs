//! On-the-fly decoding of HTML character references inside attribute values, as a browser
//! does before it interprets a URL or a style: `&#106;`, `&#x6A`, `&#0000106`, `&colon;`,
//! `&Tab;`, `&NewLine;`. Decodes into chars without allocating.

/// Iterator over the chars of an attribute value with character references decoded.
pub(crate) struct Decoded<'a> {
    s: &'a str,
    pos: usize,
}

pub(crate) fn decode(s: &str) -> Decoded<'_> {
    Decoded { s, pos: 0 }
}

impl Iterator for Decoded<'_> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        let rest = self.s.get(self.pos..)?;
        let mut chars = rest.chars();
        let c = chars.next()?;
        if c == '&' {
            if let Some((decoded, used)) = reference(rest) {
                self.pos += used;
                return Some(decoded);
            }
        }
        self.pos += c.len_utf8();
        Some(c)
    }
}

/// Decodes one character reference at the start of `s` (which begins with `&`).
fn reference(s: &str) -> Option<(char, usize)> {
    let b = s.as_bytes();
    if b.get(1) == Some(&b'#') {
        let (hex, mut i) = match b.get(2) {
            Some(b'x' | b'X') => (true, 3),
            _ => (false, 2),
        };
        let digits_start = i;
        let mut value: u32 = 0;
        while let Some(&d) = b.get(i) {
            let v = match (hex, d) {
                (_, b'0'..=b'9') => u32::from(d - b'0'),
                (true, b'a'..=b'f') => u32::from(d - b'a' + 10),
                (true, b'A'..=b'F') => u32::from(d - b'A' + 10),
                _ => break,
            };
            value = value
                .saturating_mul(if hex { 16 } else { 10 })
                .saturating_add(v);
            i += 1;
        }
        if i == digits_start {
            return None;
        }
        if b.get(i) == Some(&b';') {
            i += 1;
        }
        return Some((char::from_u32(value).unwrap_or('\u{fffd}'), i));
    }
    let name_len = b[1..]
        .iter()
        .take(12)
        .position(|c| !c.is_ascii_alphanumeric())
        .unwrap_or(b.len().saturating_sub(1).min(12));
    let name = s.get(1..1 + name_len)?;
    let c = match name {
        // HTML5 names are case-sensitive, but filters (and old browsers) accept any case;
        // decoding more is the safe direction for a detector.
        "Tab" | "tab" | "TAB" => '\t',
        "NewLine" | "newline" | "Newline" | "NEWLINE" => '\n',
        "colon" | "Colon" | "COLON" => ':',
        "lpar" => '(',
        "rpar" => ')',
        "sol" => '/',
        "bsol" => '\\',
        "period" => '.',
        "excl" => '!',
        "quot" | "QUOT" => '"',
        "apos" => '\'',
        "amp" | "AMP" => '&',
        "lt" | "LT" => '<',
        "gt" | "GT" => '>',
        "grave" | "DiacriticalGrave" => '`',
        "nbsp" => '\u{a0}',
        "semi" => ';',
        "equals" => '=',
        "comma" => ',',
        "plus" => '+',
        "lsqb" | "lbrack" => '[',
        "rsqb" | "rbrack" => ']',
        "lcub" | "lbrace" => '{',
        "rcub" | "rbrace" => '}',
        _ => return None,
    };
    let mut used = 1 + name_len;
    if b.get(used) == Some(&b';') {
        used += 1;
    }
    Some((c, used))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_numeric_and_named_references() {
        let s: String = decode("&#106;ava&#x73;cript&colon;a&Tab;b&#0000109").collect();
        assert_eq!(s, "javascript:a\tbm");
        let s: String = decode("a & b &unknown; &#;").collect();
        assert_eq!(s, "a & b &unknown; &#;");
        let s: String = decode("&#99999999999;").collect();
        assert_eq!(s, "\u{fffd}");
    }
}
