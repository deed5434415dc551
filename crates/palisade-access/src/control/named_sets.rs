//! Networks from several named sources (inline config, list files).

use std::net::IpAddr;
use std::sync::Arc;

use crate::config::IpListConfig;
use crate::error::{AccessError, ConfigError};
use crate::ipset::{parse_net, IpSet, IpSetBuilder};

/// Networks from several sources, each named for the audit reason, plus their union for a fast
/// negative answer.
#[derive(Debug, Default)]
pub(crate) struct NamedSets {
    pub(crate) any: IpSet,
    pub(crate) sources: Vec<(Arc<str>, IpSet)>,
}

impl NamedSets {
    pub(crate) fn load(cfg: &IpListConfig, setting: &'static str) -> Result<Self, AccessError> {
        let mut sources = Vec::new();
        let mut any = IpSetBuilder::new();
        if !cfg.ips.is_empty() {
            let mut b = IpSetBuilder::new();
            for entry in &cfg.ips {
                let net = parse_net(entry.trim()).ok_or_else(|| {
                    ConfigError::new(
                        setting,
                        entry.clone(),
                        "expected an IP address or CIDR network such as `192.0.2.1`, \
                         `192.0.2.0/24` or `2001:db8::/32`",
                    )
                })?;
                b.insert(net);
                any.insert(net);
            }
            sources.push((Arc::from("config"), b.build()));
        }
        for path in &cfg.files {
            let mut b = IpSetBuilder::new();
            b.add_list_file(path)?;
            let set = b.build();
            any.insert_set(&set);
            sources.push((Arc::from(path.display().to_string()), set));
        }
        Ok(NamedSets {
            any: any.build(),
            sources,
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    pub(crate) fn find(&self, ip: IpAddr) -> Option<&Arc<str>> {
        if !self.any.contains(ip) {
            return None;
        }
        self.sources
            .iter()
            .find(|(_, set)| set.contains(ip))
            .map(|(name, _)| name)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_source_of_a_match() {
        let cfg = IpListConfig::from_ips(["192.0.2.0/24", "2001:db8::/32"]);
        let sets = NamedSets::load(&cfg, "block.ips").unwrap();
        assert!(!sets.is_empty());
        assert_eq!(
            sets.find("192.0.2.9".parse().unwrap()).map(|s| &**s),
            Some("config")
        );
        assert_eq!(
            sets.find("2001:db8::1".parse().unwrap()).map(|s| &**s),
            Some("config")
        );
        assert_eq!(sets.find("198.51.100.1".parse().unwrap()), None);
    }

    #[test]
    fn bad_inline_entry_names_the_setting() {
        let cfg = IpListConfig::from_ips(["192.0.2.0/24", "192.0.2.0/99"]);
        let err = NamedSets::load(&cfg, "trusted.ips")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("trusted.ips") && err.contains("192.0.2.0/99"),
            "{err}"
        );
    }

    #[test]
    fn empty_config_is_empty() {
        let sets = NamedSets::load(&IpListConfig::default(), "x").unwrap();
        assert!(sets.is_empty());
        assert_eq!(sets.find("192.0.2.1".parse().unwrap()), None);
    }
}
