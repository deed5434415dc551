//! Case-insensitive lookup of ASCII words in a fixed vocabulary, as an open-addressing hash
//! table built at compile time.
//!
//! A detector looks up most words of every value it reads, and almost all of them are not in
//! the vocabulary. Matching a lower-cased copy against every entry costs a copy and a chain of
//! compares per word; here a miss usually costs one hash of the length and the first and last
//! bytes, and a look at one or two slot lengths (a word shorter or longer than every entry
//! costs two compares).

/// Words (lower-case ASCII) mapped to values of type `T`, in `SLOTS` slots (a power of two,
/// more than twice the number of words so probe chains stay short).
pub(crate) struct WordMap<T: 'static, const SLOTS: usize> {
    /// Length of the word in each slot, 0 for an empty slot (compared before any byte).
    lens: [u8; SLOTS],
    slots: [Option<(&'static [u8], T)>; SLOTS],
    /// The shortest and the longest word's length.
    min_len: usize,
    max_len: usize,
}

/// Slot index of a word. Only the length and the first and last bytes are mixed in, with ASCII
/// letters folded to lower case (`| 0x20`), so both spellings of a word land on one slot.
const fn hash(word: &[u8], mask: usize) -> usize {
    let len = word.len();
    if len == 0 {
        return 0;
    }
    let first = (word[0] | 0x20) as usize;
    let last = (word[len - 1] | 0x20) as usize;
    (first.wrapping_mul(0x9e) ^ last.wrapping_mul(0x3b) ^ len.wrapping_mul(0x65)) & mask
}

impl<T: Copy, const SLOTS: usize> WordMap<T, SLOTS> {
    /// Builds the table; fails to compile if a word is empty or not lower-case ASCII, or the
    /// table is too small.
    pub(crate) const fn new(entries: &[(&'static [u8], T)]) -> Self {
        assert!(SLOTS.is_power_of_two() && entries.len() * 2 < SLOTS);
        let mut map = WordMap {
            lens: [0; SLOTS],
            slots: [None; SLOTS],
            min_len: usize::MAX,
            max_len: 0,
        };
        let mut k = 0;
        while k < entries.len() {
            map.insert(entries[k].0, entries[k].1);
            k += 1;
        }
        map
    }

    const fn insert(&mut self, word: &'static [u8], value: T) {
        assert!(!word.is_empty() && word.len() <= u8::MAX as usize);
        let mut b = 0;
        while b < word.len() {
            assert!(word[b].is_ascii() && !word[b].is_ascii_uppercase());
            b += 1;
        }
        let mut slot = hash(word, SLOTS - 1);
        while self.lens[slot] != 0 {
            slot = (slot + 1) & (SLOTS - 1);
        }
        self.lens[slot] = word.len() as u8;
        self.slots[slot] = Some((word, value));
        if word.len() > self.max_len {
            self.max_len = word.len();
        }
        if word.len() < self.min_len {
            self.min_len = word.len();
        }
    }

    /// The value of `word`, compared ASCII case-insensitively. (Inlined: it is called once per
    /// word, and a miss costs little more than the call.)
    #[inline]
    pub(crate) fn get(&self, word: &[u8]) -> Option<T> {
        // Every entry is at least one byte long, so this also turns away the empty word.
        if word.len() < self.min_len || word.len() > self.max_len {
            return None;
        }
        let mut slot = hash(word, SLOTS - 1);
        // The table is never full, so an empty slot (length 0) ends every probe chain.
        while self.lens[slot] != 0 {
            if usize::from(self.lens[slot]) == word.len() {
                if let Some((entry, value)) = self.slots[slot] {
                    if entry.eq_ignore_ascii_case(word) {
                        return Some(value);
                    }
                }
            }
            slot = (slot + 1) & (SLOTS - 1);
        }
        None
    }

    /// Whether `word` is in the table (ASCII case-insensitively).
    #[inline]
    pub(crate) fn contains(&self, word: &[u8]) -> bool {
        self.get(word).is_some()
    }
}

/// A set of words: a [`WordMap`] without values.
pub(crate) type WordSet<const SLOTS: usize> = WordMap<(), SLOTS>;

impl<const SLOTS: usize> WordSet<SLOTS> {
    /// Builds the set; the same rules as [`WordMap::new`].
    pub(crate) const fn of(words: &[&'static [u8]]) -> Self {
        assert!(SLOTS.is_power_of_two() && words.len() * 2 < SLOTS);
        let mut set = WordMap {
            lens: [0; SLOTS],
            slots: [None; SLOTS],
            min_len: usize::MAX,
            max_len: 0,
        };
        let mut k = 0;
        while k < words.len() {
            set.insert(words[k], ());
            k += 1;
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLOURS: WordMap<u8, 16> = WordMap::new(&[
        (b"red", 1),
        (b"green", 2),
        (b"blue", 3),
        (b"rgb", 4),
        (b"v$x", 5),
    ]);

    #[test]
    fn finds_words_in_any_case_and_nothing_else() {
        assert_eq!(COLOURS.get(b"red"), Some(1));
        assert_eq!(COLOURS.get(b"GrEeN"), Some(2));
        assert_eq!(COLOURS.get(b"BLUE"), Some(3));
        assert_eq!(COLOURS.get(b"rgb"), Some(4));
        assert_eq!(COLOURS.get(b"V$X"), Some(5));
        assert_eq!(COLOURS.get(b"v\x04x"), None);
        assert_eq!(COLOURS.get(b"reed"), None);
        assert_eq!(COLOURS.get(b"re"), None);
        assert_eq!(COLOURS.get(b""), None);
        assert_eq!(COLOURS.get("r\u{e9}d".as_bytes()), None);
        assert!(!COLOURS.contains(b"purple"));
    }

    #[test]
    fn sets_hold_their_words() {
        const DAYS: WordSet<8> = WordSet::of(&[b"mon", b"tue", b"wed"]);
        assert!(DAYS.contains(b"Mon") && DAYS.contains(b"TUE") && DAYS.contains(b"wed"));
        assert!(!DAYS.contains(b"thu"));
    }
}
