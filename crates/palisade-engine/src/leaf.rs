//! Leaves: the `(location, name, value)` triples every request is broken into before matching.

/// Where a leaf came from. Each location is one bit in a rule's target mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Location {
    /// The request method.
    Method,
    /// The raw path (before `?`), still percent-encoded.
    Path,
    /// A query-string value.
    Query,
    /// A urlencoded form body value.
    Form,
    /// A JSON string leaf (or number/bool rendered as text).
    Json,
    /// XML text or attribute value.
    Xml,
    /// A multipart form field value (or file content when policy inspects files).
    Multipart,
    /// An HL7 v2 ER7 field.
    Hl7,
    /// A parameter name: query, form or multipart field name, or JSON object key.
    ArgName,
    /// A request header value (other than `Cookie`).
    Header,
    /// A cookie value.
    Cookie,
    /// A cookie name.
    CookieName,
    /// An uploaded file's name.
    Filename,
    /// A body not decoded into fields (plain text, unknown types) or its raw form.
    Body,
}

impl Location {
    /// Target-mask bit of this location.
    pub const fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// Prefix used in target names (`"args"` in `"args:q"`).
    pub fn prefix(self) -> &'static str {
        match self {
            Location::Method => "method",
            Location::Path => "path",
            Location::Query => "args",
            Location::Form => "form",
            Location::Json => "json",
            Location::Xml => "xml",
            Location::Multipart => "multipart",
            Location::Hl7 => "hl7",
            Location::ArgName => "args_names",
            Location::Header => "headers",
            Location::Cookie => "cookies",
            Location::CookieName => "cookie_names",
            Location::Filename => "filenames",
            Location::Body => "body",
        }
    }

    /// Whether target names of this location carry a name part (`args:q` vs `path`).
    pub fn has_name(self) -> bool {
        !matches!(self, Location::Method | Location::Path | Location::Body)
    }
}

/// All argument-value locations (what the `args` target means).
pub const ARGS_MASK: u32 = Location::Query.bit()
    | Location::Form.bit()
    | Location::Json.bit()
    | Location::Xml.bit()
    | Location::Multipart.bit()
    | Location::Hl7.bit();

/// What kind of field a leaf is, from its name and container (see `fields.rs`). Rules can skip
/// field kinds where their category makes no sense (e.g. RFI on a `redirect_uri`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// Anything not typed below.
    Generic,
    /// A field that holds a URL by specification (FHIR `url`/`system`/`reference`, OAuth
    /// `redirect_uri`, `aud`, `iss`, …).
    Url,
    /// Rich text markup allowed by specification (FHIR `text.div`, C-CDA narrative).
    Narrative,
    /// Free clinical text (notes, `display`, `valueString`, …).
    FreeText,
    /// OAuth/SMART scope list.
    Scope,
    /// An OAuth/OIDC redirect target (`redirect_uri`, `post_logout_redirect_uri`): a URL where
    /// loopback hosts are legitimate (native and development clients). Skipping `url` in a rule
    /// also skips `redirect`.
    Redirect,
}

impl FieldKind {
    /// Mask bit of this kind.
    pub const fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// YAML name.
    pub fn name(self) -> &'static str {
        match self {
            FieldKind::Generic => "generic",
            FieldKind::Url => "url",
            FieldKind::Narrative => "narrative",
            FieldKind::FreeText => "free_text",
            FieldKind::Scope => "scope",
            FieldKind::Redirect => "redirect",
        }
    }

    /// Parses a YAML name.
    pub fn from_name(s: &str) -> Option<FieldKind> {
        [
            FieldKind::Generic,
            FieldKind::Url,
            FieldKind::Narrative,
            FieldKind::FreeText,
            FieldKind::Scope,
            FieldKind::Redirect,
        ]
        .into_iter()
        .find(|k| k.name() == s)
    }
}

/// One inspected value.
#[derive(Debug, Clone, Copy)]
pub struct Leaf<'a> {
    /// Where it came from.
    pub location: Location,
    /// Its name within the location (parameter, header, JSON path); empty for path/body.
    pub name: &'a str,
    /// The value (decoded by its container: form `+`/`%`, JSON escapes, XML entities).
    pub value: &'a [u8],
    /// Field typing.
    pub field: FieldKind,
}

impl Leaf<'_> {
    /// The audit-log target name, e.g. `args:q`, `json:$.a.b`, `path`.
    pub fn target_name(&self) -> String {
        if self.location.has_name() {
            format!("{}:{}", self.location.prefix(), self.name)
        } else {
            self.location.prefix().to_string()
        }
    }
}
