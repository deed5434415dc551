//! [`AccessControl::describe`]: the effective policy as text, for `palisade check`.

use std::time::Duration;

use super::named_sets::NamedSets;
use super::AccessControl;
use crate::geo::AnonymousCategory;

impl AccessControl {
    /// A human-readable summary of the effective policy, one line per control, for
    /// `palisade check`. Contains no secrets (the Redis password is masked).
    pub fn describe(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let sets = |n: &NamedSets| {
            let names: Vec<&str> = n.sources.iter().map(|(name, _)| &**name).collect();
            format!("{} ranges from [{}]", n.any.ranges(), names.join(", "))
        };
        let _ = writeln!(out, "client ip: {:?}", self.identity.mode());
        let _ = writeln!(out, "trusted: {} ranges", self.trusted.ranges());
        if !self.allow.is_empty() {
            let _ = writeln!(out, "allow only: {}", sets(&self.allow));
        }
        if !self.block.is_empty() {
            let _ = writeln!(out, "block: {}", sets(&self.block));
        }
        for p in &self.paths {
            let _ = write!(out, "path {}:", p.scope);
            if !p.allow.is_empty() {
                let _ = write!(out, " allow only {};", sets(&p.allow));
            }
            if !p.block.is_empty() {
                let _ = write!(out, " block {};", sets(&p.block));
            }
            if p.geo.is_active() {
                let _ = write!(out, " {} countries;", p.geo.describe());
            }
            out.push('\n');
        }
        match &self.geo_db {
            Some(db) => {
                let _ = writeln!(
                    out,
                    "geo: {} ({})",
                    db.path().display(),
                    self.geo.describe()
                );
            }
            None => out.push_str("geo: off\n"),
        }
        let cats: Vec<&str> = AnonymousCategory::ALL
            .iter()
            .filter(|c| self.anon_block.contains(**c))
            .map(|c| c.as_str())
            .collect();
        if cats.is_empty() {
            out.push_str("anonymous networks: off\n");
        } else {
            let db = self.anon_db.as_ref().map_or("no database", |(_, p)| &**p);
            let _ = writeln!(
                out,
                "anonymous networks: block [{}] via {db} and {} list files",
                cats.join(", "),
                self.anon_lists.len()
            );
        }
        let b = self.bots.policy();
        let extra: Vec<&str> = b.extra_probe_paths.iter().map(|p| p.as_str()).collect();
        let _ = writeln!(
            out,
            "bots: scanners {:?}, probes {:?} (+[{}]), empty user agent {:?}, malformed user agent {:?}, ban score {}",
            b.scanners,
            b.probes,
            extra.join(", "),
            b.empty_user_agent,
            b.malformed_user_agent,
            self.bot_ban_score
        );
        if let Some(g) = &self.global_limit {
            let _ = writeln!(out, "rate limit global: {g} key Ip");
        }
        for r in &self.rates {
            let _ = writeln!(
                out,
                "rate limit {}: {} key {:?}",
                r.rule.name, r.rule.limit, r.rule.key
            );
        }
        match self.ban {
            Some(b) => {
                let _ = writeln!(
                    out,
                    "bans: after {} blocks within {:?}, for {:?}",
                    b.counter.threshold,
                    Duration::from_nanos(b.counter.window_ns),
                    Duration::from_nanos(b.duration_ns)
                );
            }
            None => out.push_str("bans: off\n"),
        }
        match &self.shared {
            Some(s) => {
                let _ = writeln!(out, "shared state: {} (timeout {:?})", s.url(), s.timeout());
            }
            None => out.push_str("shared state: per process\n"),
        }
        out
    }
}
