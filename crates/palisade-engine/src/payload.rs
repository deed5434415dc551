//! Base64 file payloads inside structured bodies.
//!
//! Health apps send documents inline: a FHIR `Attachment.data` or `Binary.data`, a C-CDA
//! `<text representation="B64">`, an HL7 v2 `ED` field, a photo in a JSON API. Such a value is a
//! file's bytes in transit, like a multipart file part, and gets the same treatment: unless
//! file contents are inspected, only its first [`FILE_HEAD`] bytes are.
//!
//! Why: in its raw form a well-formed base64 run cannot carry injection syntax — it is letters
//! and digits with a sparse `+` and `/`, no quote, space, parenthesis, dot, colon, `<`, `$` or
//! `;` — while its near-random text holds some rule literal every few hundred bytes, and each
//! such candidate's confirmation scans the whole value: 6–10 ms of CPU per 100 KB attachment,
//! and a cheap way for a client to burn a dyno's CPU.
//!
//! The test is strict, so that text shaped to look like base64 is inspected whole: standard
//! alphabet only, no whitespace except line breaks (and indentation around them), `=` only as
//! final padding, a length that is a multiple of four, at least [`MIN_FILE_LEN`] characters,
//! and `+` / `/` no more than one character in eight (random data has one in 32; a path or
//! a `+`-spaced phrase padded out to base64's shape has many more). And it must be a file, not
//! text: a value the `base64_decode` transform decodes (mostly printable, a serialized object or
//! script) is inspected whole, decoded, as before. What the transform leaves alone (binary
//! content, wrapped lines, over 64 KiB) no rule ever read decoded, so only the raw text's
//! chance literals are left out; the start keeps what rules match there (Java's `rO0AB`
//! serialization magic, gzip's `H4sI`).

use std::borrow::Cow;

/// Fewest base64 characters (whitespace not counted) for a value to count as a file: shorter
/// values cost little to inspect whole.
pub(crate) const MIN_FILE_LEN: usize = 1024;

/// Bytes of a file payload that are still inspected: whatever an attack would need to put
/// first (a scheme, a host, a path) is there.
pub(crate) const FILE_HEAD: usize = 256;

/// Leading bytes checked before anything else (at most [`MIN_FILE_LEN`]).
const PROBE: usize = 64;

/// [`CLASS`] of a base64 letter or digit.
const ALNUM: u8 = 0;
/// [`CLASS`] of `+` and `/`: counted, since base64 has few of them.
const SPARSE: u8 = 1;
/// [`CLASS`] of everything else: whitespace, `=`, and bytes base64 never has.
const OTHER: u8 = 2;

/// Byte → its class. A table and no branch per byte: on random text a letter-or-symbol branch
/// mispredicts often.
static CLASS: [u8; 256] = {
    let mut t = [OTHER; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() {
            t[b] = ALNUM;
        } else if c == b'+' || c == b'/' {
            t[b] = SPARSE;
        }
        b += 1;
    }
    t
};

/// Whether `value` is a base64 file payload: well-formed, at least [`MIN_FILE_LEN`]
/// characters, and not text that the `base64_decode` transform would decode for rules to read
/// (that stays inspected whole, so a serialized payload padded past [`FILE_HEAD`] is still read).
pub(crate) fn is_base64_file(value: &[u8]) -> bool {
    well_formed(value)
        && matches!(
            crate::transform::base64_decode::base64_decode(value),
            Cow::Borrowed(_)
        )
}

