//! Undoes shell evasions so command words can be read: quotes and backslashes inside words
//! (`c'a't`, `c\at`), `$IFS`/`${IFS}` as blanks, empty variables (`$@`, `$u`, `$9`),
//! `${HOME:0:1}` slices (read as `/`), brace lists (`{cat,/etc/passwd}`), cmd.exe `^` escapes and
//! `%VAR:~a,b%` slices. Keeps a map from each output byte to its input offset for spans.

/// Normalised text plus the input offset of every byte.
#[derive(Debug, Default)]
pub(crate) struct Normalised {
    pub text: Vec<u8>,
    pub origin: Vec<usize>,
    /// Ranges of `text` produced by brace expansion (`c{a,oun}t` → `cat count`).
    pub brace: Vec<(usize, usize)>,
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

/// Ends a shell word.
fn is_boundary(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b';' | b'|' | b'&' | b'`' | b'(' | b')' | b'<' | b'>')
}

fn is_name(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

pub(crate) fn normalise(input: &[u8], out: &mut Normalised) {
    out.text.clear();
    out.origin.clear();
    out.brace.clear();
    let n = input.len();
    // Normalising rarely lengthens a value (brace expansion can): one allocation up front
    // instead of a doubling series of pushes.
    out.text.reserve(n);
    out.origin.reserve(n);
    // Windows paths (`C:\Users`, `\\host\share`) keep their backslashes; elsewhere a backslash
    // only escapes the next character.
    let windows = input.windows(2).any(|w| w == b":\\" || w == b"\\\\");
    let mut next_close = 0usize;
    // Bytes brace expansion has added so far (bounded by `MAX_EXPANSION`).
    let mut expanded = 0usize;
    let mut i = 0;
    while i < n {
        let b = input[i];
        match b {
            b'\\' => {
                match input.get(i + 1) {
                    // Line continuation.
                    Some(b'\n') => i += 2,
                    // `\` before a letter or `/` is dropped by the shell (`c\at`, `\/bin`).
                    Some(&c)
                        if !windows && (c.is_ascii_alphanumeric() || c == b'/' || c == b'.') =>
                    {
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
                        // The next `}` comes from the same cache as brace lists: a value full
                        // of unclosed `${` must not rescan its rest for each one.
                        if next_close < i + 2 {
                            next_close = find_close(input, i + 2);
                        }
                        // Only short `${...}` forms are read: every `${` of a run like `${a${a${a…}`
                        // would otherwise re-read the same long inside.
                        let close = (next_close < n && next_close - (i + 2) <= MAX_WORD)
                            .then(|| next_close - (i + 2));
                        match close {
                            Some(p) => {
                                let inner = &input[i + 2..i + 2 + p];
                                if inner.eq_ignore_ascii_case(b"IFS") {
                                    out.push(b' ', i);
                                } else if inner == b"SHELL" {
                                    out.push(b's', i);
                                    out.push(b'h', i);
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
                        } else if &input[i + 1..j] == b"SHELL" {
                            out.push(b's', i);
                            out.push(b'h', i);
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
                // Brace expansion without spaces: `{cat,/etc/passwd}` → ` cat /etc/passwd `,
                // `c{a,oun}t` → ` cat count `, `{l,-lh}s` → ` ls -lhs `.
                // The next `}` is cached so runs of `{` without one stay linear.
                if next_close <= i {
                    next_close = find_close(input, i + 1);
                }
                let close = (next_close < n).then(|| next_close - (i + 1));
                let expansion = close.and_then(|p| expand_braces(input, i, p, out, &mut expanded));
                match expansion {
                    Some(next) => i = next,
                    None => {
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
                // A run of bytes no arm above handles (most of any value, all of plain prose)
                // is copied whole instead of byte by byte.
                let run = input[i..]
                    .iter()
                    .position(|&c| HANDLED[usize::from(c)])
                    .unwrap_or(n - i);
                out.text.extend_from_slice(&input[i..i + run]);
                out.origin.extend(i..i + run);
                i += run;
            }
        }
    }
}

/// Longest `${...}` inside, brace-expansion prefix or suffix that is read. Evasions are short
/// (`${HOME:0:1}`, `c{a,oun}t`); a bound keeps a long value's cost linear.
const MAX_WORD: usize = 64;
/// Most bytes brace expansion may add to one value. Each list repeats its prefix and suffix per
/// alternative, so without a bound a value of `{,,,,…}` lists would grow a hundredfold.
const MAX_EXPANSION: usize = 16 * 1024;

/// Expands the brace list `{…}` at `open` whose `}` is `len` bytes further (`c{a,oun}t` →
/// ` cat count `), adding to `expanded`. Returns where reading resumes, or `None` when the list
/// is not one the shell would expand or is over the bounds (a list of 256 bytes or more, a
/// prefix or suffix over `MAX_WORD`, `MAX_EXPANSION` reached): the `{` is then a plain byte.
fn expand_braces(
    input: &[u8],
    open: usize,
    len: usize,
    out: &mut Normalised,
    expanded: &mut usize,
) -> Option<usize> {
    let list = &input[open + 1..open + 1 + len];
    if len >= 256
        || !list.contains(&b',')
        || list.iter().any(|c| c.is_ascii_whitespace() || *c == b'{')
    {
        return None;
    }
    // Prefix: what was emitted since the last blank or separator.
    let mut cut = out.text.len();
    while cut > 0 && !is_boundary(out.text[cut - 1]) {
        if out.text.len() - cut == MAX_WORD {
            return None;
        }
        cut -= 1;
    }
    let suffix_start = open + 2 + len;
    let suffix_len = input[suffix_start..]
        .iter()
        .take(MAX_WORD + 1)
        .position(|&c| is_boundary(c) || c == b'{')
        .unwrap_or(input.len() - suffix_start);
    if suffix_len > MAX_WORD {
        return None;
    }
    let suffix_end = suffix_start + suffix_len;
    let alternatives = list.iter().filter(|&&c| c == b',').count() + 1;
    let prefix_len = out.text.len() - cut;
    let cost = alternatives * (prefix_len + suffix_len + 1) + len;
    if *expanded + cost > MAX_EXPANSION {
        return None;
    }
    *expanded += cost;
    let prefix: Vec<(u8, usize)> = out.text[cut..]
        .iter()
        .copied()
        .zip(out.origin[cut..].iter().copied())
        .collect();
    out.text.truncate(cut);
    out.origin.truncate(cut);
    let range_start = out.text.len();
    out.push(b' ', open);
    let mut offset = open + 1;
    for alt in list.split(|&c| c == b',') {
        for &(c, at) in &prefix {
            out.push(c, at);
        }
        for (k, &c) in alt.iter().enumerate() {
            if !matches!(c, b'\'' | b'"') {
                out.push(c, offset + k);
            }
        }
        for (k, &c) in input[suffix_start..suffix_end].iter().enumerate() {
            out.push(c, suffix_start + k);
        }
        out.push(b' ', offset + alt.len());
        offset += alt.len() + 1;
    }
    out.brace.push((range_start, out.text.len()));
    Some(suffix_end)
}

/// Offset of the first `}` at or after `from`, or the input length when there is none.
fn find_close(input: &[u8], from: usize) -> usize {
    input
        .get(from..)
        .and_then(|rest| memchr::memchr(b'}', rest))
        .map_or(input.len(), |p| from + p)
}

/// Bytes with an arm of their own in [`normalise`]; every other byte is copied as it is.
pub(crate) const HANDLED: [bool; 256] = {
    let mut t = [false; 256];
    let bytes = [
        b'\\', b'\'', b'"', b'^', b'$', b'%', b'{', b'\t', b'\r', 0x0b, 0x0c,
    ];
    let mut k = 0;
    while k < bytes.len() {
        t[bytes[k] as usize] = true;
        k += 1;
    }
    t
};

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
        assert_eq!(norm("c{a,oun}t"), " cat count ");
        assert_eq!(norm("{l,-lh}s"), " ls -lhs ");
        assert_eq!(norm("{,ifconfig,eth0}"), "  ifconfig eth0 ");
        assert_eq!(norm("dir C:\\Users\\x"), "dir C:\\Users\\x");
        assert_eq!(norm("${SHELL} -c id"), "sh -c id");
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

    #[test]
    fn long_or_unclosed_dollar_braces_are_plain_bytes() {
        let long = format!("${{{}}}", "a".repeat(MAX_WORD + 1));
        assert_eq!(norm(&long), long);
        assert_eq!(norm("${ifs ${ifs ${ifs"), "${ifs ${ifs ${ifs");
        // The run is still read after long ones.
        assert_eq!(
            norm(&format!("{long} cat${{IFS}}/etc/passwd")),
            format!("{long} cat /etc/passwd")
        );
    }

    #[test]
    fn brace_expansion_is_bounded() {
        // Prefix and suffix of at most MAX_WORD bytes are expanded, longer ones are not.
        let word = "a".repeat(MAX_WORD);
        assert_eq!(
            norm(&format!("{word}{{b,c}}")),
            format!(" {word}b {word}c ")
        );
        assert_eq!(norm(&format!("x{word}{{b,c}}")), format!("x{word}{{b,c}}"));
        assert_eq!(
            norm(&format!("{{b,c}}{word}")),
            format!(" b{word} c{word} ")
        );
        assert_eq!(norm(&format!("{{b,c}}x{word}")), format!("{{b,c}}x{word}"));
        // However many lists a value holds, expansion adds at most MAX_EXPANSION bytes (a
        // small bound), and the first lists are still expanded.
        const { assert!(MAX_EXPANSION <= 64 * 1024) };
        let lists = "{a,b}".repeat(20_000);
        let out = norm(&lists);
        assert!(out.len() <= lists.len() + MAX_EXPANSION, "{}", out.len());
        assert!(out.starts_with(" a b  a b "), "{}", &out[..20]);
        let wide = format!("x{{{}}}", ",".repeat(200)).repeat(1000);
        assert!(norm(&wide).len() <= wide.len() + MAX_EXPANSION);
    }

    #[test]
    fn plain_runs_keep_their_origins() {
        let mut n = Normalised::default();
        normalise(b"ab c'd'e\tf", &mut n);
        assert_eq!(n.text, b"ab cde f");
        assert_eq!(n.origin, vec![0, 1, 2, 3, 5, 7, 8, 9]);
    }
}
