//! [`PathPattern`]: `/admin/**`, `/api/*/export`, `/files/*.php`, `/login`.
//!
//! Matching is by `/`-separated segment: `*` inside a segment matches any run of characters
//! except `/`; a segment that is exactly `**` matches zero or more whole segments. Matching is
//! ASCII case-insensitive and ignores empty segments (`//admin`, a trailing `/`), because many
//! frameworks route `/Login/` or `//login` to `/login` and a control that is easy to step around
//! is worse than one that matches a little more. The path must already be percent-decoded and normalised
//! (dot segments removed) by the caller.
//!
//! For the same reason each path segment is matched as app servers route it ([`routed`]): up to
//! a `;` (servlet containers and Spring drop path parameters: `/admin;jsessionid=1` is
//! `/admin`) or a NUL, without trailing dots or blanks; and a literal segment also matches
//! itself with one format suffix (`/login.json` is `/login` to Rails and to Spring's suffix
//! matching). Every use of a pattern restricts (allowlists, blocklists, countries, rate limits,
//! probe paths), so matching such variants only closes ways around a rule.

use std::fmt;
use std::str::FromStr;

use crate::error::ConfigError;

/// Longest accepted pattern, in bytes.
const MAX_PATTERN_LEN: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Literal segment, lower-cased.
    Literal(Box<[u8]>),
    /// Segment containing `*` wildcards, lower-cased.
    Glob(Box<[u8]>),
    /// `**`: zero or more segments.
    AnySegments,
}

/// A compiled path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    source: Box<str>,
    segments: Vec<Segment>,
}

