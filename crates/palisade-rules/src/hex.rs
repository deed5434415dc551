//! Lower-case hex for digests, keys and signatures (the bundle format is text-friendly).

/// Encodes bytes as lower-case hex.
pub fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// Decodes exactly `N` bytes of hex (either case); `None` for any other input.
pub fn decode_array<const N: usize>(s: &str) -> Option<[u8; N]> {
    let s = s.as_bytes();
    if s.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let bytes = [0x00, 0x7f, 0x80, 0xff, 0x12];
        let s = encode(&bytes);
        assert_eq!(s, "007f80ff12");
        assert_eq!(decode_array::<5>(&s).unwrap(), bytes);
        assert_eq!(decode_array::<5>("007F80FF12").unwrap(), bytes);
        assert!(decode_array::<5>("007f80ff1").is_none());
        assert!(decode_array::<5>("007f80ff1g").is_none());
        assert!(decode_array::<4>(&s).is_none());
    }
}
