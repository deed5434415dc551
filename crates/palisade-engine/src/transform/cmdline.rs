//! Command-line normalisation (shell evasion removal), after CRS's `cmdLine`: deletes `\ " ' ^`,
//! empty-string tricks and `$IFS`-style separators, turns `,` into a space, drops blanks before
//! `/` and `(`, squeezes blanks. (Matching is case-insensitive, so it does not lowercase: a value without
//! evasions stays borrowed.) Unlike CRS, command separators (`;`, `|`, `&`,
//! newline) are kept: our rules anchor command words on them.
//! `c^at /e"t"c/pa''sswd` → `cat/etc/passwd`.

use std::borrow::Cow;

/// Normalises a value the way a shell would read a command word.
pub fn cmdline(input: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Vec<u8> = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        // ${IFS}, $IFS, $@, $*, ${x:0:0} style separators and empties.
        if b == b'$' {
            let rest = &input[i + 1..];
            let ci = |p: &[u8]| rest.len() >= p.len() && rest[..p.len()].eq_ignore_ascii_case(p);
            if ci(b"{ifs}") {
                push_space(&mut out);
                i += 6;
                continue;
            }
            if ci(b"ifs") {
                push_space(&mut out);
                i += 4;
                continue;
            }
            if matches!(rest.first(), Some(b'@' | b'*')) {
                i += 2;
                continue;
            }
        }
        match b {
            b'\\' | b'"' | b'\'' | b'^' => {}
            b',' | b' ' | b'\t' | b'\r' | 0x0b | 0x0c => push_space(&mut out),
            b'/' | b'(' => {
                if out.last() == Some(&b' ') {
                    out.pop();
                }
                out.push(b);
            }
            _ => out.push(b),
        }
        i += 1;
    }
    if out.as_slice() == input {
        Cow::Borrowed(input)
    } else {
        Cow::Owned(out)
    }
}

fn push_space(out: &mut Vec<u8>) {
    if out.last() != Some(&b' ') {
        out.push(b' ');
    }
}

/// False when [`cmdline`] cannot change the value: none of `\ " ' ^ , \t \r \v \f`, no blank
/// run, no blank before `/` or `(`, and no `$` before `i`, `{`, `@` or `*`. Browser headers such
/// as `Accept-Language: en-US;q=0.9` pass; a User-Agent with `, ` or ` (` does not.
pub fn may_change(input: &[u8]) -> bool {
    let mut prev = 0u8;
    for &b in input {
        match b {
            b'\\' | b'"' | b'\'' | b'^' | b',' | b'\t' | b'\r' | 0x0b | 0x0c => return true,
            b' ' | b'/' | b'(' if prev == b' ' => return true,
            b'i' | b'I' | b'{' | b'@' | b'*' if prev == b'$' => return true,
            _ => {}
        }
        prev = b;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_evasions() {
        assert_eq!(&*cmdline(br#"c^at /e"t"c/pa''sswd"#), b"cat/etc/passwd");
        assert_eq!(&*cmdline(b"cat${IFS}/etc/passwd"), b"cat/etc/passwd");
        assert_eq!(&*cmdline(b"w\\h$@oami;ID"), b"whoami;ID");
    }

    #[test]
    fn plain_borrowed() {
        assert!(matches!(cmdline(b"ls"), Cow::Borrowed(_)));
    }

    #[test]
    fn may_change_is_exact_when_false() {
        let samples: &[&[u8]] = &[
            b"a b",
            b"a  b",
            b"a /b",
            b"a (b",
            b"a,b",
            b"c^md",
            b"'q'",
            b"\"q\"",
            b"a\\b",
            b"$IFS",
            b"${IFS}",
            b"$@x",
            b"$*x",
            b"$HOME",
            b"$ifs",
            b"a\tb",
            b"a\rb",
            b"x;y|z&w",
            b"en-US;q=0.9",
            b"/usr/bin/id",
            b"a\nb",
            b"",
            b" ",
            b"a ",
            b" a",
        ];
        for &v in samples {
            let changed = matches!(cmdline(v), Cow::Owned(_));
            assert!(
                may_change(v) || !changed,
                "{:?} changes but may_change is false",
                String::from_utf8_lossy(v)
            );
        }
        assert!(!may_change(b"en-US;q=0.9") && may_change(b"a, b"));
    }
}
