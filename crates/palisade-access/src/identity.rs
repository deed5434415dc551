//! Client identity: the one function that says which IP address a request comes from.
//!
//! Every control and the audit log must use [`TrustedProxies::resolve`], so that a spoofed
//! `X-Forwarded-For` entry can never make one control see a different client than another.
//!
//! The chain is read from the right. The socket peer is the right-most hop; each
//! `X-Forwarded-For` entry to its left was written by the hop to its right. A hop may only be
//! believed about the next one if it is trusted, so we walk leftwards over trusted hops and stop at
//! the first untrusted one: that is the client. Everything further left was written by the client
//! and is ignored. A garbage entry stops the walk and the last trusted hop to its right is used.

use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use crate::error::ConfigError;
use crate::ipset::IpSet;

/// Most `X-Forwarded-For` hops examined; the walk stops at the first untrusted hop anyway, so
/// only a chain of trusted proxies this long could reach it.
pub const MAX_FORWARDED_HOPS: usize = 32;

/// Longest single `X-Forwarded-For` entry considered (`[` IPv6 `]:` port fits in 47 bytes).
const MAX_ENTRY_LEN: usize = 64;

/// Where the client address comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardedMode {
    /// Use the socket peer; ignore `X-Forwarded-For` (direct exposure, e.g. `--upstream` on a VM).
    Socket,
    /// Behind Heroku's router: the peer is always the router, which appends the address it saw to
    /// `X-Forwarded-For`, so the right-most entry is the client (after skipping configured CDN
    /// ranges, if a CDN sits in front of the router).
    Heroku,
    /// Behind proxies listed in the trusted set: the peer's `X-Forwarded-For` is believed only if
    /// the peer itself is in the set (load balancer on a VM, a sidecar).
    TrustedPeers,
}

impl FromStr for ForwardedMode {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "socket" | "none" => Ok(ForwardedMode::Socket),
            "heroku" => Ok(ForwardedMode::Heroku),
            "trusted" | "trusted_peers" | "trusted-peers" => Ok(ForwardedMode::TrustedPeers),
            _ => Err(ConfigError::new(
                "client IP mode",
                s,
                "expected `socket`, `heroku` or `trusted_peers`",
            )),
        }
    }
}

/// The trusted-proxy setting: a mode plus the proxy/CDN networks skipped from the right.
#[derive(Debug, Clone)]
pub struct TrustedProxies {
    mode: ForwardedMode,
    trusted: IpSet,
}

impl Default for TrustedProxies {
    fn default() -> Self {
        Self::socket_only()
    }
}

impl TrustedProxies {
    /// Socket peer only.
    pub fn socket_only() -> Self {
        TrustedProxies {
            mode: ForwardedMode::Socket,
            trusted: IpSet::new(),
        }
    }

    /// Behind Heroku's router; `cdn` lists the networks of a CDN in front of it (may be empty).
    pub fn heroku(cdn: IpSet) -> Self {
        TrustedProxies {
            mode: ForwardedMode::Heroku,
            trusted: cdn,
        }
    }

    /// Behind proxies whose addresses are in `proxies`.
    pub fn trusted_peers(proxies: IpSet) -> Self {
        TrustedProxies {
            mode: ForwardedMode::TrustedPeers,
            trusted: proxies,
        }
    }

    /// Builds from a mode and a trusted set.
    pub fn new(mode: ForwardedMode, trusted: IpSet) -> Self {
        TrustedProxies { mode, trusted }
    }

    /// The mode in force.
    pub fn mode(&self) -> ForwardedMode {
        self.mode
    }

