//! Which hosts are inside the dyno's network: loopback, private and link-local addresses in every
//! spelling, and the names that resolve to them.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::ipv4::{self, Ipv4Host};

/// Why a host is internal; each maps to a fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Internal {
    /// 127.0.0.0/8, 0.0.0.0 (Linux connects it to the local host), `::1`, `::`.
    Loopback,
    /// RFC 1918, carrier-grade NAT (100.64.0.0/10, where Alibaba's metadata service lives),
    /// 192.0.0.0/24 (Oracle's), IPv6 unique-local and site-local.
    Private,
    /// 169.254.0.0/16 and `fe80::/10`: cloud metadata services (AWS, GCP, Azure) live here.
    LinkLocal,
    /// A name that resolves to one of the above: `localhost`, `*.internal`, public wildcard
    /// DNS for loopback (`localtest.me`, `lvh.me`) and `nip.io`-style names embedding an
    /// internal address.
    Name,
}

/// Classifies a host as it appears in a URL's authority (no port, no user info; IPv6 in
/// brackets). `host` must be ASCII lower-case and percent-decoded.
pub(crate) fn classify(host: &[u8]) -> Option<Internal> {
    if let Some(inner) = host.strip_prefix(b"[") {
        let inner = inner.strip_suffix(b"]").unwrap_or(inner);
        // A zone id (`fe80::1%25eth0`, `%eth0` once decoded) does not change the address.
        let inner = inner.split(|&b| b == b'%').next().unwrap_or(inner);
        let ip: Ipv6Addr = std::str::from_utf8(inner).ok()?.parse().ok()?;
        return classify_v6(ip);
    }
    match ipv4::parse(host) {
        Ipv4Host::Address(a) => classify_v4(Ipv4Addr::from(a)),
        Ipv4Host::Invalid => {
            ipv4::parse_truncating(host).and_then(|a| classify_v4(Ipv4Addr::from(a)))
        }
        Ipv4Host::Name => classify_name(host.strip_suffix(b".").unwrap_or(host)),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Internal> {
    let [a, b, c, _] = ip.octets();
    if ip.is_unspecified() {
        return Some(Internal::Loopback);
    }
    match (a, b, c) {
        (127, ..) => Some(Internal::Loopback),
        (169, 254, _) => Some(Internal::LinkLocal),
        (10, ..) | (192, 168, _) | (192, 0, 0) => Some(Internal::Private),
        (172, 16..=31, _) | (100, 64..=127, _) => Some(Internal::Private),
        _ => None,
    }
}

fn classify_v6(ip: Ipv6Addr) -> Option<Internal> {
    let s = ip.segments();
    if ip.is_loopback() || ip.is_unspecified() {
        return Some(Internal::Loopback);
    }
    // IPv4 inside IPv6: mapped (`::ffff:a.b.c.d`), compatible (`::a.b.c.d`), NAT64
    // (`64:ff9b::a.b.c.d`) and 6to4 (`2002:aabb:ccdd::`) all reach the IPv4 address.
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let embedded = match s {
        [0, 0, 0, 0, 0, 0xffff, ..] | [0, 0, 0, 0, 0, 0, ..] => Some(tail),
        [0x64, 0xff9b, 0, 0, 0, 0, ..] => Some(tail),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        _ => None,
    };
    if let Some(v4) = embedded {
        return classify_v4(v4);
    }
    match s[0] {
        x if x & 0xfe00 == 0xfc00 => Some(Internal::Private),
        x if x & 0xffc0 == 0xfec0 => Some(Internal::Private),
        x if x & 0xffc0 == 0xfe80 => Some(Internal::LinkLocal),
        _ => None,
    }
}

/// Names that always resolve inside: RFC 6761 `localhost`, the `internal` names clouds and
/// Docker use for metadata and the host, and public DNS that answers with loopback for any
/// label. `.local` (mDNS) and company suffixes are left to the rule's regexes: they are not
/// reachable from a dyno, so a URL naming one is a probe, not a hit.
fn classify_name(name: &[u8]) -> Option<Internal> {
    const EXACT: &[&[u8]] = &[
        b"localhost",
        b"ip6-localhost",
        b"ip6-loopback",
        b"localhost.localdomain",
    ];
    const LOOPBACK_SUFFIXES: &[&[u8]] = &[
        b"localhost",
        b"internal",
        b"localtest.me",
        b"lvh.me",
        b"vcap.me",
    ];
    const WILDCARD_DNS: &[&[u8]] = &[b"nip.io", b"sslip.io", b"xip.io", b"traefik.me"];
    if EXACT.contains(&name) || LOOPBACK_SUFFIXES.iter().any(|s| is_or_under(name, s)) {
        return Some(Internal::Name);
    }
    let labels = WILDCARD_DNS
        .iter()
        .find_map(|s| name.strip_suffix(*s)?.strip_suffix(b"."))?;
    embedded_address(labels)
        .and_then(classify_v4)
        .map(|_| Internal::Name)
}

/// `name` is `suffix` or a subdomain of it.
fn is_or_under(name: &[u8], suffix: &[u8]) -> bool {
    name == suffix
        || name
            .strip_suffix(suffix)
            .is_some_and(|rest| rest.ends_with(b"."))
}

/// The address a wildcard-DNS name encodes in the labels before its suffix: the last four
/// numeric labels (`app.10.0.0.1`), a dashed label (`app-10-0-0-1`), or eight hex digits
/// (`0a000001`) — the three forms nip.io and sslip.io answer.
fn embedded_address(labels: &[u8]) -> Option<Ipv4Addr> {
    if let Some(ip) = last_four_octets(labels, b'.') {
        return Some(ip);
    }
    let last = labels.rsplit(|&b| b == b'.').next()?;
    if let Some(ip) = last_four_octets(last, b'-') {
        return Some(ip);
    }
    let hex = last.rsplit(|&b| b == b'-').next()?;
    if hex.len() == 8 {
        let n = u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
        return Some(Ipv4Addr::from(n));
    }
    None
}

/// The address spelt by the last four `sep`-separated parts of `s`, each 1–3 decimal digits.
fn last_four_octets(s: &[u8], sep: u8) -> Option<Ipv4Addr> {
    let mut o = [0u8; 4];
    let mut parts = s.rsplit(|&b| b == sep);
    for slot in o.iter_mut().rev() {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        *slot = std::str::from_utf8(part).ok()?.parse().ok()?;
    }
    Some(Ipv4Addr::from(o))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(s: &str) -> Option<Internal> {
        classify(s.as_bytes())
    }

    #[test]
    fn internal_ipv4_ranges() {
        assert_eq!(of("127.0.0.1"), Some(Internal::Loopback));
        assert_eq!(of("0.0.0.0"), Some(Internal::Loopback));
        assert_eq!(of("169.254.169.254"), Some(Internal::LinkLocal));
        for s in [
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.100.100.200",
            "192.0.0.192",
        ] {
            assert_eq!(of(s), Some(Internal::Private), "{s}");
        }
        // The rest of 0.0.0.0/8 is not routable: a connection to it fails.
        for s in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "192.0.2.1",
            "1.1.1.1",
            "0.171.205.239",
        ] {
            assert_eq!(of(s), None, "{s}");
        }
    }

    #[test]
    fn ipv6_and_ipv4_inside_ipv6() {
        for (s, want) in [
            ("[::1]", Internal::Loopback),
            ("[::]", Internal::Loopback),
            ("[::ffff:127.0.0.1]", Internal::Loopback),
            ("[::ffff:7f00:1]", Internal::Loopback),
            ("[::ffff:a9fe:a9fe]", Internal::LinkLocal),
            ("[::127.0.0.1]", Internal::Loopback),
            ("[64:ff9b::a9fe:a9fe]", Internal::LinkLocal),
            ("[2002:a9fe:a9fe::1]", Internal::LinkLocal),
            ("[fd00:ec2::254]", Internal::Private),
            ("[fe80::1%eth0]", Internal::LinkLocal),
        ] {
            assert_eq!(of(s), Some(want), "{s}");
        }
        assert_eq!(of("[2606:4700::1111]"), None);
        assert_eq!(of("[::ffff:8.8.8.8]"), None);
        assert_eq!(of("[not-an-address]"), None);
    }

    #[test]
    fn an_overflowing_number_is_judged_as_truncating_parsers_read_it() {
        assert_eq!(of("7147006462"), Some(Internal::LinkLocal));
        assert_eq!(of("4294967296"), Some(Internal::Loopback)); // 2^32 wraps to 0.0.0.0
        assert_eq!(of("4294967297"), None); // 0.0.0.1
    }

    #[test]
    fn names_that_resolve_inside() {
        for s in [
            "localhost",
            "localhost.",
            "api.localhost",
            "metadata.google.internal",
            "host.docker.internal",
            "localtest.me",
            "x.lvh.me",
            "127.0.0.1.nip.io",
            "app.10.0.0.5.nip.io",
            "app-169-254-169-254.sslip.io",
            "7f000001.nip.io",
        ] {
            assert_eq!(of(s), Some(Internal::Name), "{s}");
        }
    }

    #[test]
    fn public_names_are_not_internal() {
        for s in [
            "hl7.org",
            "terminology.hl7.org",
            "fhir.example.com",
            "notlocalhost.com",
            "internal.example.com",
            "8.8.8.8.nip.io",
            "app-52-1-2-3.sslip.io",
            "nip.io",
        ] {
            assert_eq!(of(s), None, "{s}");
        }
    }
}
