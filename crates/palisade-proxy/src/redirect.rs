//! HTTPS redirects that can never send a client to a host an attacker chose.

/// Which host a redirect may point at.
#[derive(Debug, Clone, Default)]
pub struct RedirectHosts {
    /// Always redirect here, whatever the request's Host.
    pub canonical: Option<String>,
    /// Otherwise keep the request's Host only if it matches one of these (`*.example.org`
    /// matches subdomains); empty means any syntactically valid host name.
    pub allowed: Vec<String>,
}

impl RedirectHosts {
    fn allows(&self, host: &str) -> bool {
        self.allowed.is_empty()
            || self.allowed.iter().any(|p| match p.strip_prefix("*.") {
                Some(suffix) => {
                    host.len() > suffix.len() + 1
                        && host.ends_with(suffix)
                        && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
                }
                None => p == host,
            })
    }
}

/// A host header value reduced to a lower-case host name (port dropped), or `None` when it is not
/// a plain DNS name (IP literals, user-info, odd characters are all refused).
fn host_name(raw: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(raw).ok()?.trim();
    let name = match s.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => s,
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.contains(|c: char| c.is_ascii_alphabetic())
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    valid.then_some(name)
}

/// The `Location` for an HTTPS redirect of `target` (the raw request-target), or `None` when no
/// trustworthy host is available (the caller answers 400 instead).
pub fn https_location(
    hosts: &RedirectHosts,
    host_header: Option<&[u8]>,
    target: &[u8],
) -> Option<String> {
    let host = match &hosts.canonical {
        Some(c) => c.clone(),
        None => {
            let h = host_name(host_header?)?;
            if !hosts.allows(&h) {
                return None;
            }
            h
        }
    };
    // Origin-form keeps path and query; absolute-form is reduced to its path and query.
    let path_and_query: &[u8] = if target.starts_with(b"/") {
        target
    } else {
        let after_scheme = target
            .windows(3)
            .position(|w| w == b"://")
            .map_or(target, |i| &target[i + 3..]);
        match after_scheme.iter().position(|&b| b == b'/') {
            Some(i) => &after_scheme[i..],
            None => b"/",
        }
    };
    if path_and_query
        .iter()
        .any(|&b| b <= 0x20 || b == 0x7f || b == b'\\')
    {
        return None;
    }
    Some(format!(
        "https://{host}{}",
        String::from_utf8_lossy(path_and_query)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_path_and_query() {
        let h = RedirectHosts::default();
        assert_eq!(
            https_location(&h, Some(b"portal.example.org"), b"/a/b?x=1&y=2").as_deref(),
            Some("https://portal.example.org/a/b?x=1&y=2")
        );
        assert_eq!(
            https_location(&h, Some(b"Portal.Example.org:80"), b"/").as_deref(),
            Some("https://portal.example.org/")
        );
    }

    #[test]
    fn canonical_host_wins_over_an_attackers_host() {
        let h = RedirectHosts {
            canonical: Some("portal.example.org".into()),
            allowed: vec![],
        };
        assert_eq!(
            https_location(&h, Some(b"evil.example.com"), b"/login").as_deref(),
            Some("https://portal.example.org/login")
        );
    }

    #[test]
    fn allowed_hosts_refuse_others() {
        let h = RedirectHosts {
            canonical: None,
            allowed: vec!["example.org".into(), "*.example.org".into()],
        };
        assert!(https_location(&h, Some(b"evil.com"), b"/").is_none());
        assert!(https_location(&h, Some(b"badexample.org"), b"/").is_none());
        assert!(https_location(&h, Some(b"a.example.org"), b"/").is_some());
        assert!(https_location(&h, Some(b"example.org"), b"/").is_some());
    }

    #[test]
    fn odd_hosts_are_refused() {
        let h = RedirectHosts::default();
        for bad in [
            &b"user@evil.com"[..],
            b"evil.com/x",
            b"127.0.0.1",
            b"",
            b"a b",
        ] {
            assert!(https_location(&h, Some(bad), b"/").is_none(), "{bad:?}");
        }
    }
}
