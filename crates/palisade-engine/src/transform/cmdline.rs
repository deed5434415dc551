//! Command-line normalisation (shell evasion removal), after CRS's `cmdLine`: deletes `\ " ' ^`,
//! empty-string tricks and `$IFS`-style separators, turns `,` into a space, drops blanks before
//! `/` and `(`, squeezes blanks and lowercases. Unlike CRS, command separators (`;`, `|`, `&`,
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
            _ => out.push(b.to_ascii_lowercase()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_evasions() {
        assert_eq!(&*cmdline(br#"c^at /e"t"c/pa''sswd"#), b"cat/etc/passwd");
        assert_eq!(&*cmdline(b"cat${IFS}/etc/passwd"), b"cat/etc/passwd");
        assert_eq!(&*cmdline(b"w\\h$@oami;ID"), b"whoami;id");
    }

    #[test]
    fn plain_borrowed() {
        assert!(matches!(cmdline(b"ls"), Cow::Borrowed(_)));
    }
}
