//! [`IpSet`]: a set of IPv4 and IPv6 networks with a fast membership test.
//!
//! Networks are merged into sorted, non-overlapping address ranges; a lookup is one binary search
//! (about 17 comparisons for 100k ranges), so it stays well under a microsecond at any list size
//! and allocates nothing.

use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;

use crate::error::AccessError;

/// A set of IP networks (IPv4 and IPv6) built from CIDRs, addresses or list files.
///
/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) are looked up as the IPv4 address they carry.
#[derive(Debug, Clone, Default)]
pub struct IpSet {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
    entries: usize,
}

/// Collects networks, then [`IpSetBuilder::build`] merges them into an [`IpSet`].
#[derive(Debug, Default)]
pub struct IpSetBuilder {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
    entries: usize,
}

impl IpSetBuilder {
    /// A builder with no networks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one network.
    pub fn insert(&mut self, net: IpNet) {
        self.entries += 1;
        match net.trunc() {
            IpNet::V4(n) => {
                let start = u32::from(n.network());
                let end = u32::from(n.broadcast());
                self.v4.push((start, end));
            }
            IpNet::V6(n) => {
                // IPv4-mapped networks are stored as IPv4 so lookups of either form agree.
                if let Some(v4) = n.network().to_ipv4_mapped() {
                    if n.prefix_len() >= 96 {
                        let len = n.prefix_len() - 96;
                        if let Ok(n4) = ipnet::Ipv4Net::new(v4, len) {
                            self.entries -= 1;
                            self.insert(IpNet::V4(n4));
                            return;
                        }
                    }
                }
                let start = u128::from(n.network());
                let end = u128::from(n.broadcast());
                self.v6.push((start, end));
            }
        }
    }

    /// Adds every network of an existing set.
    pub fn insert_set(&mut self, set: &IpSet) {
        self.entries += set.entries;
        self.v4.extend_from_slice(&set.v4);
        self.v6.extend_from_slice(&set.v6);
    }

    /// Adds one address (a /32 or /128 network).
    pub fn insert_addr(&mut self, ip: IpAddr) {
        self.insert(IpNet::from(ip.to_canonical()));
    }

    /// Parses and adds every entry of a list text.
    ///
    /// One entry per line: an address or a CIDR, optionally followed by whitespace and anything else
    /// (so `ExitAddress`-style or annotated lines work when the address comes first). `#` and `;`
    /// start comments (FireHOL netsets, Spamhaus DROP). A line that does not start with an address
    /// is an error naming `source_name` and the line number: a half-read block list is worse than
    /// none, so we fail closed at startup instead of skipping.
    pub fn add_list_text(&mut self, text: &str, source_name: &str) -> Result<(), AccessError> {
        for (index, raw) in text.lines().enumerate() {
            let without_comment = match raw.find(['#', ';']) {
                Some(pos) => &raw[..pos],
                None => raw,
            };
            let Some(token) = without_comment.split_whitespace().next() else {
                continue;
            };
            let net = parse_net(token).ok_or_else(|| AccessError::ListEntry {
                source_name: source_name.to_owned(),
                line: index + 1,
                entry: truncate_for_error(token),
            })?;
            self.insert(net);
        }
        Ok(())
    }

    /// Reads a list file (see [`IpSetBuilder::add_list_text`]) and adds its entries.
    pub fn add_list_file(&mut self, path: &Path) -> Result<(), AccessError> {
        let text = std::fs::read_to_string(path).map_err(|source| AccessError::Io {
            path: path.to_owned(),
            source,
        })?;
        self.add_list_text(&text, &path.display().to_string())
    }

    /// Sorts and merges the collected networks.
    pub fn build(self) -> IpSet {
        IpSet {
            v4: merge(self.v4, |end| end.checked_add(1)),
            v6: merge(self.v6, |end| end.checked_add(1)),
            entries: self.entries,
        }
    }
}

fn truncate_for_error(token: &str) -> String {
    token.chars().take(80).collect()
}

/// Parses `192.0.2.1`, `192.0.2.0/24`, `2001:db8::/32` or `2001:db8::1`.
pub(crate) fn parse_net(token: &str) -> Option<IpNet> {
    if token.contains('/') {
        let (addr, len) = token.split_once('/')?;
        let addr: IpAddr = addr.parse().ok()?;
        let len: u8 = len.parse().ok()?;
        IpNet::new(addr, len).ok().map(|n| n.trunc())
    } else {
        token.parse::<IpAddr>().ok().map(IpNet::from)
    }
}

fn merge<T: Copy + Ord>(mut ranges: Vec<(T, T)>, next: impl Fn(T) -> Option<T>) -> Vec<(T, T)> {
    ranges.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        if let Some(last) = out.last_mut() {
            // Overlapping or directly adjacent ranges become one.
            let touches = match next(last.1) {
                Some(after) => start <= after,
                None => true,
            };
            if touches {
                if end > last.1 {
                    last.1 = end;
                }
                continue;
            }
        }
        out.push((start, end));
    }
    out.shrink_to_fit();
    out
}