    /// The client address for a request from socket `peer` carrying these `X-Forwarded-For`
    /// header values (every header line, in order; pass `&[]` if there is none).
    ///
    /// Never fails: missing, empty or garbage headers fall back to the nearest trusted hop.
    /// The result is canonical (IPv4-mapped IPv6 becomes IPv4).
    pub fn resolve(&self, peer: IpAddr, xff_values: &[&[u8]]) -> IpAddr {
        let peer = peer.to_canonical();
        let peer_trusted = match self.mode {
            ForwardedMode::Socket => return peer,
            ForwardedMode::Heroku => true,
            ForwardedMode::TrustedPeers => self.trusted.contains(peer),
        };
        if !peer_trusted {
            return peer;
        }
        let mut current = peer;
        let mut hops = 0;
        for value in xff_values.iter().rev() {
            for raw in value.rsplit(|&b| b == b',') {
                let entry = trim_ows(raw);
                if entry.is_empty() {
                    continue;
                }
                hops += 1;
                if hops > MAX_FORWARDED_HOPS {
                    return current;
                }
                let Some(addr) = parse_forwarded_entry(entry) else {
                    // Never trust garbage, nor anything written left of it.
                    return current;
                };
                if !self.trusted.contains(addr) {
                    return addr;
                }
                current = addr;
            }
        }
        current
    }
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Parses one `X-Forwarded-For` entry: `192.0.2.1`, `192.0.2.1:443`, `2001:db8::1`,
/// `[2001:db8::1]` or `[2001:db8::1]:443`. Anything else (`unknown`, zone ids, obfuscated
/// identifiers, oversize) is `None`.
pub fn parse_forwarded_entry(entry: &[u8]) -> Option<IpAddr> {
    if entry.len() > MAX_ENTRY_LEN {
        return None;
    }
    let text = std::str::from_utf8(entry).ok()?;
    let addr = if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || valid_port_suffix(after)) {
            return None;
        }
        IpAddr::V6(inside.parse::<Ipv6Addr>().ok()?)
    } else if text.bytes().filter(|&b| b == b':').count() == 1 {
        let (host, port) = text.split_once(':')?;
        if !valid_port_suffix(&text[host.len()..]) || port.is_empty() {
            return None;
        }
        IpAddr::V4(host.parse().ok()?)
    } else {
        text.parse::<IpAddr>().ok()?
    };
    Some(addr.to_canonical())
}