impl PathPattern {
    /// Compiles a pattern; see the module docs for the syntax.
    pub fn parse(pattern: &str) -> Result<Self, ConfigError> {
        let err = |why: &str| ConfigError::new("path pattern", pattern, why.to_owned());
        if !pattern.starts_with('/') {
            return Err(err(
                "must start with `/` (e.g. `/admin/**`, `/api/*/export`)",
            ));
        }
        if pattern.len() > MAX_PATTERN_LEN {
            return Err(err("longer than 1024 bytes"));
        }
        if pattern
            .bytes()
            .any(|b| b.is_ascii_control() || b == b' ' || b == b'?')
        {
            return Err(err(
                "must not contain spaces, control characters or a query (`?`)",
            ));
        }
        let mut segments = Vec::new();
        // Folded as paths are ([`fold_unicode_case`]), so `/\u{212a}eys` and `/keys` are one pattern.
        let folded = fold_unicode_case(pattern.as_bytes())
            .and_then(|f| String::from_utf8(f).ok())
            .unwrap_or_else(|| pattern.to_owned());
        let body = &folded[1..];
        let body = body.strip_suffix('/').unwrap_or(body);
        if !body.is_empty() {
            for seg in body.split('/').filter(|s| !s.is_empty()) {
                let lower = seg.to_ascii_lowercase().into_bytes().into_boxed_slice();
                if seg == "**" {
                    if segments.last() != Some(&Segment::AnySegments) {
                        segments.push(Segment::AnySegments);
                    }
                } else if seg.contains("**") {
                    return Err(err("`**` must be a whole segment (`/a/**/b`, not `/a**`)"));
                } else if seg.contains('*') {
                    segments.push(Segment::Glob(lower));
                } else {
                    segments.push(Segment::Literal(lower));
                }
            }
        }
        Ok(PathPattern {
            source: pattern.into(),
            segments,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// True if `path` (decoded, normalised, without query) matches.
    pub fn matches(&self, path: &[u8]) -> bool {
        // Java's `equalsIgnoreCase`, .NET's `OrdinalIgnoreCase` and Python's `upper()` compare
        // `admın` (dotless ı), `ſ` and the Kelvin sign as `admin`, `s`, `k`: a route matched
        // without case is reached through them.
        if let Some(folded) = fold_unicode_case(path) {
            if self.matches_folded(&folded) {
                return true;
            }
        }
        self.matches_folded(path)
    }

    fn matches_folded(&self, path: &[u8]) -> bool {
        let body = path.strip_prefix(b"/").unwrap_or(path);
        let body = body.strip_suffix(b"/").unwrap_or(body);
        // Segments are matched against a split iterator collected lazily into a small stack buffer
        // when possible; most paths have fewer than 16 segments.
        let mut buf: [&[u8]; 16] = [&[]; 16];
        let heap: Vec<&[u8]>;
        let mut count = 0usize;
        let parts: &[&[u8]] = if body.is_empty() {
            &[]
        } else {
            let mut overflow = false;
            for s in body
                .split(|&b| b == b'/')
                .map(routed)
                .filter(|s| !s.is_empty())
            {
                if count < buf.len() {
                    buf[count] = s;
                    count += 1;
                } else {
                    overflow = true;
                    break;
                }
            }
            if overflow {
                heap = body
                    .split(|&b| b == b'/')
                    .map(routed)
                    .filter(|s| !s.is_empty())
                    .collect();
                &heap[..]
            } else {
                &buf[..count]
            }
        };
        match_segments(&self.segments, parts)
    }
}

/// Iterative matcher with one backtrack point per `**` (linear in practice, O(n·m) worst case).
fn match_segments(pattern: &[Segment], path: &[&[u8]]) -> bool {
    let (mut p, mut s) = (0usize, 0usize);
    let mut backtrack: Option<(usize, usize)> = None;
    while s < path.len() {
        match pattern.get(p) {
            Some(Segment::AnySegments) => {
                backtrack = Some((p, s));
                p += 1;
                continue;
            }
            Some(seg) if segment_matches(seg, path[s]) => {
                p += 1;
                s += 1;
                continue;
            }
            _ => {}
        }
        match backtrack {
            Some((bp, bs)) => {
                p = bp + 1;
                s = bs + 1;
                backtrack = Some((bp, bs + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|seg| *seg == Segment::AnySegments)
}

/// `path` with the characters whose upper or lower case is an ASCII letter replaced by that
/// letter (ı U+0131 → i, ſ U+017F → s, K U+212A → k), or `None` when it has none of them.
fn fold_unicode_case(path: &[u8]) -> Option<Vec<u8>> {
    const FOLDS: [(&[u8], u8); 3] = [
        (&[0xc4, 0xb1], b'i'),
        (&[0xc5, 0xbf], b's'),
        (&[0xe2, 0x84, 0xaa], b'k'),
    ];
    // Most paths are ASCII, and an en dash or a curly quote (also led by 0xe2) folds nothing:
    // copy only when a fold is there to make.
    let folds_at = |i: usize| {
        matches!(path[i], 0xc4 | 0xc5 | 0xe2)
            && FOLDS.iter().any(|(from, _)| path[i..].starts_with(from))
    };
    if !(0..path.len()).any(folds_at) {
        return None;
    }
    let mut out = Vec::with_capacity(path.len());
    let mut i = 0;
    'bytes: while i < path.len() {
        for (from, to) in FOLDS {
            if path[i..].starts_with(from) {
                out.push(to);
                i += from.len();
                continue 'bytes;
            }
        }
        out.push(path[i]);
        i += 1;
    }
    Some(out)
}

/// A path segment as a server may route it: cut at a `;` (path parameters), a NUL, or a decoded
/// `?` or `#` (a server that decodes the path and then parses it as a URL again, as Apache's
/// rewrite confusion did, routes `/admin%3Fx` to `/admin`), without trailing dots, spaces or
/// tabs.
fn routed(segment: &[u8]) -> &[u8] {
    let end = segment
        .iter()
        .position(|&b| matches!(b, b';' | 0 | b'?' | b'#'))
        .unwrap_or(segment.len());
    let mut s = &segment[..end];
    while let [rest @ .., b'.' | b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn segment_matches(seg: &Segment, text: &[u8]) -> bool {
    match seg {
        // `login` also matches `login.json` (a format suffix without further dots).
        Segment::Literal(lit) => {
            lit.eq_ignore_ascii_case(text)
                || text.len() > lit.len() + 1
                    && text[lit.len()] == b'.'
                    && !text[lit.len() + 1..].contains(&b'.')
                    && !lit.contains(&b'.')
                    && lit.eq_ignore_ascii_case(&text[..lit.len()])
        }
        Segment::Glob(glob) => glob_matches(glob, text),
        Segment::AnySegments => true,
    }
}

/// `*` wildcard match within one segment (classic two-pointer algorithm, no recursion).
fn glob_matches(glob: &[u8], text: &[u8]) -> bool {
    let (mut g, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if g < glob.len() && glob[g] == b'*' {
            star = Some((g, t));
            g += 1;
        } else if g < glob.len() && glob[g] == text[t].to_ascii_lowercase() {
            g += 1;
            t += 1;
        } else if let Some((sg, st)) = star {
            g = sg + 1;
            t = st + 1;
            star = Some((sg, st + 1));
        } else {
            return false;
        }
    }
    glob[g..].iter().all(|&b| b == b'*')
}

impl FromStr for PathPattern {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        PathPattern::parse(s)
    }
}

impl fmt::Display for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn m(p: &str, path: &str) -> bool {
        PathPattern::parse(p).unwrap().matches(path.as_bytes())
    }

    #[test]
    fn double_star_matches_any_depth_including_the_base() {
        assert!(m("/admin/**", "/admin"));
        assert!(m("/admin/**", "/admin/"));
        assert!(m("/admin/**", "/admin/users/7/edit"));
        assert!(!m("/admin/**", "/administrator"));
        assert!(!m("/admin/**", "/public/admin"));
        assert!(m("/**", "/"));
        assert!(m("/**", "/anything/at/all"));
        assert!(m("/api/**/export", "/api/v1/users/export"));
        assert!(m("/api/**/export", "/api/export"));
        assert!(!m("/api/**/export", "/api/v1/export/x"));
    }

    #[test]
    fn single_star_is_one_segment() {
        assert!(m("/api/*/export", "/api/v2/export"));
        assert!(!m("/api/*/export", "/api/v2/x/export"));
        assert!(!m("/api/*/export", "/api/export"));
        assert!(m("/files/*.php", "/files/shell.PHP"));
        assert!(!m("/files/*.php", "/files/a/b.php"));
        assert!(m("/a*b*c", "/aXXbYYc"));
        assert!(!m("/a*b*c", "/aXXbYY"));
    }

    #[test]
    fn exact_paths_ignore_case_and_one_trailing_slash() {
        assert!(m("/login", "/login"));
        assert!(m("/login", "/LOGIN/"));
        assert!(!m("/login", "/login/x"));
        assert!(!m("/login", "/logins"));
        assert!(m("/", "/"));
        assert!(!m("/", "/x"));
    }

    #[test]
    fn empty_segments_do_not_bypass() {
        assert!(m("/admin/**", "//admin/users"));
        assert!(m("/admin/**", "/admin//users"));
        assert!(m("/login", "//login//"));
        assert!(m("/a//b", "/a/b"));
    }

    #[test]
    fn segments_match_as_servers_route_them() {
        for path in [
            "/admin;jsessionid=1",
            "/admin;/users",
            "/;x/admin/users",
            "/admin./users",
            "/admin ",
            "/admin\t",
            "/admin\0.jpg",
            "/admin.json",
            "/ADMIN.html/x",
            "/admin?/x",
            "/admin#",
            "/admin?.php",
            "/adm\u{131}n/users",
        ] {
            assert!(m("/admin/**", path), "{path:?}");
        }
        assert!(m("/\u{212a}eys/**", "/keys/x"));
        assert!(m("/keys/**", "/\u{212a}eys/x"));
        assert!(m("/session/**", "/\u{17f}e\u{17f}\u{17f}ion"));
        assert!(!m("/admin/**", "/adm\u{e9}n"));
        // An en dash or curly quote shares the Kelvin sign's lead byte but folds nothing.
        assert_eq!(fold_unicode_case("/a\u{2013}b/\u{2019}".as_bytes()), None);
        assert_eq!(
            fold_unicode_case("/\u{212a}ey\u{2013}".as_bytes()).as_deref(),
            Some("/key\u{2013}".as_bytes())
        );
        assert!(m("/login", "/login.json"));
        assert!(m("/login", "/login;a=b"));
        assert!(m("/login", "/login."));
        assert!(m("/files/*.php", "/files/shell.php;.jpg"));
        assert!(m("/files/*.php", "/files/shell.php."));
        for path in [
            "/administrator",
            "/adminx.json",
            "/admin-panel",
            "/public/admin.json",
        ] {
            assert!(!m("/admin/**", path), "{path:?}");
        }
        // One suffix only, and not on a literal that has a dot of its own.
        assert!(!m("/login", "/login.json.bak"));
        assert!(!m("/v1.2", "/v1.2.json"));
        assert!(!m("/login", "/login.json/x"));
    }

    #[test]
    fn deep_paths_beyond_the_stack_buffer() {
        let deep = "/a".repeat(40);
        assert!(m("/a/**", &deep));
        assert!(m("/**/a", &deep));
        assert!(!m("/b/**", &deep));
    }

    #[test]
    fn bad_patterns_are_errors_naming_the_pattern() {
        for bad in ["admin/**", "/a**", "/a b", "/x?y=1", ""] {
            let err = PathPattern::parse(bad).unwrap_err();
            assert_eq!(err.value, bad);
            assert!(err.to_string().contains("path pattern"));
        }
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let p = PathPattern::parse("/**/a/**/a/**/a/**/a/**/b").unwrap();
        let path = "/a".repeat(200);
        let start = std::time::Instant::now();
        assert!(!p.matches(path.as_bytes()));
        assert!(start.elapsed() < std::time::Duration::from_millis(50));
    }
}
