//! Ruleset and Palisade versions: 1 to 4 dot-separated numbers (`0.1.0`, `2026.12.4`), compared
//! numerically component by component (missing components count as 0). No pre-release tags: a
//! bundle either is newer or it is not.

use std::cmp::Ordering;
use std::fmt;

/// Most components a version may have.
pub const MAX_COMPONENTS: usize = 4;

/// A parsed version.
#[derive(Debug, Clone, Copy, Eq)]
pub struct Version {
    parts: [u64; MAX_COMPONENTS],
    len: usize,
}

impl Version {
    /// Parses `1.2.3`; `Err` says what is allowed.
    pub fn parse(s: &str) -> Result<Version, String> {
        let allowed = || {
            format!("{s:?} is not a version: expected 1 to {MAX_COMPONENTS} dot-separated whole numbers, e.g. 0.1.0 or 2026.12.4")
        };
        let mut parts = [0u64; MAX_COMPONENTS];
        let mut len = 0;
        for piece in s.split('.') {
            if len == MAX_COMPONENTS
                || piece.is_empty()
                || piece.len() > 18
                || !piece.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(allowed());
            }
            parts[len] = piece.parse().map_err(|_| allowed())?;
            len += 1;
        }
        Ok(Version { parts, len })
    }

    /// This build's Palisade version (the workspace version).
    pub fn palisade() -> Version {
        // The workspace version is always plain numbers; fall back to 0 rather than panic.
        Version::parse(env!("CARGO_PKG_VERSION")).unwrap_or(Version {
            parts: [0; MAX_COMPONENTS],
            len: 1,
        })
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.parts == other.parts
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts.cmp(&other.parts)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.parts[..self.len].iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn compares_numerically() {
        assert!(v("0.10.0") > v("0.9.9"));
        assert!(v("1") > v("0.99.99.99"));
        assert_eq!(v("1.2"), v("1.2.0"));
        assert!(v("2026.12.4.1") > v("2026.12.4"));
        assert_eq!(v("01.2.3").to_string(), "1.2.3");
        assert!(Version::palisade() >= v("0.1.0"));
    }

    #[test]
    fn refuses_non_versions() {
        for bad in [
            "",
            "1.",
            ".1",
            "1..2",
            "v1.2",
            "1.2.3-beta",
            "1.2.3.4.5",
            "1 .2",
            "99999999999999999999",
        ] {
            let e = Version::parse(bad).unwrap_err();
            assert!(e.contains("not a version"), "{bad}: {e}");
        }
    }
}
