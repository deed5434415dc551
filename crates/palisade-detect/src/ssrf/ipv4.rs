//! The IPv4 host syntax URL parsers and resolvers actually accept, not just dotted quads.
//!
//! The WHATWG URL standard (Node's `URL`, undici `fetch`, browsers) and libc's `inet_aton` (what
//! `getaddrinfo`, and so curl, Python `requests` and Ruby `Net::HTTP`, fall back to) read a host
//! of one to four dot-separated numbers, each decimal, octal (leading `0`) or hexadecimal (`0x`),
//! the last one filling the remaining bytes. So `127.1`, `0177.0.0.1`, `0x7f.1`, `2130706433` and
//! `0x7f000001` all name 127.0.0.1. A WAF that only knows the dotted quad lets them through.

/// What a host string is, read as the URL standard's IPv4 parser reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ipv4Host {
    /// Not an IPv4 address: its last label is not a number, so it is a DNS name.
    Name,
    /// An IPv4 address (host byte order).
    Address(u32),
    /// Ends in a number but is not a valid address (`1.2.3.4.5`, `08`, `256.1.1.1`): parsers
    /// refuse it, so it reaches nothing.
    Invalid,
}

/// Reads `host` (ASCII, already lower-cased and percent-decoded) with the URL standard's IPv4
/// parser (WHATWG URL §3.5 "IPv4 parser" and "ends in a number checker").
pub(crate) fn parse(host: &[u8]) -> Ipv4Host {
    let host = host.strip_suffix(b".").unwrap_or(host);
    let last = host.rsplit(|&b| b == b'.').next().unwrap_or(host);
    let ends_in_number = !last.is_empty()
        && (last.iter().all(u8::is_ascii_digit)
            || (last.len() >= 2
                && last[..2].eq_ignore_ascii_case(b"0x")
                && last[2..].iter().all(u8::is_ascii_hexdigit)));
    if !ends_in_number {
        return Ipv4Host::Name;
    }
    let mut numbers = [0u64; 4];
    let mut count = 0;
    for part in host.split(|&b| b == b'.') {
        if count == 4 {
            return Ipv4Host::Invalid;
        }
        let Some(n) = number(part) else {
            return Ipv4Host::Invalid;
        };
        numbers[count] = n;
        count += 1;
    }
    let (init, last) = numbers[..count].split_at(count - 1);
    if init.iter().any(|&n| n > 255) {
        return Ipv4Host::Invalid;
    }
    // The last number fills the bytes the others left: 8 × (5 − count) bits.
    let last = last[0];
    if last >= 1u64 << (8 * (5 - count)) {
        return Ipv4Host::Invalid;
    }
    let mut address = last;
    for (i, &n) in init.iter().enumerate() {
        address |= n << (8 * (3 - i));
    }
    u32::try_from(address).map_or(Ipv4Host::Invalid, Ipv4Host::Address)
}

/// The reading of a parser that keeps only the low 32 bits of a one-number host that
/// overflows (`strtoul` into a 64-bit `unsigned long`, then a cast): `7147006462` is
/// 169.254.169.254 to it. `None` unless `host` is a single overflowing number.
pub(crate) fn parse_truncating(host: &[u8]) -> Option<u32> {
    let host = host.strip_suffix(b".").unwrap_or(host);
    if host.contains(&b'.') || number(host).is_some() {
        return None;
    }
    let (digits, radix) = match host {
        [b'0', b'x' | b'X', rest @ ..] => (rest, 16u64),
        [b'0', rest @ ..] => (rest, 8),
        _ => (host, 10),
    };
    let mut n: u64 = 0;
    for &b in digits {
        let d = char::from(b).to_digit(radix as u32)?;
        n = n.wrapping_mul(radix).wrapping_add(u64::from(d));
    }
    (!digits.is_empty()).then_some(n as u32)
}

/// One part: `0x…` hexadecimal (`0x` alone is 0), `0…` octal, else decimal. `None` when empty,
/// when a digit is outside the radix, or past 2^32 (no valid address has such a part).
fn number(part: &[u8]) -> Option<u64> {
    let (digits, radix) = if part.len() >= 2 && part[..2].eq_ignore_ascii_case(b"0x") {
        (&part[2..], 16)
    } else if part.len() >= 2 && part[0] == b'0' {
        (&part[1..], 8)
    } else if part.is_empty() {
        return None;
    } else {
        (part, 10)
    };
    let mut n: u64 = 0;
    for &b in digits {
        let d = char::from(b).to_digit(radix)?;
        n = n * u64::from(radix) + u64::from(d);
        if n > u64::from(u32::MAX) {
            return None;
        }
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Ipv4Host {
        parse(s.as_bytes())
    }

    const LOOPBACK: Ipv4Host = Ipv4Host::Address(0x7f00_0001);

    #[test]
    fn every_spelling_of_loopback_is_loopback() {
        for s in [
            "127.0.0.1",
            "127.1",
            "127.0.1",
            "0177.0.0.1",
            "0177.1",
            "0x7f.1",
            "0x7F.0.0.0x1",
            "2130706433",
            "0x7f000001",
            "017700000001",
            "127.0.0.1.",
            "0x7f.0x0.0x0.0x1",
        ] {
            assert_eq!(addr(s), LOOPBACK, "{s}");
        }
    }

    #[test]
    fn zero_and_the_bare_hex_prefix_are_numbers() {
        assert_eq!(addr("0"), Ipv4Host::Address(0));
        assert_eq!(addr("0x"), Ipv4Host::Address(0));
        assert_eq!(addr("0.0.0.0"), Ipv4Host::Address(0));
    }

    #[test]
    fn names_are_names_even_with_numbers_inside() {
        for s in [
            "example.com",
            "127.0.0.1.example",
            "10.0.0.1.nip.io",
            "localhost",
            "0x7g",
            "1a",
        ] {
            assert_eq!(addr(s), Ipv4Host::Name, "{s}");
        }
    }

    #[test]
    fn out_of_range_or_misspelt_numbers_are_invalid_not_addresses() {
        for s in [
            "1.2.3.4.5",
            "256.1.1.1",
            "08",
            "1.2.3.256",
            "4294967296",
            "1..2",
            "0x1.0x100.1",
            "99999999999999999999",
        ] {
            assert_eq!(addr(s), Ipv4Host::Invalid, "{s}");
        }
        assert_eq!(addr("4294967295"), Ipv4Host::Address(u32::MAX));
        assert_eq!(addr("1.16777215"), Ipv4Host::Address(0x01ff_ffff));
    }

    #[test]
    fn truncating_parsers_keep_the_low_32_bits_of_one_long_number() {
        assert_eq!(parse_truncating(b"7147006462"), Some(0xa9fe_a9fe));
        assert_eq!(parse_truncating(b"0x41414141A9FEA9FE"), Some(0xa9fe_a9fe));
        assert_eq!(
            parse_truncating(b"99999999999999999999999"),
            Some(99999999999999999999999u128 as u32)
        );
        // Valid addresses and dotted or non-numeric hosts have no second reading.
        assert_eq!(parse_truncating(b"2130706433"), None);
        assert_eq!(parse_truncating(b"1.2.3.4.5"), None);
        assert_eq!(parse_truncating(b"example"), None);
        assert_eq!(parse_truncating(b"0x"), None);
    }
}