/// Well-formed base64 of at least [`MIN_FILE_LEN`] characters, with sparse `+` and `/`.
fn well_formed(value: &[u8]) -> bool {
    if value.len() < MIN_FILE_LEN {
        return false;
    }
    // Most long values are text (notes, narratives): its first words already give it away.
    if value[..PROBE].iter().any(|&b| {
        CLASS[usize::from(b)] == OTHER && !matches!(b, b'=' | b'\n' | b'\r' | b' ' | b'\t')
    }) {
        return false;
    }
    let (mut chars, mut sparse, mut padding) = (0usize, 0usize, 0usize);
    let mut start = 0;
    // Line by line: whitespace only around line breaks, `=` only at the end of the last line.
    for end in memchr::memchr_iter(b'\n', value).chain([value.len()]) {
        let line = value[start..end].trim_ascii();
        start = end + 1;
        if line.is_empty() {
            continue;
        }
        if padding > 0 {
            return false;
        }
        let data = without_padding(line);
        padding = line.len() - data.len();
        // Without a branch per byte, but a block at a time, so text stops early.
        for block in data.chunks(64) {
            let (mut classes, mut block_sparse) = (0u8, 0usize);
            for &b in block {
                let class = CLASS[usize::from(b)];
                classes |= class;
                block_sparse += usize::from(class & SPARSE);
            }
            if classes & OTHER != 0 {
                return false;
            }
            sparse += block_sparse;
        }
        chars += data.len();
    }
    chars >= MIN_FILE_LEN && padding <= 2 && (chars + padding) % 4 == 0 && sparse * 8 <= chars
}

/// `line` without its trailing `=` padding.
fn without_padding(line: &[u8]) -> &[u8] {
    let kept = line.iter().rposition(|&b| b != b'=').map_or(0, |p| p + 1);
    &line[..kept]
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::bench_fixtures::{base64, binary_file};

    /// Base64 of `n` bytes of file content, wrapped at `wrap` characters (0 = one line) with
    /// `line_end`.
    fn encoded(n: usize, wrap: usize, line_end: &str) -> String {
        let one_line = base64(&binary_file(n), 0);
        if wrap == 0 {
            return one_line;
        }
        let lines: Vec<&str> = one_line
            .as_bytes()
            .chunks(wrap)
            .map(|l| std::str::from_utf8(l).unwrap_or_default())
            .collect();
        lines.join(line_end)
    }

    #[test]
    fn attachments_as_producers_write_them_are_files() {
        assert!(is_base64_file(encoded(3000, 0, "").as_bytes()));
        // MIME / C-CDA style: 76-character lines, CRLF or LF, indented inside an element.
        assert!(is_base64_file(encoded(3000, 76, "\r\n").as_bytes()));
        let indented = format!("\n        {}\n      ", encoded(3000, 64, "\n        "));
        assert!(is_base64_file(indented.as_bytes()));
    }

    #[test]
    fn short_or_malformed_values_are_not() {
        assert!(!is_base64_file(encoded(600, 0, "").as_bytes()));
        let mut spaced = encoded(3000, 0, "");
        spaced.insert(100, ' ');
        assert!(!is_base64_file(spaced.as_bytes()));
        let mut dotted = encoded(3000, 0, "");
        dotted.insert(100, '.');
        assert!(!is_base64_file(dotted.as_bytes()));
        let mut early_padding = encoded(3000, 0, "");
        early_padding.insert(100, '=');
        assert!(!is_base64_file(early_padding.as_bytes()));
        let mut odd = encoded(3000, 0, "").trim_end_matches('=').to_string();
        odd.push('A');
        if odd.len() % 4 == 0 {
            odd.push('A');
        }
        assert!(!is_base64_file(odd.as_bytes()));
    }

    #[test]
    fn encoded_text_is_not_a_file() {
        // A serialized object or script, base64-encoded: the transform decodes it for rules.
        let text = format!(
            "{{\"pad\":\"{}\",\"rce\":\"_$$ND_FUNC$$_function(){{require('child_process').exec('id')}}()\"}}",
            "x".repeat(1500)
        );
        let b64 = base64(text.as_bytes(), 0);
        assert!(well_formed(b64.as_bytes()));
        assert!(!is_base64_file(b64.as_bytes()));
    }

    #[test]
    fn attack_text_padded_to_base64_shape_is_not() {
        // A `+`-spaced phrase (a form's or a URL-decoding app's spaces) padded with `+`.
        let phrase = format!("1+union+select+password+from+users{}", "+".repeat(1100));
        assert!(!is_base64_file(phrase.as_bytes()));
        // An absolute path behind a run of slashes (`////etc/passwd` is `/etc/passwd`).
        let path = format!("{}etc/passwd", "/".repeat(1102));
        assert!(!is_base64_file(path.as_bytes()));
        // Words and spaces are never base64, however long.
        let prose = "select name from patients where 1 = 1 ".repeat(40);
        assert!(!is_base64_file(prose.as_bytes()));
    }
}
