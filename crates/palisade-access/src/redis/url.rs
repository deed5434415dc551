//! `redis://` and `rediss://` URLs. The password never appears in `Display` or errors.

use std::fmt;

use crate::error::ConfigError;

/// A parsed Redis URL.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl {
    /// `rediss://`: the connection must use TLS.
    pub tls: bool,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port (default 6379).
    pub port: u16,
    /// ACL user name, if any.
    pub username: Option<String>,
    /// Password, if any.
    pub password: Option<String>,
    /// Database number (default 0).
    pub db: u32,
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({self})")
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "rediss" } else { "redis" };
        let auth = match (&self.username, &self.password) {
            (Some(u), Some(_)) => format!("{u}:***@"),
            (None, Some(_)) => ":***@".to_owned(),
            (Some(u), None) => format!("{u}@"),
            (None, None) => String::new(),
        };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        write!(f, "{scheme}://{auth}{host}:{}/{}", self.port, self.db)
    }
}

/// The URL with any password replaced by `***`, for error messages.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(not a URL)".to_owned();
    };
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or("", |(u, _)| u);
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_owned(),
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl RedisUrl {
    /// Parses `redis://[user[:password]@]host[:port][/db]` (and `rediss://`).
    pub fn parse(url: &str) -> Result<Self, ConfigError> {
        let err = |why: &str| ConfigError::new("redis url", redact(url), why.to_owned());
        let (tls, rest) = if let Some(r) = url.strip_prefix("redis://") {
            (false, r)
        } else if let Some(r) = url.strip_prefix("rediss://") {
            (true, r)
        } else {
            return Err(err("must start with `redis://` or `rediss://`"));
        };
        let rest = rest.split(['?', '#']).next().unwrap_or("");
        let (authority, path) = match rest.split_once('/') {
            Some((a, p)) => (a, p),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(u) => {
                let (user, pass) = match u.split_once(':') {
                    Some((user, pass)) => (user, Some(pass)),
                    None => (u, None),
                };
                let user =
                    percent_decode(user).ok_or_else(|| err("bad percent-encoding in user"))?;
                let pass = match pass {
                    Some(p) => Some(
                        percent_decode(p).ok_or_else(|| err("bad percent-encoding in password"))?,
                    ),
                    None => None,
                };
                (
                    (!user.is_empty()).then_some(user),
                    pass.filter(|p| !p.is_empty()),
                )
            }
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| err("unclosed `[` in host"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(err("unexpected text after `]`")),
            };
            (h.to_owned(), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (hostport.to_owned(), None),
            }
        };
        if host.is_empty() {
            return Err(err("missing host"));
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p > 0)
                .ok_or_else(|| err("port must be a number from 1 to 65535"))?,
            None => 6379,
        };
        let db = if path.is_empty() {
            0
        } else {
            path.parse::<u32>()
                .map_err(|_| err("database (the path) must be a number such as `/0`"))?
        };
        Ok(RedisUrl {
            tls,
            host,
            port,
            username,
            password,
            db,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn heroku_style_urls() {
        let u = RedisUrl::parse("redis://:p4ss%40word@ec2-1-2-3-4.compute-1.amazonaws.com:12345")
            .unwrap();
        assert!(!u.tls);
        assert_eq!(u.host, "ec2-1-2-3-4.compute-1.amazonaws.com");
        assert_eq!(u.port, 12345);
        assert_eq!(u.username, None);
        assert_eq!(u.password.as_deref(), Some("p4ss@word"));
        assert_eq!(u.db, 0);
        assert!(!u.to_string().contains("p4ss"));
        let u = RedisUrl::parse("rediss://default:secret@host:6380/2").unwrap();
        assert!(u.tls);
        assert_eq!(u.username.as_deref(), Some("default"));
        assert_eq!(u.db, 2);
        let u = RedisUrl::parse("redis://[::1]:7000").unwrap();
        assert_eq!(u.host, "::1");
        assert_eq!(u.to_string(), "redis://[::1]:7000/0");
        let u = RedisUrl::parse("redis://localhost").unwrap();
        assert_eq!(u.port, 6379);
    }

    #[test]
    fn errors_redact_the_password() {
        for bad in [
            "http://:secret@host",
            "redis://:secret@host:notaport",
            "redis://:secret@:6379",
            "redis://:secret@host/abc",
            "redis://:secret@host:0",
        ] {
            let e = RedisUrl::parse(bad).unwrap_err();
            assert!(!e.to_string().contains("secret"), "{e}");
            assert_eq!(e.what, "redis url");
        }
    }
}
