//! A small writer for the MaxMind DB format (version 2.0), for tests, benchmarks and dev tools.
//!
//! It writes a 24-bit-record search tree, a data section and the metadata map, enough to build
//! Country- and Anonymous-IP-shaped databases that the `maxminddb` reader (and so
//! [`crate::GeoDb`]) opens like the real ones. Networks should be inserted from the largest to the
//! smallest; inserting a network over an existing smaller one replaces that subtree.

use std::net::IpAddr;

use ipnet::IpNet;

/// A value in the data section.
#[derive(Debug, Clone, PartialEq)]
pub enum MmdbValue {
    /// UTF-8 string.
    Str(String),
    /// Unsigned 16-bit integer.
    U16(u16),
    /// Unsigned 32-bit integer.
    U32(u32),
    /// Unsigned 64-bit integer.
    U64(u64),
    /// Boolean.
    Bool(bool),
    /// Array of values.
    Array(Vec<MmdbValue>),
    /// Map with string keys, in the given order.
    Map(Vec<(String, MmdbValue)>),
}

impl MmdbValue {
    /// A map from `(key, value)` pairs.
    pub fn map<K: Into<String>>(pairs: impl IntoIterator<Item = (K, MmdbValue)>) -> Self {
        MmdbValue::Map(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// The record a GeoIP2/GeoLite2 Country database holds for `iso_code`.
    pub fn country(iso_code: &str) -> Self {
        let country = MmdbValue::map([
            ("iso_code", MmdbValue::Str(iso_code.to_owned())),
            (
                "names",
                MmdbValue::map([("en", MmdbValue::Str(format!("Country {iso_code}")))]),
            ),
        ]);
        MmdbValue::map([
            ("country", country.clone()),
            ("registered_country", country),
        ])
    }

    /// The record a GeoIP2 Anonymous-IP database holds; only the `true` flags are written.
    pub fn anonymous(flags: &[&str]) -> Self {
        let mut pairs = vec![("is_anonymous".to_owned(), MmdbValue::Bool(true))];
        for f in flags {
            pairs.push(((*f).to_owned(), MmdbValue::Bool(true)));
        }
        MmdbValue::Map(pairs)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Record {
    Empty,
    Node(u32),
    Data(u32),
}

/// Builds a MaxMind DB file in memory.
#[derive(Debug, Clone)]
pub struct MmdbWriter {
    database_type: String,
    ip_version: u16,
    nodes: Vec<[Record; 2]>,
    data: Vec<u8>,
}

impl MmdbWriter {
    /// A new IPv6 database (IPv4 networks are stored in `::/96`, as MaxMind does) of the given
    /// type (e.g. `GeoLite2-Country`, `GeoIP2-Anonymous-IP`).
    pub fn new(database_type: &str) -> Self {
        MmdbWriter {
            database_type: database_type.to_owned(),
            ip_version: 6,
            nodes: vec![[Record::Empty, Record::Empty]],
            data: Vec::new(),
        }
    }

    /// Inserts `net` with `value` (each insert writes its own copy of the value).
    pub fn insert(&mut self, net: IpNet, value: &MmdbValue) {
        let offset = self.data.len() as u32;
        encode(value, &mut self.data);
        let (bits, len) = match net.trunc() {
            IpNet::V4(n) => (u128::from(u32::from(n.network())), 96 + n.prefix_len()),
            IpNet::V6(n) => (u128::from(n.network()), n.prefix_len()),
        };
        self.set(bits, len, Record::Data(offset));
    }

    /// Inserts a network given as text (`"192.0.2.0/24"`); returns `false` (and inserts
    /// nothing) if the text is not a network.
    pub fn insert_str(&mut self, net: &str, value: &MmdbValue) -> bool {
        match crate::ipset::parse_net(net) {
            Some(n) => {
                self.insert(n, value);
                true
            }
            None => false,
        }
    }

    fn set(&mut self, bits: u128, len: u8, record: Record) {
        if len == 0 {
            // The whole address space: both halves of the root.
            self.nodes[0] = [record, record];
            return;
        }
        let mut node = 0usize;
        for depth in 0..len {
            let bit = ((bits >> (127 - depth)) & 1) as usize;
            if depth + 1 == len {
                self.nodes[node][bit] = record;
                return;
            }
            node = match self.nodes[node][bit] {
                Record::Node(n) => n as usize,
                other => {
                    // Split an empty or data record: both children inherit it.
                    let new = self.nodes.len();
                    let inherited = match other {
                        Record::Data(_) => other,
                        _ => Record::Empty,
                    };
                    self.nodes.push([inherited, inherited]);
                    self.nodes[node][bit] = Record::Node(new as u32);
                    new
                }
            };
        }
    }

    /// Serialises the database.
    pub fn to_bytes(&self) -> Vec<u8> {
        let node_count = self.nodes.len() as u32;
        let mut out = Vec::with_capacity(self.nodes.len() * 6 + 16 + self.data.len() + 256);
        for node in &self.nodes {
            for rec in node {
                let v = match *rec {
                    Record::Empty => node_count,
                    Record::Node(n) => n,
                    Record::Data(off) => node_count + 16 + off,
                };
                out.extend_from_slice(&v.to_be_bytes()[1..]);
            }
        }
        out.extend_from_slice(&[0u8; 16]);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
        let metadata = MmdbValue::map([
            ("binary_format_major_version", MmdbValue::U16(2)),
            ("binary_format_minor_version", MmdbValue::U16(0)),
            ("build_epoch", MmdbValue::U64(1_700_000_000)),
            ("database_type", MmdbValue::Str(self.database_type.clone())),
            (
                "description",
                MmdbValue::map([("en", MmdbValue::Str("Palisade test database".into()))]),
            ),
            ("ip_version", MmdbValue::U16(self.ip_version)),
            (
                "languages",
                MmdbValue::Array(vec![MmdbValue::Str("en".into())]),
            ),
            ("node_count", MmdbValue::U32(node_count)),
            ("record_size", MmdbValue::U16(24)),
        ]);
        encode(&metadata, &mut out);
        out
    }
}

/// Writes the control byte(s) for `type_num` (1..=15) and `size`.
fn control(type_num: u8, size: usize, out: &mut Vec<u8>) {
    let (first_type, extended) = if type_num <= 7 {
        (type_num, None)
    } else {
        (0, Some(type_num - 7))
    };
    let (size_bits, extra): (u8, Vec<u8>) = if size < 29 {
        (size as u8, vec![])
    } else if size < 285 {
        (29, vec![(size - 29) as u8])
    } else if size < 65_821 {
        (30, ((size - 285) as u16).to_be_bytes().to_vec())
    } else {
        (31, ((size - 65_821) as u32).to_be_bytes()[1..].to_vec())
    };
    out.push((first_type << 5) | size_bits);
    if let Some(ext) = extended {
        out.push(ext);
    }
    out.extend_from_slice(&extra);
}

fn uint(type_num: u8, v: u64, out: &mut Vec<u8>) {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    control(type_num, 8 - skip, out);
    out.extend_from_slice(&bytes[skip..]);
}

fn encode(value: &MmdbValue, out: &mut Vec<u8>) {
    match value {
        MmdbValue::Str(s) => {
            control(2, s.len(), out);
            out.extend_from_slice(s.as_bytes());
        }
        MmdbValue::U16(v) => uint(5, u64::from(*v), out),
        MmdbValue::U32(v) => uint(6, u64::from(*v), out),
        MmdbValue::U64(v) => uint(9, *v, out),
        MmdbValue::Bool(b) => control(14, usize::from(*b), out),
        MmdbValue::Array(items) => {
            control(11, items.len(), out);
            for item in items {
                encode(item, out);
            }
        }
        MmdbValue::Map(pairs) => {
            control(7, pairs.len(), out);
            for (k, v) in pairs {
                encode(&MmdbValue::Str(k.clone()), out);
                encode(v, out);
            }
        }
    }
}

/// Convenience: a Country database mapping each `(network, iso_code)`.
pub fn country_db(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut w = MmdbWriter::new("GeoLite2-Country");
    for (net, code) in entries {
        w.insert_str(net, &MmdbValue::country(code));
    }
    w.to_bytes()
}

/// Convenience: an Anonymous-IP database mapping each `(network, flags)`, with flags such as
/// `is_anonymous_vpn`, `is_tor_exit_node`, `is_public_proxy`, `is_hosting_provider`,
/// `is_residential_proxy`.
pub fn anonymous_db(entries: &[(&str, &[&str])]) -> Vec<u8> {
    let mut w = MmdbWriter::new("GeoIP2-Anonymous-IP");
    for (net, flags) in entries {
        w.insert_str(net, &MmdbValue::anonymous(flags));
    }
    w.to_bytes()
}

/// The address inside `net` at `offset` (for generating test traffic).
pub fn nth_addr(net: &IpNet, offset: u32) -> IpAddr {
    match net {
        IpNet::V4(n) => IpAddr::V4((u32::from(n.network()).wrapping_add(offset)).into()),
        IpNet::V6(n) => {
            IpAddr::V6((u128::from(n.network()).wrapping_add(u128::from(offset))).into())
        }
    }
}
