//! Webhook URLs: `http://` or `https://`, host, optional port, path (with query).

use std::fmt;

/// A parsed webhook URL.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    /// `https` (needs a TLS connector from the lead) or `http`.
    pub https: bool,
    /// Host name or IP literal (IPv6 without brackets).
    pub host: String,
    /// Port (default 443 / 80).
    pub port: u16,
    /// Path and query, starting with `/`. Often a secret (Slack puts its token there): never logged.
    pub path: String,
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl WebhookUrl {
    /// Parses an absolute `http`/`https` URL. Userinfo (`user:pass@`) is refused.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let s = s.trim();
        let (https, rest) = if let Some(r) = strip_prefix_ignore_case(s, "https://") {
            (true, r)
        } else if let Some(r) = strip_prefix_ignore_case(s, "http://") {
            (false, r)
        } else {
            return Err("scheme must be http or https");
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'?' => (&rest[..i], format!("/{}", &rest[i..])),
            Some(i) => (&rest[..i], rest[i..].to_owned()),
            None => (rest, "/".to_owned()),
        };
        let path = path.split('#').next().unwrap_or("/").to_owned();
        if authority.contains('@') {
            return Err("credentials in the URL are not supported");
        }
        let default_port = if https { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or("unclosed [ in host")?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| "bad port")?,
                None if after.is_empty() => default_port,
                None => return Err("junk after ]"),
            };
            (host.to_owned(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), p.parse().map_err(|_| "bad port")?),
                None => (authority.to_owned(), default_port),
            }
        };
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("missing or invalid host");
        }
        if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("spaces in the path");
        }
        Ok(WebhookUrl {
            https,
            host,
            port,
            path,
        })
    }

    /// `scheme://host:port/…` with the path hidden, for logs and errors.
    pub fn redacted(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}/…", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}/…", self.host, self.port)
        }
    }

    /// Best-effort redaction of an unparsable URL string: keep up to the host, drop the rest.
    pub fn redacted_text(s: &str) -> String {
        let s = s.trim();
        let (scheme, rest) = s.split_once("://").unwrap_or(("", s));
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
        if scheme.is_empty() {
            format!("{host}/…")
        } else {
            format!("{scheme}://{host}/…")
        }
    }

    /// The `Host` header value.
    pub fn host_header(&self) -> String {
        let default_port = if self.https { 443 } else { 80 };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == default_port {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        let u = WebhookUrl::parse("https://hooks.slack.com/services/T0/B0/abc").unwrap();
        assert!(u.https);
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("hooks.slack.com", 443, "/services/T0/B0/abc")
        );
        assert_eq!(u.host_header(), "hooks.slack.com");
        let u = WebhookUrl::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            (u.port, u.path.as_str(), u.host_header().as_str()),
            (8080, "/", "127.0.0.1:8080")
        );
        let u = WebhookUrl::parse("http://[::1]:9000/x?y=1#frag").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("::1", 9000, "/x?y=1")
        );
        assert_eq!(u.host_header(), "[::1]:9000");
        assert_eq!(WebhookUrl::parse("http://h?x=1").unwrap().path, "/?x=1");
    }

    #[test]
    fn refuses_bad_urls() {
        for bad in [
            "ftp://x/",
            "example.org/x",
            "http://",
            "http://u:p@h/",
            "http://h:99999/",
            "http://h/a b",
            "http://[::1/",
        ] {
            assert!(WebhookUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redaction_hides_path() {
        let u = WebhookUrl::parse("https://hooks.slack.com/services/SECRET").unwrap();
        assert_eq!(u.redacted(), "https://hooks.slack.com:443/…");
        assert!(!format!("{u:?}").contains("SECRET"));
        assert_eq!(
            WebhookUrl::redacted_text("ftp://user:pw@h.example/SECRET"),
            "ftp://h.example/…"
        );
    }
}
