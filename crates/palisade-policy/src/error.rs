//! Configuration errors: every one names where the bad value came from, the value, and what is allowed.

use std::fmt;

/// Where a configuration value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An environment variable (a Heroku config var), by name.
    Env(String),
    /// A key in `palisade.yml`, with the file path.
    File {
        /// Path of the configuration file.
        path: String,
        /// Dotted key, e.g. `hsts.max_age`.
        key: String,
        /// 1-based line of the key, when found.
        line: Option<usize>,
    },
    /// The built-in default.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Env(name) => write!(f, "config var {name}"),
            Source::File {
                path,
                key,
                line: Some(line),
            } => write!(f, "{path} line {line}: key `{key}`"),
            Source::File { path, key, .. } => write!(f, "{path}: key `{key}`"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// Why the configuration was refused. Palisade never starts with a configuration that produced one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// A value that does not parse or is out of range.
    Invalid {
        /// Where the value came from.
        source: Source,
        /// The offending value, as given.
        value: String,
        /// What would have been accepted.
        allowed: String,
    },
    /// `palisade.yml` is not valid YAML or has an unknown key / wrong type; serde_yaml's message
    /// carries the line and column.
    File {
        /// Path of the configuration file.
        path: String,
        /// Parser message (includes `at line L column C`).
        message: String,
    },
    /// The configuration file could not be read.
    Io {
        /// Path of the configuration file.
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// Two settings that cannot be combined.
    Conflict {
        /// Human explanation naming both settings and the fix.
        message: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Invalid {
                source,
                value,
                allowed,
            } => write!(f, "{source}: invalid value {value:?}; allowed: {allowed}"),
            ConfigError::File { path, message } => write!(f, "{path}: {message}"),
            ConfigError::Io { path, message } => write!(f, "{path}: cannot read: {message}"),
            ConfigError::Conflict { message } => f.write_str(message),
        }
    }
}

impl std::error::Error for ConfigError {}
