//! ISO 3166-1 alpha-2 country codes and sets of them.

use std::fmt;
use std::str::FromStr;

use crate::error::ConfigError;

/// A two-letter ISO 3166-1 alpha-2 country code, upper case (`US`, `DE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// Parses two ASCII letters, in either case; `None` otherwise.
    pub fn from_bytes(code: &[u8]) -> Option<Self> {
        match code {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => Some(CountryCode([
                a.to_ascii_uppercase(),
                b.to_ascii_uppercase(),
            ])),
            _ => None,
        }
    }

    /// The two upper-case ASCII letters.
    pub fn as_bytes(&self) -> [u8; 2] {
        self.0
    }

    /// The code as a `&str` (always two ASCII letters).
    pub fn as_str(&self) -> &str {
        // Both bytes are ASCII letters by construction, so this is valid UTF-8.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    fn index(&self) -> usize {
        usize::from(self.0[0] - b'A') * 26 + usize::from(self.0[1] - b'A')
    }
}

impl FromStr for CountryCode {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        CountryCode::from_bytes(s.trim().as_bytes()).ok_or_else(|| {
            ConfigError::new(
                "country code",
                s,
                "expected a two-letter ISO 3166-1 alpha-2 code such as `US`, `DE`, `GB`",
            )
        })
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of country codes as a 676-bit bitmap: membership is one shift and mask.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CountrySet {
    bits: [u64; 11],
    len: usize,
}

impl CountrySet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a code.
    pub fn insert(&mut self, code: CountryCode) {
        let i = code.index();
        if self.bits[i / 64] & (1 << (i % 64)) == 0 {
            self.len += 1;
        }
        self.bits[i / 64] |= 1 << (i % 64);
    }

    /// True if `code` is in the set.
    #[inline]
    pub fn contains(&self, code: CountryCode) -> bool {
        let i = code.index();
        self.bits[i / 64] & (1 << (i % 64)) != 0
    }

    /// Number of codes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Parses a comma- or whitespace-separated list such as `"US, CA DE"`.
    pub fn parse_list(text: &str) -> Result<Self, ConfigError> {
        let mut set = CountrySet::new();
        for token in text.split(|c: char| c == ',' || c.is_whitespace()) {
            if !token.is_empty() {
                set.insert(token.parse()?);
            }
        }
        Ok(set)
    }
}

impl FromIterator<CountryCode> for CountrySet {
    fn from_iter<I: IntoIterator<Item = CountryCode>>(iter: I) -> Self {
        let mut set = CountrySet::new();
        for c in iter {
            set.insert(c);
        }
        set
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_membership() {
        let set = CountrySet::parse_list("us, ca  DE").unwrap();
        assert_eq!(set.len(), 3);
        assert!(set.contains("US".parse().unwrap()));
        assert!(set.contains("de".parse().unwrap()));
        assert!(!set.contains("GB".parse().unwrap()));
        let zz: CountryCode = "ZZ".parse().unwrap();
        let mut s2 = CountrySet::new();
        s2.insert(zz);
        s2.insert(zz);
        assert_eq!(s2.len(), 1);
        assert!(s2.contains(zz));
        assert!(!s2.contains("AA".parse().unwrap()));
    }

    #[test]
    fn bad_codes_name_value() {
        for bad in ["USA", "U", "1A", "ü"] {
            let err = bad.parse::<CountryCode>().unwrap_err();
            assert_eq!(err.value, bad);
            assert!(err.to_string().contains("ISO 3166"));
        }
        assert!(CountrySet::parse_list("US, XYZ").is_err());
    }

    #[test]
    fn display_is_upper_case() {
        assert_eq!("gb".parse::<CountryCode>().unwrap().to_string(), "GB");
        assert_eq!(CountryCode::from_bytes(b"fr").unwrap().as_bytes(), *b"FR");
    }
}
