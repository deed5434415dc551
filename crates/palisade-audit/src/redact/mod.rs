//! Redaction helpers: every string that reaches an audit line passes through one of these.
//!
//! The event types have no field for query values, bodies, cookies or credential headers, so those can
//! never be logged. What *is* logged (path, parameter names, referrer, user agent, request id, a rule
//! hit's snippet) is bounded in length and, where it could carry an identifier, masked here. Each helper
//! is pure and allocation-light so the writer thread can apply it to every event.

mod ident;
mod path;
mod query;
mod referrer;
mod text;

pub use ident::{classify_identifier, IdentifierKind};
pub use path::{redact_path, redact_path_into, PATH_MAX_BYTES};
pub use query::{bound_param_names, query_param_names, MAX_PARAM_NAMES, PARAM_NAME_MAX_BYTES};
pub use referrer::{redact_referrer, REFERRER_MAX_BYTES};
pub use text::{
    bound_text, redact_snippet, sanitize_dyno, sanitize_request_id, scrub_controls, truncate_utf8,
    REQUEST_ID_MAX_BYTES, SNIPPET_MAX_BYTES, TRUNCATION_MARK, USER_AGENT_MAX_BYTES,
};