fn valid_port_suffix(s: &str) -> bool {
    match s.strip_prefix(':') {
        Some(port) => {
            !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }
    const ROUTER: &str = "10.1.2.3";

    fn heroku() -> TrustedProxies {
        TrustedProxies::heroku(IpSet::new())
    }

    #[test]
    fn heroku_uses_right_most_entry_not_the_spoofed_left_one() {
        let got = heroku().resolve(ip(ROUTER), &[b"1.2.3.4, 203.0.113.9"]);
        assert_eq!(got, ip("203.0.113.9"));
    }

    #[test]
    fn heroku_without_header_falls_back_to_peer() {
        assert_eq!(heroku().resolve(ip(ROUTER), &[]), ip(ROUTER));
        assert_eq!(heroku().resolve(ip(ROUTER), &[b"  ,  "]), ip(ROUTER));
    }

    #[test]
    fn several_header_lines_are_one_list_in_order() {
        let got = heroku().resolve(ip(ROUTER), &[b"1.1.1.1", b"8.8.8.8, 203.0.113.5"]);
        assert_eq!(got, ip("203.0.113.5"));
        let got = heroku().resolve(ip(ROUTER), &[b"1.1.1.1, 203.0.113.5", b"198.51.100.1"]);
        assert_eq!(got, ip("198.51.100.1"));
    }

    #[test]
    fn ports_brackets_and_whitespace() {
        let h = heroku();
        assert_eq!(
            h.resolve(ip(ROUTER), &[b"\t203.0.113.9:51234 "]),
            ip("203.0.113.9")
        );
        assert_eq!(
            h.resolve(ip(ROUTER), &[b"[2001:db8::7]:443"]),
            ip("2001:db8::7")
        );
        assert_eq!(
            h.resolve(ip(ROUTER), &[b"[2001:db8::7]"]),
            ip("2001:db8::7")
        );
        assert_eq!(
            h.resolve(ip(ROUTER), &[b"1.2.3.4,2001:db8::8"]),
            ip("2001:db8::8")
        );
        assert_eq!(
            h.resolve(ip(ROUTER), &[b"::ffff:198.51.100.3"]),
            ip("198.51.100.3")
        );
    }

    #[test]
    fn garbage_right_most_entry_falls_back_to_peer() {
        let h = heroku();
        for bad in [
            &b"1.2.3.4, unknown"[..],
            b"1.2.3.4, 203.0.113.9:",
            b"1.2.3.4, 203.0.113.9:99999999",
            b"1.2.3.4, [2001:db8::1",
            b"1.2.3.4, fe80::1%eth0",
            b"1.2.3.4, 203.0.113.9 extra",
            b"1.2.3.4, \xff\xfe",
            b"1.2.3.4, 300.1.1.1",
        ] {
            assert_eq!(h.resolve(ip(ROUTER), &[bad]), ip(ROUTER), "{bad:?}");
        }
        let long = [b'1'; 200];
        assert_eq!(h.resolve(ip(ROUTER), &[&long]), ip(ROUTER));
    }

    #[test]
    fn cdn_ranges_are_skipped_from_the_right() {
        let cdn = IpSet::parse_list("198.51.100.0/24\n2001:db8:cd::/48", "cdn").unwrap();
        let h = TrustedProxies::heroku(cdn);
        // client -> CDN edge -> router: the router appended the CDN edge's address.
        let got = h.resolve(ip(ROUTER), &[b"6.6.6.6, 203.0.113.50, 198.51.100.20"]);
        assert_eq!(got, ip("203.0.113.50"));
        let got = h.resolve(
            ip(ROUTER),
            &[b"203.0.113.51, [2001:db8:cd::1]:80, 198.51.100.7"],
        );
        assert_eq!(got, ip("203.0.113.51"));
        // Only CDN hops: the left-most trusted one is as far as we can see.
        assert_eq!(
            h.resolve(ip(ROUTER), &[b"198.51.100.7"]),
            ip("198.51.100.7")
        );
        // Garbage to the left of a CDN hop: stop at the CDN hop.
        assert_eq!(
            h.resolve(ip(ROUTER), &[b"junk, 198.51.100.7"]),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn socket_mode_ignores_header() {
        let s = TrustedProxies::socket_only();
        assert_eq!(
            s.resolve(ip("203.0.113.1"), &[b"1.2.3.4"]),
            ip("203.0.113.1")
        );
        assert_eq!(s.resolve(ip("::ffff:203.0.113.1"), &[]), ip("203.0.113.1"));
    }

    #[test]
    fn trusted_peers_mode_needs_a_trusted_peer() {
        let lb = IpSet::parse_list("10.0.0.0/8", "lb").unwrap();
        let t = TrustedProxies::trusted_peers(lb);
        assert_eq!(
            t.resolve(ip("10.0.0.2"), &[b"1.2.3.4, 203.0.113.4"]),
            ip("203.0.113.4")
        );
        // Untrusted peer: its header is not believed.
        assert_eq!(
            t.resolve(ip("203.0.113.99"), &[b"1.2.3.4"]),
            ip("203.0.113.99")
        );
        // A chain of internal hops is walked.
        assert_eq!(
            t.resolve(ip("10.0.0.2"), &[b"203.0.113.4, 10.9.9.9"]),
            ip("203.0.113.4")
        );
    }

    #[test]
    fn hop_limit_stops_long_trusted_chains() {
        let t = TrustedProxies::heroku(IpSet::parse_list("10.0.0.0/8", "x").unwrap());
        let mut chain = String::from("203.0.113.1");
        for _ in 0..100 {
            chain.push_str(", 10.0.0.1");
        }
        assert_eq!(t.resolve(ip(ROUTER), &[chain.as_bytes()]), ip("10.0.0.1"));
    }

    #[test]
    fn mode_parse_errors_name_value() {
        assert_eq!(
            "Heroku".parse::<ForwardedMode>().unwrap(),
            ForwardedMode::Heroku
        );
        let err = "cloudflare"
            .parse::<ForwardedMode>()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cloudflare") && err.contains("heroku"),
            "{err}"
        );
    }
}
