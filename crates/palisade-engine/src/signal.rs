//! Signals: findings raised by decoders and the request model (malformed bodies, XXE markers,
//! double encoding, limits). Rules match them with `signal: <name>`, so scoring stays policy.

/// A finding that is not a pattern match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// A value that is still percent-encoded after one decode (`%252e`).
    DoubleEncoding,
    /// A NUL byte in a decoded value.
    NullByte,
    /// Overlong UTF-8 (`%c0%ae`) in a value.
    OverlongUtf8,
    /// A JSON body that does not parse.
    JsonMalformed,
    /// A JSON body deeper than the nesting limit.
    JsonTooDeep,
    /// An XML body that does not parse.
    XmlMalformed,
    /// An XML body with a `<!DOCTYPE` declaration.
    XmlDoctype,
    /// An XML body declaring entities (`<!ENTITY`).
    XmlEntity,
    /// An XML entity with `SYSTEM` or `PUBLIC` (external entity: XXE).
    XmlExternalEntity,
    /// XML holding script-capable markup (`script`, `iframe`, `on*` attributes, …).
    XmlActiveContent,
    /// A multipart body that does not parse (missing boundary, unterminated, bad part headers).
    MultipartMalformed,
    /// A multipart body with ambiguous framing (duplicate or quoted-odd parameters, data
    /// outside parts) that parsers disagree on.
    MultipartAmbiguous,
    /// A urlencoded body or query with invalid percent escapes.
    InvalidUrlEncoding,
    /// Too many leaves: the rest of the request was not inspected.
    LeafLimit,
    /// A request-target that is not origin-form, absolute-form, `*` or authority-form.
    InvalidTarget,
    /// A header value holding CR or LF (smuggling / response splitting).
    HeaderNewline,
    /// No `Host` header.
    MissingHost,
    /// `Host` is a numeric IP address.
    HostIsIp,
    /// A control character in the request path.
    PathControlChar,
    /// A body charset other than utf-8, iso-8859-1/15, windows-1252 or us-ascii.
    UnsupportedCharset,
    /// Both `Content-Length` and `Transfer-Encoding`, or repeated/invalid `Content-Length`.
    AmbiguousLength,
    /// A body on a method that never has one (GET/HEAD) or a `Content-Length` that is not a
    /// number.
    InvalidContentLength,
    /// A body compressed with a coding the engine does not undo (`br`, `zstd`, two codings).
    UnsupportedContentEncoding,
    /// A `gzip` / `deflate` body that does not inflate whole (corrupt, truncated, trailing bytes).
    ContentEncodingMalformed,
    /// A `gzip` / `deflate` body that inflates past `max_inspect_body`.
    ContentEncodingTooLarge,
    /// Two different `Content-Type` fields on a request with a body: apps differ on which one
    /// they use (Node keeps the first, servers that join fields read a list), so the body may be
    /// read unlike it was inspected.
    DuplicateContentType,
    /// An `X-Original-URL` or `X-Rewrite-URL` header: Symfony and IIS-era stacks route by it
    /// instead of the request line, past path-based access control (CVE-2018-14773). No browser
    /// or router sends one.
    PathOverrideHeader,
    /// A JSON Web Token whose header says `"alg": "none"`: unsigned, accepted as anyone's by
    /// libraries that honour the token's own algorithm.
    JwtAlgNone,
}

impl Signal {
    /// Every signal (for validation messages and docs).
    pub const ALL: &'static [Signal] = &[
        Signal::DoubleEncoding,
        Signal::NullByte,
        Signal::OverlongUtf8,
        Signal::JsonMalformed,
        Signal::JsonTooDeep,
        Signal::XmlMalformed,
        Signal::XmlDoctype,
        Signal::XmlEntity,
        Signal::XmlExternalEntity,
        Signal::XmlActiveContent,
        Signal::MultipartMalformed,
        Signal::MultipartAmbiguous,
        Signal::InvalidUrlEncoding,
        Signal::LeafLimit,
        Signal::InvalidTarget,
        Signal::HeaderNewline,
        Signal::MissingHost,
        Signal::HostIsIp,
        Signal::PathControlChar,
        Signal::UnsupportedCharset,
        Signal::AmbiguousLength,
        Signal::InvalidContentLength,
        Signal::UnsupportedContentEncoding,
        Signal::ContentEncodingMalformed,
        Signal::ContentEncodingTooLarge,
        Signal::DuplicateContentType,
        Signal::PathOverrideHeader,
        Signal::JwtAlgNone,
    ];

    /// YAML name.
    pub fn name(self) -> &'static str {
        match self {
            Signal::DoubleEncoding => "double_encoding",
            Signal::NullByte => "null_byte",
            Signal::OverlongUtf8 => "overlong_utf8",
            Signal::JsonMalformed => "json_malformed",
            Signal::JsonTooDeep => "json_too_deep",
            Signal::XmlMalformed => "xml_malformed",
            Signal::XmlDoctype => "xml_doctype",
            Signal::XmlEntity => "xml_entity",
            Signal::XmlExternalEntity => "xml_external_entity",
            Signal::XmlActiveContent => "xml_active_content",
            Signal::MultipartMalformed => "multipart_malformed",
            Signal::MultipartAmbiguous => "multipart_ambiguous",
            Signal::InvalidUrlEncoding => "invalid_url_encoding",
            Signal::LeafLimit => "leaf_limit",
            Signal::InvalidTarget => "invalid_target",
            Signal::HeaderNewline => "header_newline",
            Signal::MissingHost => "missing_host",
            Signal::HostIsIp => "host_is_ip",
            Signal::PathControlChar => "path_control_char",
            Signal::UnsupportedCharset => "unsupported_charset",
            Signal::AmbiguousLength => "ambiguous_length",
            Signal::InvalidContentLength => "invalid_content_length",
            Signal::UnsupportedContentEncoding => "unsupported_content_encoding",
            Signal::ContentEncodingMalformed => "content_encoding_malformed",
            Signal::ContentEncodingTooLarge => "content_encoding_too_large",
            Signal::DuplicateContentType => "duplicate_content_type",
            Signal::PathOverrideHeader => "path_override_header",
            Signal::JwtAlgNone => "jwt_alg_none",
        }
    }

    /// Parses a YAML name.
    pub fn from_name(s: &str) -> Option<Signal> {
        Signal::ALL.iter().copied().find(|x| x.name() == s)
    }

    /// Index for per-signal tables.
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_indexes_dense() {
        for (i, &s) in Signal::ALL.iter().enumerate() {
            assert_eq!(Signal::from_name(s.name()), Some(s));
            assert_eq!(s.index(), i);
        }
    }
}
