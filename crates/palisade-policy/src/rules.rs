//! Rule update settings (issue #10): where signed ruleset bundles come from.

use std::path::PathBuf;
use std::time::Duration;

use crate::{settings, values, ConfigError, Resolver};

/// Default time between polls of the rules URL ([`settings::RULES_POLL_INTERVAL`]).
pub const DEFAULT_RULES_POLL_INTERVAL: Duration = Duration::from_secs(15 * 60);

/// Ruleset bundle settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesPolicy {
    /// URL polled for bundles (`http://` or `https://`), if any.
    pub url: Option<String>,
    /// Time between polls.
    pub poll_interval: Duration,
    /// One more trusted Ed25519 public key, 64 hex digits.
    pub pubkey: Option<String>,
    /// Bundle file loaded at boot.
    pub bundle: Option<PathBuf>,
}

impl Default for RulesPolicy {
    fn default() -> Self {
        RulesPolicy {
            url: None,
            poll_interval: DEFAULT_RULES_POLL_INTERVAL,
            pubkey: None,
            bundle: None,
        }
    }
}

fn parse_url(t: &str) -> Result<String, String> {
    let allowed = || {
        "an http:// or https:// URL with a host and no credentials or spaces, e.g. https://rules.example.org/palisade.bundle"
            .to_string()
    };
    let t = t.trim();
    let lower = t.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or_else(allowed)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty()
        || authority.contains('@')
        || t.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(allowed());
    }
    Ok(t.to_string())
}

fn parse_pubkey(t: &str) -> Result<String, String> {
    let t = t.trim();
    if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(t.to_ascii_lowercase())
    } else {
        Err("an Ed25519 public key as 64 hex digits (`palisade rules keygen` prints one)".into())
    }
}

fn parse_path(t: &str) -> Result<PathBuf, String> {
    if t.trim().is_empty() {
        Err("a file path".into())
    } else {
        Ok(PathBuf::from(t.trim()))
    }
}

/// Reads the rule update settings.
pub(crate) fn resolve(r: &mut Resolver<'_>) -> Result<RulesPolicy, ConfigError> {
    use settings as s;
    let url = r.get_opt(s::RULES_URL, parse_url)?;
    let poll_interval = r.get(s::RULES_POLL_INTERVAL, DEFAULT_RULES_POLL_INTERVAL, |t| {
        values::parse_duration(t, Duration::from_secs(1), Duration::from_secs(24 * 3600))
    })?;
    let pubkey = r.get_opt(s::RULES_PUBKEY, parse_pubkey)?;
    let bundle = r.get_opt(s::RULES_BUNDLE, parse_path)?;
    Ok(RulesPolicy {
        url,
        poll_interval,
        pubkey,
        bundle,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::BTreeMap;

    use crate::{load, Inputs};

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Inputs {
        Inputs {
            env: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            file: None,
        }
    }

    #[test]
    fn defaults_poll_nothing() {
        let p = load(&env(&[])).unwrap();
        assert_eq!(p.rules, RulesPolicy::default());
    }

    #[test]
    fn reads_every_setting() {
        let key = "D14AB2644B7CB2483D224E875F193ACE61DBD10B9D64B62CE0EE4899A8A88BA6";
        let p = load(&env(&[
            ("PALISADE_RULES_URL", "http://127.0.0.1:8000/r.bundle"),
            ("PALISADE_RULES_POLL_INTERVAL", "1s"),
            ("PALISADE_RULES_PUBKEY", key),
            ("PALISADE_RULES_BUNDLE", ".palisade/rules.bundle"),
        ]))
        .unwrap();
        assert_eq!(
            p.rules.url.as_deref(),
            Some("http://127.0.0.1:8000/r.bundle")
        );
        assert_eq!(p.rules.poll_interval, Duration::from_secs(1));
        assert_eq!(
            p.rules.pubkey.as_deref(),
            Some(key.to_ascii_lowercase().as_str())
        );
        assert_eq!(
            p.rules.bundle,
            Some(PathBuf::from(".palisade/rules.bundle"))
        );
    }

    #[test]
    fn file_keys_work() {
        let inputs = Inputs {
            env: BTreeMap::new(),
            file: Some((
                PathBuf::from("palisade.yml"),
                "rules_url: https://rules.example.org/p.bundle\nrules_poll_interval: 1h\n".into(),
            )),
        };
        let p = load(&inputs).unwrap();
        assert_eq!(
            p.rules.url.as_deref(),
            Some("https://rules.example.org/p.bundle")
        );
        assert_eq!(p.rules.poll_interval, Duration::from_secs(3600));
    }

    #[test]
    fn bad_values_name_variable_value_and_allowed() {
        for (var, value, allowed) in [
            ("PALISADE_RULES_URL", "ftp://x/y", "http:// or https://"),
            (
                "PALISADE_RULES_URL",
                "https://user:pw@x/y",
                "no credentials",
            ),
            ("PALISADE_RULES_POLL_INTERVAL", "500ms", "from 1s to 24h"),
            ("PALISADE_RULES_POLL_INTERVAL", "2d", "from 1s to 24h"),
            ("PALISADE_RULES_PUBKEY", "abcd", "64 hex digits"),
        ] {
            let msg = load(&env(&[(var, value)])).unwrap_err().to_string();
            assert!(msg.contains(var) && msg.contains(allowed), "{msg}");
        }
    }
}
