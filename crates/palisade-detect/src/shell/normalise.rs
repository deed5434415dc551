//! Undoes shell evasions so command words can be read: quotes and backslashes inside words
//! (`c'a't`, `c\at`), `$IFS`/`${IFS}` as blanks, empty variables (`$@`, `$u`, `$9`),
//! `${HOME:0:1}` slices (read as `/`), brace lists (`{cat,/etc/passwd}`), cmd.exe `^` escapes and
//! `%VAR:~a,b%` slices. Keeps a map from each output byte to its input offset for spans.

/// Normalised text plus the input offset of every byte.
#[derive(Debug, Default)]
pub(crate) struct Normalised {
    pub text: Vec<u8>,
    pub origin: Vec<usize>,
}

impl Normalised {
    fn push(&mut self, b: u8, at: usize) {
        self.text.push(b);
        self.origin.push(at);
    }
    /// Input offset of normalised position `i` (or the input end).
    pub(crate) fn origin_of(&self, i: usize, input_len: usize) -> usize {
        self.origin.get(i).copied().unwrap_or(input_len)
    }
}

fn is_name(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

pub(crate) fn normalise(input: &[u8], out: &mut Normalised) {
    out.text.clear();
    out.origin.clear();
    let n = input.len();
    let mut i = 0;
    while i < n {
        let b = input[i];
        match b {
            b'\\' => {
                match input.get(i + 1) {
                    // Line continuation.
                    Some(b'\n') => i += 2,
                    // `\` before a letter or `/` is dropped by the shell (`c\at`, `\/bin`).
                    Some(&c) if c.is_ascii_alphanumeric() || c == b'/' || c == b'.' => {
                        out.push(c, i + 1);
                        i += 2;
                    }
                    // Windows paths keep their backslashes.
                    _ => {
                        out.push(b, i);
                        i += 1;
                    }
                }
            }
            b'\'' | b'"' | b'^' => i += 1,
            b'$' => {
                let next = input.get(i + 1).copied();
                match next {
                    Some(b'(') => {
                        out.push(b'$', i);
                        out.push(b'(', i + 1);
                        i += 2;
                    }
                    Some(b'{') => {
                        let close = input[i + 2..].iter().position(|&c| c == b'}');
                        match close {
                            Some(p) => {
                                let inner = &input[i + 2..i + 2 + p];
                                if inner.eq_ignore_ascii_case(b"IFS") {
                                    out.push(b' ', i);
                                } else if inner.contains(&b':')
                                    && inner.first().is_some_and(|c| c.is_ascii_alphabetic())
                                {
                                    // `${HOME:0:1}`: almost always used to produce `/`.
                                    out.push(b'/', i);
                                } else if inner.iter().all(|&c| {
                                    is_name(c) || matches!(c, b'@' | b'*' | b'#' | b'!' | b'?')
                                }) {
                                    // Empty or unknown variable.
                                } else {
                                    // `${` with something else: a template or substitution.
                                    out.push(b'$', i);
                                    out.push(b'{', i + 1);
                                    i += 2;
                                    continue;
                                }
                                i += 3 + p;
                            }
                            None => {
                                out.push(b'$', i);
                                i += 1;
                            }
                        }
                    }
                    Some(b'@' | b'*' | b'#' | b'!' | b'?' | b'-' | b'0'..=b'9') => i += 2,
                    Some(c) if c.is_ascii_alphabetic() || c == b'_' => {
                        let mut j = i + 1;
                        while j < n && is_name(input[j]) {
                            j += 1;
                        }
                        if input[i + 1..j].eq_ignore_ascii_case(b"IFS") {
                            out.push(b' ', i);
                        }
                        i = j;
                    }
                    _ => {
                        out.push(b, i);
                        i += 1;
                    }
                }
            }
            b'%' => {
                // cmd.exe `%VAR%` / `%VAR:~a,b%`: drop it.
                let mut j = i + 1;
                while j < n
                    && (is_name(input[j]) || matches!(input[j], b':' | b'~' | b',' | b'-'))
                    && j - i < 40
                {
                    j += 1;
                }
                if j > i + 1 && input.get(j) == Some(&b'%') && input[i + 1].is_ascii_alphabetic() {
                    i = j + 1;
                } else {
                    out.push(b, i);
                    i += 1;
                }
            }
            b'{' => {
                // Brace list without spaces: `{cat,/etc/passwd}` → ` cat /etc/passwd `.
                let close = input[i + 1..].iter().take(256).position(|&c| c == b'}');
                match close {
                    Some(p)
                        if input[i + 1..i + 1 + p].contains(&b',')
                            && !input[i + 1..i + 1 + p]
                                .iter()
                                .any(|c| c.is_ascii_whitespace()) =>
                    {
                        out.push(b' ', i);
                        for (k, &c) in input[i + 1..i + 1 + p].iter().enumerate() {
                            let c = if c == b',' { b' ' } else { c };
                            if !matches!(c, b'\'' | b'"') {
                                out.push(c, i + 1 + k);
                            }
                        }
                        out.push(b' ', i + 1 + p);
                        i += 2 + p;
                    }
                    _ => {
                        out.push(b, i);
                        i += 1;
                    }
                }
            }
            b'\t' | b'\r' | 0x0b | 0x0c => {
                out.push(b' ', i);
                i += 1;
            }
            _ => {
                out.push(b, i);
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        let mut n = Normalised::default();
        normalise(s.as_bytes(), &mut n);
        assert_eq!(n.text.len(), n.origin.len());
        String::from_utf8_lossy(&n.text).into_owned()
    }

    #[test]
    fn undoes_evasions() {
        assert_eq!(norm("c'a't /e\"t\"c/pa\\sswd"), "cat /etc/passwd");
        assert_eq!(norm("cat${IFS}/etc/passwd"), "cat /etc/passwd");
        assert_eq!(norm("cat$IFS$9/etc/passwd"), "cat /etc/passwd");
        assert_eq!(norm(";{cat,/etc/passwd}"), "; cat /etc/passwd ");
        assert_eq!(
            norm("$aaaaaa/bin$bbbbbb/cat$ccccccc $dddddd/etc$eeeeeee/passwd$fffffff"),
            "/bin/cat /etc/passwd"
        );
        assert_eq!(norm("${HOME:0:1}etc${HOME:0:1}passwd"), "/etc/passwd");
        assert_eq!(norm("w^h^o^a^m^i"), "whoami");
        assert_eq!(norm("c%COMSPEC:~0,0%md"), "cmd");
        assert_eq!(norm("$(id)"), "$(id)");
        assert_eq!(norm("90% to 100%"), "90% to 100%");
    }
}
