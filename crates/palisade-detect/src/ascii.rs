//! Small byte-level helpers shared by the detectors.

/// ASCII case-insensitive "does `hay` start with `needle` at `at`"; `needle` must be lower-case.
pub(crate) fn starts_with_ci(hay: &[u8], at: usize, needle: &[u8]) -> bool {
    match hay.get(at..at.saturating_add(needle.len())) {
        Some(window) => window
            .iter()
            .zip(needle)
            .all(|(h, n)| h.to_ascii_lowercase() == *n),
        None => false,
    }
}

/// ASCII case-insensitive substring search; `needle` must be lower-case and non-empty.
/// Returns the byte offset of the first occurrence.
pub(crate) fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    if hay.len() < needle.len() {
        return None;
    }
    let last_start = hay.len() - needle.len();
    // Candidates by their first byte (both cases of a letter), found by a vectorised search;
    // the rest of the needle only at candidates.
    let candidates = &hay[..=last_start];
    let upper = first.to_ascii_uppercase();
    if upper == first {
        memchr::memchr_iter(first, candidates).find(|&i| starts_with_ci(hay, i, needle))
    } else {
        memchr::memchr2_iter(first, upper, candidates).find(|&i| starts_with_ci(hay, i, needle))
    }
}

/// Builds a 256-entry membership table for `bytes`, so a byte class costs one load instead of
/// a chain of compares.
pub(crate) const fn byte_table(bytes: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut k = 0;
    while k < bytes.len() {
        table[bytes[k] as usize] = true;
        k += 1;
    }
    table
}

/// Offset of the first byte of `hay` in `table`, if any. Sixteen bytes a step, without a
/// branch per byte, while none is there (the usual case on text), then byte by byte.
pub(crate) fn position_in(hay: &[u8], table: &[bool; 256]) -> Option<usize> {
    let mut skipped = 0;
    for chunk in hay.chunks(16) {
        let any = chunk
            .iter()
            .fold(false, |seen, &b| seen | table[usize::from(b)]);
        if any {
            return chunk
                .iter()
                .position(|&b| table[usize::from(b)])
                .map(|p| skipped + p);
        }
        skipped += chunk.len();
    }
    None
}

/// The next byte of a table at or after an offset, remembered between questions: a scan that
/// asks from many nearby offsets (every command position of `t(java t(java …`) searches each
/// stretch once instead of once per offset.
#[derive(Debug)]
pub(crate) struct NextIn {
    table: &'static [bool; 256],
    /// The last search: it started at `.0` and stopped at `.1` (a table byte, or the text's
    /// end), so no table byte lies in `.0..1`.
    last: Option<(usize, usize)>,
}

impl NextIn {
    /// Answers for bytes in `table`.
    pub(crate) fn new(table: &'static [bool; 256]) -> NextIn {
        NextIn { table, last: None }
    }

    /// Offset of the first byte of `t` at or after `from` that is in the table, or `t.len()`.
    /// `t` must be the same text for every question.
    pub(crate) fn next(&mut self, t: &[u8], from: usize) -> usize {
        match self.last {
            Some((start, end)) if (start..=end).contains(&from) => end,
            _ => {
                let rest = t.get(from..).unwrap_or_default();
                let end = position_in(rest, self.table).map_or(t.len(), |p| from + p);
                self.last = Some((from, end));
                end
            }
        }
    }
}

/// Widens `start..end` outwards to the nearest `char` boundaries of `s` and clamps it to the
/// string, so a [`crate::Detection`] span can always be used to slice the input.
pub(crate) fn char_span(s: &str, start: usize, end: usize) -> std::ops::Range<usize> {
    let mut start = start.min(s.len());
    let mut end = end.clamp(start, s.len());
    while start > 0 && !s.is_char_boundary(start) {
        start -= 1;
    }
    while end < s.len() && !s.is_char_boundary(end) {
        end += 1;
    }
    start..end
}

/// Copies a word into `buf` lower-cased and returns it, or `None` if it does not fit.
pub(crate) fn lower_into<'a>(word: &[u8], buf: &'a mut [u8]) -> Option<&'a [u8]> {
    let out = buf.get_mut(..word.len())?;
    for (o, w) in out.iter_mut().zip(word) {
        *o = w.to_ascii_lowercase();
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_in_reuses_a_search_only_inside_it() {
        static SEPARATORS: [bool; 256] = byte_table(b";|");
        let t = b"id a;b c|d";
        let mut next = NextIn::new(&SEPARATORS);
        assert_eq!(next.next(t, 0), 4);
        assert_eq!(next.next(t, 2), 4);
        assert_eq!(next.next(t, 5), 8);
        // Before the last search's start: searched again, not taken from it.
        assert_eq!(next.next(t, 0), 4);
        // None left: the text's end.
        assert_eq!(next.next(t, 9), 10);
        assert_eq!(next.next(t, 10), 10);
    }

    #[test]
    fn case_insensitive_search() {
        assert_eq!(find_ci(b"abc SeLeCt", b"select"), Some(4));
        assert_eq!(find_ci(b"sel", b"select"), None);
        assert!(starts_with_ci(b"XP_CMDSHELL", 0, b"xp_"));
        assert!(!starts_with_ci(b"xp", 0, b"xp_"));
    }

    #[test]
    fn table_search_finds_the_first_member() {
        const DIGITS: [bool; 256] = byte_table(b"0123456789");
        assert_eq!(position_in(b"", &DIGITS), None);
        assert_eq!(position_in(b"abc", &DIGITS), None);
        assert_eq!(position_in(b"a1b2", &DIGITS), Some(1));
        let long = b"no digits in the first sixteen bytes, then 42";
        assert_eq!(position_in(long, &DIGITS), Some(long.len() - 2));
        assert_eq!(position_in(&[b'x'; 40], &DIGITS), None);
    }

    #[test]
    fn spans_land_on_char_boundaries() {
        let s = "aé"; // é is two bytes at 1..3
        assert_eq!(char_span(s, 2, 2), 1..3);
        assert_eq!(char_span(s, 0, 99), 0..3);
        assert_eq!(char_span(s, 7, 1), 3..3);
    }
}
