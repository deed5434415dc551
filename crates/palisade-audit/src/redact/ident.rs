//! Recognises tokens that look like identifiers (the things HIPAA's Safe Harbor list names: record
//! numbers, account numbers, SSNs, dates, e-mail addresses, device serials) so paths can be masked.

/// What kind of identifier a token looks like; its placeholder replaces it in a masked path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentifierKind {
    /// All digits: a numeric record id, a year, a page number.
    Number,
    /// A canonical 8-4-4-4-12 hexadecimal UUID.
    Uuid,
    /// Something with an `@`: an e-mail address or user handle.
    Email,
    /// A token with three or more digits mixed with other characters: MRNs (`MRN0012345`), SSNs
    /// (`123-45-6789`), dates (`1984-02-29`), phone numbers, file names carrying them.
    MixedId,
    /// A long hexadecimal token (16+ hex digits): hashes, API keys, session ids.
    HexToken,
}

impl IdentifierKind {
    /// The placeholder written in place of the token.
    pub fn placeholder(self) -> &'static str {
        match self {
            IdentifierKind::Number => "{n}",
            IdentifierKind::Uuid => "{uuid}",
            IdentifierKind::Email => "{email}",
            IdentifierKind::MixedId => "{id}",
            IdentifierKind::HexToken => "{token}",
        }
    }
}

/// Classifies one path segment or parameter name; `None` means it reads like an ordinary word
/// (`patients`, `v2`, `index.html`) and is kept.
pub fn classify_identifier(token: &str) -> Option<IdentifierKind> {
    if token.is_empty() {
        return None;
    }
    let bytes = token.as_bytes();
    if token.contains('@') || contains_ignore_ascii_case(bytes, b"%40") {
        return Some(IdentifierKind::Email);
    }
    let digits = bytes.iter().filter(|b| b.is_ascii_digit()).count();
    if digits == bytes.len() {
        return Some(IdentifierKind::Number);
    }
    if is_uuid(bytes) {
        return Some(IdentifierKind::Uuid);
    }
    if bytes.len() >= 16 && bytes.iter().all(u8::is_ascii_hexdigit) {
        return Some(IdentifierKind::HexToken);
    }
    if digits >= 3 {
        return Some(IdentifierKind::MixedId);
    }
    None
}

fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn contains_ignore_ascii_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_recognised() {
        let cases = [
            ("12345", IdentifierKind::Number),
            ("7", IdentifierKind::Number),
            ("3f2504e0-4f89-11d3-9a0c-0305e82c3301", IdentifierKind::Uuid),
            ("jane.doe@example.org", IdentifierKind::Email),
            ("jane.doe%40example.org", IdentifierKind::Email),
            ("MRN0012345", IdentifierKind::MixedId),
            ("123-45-6789", IdentifierKind::MixedId),
            ("1984-02-29", IdentifierKind::MixedId),
            ("scan-2024.pdf", IdentifierKind::MixedId),
            ("deadbeefdeadbeef", IdentifierKind::HexToken),
        ];
        for (token, kind) in cases {
            assert_eq!(classify_identifier(token), Some(kind), "{token}");
        }
    }

    #[test]
    fn ordinary_words_are_kept() {
        for token in [
            "",
            "patients",
            "v2",
            "oauth2",
            "index.html",
            "api",
            "deadbeef",
            "E11",
        ] {
            assert_eq!(classify_identifier(token), None, "{token}");
        }
    }
}