fn lookup<T: Copy + Ord>(ranges: &[(T, T)], x: T) -> bool {
    let idx = ranges.partition_point(|r| r.0 <= x);
    idx > 0 && ranges[idx - 1].1 >= x
}

impl IpSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a set from networks.
    pub fn from_nets(nets: impl IntoIterator<Item = IpNet>) -> Self {
        let mut b = IpSetBuilder::new();
        for n in nets {
            b.insert(n);
        }
        b.build()
    }

    /// Parses a list text (see [`IpSetBuilder::add_list_text`]).
    pub fn parse_list(text: &str, source_name: &str) -> Result<Self, AccessError> {
        let mut b = IpSetBuilder::new();
        b.add_list_text(text, source_name)?;
        Ok(b.build())
    }

    /// True if `ip` is inside one of the networks.
    #[inline]
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip.to_canonical() {
            IpAddr::V4(v4) => lookup(&self.v4, u32::from(v4)),
            IpAddr::V6(v6) => lookup(&self.v6, u128::from(v6)),
        }
    }

    /// True if the set holds no network.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// How many entries were inserted (before merging).
    pub fn entries(&self) -> usize {
        self.entries
    }

    /// How many disjoint ranges the entries merged into.
    pub fn ranges(&self) -> usize {
        self.v4.len() + self.v6.len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn v4_and_v6_membership() {
        let set = IpSet::parse_list("10.0.0.0/8\n2001:db8::/32\n192.0.2.7\n", "t").unwrap();
        assert!(set.contains(ip("10.1.2.3")));
        assert!(set.contains(ip("10.255.255.255")));
        assert!(!set.contains(ip("11.0.0.0")));
        assert!(!set.contains(ip("9.255.255.255")));
        assert!(set.contains(ip("2001:db8:1::5")));
        assert!(!set.contains(ip("2001:db9::1")));
        assert!(set.contains(ip("192.0.2.7")));
        assert!(!set.contains(ip("192.0.2.8")));
        // IPv4-mapped IPv6 is judged as the IPv4 address it carries.
        assert!(set.contains(ip("::ffff:10.0.0.1")));
        assert!(!set.contains(ip("::ffff:11.0.0.1")));
    }

    #[test]
    fn comments_blank_lines_and_annotations() {
        let text =
            "# FireHOL style\n\n1.2.3.0/24 ; SBL123\n  5.6.7.8   # tor exit\n;only comment\n";
        let set = IpSet::parse_list(text, "list.txt").unwrap();
        assert_eq!(set.entries(), 2);
        assert!(set.contains(ip("1.2.3.200")));
        assert!(set.contains(ip("5.6.7.8")));
        assert!(!set.contains(ip("5.6.7.9")));
    }

    #[test]
    fn garbage_line_is_an_error_naming_file_and_line() {
        let err = IpSet::parse_list("1.2.3.4\nnot-an-ip\n", "tor.txt").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("tor.txt:2"), "{msg}");
        assert!(msg.contains("not-an-ip"), "{msg}");
        assert!(IpSet::parse_list("1.2.3.4/33", "x").is_err());
        assert!(IpSet::parse_list("1.2.3.4/", "x").is_err());
    }

    #[test]
    fn host_bits_are_truncated_and_ranges_merged() {
        let set = IpSet::parse_list("10.0.0.5/24\n10.0.1.0/24\n10.0.0.0/23\n", "x").unwrap();
        assert_eq!(set.ranges(), 1);
        assert!(set.contains(ip("10.0.1.255")));
        assert!(!set.contains(ip("10.0.2.0")));
    }

    #[test]
    fn full_ranges_do_not_overflow() {
        let set = IpSet::parse_list("0.0.0.0/0\n255.255.255.255\n::/0\n", "x").unwrap();
        assert!(set.contains(ip("255.255.255.255")));
        assert!(set.contains(ip("0.0.0.0")));
        assert!(set.contains(ip("ffff::1")));
    }

    #[test]
    fn mapped_network_entries_match_ipv4() {
        let set = IpSet::parse_list("::ffff:10.0.0.0/104\n", "x").unwrap();
        assert!(set.contains(ip("10.200.0.1")));
        assert!(set.contains(ip("::ffff:10.200.0.1")));
    }

    #[test]
    fn union_of_sets() {
        let a = IpSet::parse_list("10.0.0.0/24\n2001:db8::/48", "a").unwrap();
        let b = IpSet::parse_list("10.0.1.0/24\n192.0.2.1", "b").unwrap();
        let mut u = IpSetBuilder::new();
        u.insert_set(&a);
        u.insert_set(&b);
        let u = u.build();
        assert_eq!(u.entries(), 4);
        assert_eq!(u.ranges(), 3);
        for x in ["10.0.0.1", "10.0.1.255", "2001:db8::9", "192.0.2.1"] {
            assert!(u.contains(ip(x)), "{x}");
        }
        assert!(!u.contains(ip("10.0.2.0")));
    }

    #[test]
    fn empty_set_contains_nothing() {
        let set = IpSet::new();
        assert!(set.is_empty());
        assert!(!set.contains(ip("1.1.1.1")));
        assert!(!set.contains(ip("::1")));
    }
}
