//! HTML character references: numeric (`&#60;`, `&#x3c;`, leading zeros, missing `;`) and the
//! named references attackers use to hide syntax (`&colon;`, `&Tab;`, `&lpar;`, …).

use std::borrow::Cow;

/// Named references we decode. Browsers know ~2,000; these are the ones that produce characters
/// meaningful to an injection (delimiters, quotes, whitespace) plus common text ones.
const NAMED: &[(&str, char)] = &[
    ("lt", '<'),
    ("gt", '>'),
    ("amp", '&'),
    ("quot", '"'),
    ("apos", '\''),
    ("nbsp", ' '),
    ("colon", ':'),
    ("semi", ';'),
    ("comma", ','),
    ("period", '.'),
    ("sol", '/'),
    ("bsol", '\\'),
    ("lpar", '('),
    ("rpar", ')'),
    ("lsqb", '['),
    ("rsqb", ']'),
    ("lbrack", '['),
    ("rbrack", ']'),
    ("lcub", '{'),
    ("rcub", '}'),
    ("lbrace", '{'),
    ("rbrace", '}'),
    ("equals", '='),
    ("excl", '!'),
    ("quest", '?'),
    ("num", '#'),
    ("dollar", '$'),
    ("percnt", '%'),
    ("plus", '+'),
    ("ast", '*'),
    ("midast", '*'),
    ("commat", '@'),
    ("lowbar", '_'),
    ("verbar", '|'),
    ("vert", '|'),
    ("grave", '`'),
    ("diacriticalgrave", '`'),
    ("hat", '^'),
    ("tab", '\t'),
    ("newline", '\n'),
];

fn named(name: &[u8]) -> Option<char> {
    NAMED
        .iter()
        .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name))
        .map(|&(_, c)| c)
}

/// Decodes character references. Unknown or malformed references stay literal.
pub fn html_entity_decode(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.contains(&b'&') {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] != b'&' {
            out.push(input[i]);
            i += 1;
            continue;
        }
        if let Some((c, used)) = reference_at(&input[i + 1..]) {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            i += 1 + used;
        } else {
            out.push(b'&');
            i += 1;
        }
    }
    Cow::Owned(out)
}

/// Parses the reference after `&`; returns the character and bytes consumed (including `;`).
fn reference_at(s: &[u8]) -> Option<(char, usize)> {
    if s.first() == Some(&b'#') {
        let (hexa, start) = match s.get(1) {
            Some(b'x' | b'X') => (true, 2),
            _ => (false, 1),
        };
        let mut end = start;
        let mut value: u32 = 0;
        while end < s.len() && end - start < 12 {
            let d = if hexa {
                (s[end] as char).to_digit(16)
            } else {
                (s[end] as char).to_digit(10)
            };
            match d {
                Some(d) => {
                    value = value
                        .saturating_mul(if hexa { 16 } else { 10 })
                        .saturating_add(d)
                }
                None => break,
            }
            end += 1;
        }
        if end == start {
            return None;
        }
        let used = if s.get(end) == Some(&b';') {
            end + 1
        } else {
            end
        };
        let c = char::from_u32(value).unwrap_or('\u{fffd}');
        return Some((c, used));
    }
    let mut end = 0;
    while end < s.len() && end < 32 && s[end].is_ascii_alphanumeric() {
        end += 1;
    }
    if end == 0 {
        return None;
    }
    let c = named(&s[..end])?;
    let used = if s.get(end) == Some(&b';') {
        end + 1
    } else {
        end
    };
    Some((c, used))
}

/// False when [`html_entity_decode`] cannot change the value (it has no `&`).
pub fn may_change(input: &[u8]) -> bool {
    input.contains(&b'&')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_references() {
        assert_eq!(&*html_entity_decode(b"&#60;&#x3C;&#0000060&#x3c"), b"<<<<");
    }

    #[test]
    fn named_references() {
        assert_eq!(
            &*html_entity_decode(b"javascript&colon;alert&lpar;1&rpar;"),
            b"javascript:alert(1)"
        );
        assert_eq!(&*html_entity_decode(b"&Tab;&DiacriticalGrave;"), b"\t`");
    }

    #[test]
    fn unknown_stays() {
        assert_eq!(
            &*html_entity_decode(b"AT&T &unknown; &"),
            b"AT&T &unknown; &"
        );
        assert!(matches!(html_entity_decode(b"plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn may_change_is_exact_when_false() {
        assert!(may_change(b"&lt;") && may_change(b"a&b"));
        for v in [&b"a;b#x3c"[..], b"lt;", b""] {
            assert!(!may_change(v));
            assert!(matches!(html_entity_decode(v), Cow::Borrowed(_)));
        }
    }
}
