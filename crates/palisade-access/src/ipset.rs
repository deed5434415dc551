//! [`IpSet`]: a set of IPv4 and IPv6 networks with a fast membership test.
//!
//! Networks are merged into sorted, non-overlapping address ranges; a lookup is one binary search
//! over the range starts and allocates nothing. Sets of 4096 ranges or more also get an index by
//! the top 16 bits of the address (256 KiB per address family), which narrows the search to the
//! few ranges in that slice: about 70 ns (IPv4) and 130 ns (IPv6) with 100k random CIDRs on a
//! loaded 2-core machine.

use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;

use crate::error::AccessError;

/// A set of IP networks (IPv4 and IPv6) built from CIDRs, addresses or list files.
///
/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) are looked up as the IPv4 address they carry.
#[derive(Debug, Clone, Default)]
pub struct IpSet {
    v4: Ranges<u32>,
    v6: Ranges<u128>,
    entries: usize,
}

/// Address values that can be indexed by their top 16 bits.
trait Addr: Copy + Ord + Default + std::fmt::Debug {
    fn top16(self) -> usize;
}

impl Addr for u32 {
    #[inline]
    fn top16(self) -> usize {
        (self >> 16) as usize
    }
}

impl Addr for u128 {
    #[inline]
    fn top16(self) -> usize {
        (self >> 112) as usize
    }
}

/// Sorted disjoint ranges, starts and ends in separate arrays (the search touches only the
/// starts), plus, for large sets, an index by the top 16 bits of the start so a lookup is one
/// table read and a binary search over the few ranges in that slice.
#[derive(Debug, Clone, Default)]
struct Ranges<T> {
    starts: Vec<T>,
    ends: Vec<T>,
    /// `index[p]` = number of ranges whose start has top-16 bits below `p` (65537 entries), or
    /// empty for small sets.
    index: Vec<u32>,
}

/// Sets with at least this many ranges get the top-16 index (256 KiB).
const INDEX_THRESHOLD: usize = 4096;

impl<T: Addr> Ranges<T> {
    fn new(merged: Vec<(T, T)>) -> Self {
        let starts: Vec<T> = merged.iter().map(|r| r.0).collect();
        let ends: Vec<T> = merged.iter().map(|r| r.1).collect();
        let index = if starts.len() >= INDEX_THRESHOLD {
            let mut index = vec![0u32; 65_537];
            let mut i = 0usize;
            for (p, slot) in index.iter_mut().enumerate() {
                while i < starts.len() && starts[i].top16() < p {
                    i += 1;
                }
                *slot = i as u32;
            }
            index
        } else {
            Vec::new()
        };
        Ranges {
            starts,
            ends,
            index,
        }
    }

