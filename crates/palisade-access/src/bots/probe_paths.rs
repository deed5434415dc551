//! Probes for paths a health-data web app does not have: dotfiles and VCS metadata, WordPress
//! and PHP admin tools, router exploits. A path is a probe if any of its segments is one of
//! these names (scanners also try them under sub-directories), or starts with `.env`.

/// Segment names (lower-case, sorted for binary search) that mark a probe.
pub const PROBE_SEGMENTS: &[&str] = &[
    ".aws",
    ".bash_history",
    ".ds_store",
    ".git",
    ".hg",
    ".htaccess",
    ".htpasswd",
    ".idea",
    ".ssh",
    ".svn",
    ".vscode",
    "boaform",
    "cgi-bin",
    "eval-stdin.php",
    "hnap1",
    "id_rsa",
    "phpinfo.php",
    "phpmyadmin",
    "wp-admin",
    "wp-config.php",
    "wp-content",
    "wp-includes",
    "wp-login.php",
    "xmlrpc.php",
];

/// Longest entry in [`PROBE_SEGMENTS`], so longer segments are skipped without lower-casing.
const MAX_SEGMENT: usize = 16;

/// The probe name matched by some segment of `path`, if any.
pub fn probe_in_path(path: &[u8]) -> Option<&'static str> {
    let mut buf = [0u8; MAX_SEGMENT];
    for seg in path.split(|&b| b == b'/') {
        if seg.len() >= 4 && seg[..4].eq_ignore_ascii_case(b".env") {
            return Some(".env");
        }
        if seg.is_empty() || seg.len() > MAX_SEGMENT {
            continue;
        }
        let lower = &mut buf[..seg.len()];
        for (dst, src) in lower.iter_mut().zip(seg) {
            *dst = src.to_ascii_lowercase();
        }
        if let Ok(i) = PROBE_SEGMENTS.binary_search_by(|p| p.as_bytes().cmp(lower)) {
            return PROBE_SEGMENTS.get(i).copied();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_sorted_and_fits_buffer() {
        assert!(PROBE_SEGMENTS.windows(2).all(|w| w[0] < w[1]));
        assert!(PROBE_SEGMENTS.iter().all(|p| p.len() <= MAX_SEGMENT));
    }

    #[test]
    fn common_probes() {
        assert_eq!(probe_in_path(b"/wp-login.php"), Some("wp-login.php"));
        assert_eq!(probe_in_path(b"/.env"), Some(".env"));
        assert_eq!(probe_in_path(b"/.env.production"), Some(".env"));
        assert_eq!(probe_in_path(b"/.git/config"), Some(".git"));
        assert_eq!(probe_in_path(b"/blog/WP-LOGIN.PHP"), Some("wp-login.php"));
        assert_eq!(probe_in_path(b"/static/.DS_Store"), Some(".ds_store"));
        assert_eq!(probe_in_path(b"/cgi-bin/luci"), Some("cgi-bin"));
    }

    #[test]
    fn normal_paths_pass() {
        for p in [
            &b"/"[..],
            b"/login",
            b"/api/v1/patients/42",
            b"/assets/app.js",
            b"/environment",
            b"/wp",
            b"/.well-known/acme-challenge/x",
        ] {
            assert_eq!(probe_in_path(p), None, "{}", String::from_utf8_lossy(p));
        }
    }
}
