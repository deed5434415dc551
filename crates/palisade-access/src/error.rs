//! Error types: every message names the offending value (or file) and what is allowed.

use std::fmt;
use std::path::PathBuf;

/// A configuration value that could not be parsed or is out of range.
///
/// `what` names the setting (e.g. `rate rule`, `country code`), `value` is the text as given, and
/// `allowed` says what would have been accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The setting or kind of value, e.g. `"rate rule"`.
    pub what: &'static str,
    /// The offending value, as given.
    pub value: String,
    /// What is allowed instead.
    pub allowed: String,
}

impl ConfigError {
    /// Builds an error for `what` = `value`, explaining what is `allowed`.
    pub fn new(what: &'static str, value: impl Into<String>, allowed: impl Into<String>) -> Self {
        ConfigError {
            what,
            value: value.into(),
            allowed: allowed.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {} `{}`: {}",
            self.what, self.value, self.allowed
        )
    }
}

impl std::error::Error for ConfigError {}

/// Everything that can stop [`crate::AccessControl::new`] from building a policy.
#[derive(Debug)]
pub enum AccessError {
    /// A configuration value is invalid.
    Config(ConfigError),
    /// A list file or database could not be read.
    Io {
        /// The file that could not be read.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A line of an IP list file is not an address or CIDR.
    ListEntry {
        /// The list file (or `config` for inline values).
        source_name: String,
        /// 1-based line number.
        line: usize,
        /// The offending entry.
        entry: String,
    },
    /// A MaxMind-format database is corrupt or of the wrong kind.
    Database {
        /// The database file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessError::Config(e) => e.fmt(f),
            AccessError::Io { path, source } => {
                write!(f, "cannot read `{}`: {source}", path.display())
            }
            AccessError::ListEntry {
                source_name,
                line,
                entry,
            } => write!(
                f,
                "{source_name}:{line}: `{entry}` is not an IP address or CIDR network \
                 (expected e.g. `192.0.2.1`, `192.0.2.0/24`, `2001:db8::/32`; `#` and `;` start comments)"
            ),
            AccessError::Database { path, problem } => {
                write!(f, "MaxMind database `{}`: {problem}", path.display())
            }
        }
    }
}

impl std::error::Error for AccessError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AccessError::Config(e) => Some(e),
            AccessError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<ConfigError> for AccessError {
    fn from(e: ConfigError) -> Self {
        AccessError::Config(e)
    }
}
