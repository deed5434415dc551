//! Country allow/block rules for one scope (global or a path rule).

use crate::config::UnknownCountry;
use crate::country::{CountryCode, CountrySet};
use crate::error::ConfigError;
use crate::request::GeoRule;

#[derive(Debug, Default)]
pub(crate) struct CountryPolicy {
    allow: CountrySet,
    block: CountrySet,
    unknown: Option<UnknownCountry>,
}

impl CountryPolicy {
    pub(crate) fn new(
        allow: &[CountryCode],
        block: &[CountryCode],
        unknown: Option<UnknownCountry>,
        scope: &str,
    ) -> Result<Self, ConfigError> {
        if !allow.is_empty() && !block.is_empty() {
            return Err(ConfigError::new(
                "geo countries",
                scope,
                "set either allow_countries or block_countries for one scope, not both",
            ));
        }
        Ok(CountryPolicy {
            allow: allow.iter().copied().collect(),
            block: block.iter().copied().collect(),
            unknown,
        })
    }

    pub(crate) fn describe(&self) -> String {
        let list = |set: &CountrySet| {
            (0..26u8)
                .flat_map(|a| (0..26u8).map(move |b| [b'A' + a, b'A' + b]))
                .filter_map(|c| CountryCode::from_bytes(&c))
                .filter(|c| set.contains(*c))
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut parts = Vec::new();
        if !self.allow.is_empty() {
            parts.push(format!("allow {}", list(&self.allow)));
        }
        if !self.block.is_empty() {
            parts.push(format!("block {}", list(&self.block)));
        }
        parts.push(format!(
            "unknown {:?}",
            self.unknown.unwrap_or(if self.allow.is_empty() {
                UnknownCountry::Allow
            } else {
                UnknownCountry::Block
            })
        ));
        parts.join(", ")
    }

    pub(crate) fn is_active(&self) -> bool {
        !self.allow.is_empty()
            || !self.block.is_empty()
            || self.unknown == Some(UnknownCountry::Block)
    }

    pub(crate) fn judge(&self, country: Option<CountryCode>) -> Option<GeoRule> {
        match country {
            None => {
                let default = if self.allow.is_empty() {
                    UnknownCountry::Allow
                } else {
                    UnknownCountry::Block
                };
                (self.unknown.unwrap_or(default) == UnknownCountry::Block)
                    .then_some(GeoRule::Unknown)
            }
            Some(c) if self.block.contains(c) => Some(GeoRule::Blocked),
            Some(c) if !self.allow.is_empty() && !self.allow.contains(c) => {
                Some(GeoRule::NotAllowed)
            }
            Some(_) => None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cc(s: &str) -> CountryCode {
        s.parse().unwrap()
    }

    #[test]
    fn allow_list_with_default_unknown_policy() {
        let p = CountryPolicy::new(&[cc("US")], &[], None, "global").unwrap();
        assert!(p.is_active());
        assert_eq!(p.judge(Some(cc("US"))), None);
        assert_eq!(p.judge(Some(cc("FR"))), Some(GeoRule::NotAllowed));
        assert_eq!(p.judge(None), Some(GeoRule::Unknown));
        let lenient =
            CountryPolicy::new(&[cc("US")], &[], Some(UnknownCountry::Allow), "g").unwrap();
        assert_eq!(lenient.judge(None), None);
    }

    #[test]
    fn block_list_with_default_unknown_policy() {
        let p = CountryPolicy::new(&[], &[cc("KP")], None, "global").unwrap();
        assert_eq!(p.judge(Some(cc("KP"))), Some(GeoRule::Blocked));
        assert_eq!(p.judge(Some(cc("FR"))), None);
        assert_eq!(p.judge(None), None);
        let strict =
            CountryPolicy::new(&[], &[cc("KP")], Some(UnknownCountry::Block), "g").unwrap();
        assert_eq!(strict.judge(None), Some(GeoRule::Unknown));
        assert!(strict.describe().contains("block KP"));
    }

    #[test]
    fn inactive_and_conflicting() {
        assert!(!CountryPolicy::default().is_active());
        assert_eq!(CountryPolicy::default().judge(None), None);
        let err = CountryPolicy::new(&[cc("US")], &[cc("KP")], None, "/x").unwrap_err();
        assert_eq!(err.value, "/x");
    }
}
