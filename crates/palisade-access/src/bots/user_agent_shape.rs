//! Empty and malformed `User-Agent` values.

/// Longer user agents than this are treated as malformed (real browsers send under 512 bytes).
pub const MAX_USER_AGENT_LEN: usize = 2048;

/// What is wrong with a user agent's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserAgentShape {
    /// Present and plausible.
    Normal,
    /// Missing, empty or only whitespace.
    Empty,
    /// Control characters or oversize.
    Malformed,
}

/// Classifies a user agent.
pub fn classify(user_agent: Option<&[u8]>) -> UserAgentShape {
    let Some(ua) = user_agent else {
        return UserAgentShape::Empty;
    };
    if ua.iter().all(|b| b.is_ascii_whitespace()) {
        return UserAgentShape::Empty;
    }
    if ua.len() > MAX_USER_AGENT_LEN || ua.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return UserAgentShape::Malformed;
    }
    UserAgentShape::Normal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(classify(None), UserAgentShape::Empty);
        assert_eq!(classify(Some(b"")), UserAgentShape::Empty);
        assert_eq!(classify(Some(b"  \t")), UserAgentShape::Empty);
        assert_eq!(
            classify(Some(b"Mozilla/5.0\x00")),
            UserAgentShape::Malformed
        );
        assert_eq!(
            classify(Some(b"a\r\nX-Injected: 1")),
            UserAgentShape::Malformed
        );
        assert_eq!(classify(Some(&[b'a'; 3000])), UserAgentShape::Malformed);
        assert_eq!(classify(Some(b"curl/8.0")), UserAgentShape::Normal);
        assert_eq!(
            classify(Some("Mozilla/5.0 (ü)".as_bytes())),
            UserAgentShape::Normal
        );
    }
}