    fn pairs(&self) -> impl Iterator<Item = (T, T)> + '_ {
        self.starts.iter().copied().zip(self.ends.iter().copied())
    }

    fn len(&self) -> usize {
        self.starts.len()
    }

    #[inline]
    fn contains(&self, x: T) -> bool {
        // Number of ranges starting at or before x.
        let count = if self.index.is_empty() {
            self.starts.partition_point(|&s| s <= x)
        } else {
            let p = x.top16();
            let lo = self.index[p] as usize;
            let hi = self.index[p + 1] as usize;
            lo + self.starts[lo..hi].partition_point(|&s| s <= x)
        };
        count > 0 && self.ends[count - 1] >= x
    }
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
        self.v4.extend(set.v4.pairs());
        self.v6.extend(set.v6.pairs());
    }

    /// Adds one address (a /32 or /128 network).
    pub fn insert_addr(&mut self, ip: IpAddr) {
        self.insert(IpNet::from(ip.to_canonical()));
    }

    /// Parses and adds every entry of a list text.
    ///
    /// One entry per line: an address or a CIDR, optionally followed by whitespace and anything
    /// else (annotations). `#` and `;` start comments (FireHOL netsets, Spamhaus DROP). The Tor
    /// Project's `exit-addresses` format is understood too (`ExitAddress <ip> …` lines; its
    /// `ExitNode`, `Published` and `LastStatus` lines are skipped). A line that does not start with an address
    /// is an error naming `source_name` and the line number: a half-read block list is worse than
    /// none, so we fail closed at startup instead of skipping.
    pub fn add_list_text(&mut self, text: &str, source_name: &str) -> Result<(), AccessError> {
        for (index, raw) in text.lines().enumerate() {
            let without_comment = match raw.find(['#', ';']) {
                Some(pos) => &raw[..pos],
                None => raw,
            };
            let mut tokens = without_comment.split_whitespace();
            let Some(mut token) = tokens.next() else {
                continue;
            };
            // The Tor Project's `exit-addresses` format: keep `ExitAddress <ip> <date>`, skip the
            // other record lines.
            match token {
                "ExitNode" | "Published" | "LastStatus" => continue,
                "ExitAddress" => match tokens.next() {
                    Some(addr) => token = addr,
                    None => token = "ExitAddress",
                },
                _ => {}
            }
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
            v4: Ranges::new(merge(self.v4, |end| end.checked_add(1))),
            v6: Ranges::new(merge(self.v6, |end| end.checked_add(1))),
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
            IpAddr::V4(v4) => self.v4.contains(u32::from(v4)),
            IpAddr::V6(v6) => self.v6.contains(u128::from(v6)),
        }
    }

    /// True if the set holds no network.
    pub fn is_empty(&self) -> bool {
        self.v4.len() == 0 && self.v6.len() == 0
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
    fn tor_exit_addresses_format() {
        let text = "ExitNode 0011BD2485AD45D984EC4159C88FC066E5E3300E\n\
                    Published 2024-05-01 10:00:00\n\
                    LastStatus 2024-05-01 11:00:00\n\
                    ExitAddress 162.247.74.201 2024-05-01 11:05:12\n";
        let set = IpSet::parse_list(text, "exit-addresses").unwrap();
        assert_eq!(set.entries(), 1);
        assert!(set.contains(ip("162.247.74.201")));
        assert!(IpSet::parse_list("ExitAddress\n", "x").is_err());
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
    fn indexed_large_sets_agree_with_a_plain_scan() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut nets = Vec::new();
        for _ in 0..5_000 {
            let v4 = std::net::Ipv4Addr::from(next() as u32);
            nets.push(IpNet::V4(
                ipnet::Ipv4Net::new(v4, 20 + (next() % 13) as u8)
                    .unwrap()
                    .trunc(),
            ));
            let v6 = std::net::Ipv6Addr::from(u128::from(next()) << 64 | u128::from(next()));
            nets.push(IpNet::V6(
                ipnet::Ipv6Net::new(v6, 32 + (next() % 97) as u8)
                    .unwrap()
                    .trunc(),
            ));
        }
        let set = IpSet::from_nets(nets.clone());
        assert!(!set.v4.index.is_empty() && !set.v6.index.is_empty());
        for i in 0..1_500u64 {
            let probe = if i % 2 == 0 {
                IpAddr::V4((next() as u32).into())
            } else if i % 3 == 0 {
                // An address inside a known network, to hit the positive path often.
                let n = &nets[(next() as usize) % nets.len()];
                n.network()
            } else {
                IpAddr::V6((u128::from(next()) << 64 | u128::from(next())).into())
            };
            let expected = nets.iter().any(|n| n.contains(&probe));
            assert_eq!(set.contains(probe), expected, "{probe}");
        }
        // Extremes of the index.
        let edges = IpSet::from_nets(
            (0..5000u32)
                .map(|i| IpNet::V4(ipnet::Ipv4Net::new((i << 20).into(), 32).unwrap()))
                .chain([
                    "255.255.255.255/32".parse().unwrap(),
                    "0.0.0.0/32".parse().unwrap(),
                ]),
        );
        assert!(edges.contains(ip("255.255.255.255")));
        assert!(edges.contains(ip("0.0.0.0")));
        assert!(!edges.contains(ip("255.255.255.254")));
    }

    #[test]
    fn empty_set_contains_nothing() {
        let set = IpSet::new();
        assert!(set.is_empty());
        assert!(!set.contains(ip("1.1.1.1")));
        assert!(!set.contains(ip("::1")));
    }
}
