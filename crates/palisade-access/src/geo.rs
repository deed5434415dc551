//! MaxMind-format databases: country lookup ([`GeoDb`]) and anonymous-network flags
//! ([`AnonymousDb`]). Works with GeoLite2/GeoIP2 Country and City files, DB-IP lite country
//! files (same format, same `country.iso_code` field), IPinfo country files (`country` holds the
//! code) and GeoIP2 Anonymous-IP files.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use maxminddb::PathElement;
use serde::Deserialize;

use crate::country::CountryCode;
use crate::error::{AccessError, ConfigError};

fn open_reader(path: &Path) -> Result<maxminddb::Reader<Vec<u8>>, AccessError> {
    let bytes = std::fs::read(path).map_err(|source| AccessError::Io {
        path: path.to_owned(),
        source,
    })?;
    reader_from_bytes(bytes, path)
}

fn reader_from_bytes(
    bytes: Vec<u8>,
    path: &Path,
) -> Result<maxminddb::Reader<Vec<u8>>, AccessError> {
    let db_err = |problem: String| AccessError::Database {
        path: path.to_owned(),
        problem,
    };
    let reader = maxminddb::Reader::from_source(bytes)
        .map_err(|e| db_err(format!("not a valid MaxMind DB file: {e}")))?;
    // A full structural check once at startup, so a truncated download fails the boot instead of
    // misbehaving on some lookups later.
    reader
        .verify()
        .map_err(|e| db_err(format!("corrupt database: {e}")))?;
    Ok(reader)
}

/// Country lookups (`country.iso_code`, falling back to `registered_country.iso_code`).
pub struct GeoDb {
    reader: maxminddb::Reader<Vec<u8>>,
    path: PathBuf,
    /// IPinfo's files store the code directly under `country` instead of `country.iso_code`.
    flat_country: bool,
}

impl GeoDb {
    /// Opens and verifies a database file; it must carry country data.
    pub fn open(path: &Path) -> Result<Self, AccessError> {
        Self::check_kind(open_reader(path)?, path)
    }

    /// Opens a database from bytes (`label` names it in errors and reasons).
    pub fn from_bytes(bytes: Vec<u8>, label: &str) -> Result<Self, AccessError> {
        let path = Path::new(label);
        Self::check_kind(reader_from_bytes(bytes, path)?, path)
    }

    fn check_kind(reader: maxminddb::Reader<Vec<u8>>, path: &Path) -> Result<Self, AccessError> {
        let kind = reader.metadata().database_type.to_ascii_lowercase();
        let looks_right = ["country", "city", "enterprise", "dbip", "ipinfo"]
            .iter()
            .any(|k| kind.contains(k));
        if !looks_right {
            return Err(AccessError::Database {
                path: path.to_owned(),
                problem: format!(
                    "database type `{}` has no country data; use a GeoLite2/GeoIP2 Country or City \
                     file or a DB-IP country file",
                    reader.metadata().database_type
                ),
            });
        }
        Ok(GeoDb {
            reader,
            path: path.to_owned(),
            flat_country: kind.contains("ipinfo"),
        })
    }

    /// The file the database came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The country of `ip`, or `None` if the database does not know it.
    pub fn country(&self, ip: IpAddr) -> Option<CountryCode> {
        let ip = ip.to_canonical();
        let result = self.reader.lookup(ip).ok()?;
        if self.flat_country {
            let code: &str = result
                .decode_path(&[PathElement::Key("country")])
                .ok()
                .flatten()?;
            return CountryCode::from_bytes(code.as_bytes());
        }
        // Navigate straight to the two-letter code instead of decoding the whole record (City
        // records carry names in eight languages, subdivisions, location…).
        let code: Option<&str> = result
            .decode_path(&[PathElement::Key("country"), PathElement::Key("iso_code")])
            .ok()
            .flatten();
        let code = match code {
            Some(c) => c,
            None => result
                .decode_path(&[
                    PathElement::Key("registered_country"),
                    PathElement::Key("iso_code"),
                ])
                .ok()
                .flatten()?,
        };
        CountryCode::from_bytes(code.as_bytes())
    }
}

impl fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeoDb").field("path", &self.path).finish()
    }
}

/// A category of anonymising network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnonymousCategory {
    /// Commercial VPN exit (`is_anonymous_vpn`).
    Vpn,
    /// Tor exit node (`is_tor_exit_node`).
    Tor,
    /// Open/public proxy (`is_public_proxy`).
    PublicProxy,
    /// Hosting or cloud provider (`is_hosting_provider`).
    Hosting,
    /// Residential proxy network (`is_residential_proxy`).
    ResidentialProxy,
}

impl AnonymousCategory {
    /// All categories.
    pub const ALL: [AnonymousCategory; 5] = [
        AnonymousCategory::Vpn,
        AnonymousCategory::Tor,
        AnonymousCategory::PublicProxy,
        AnonymousCategory::Hosting,
        AnonymousCategory::ResidentialProxy,
    ];

    /// The config/audit name: `vpn`, `tor`, `public_proxy`, `hosting`, `residential_proxy`.
    pub fn as_str(&self) -> &'static str {
        match self {
            AnonymousCategory::Vpn => "vpn",
            AnonymousCategory::Tor => "tor",
            AnonymousCategory::PublicProxy => "public_proxy",
            AnonymousCategory::Hosting => "hosting",
            AnonymousCategory::ResidentialProxy => "residential_proxy",
        }
    }

    pub(crate) fn bit(&self) -> u8 {
        1 << (*self as u8)
    }
}

impl FromStr for AnonymousCategory {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        let norm = s.trim().to_ascii_lowercase().replace('-', "_");
        let cat =
            match norm.as_str() {
                "vpn" | "anonymous_vpn" => AnonymousCategory::Vpn,
                "tor" | "tor_exit" | "tor_exit_node" => AnonymousCategory::Tor,
                "public_proxy" | "proxy" => AnonymousCategory::PublicProxy,
                "hosting" | "hosting_provider" => AnonymousCategory::Hosting,
                "residential_proxy" => AnonymousCategory::ResidentialProxy,
                _ => return Err(ConfigError::new(
                    "anonymous network category",
                    s,
                    "expected one of `vpn`, `tor`, `public_proxy`, `hosting`, `residential_proxy`",
                )),
            };
        Ok(cat)
    }
}

impl fmt::Display for AnonymousCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of [`AnonymousCategory`] values (a bit mask).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnonymousSet(u8);

impl AnonymousSet {
    /// No category.
    pub fn empty() -> Self {
        AnonymousSet(0)
    }
    /// Adds a category.
    pub fn insert(&mut self, c: AnonymousCategory) {
        self.0 |= c.bit();
    }
    /// True if `c` is in the set.
    pub fn contains(&self, c: AnonymousCategory) -> bool {
        self.0 & c.bit() != 0
    }
    /// True if no category is set.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }
    /// The first category present in both sets, in [`AnonymousCategory::ALL`] order.
    pub fn first_common(&self, other: AnonymousSet) -> Option<AnonymousCategory> {
        AnonymousCategory::ALL
            .into_iter()
            .find(|c| self.contains(*c) && other.contains(*c))
    }
    /// Parses a comma/whitespace-separated list such as `"vpn, tor"`.
    pub fn parse_list(text: &str) -> Result<Self, ConfigError> {
        let mut set = AnonymousSet::empty();
        for token in text.split(|c: char| c == ',' || c.is_whitespace()) {
            if !token.is_empty() {
                set.insert(token.parse()?);
            }
        }
        Ok(set)
    }
}

impl FromIterator<AnonymousCategory> for AnonymousSet {
    fn from_iter<I: IntoIterator<Item = AnonymousCategory>>(iter: I) -> Self {
        let mut s = AnonymousSet::empty();
        for c in iter {
            s.insert(c);
        }
        s
    }
}

/// GeoIP2 Anonymous-IP database lookups.
pub struct AnonymousDb {
    reader: maxminddb::Reader<Vec<u8>>,
    path: PathBuf,
}

#[derive(Deserialize)]
struct AnonymousRecord {
    is_anonymous_vpn: Option<bool>,
    is_tor_exit_node: Option<bool>,
    is_public_proxy: Option<bool>,
    is_hosting_provider: Option<bool>,
    is_residential_proxy: Option<bool>,
}

impl AnonymousDb {
    /// Opens and verifies an Anonymous-IP database file.
    pub fn open(path: &Path) -> Result<Self, AccessError> {
        Self::check_kind(open_reader(path)?, path)
    }

    /// Opens a database from bytes (`label` names it in errors and reasons).
    pub fn from_bytes(bytes: Vec<u8>, label: &str) -> Result<Self, AccessError> {
        let path = Path::new(label);
        Self::check_kind(reader_from_bytes(bytes, path)?, path)
    }

    fn check_kind(reader: maxminddb::Reader<Vec<u8>>, path: &Path) -> Result<Self, AccessError> {
        let kind = reader.metadata().database_type.to_ascii_lowercase();
        if !kind.contains("anonymous") {
            return Err(AccessError::Database {
                path: path.to_owned(),
                problem: format!(
                    "database type `{}` is not an Anonymous-IP database",
                    reader.metadata().database_type
                ),
            });
        }
        Ok(AnonymousDb {
            reader,
            path: path.to_owned(),
        })
    }

    /// The file the database came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The categories the database lists `ip` under (empty if unknown).
    pub fn categories(&self, ip: IpAddr) -> AnonymousSet {
        let mut set = AnonymousSet::empty();
        let Ok(result) = self.reader.lookup(ip.to_canonical()) else {
            return set;
        };
        let Ok(Some(r)) = result.decode::<AnonymousRecord>() else {
            return set;
        };
        let flags = [
            (r.is_anonymous_vpn, AnonymousCategory::Vpn),
            (r.is_tor_exit_node, AnonymousCategory::Tor),
            (r.is_public_proxy, AnonymousCategory::PublicProxy),
            (r.is_hosting_provider, AnonymousCategory::Hosting),
            (r.is_residential_proxy, AnonymousCategory::ResidentialProxy),
        ];
        for (flag, cat) in flags {
            if flag == Some(true) {
                set.insert(cat);
            }
        }
        set
    }
}

impl fmt::Debug for AnonymousDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnonymousDb")
            .field("path", &self.path)
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::mmdb_writer::{anonymous_db, country_db};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn generated_country_db_lookups() {
        let db = GeoDb::from_bytes(
            country_db(&[
                ("81.2.69.0/24", "GB"),
                ("2001:db8::/32", "DE"),
                ("0.0.0.0/8", "us"),
                ("192.0.2.128/25", "FR"),
            ]),
            "gen",
        )
        .unwrap();
        assert_eq!(db.country(ip("81.2.69.160")).unwrap().as_str(), "GB");
        assert_eq!(db.country(ip("::ffff:81.2.69.1")).unwrap().as_str(), "GB");
        assert_eq!(db.country(ip("2001:db8:ffff::1")).unwrap().as_str(), "DE");
        assert_eq!(db.country(ip("0.1.2.3")).unwrap().as_str(), "US");
        assert_eq!(db.country(ip("192.0.2.200")).unwrap().as_str(), "FR");
        assert_eq!(db.country(ip("192.0.2.100")), None);
        assert_eq!(db.country(ip("81.2.70.1")), None);
        assert_eq!(db.country(ip("2002::1")), None);
    }

    #[test]
    fn ipinfo_flat_schema() {
        use crate::mmdb_writer::{MmdbValue, MmdbWriter};
        let mut w = MmdbWriter::new("ipinfo country.mmdb");
        w.insert_str(
            "198.51.100.0/24",
            &MmdbValue::map([
                ("country", MmdbValue::Str("DE".into())),
                ("country_name", MmdbValue::Str("Germany".into())),
            ]),
        );
        let db = GeoDb::from_bytes(w.to_bytes(), "ipinfo").unwrap();
        assert_eq!(db.country(ip("198.51.100.7")).unwrap().as_str(), "DE");
        assert_eq!(db.country(ip("198.51.101.7")), None);
    }

    #[test]
    fn generated_anonymous_db_lookups() {
        let db = AnonymousDb::from_bytes(
            anonymous_db(&[
                (
                    "198.51.100.0/24",
                    &["is_anonymous_vpn", "is_hosting_provider"],
                ),
                ("203.0.113.7/32", &["is_tor_exit_node"]),
                ("2001:db8:1::/48", &["is_residential_proxy"]),
            ]),
            "anon",
        )
        .unwrap();
        let c = db.categories(ip("198.51.100.9"));
        assert!(c.contains(AnonymousCategory::Vpn));
        assert!(c.contains(AnonymousCategory::Hosting));
        assert!(!c.contains(AnonymousCategory::Tor));
        assert!(db
            .categories(ip("203.0.113.7"))
            .contains(AnonymousCategory::Tor));
        assert!(db.categories(ip("203.0.113.8")).is_empty());
        assert!(db
            .categories(ip("2001:db8:1::9"))
            .contains(AnonymousCategory::ResidentialProxy));
    }

    #[test]
    fn wrong_kind_and_garbage_are_errors() {
        let err =
            AnonymousDb::from_bytes(country_db(&[("1.0.0.0/8", "AU")]), "c.mmdb").unwrap_err();
        assert!(err.to_string().contains("not an Anonymous-IP"), "{err}");
        let err = GeoDb::from_bytes(b"garbage".to_vec(), "g.mmdb").unwrap_err();
        assert!(err.to_string().contains("g.mmdb"), "{err}");
        let err = GeoDb::open(Path::new("/nonexistent/x.mmdb")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/x.mmdb"), "{err}");
    }

    #[test]
    fn truncated_db_is_refused() {
        let mut bytes = country_db(&[("1.0.0.0/8", "AU"), ("2.0.0.0/8", "FR")]);
        // Cut the data section out from under the tree but keep the metadata.
        let meta = bytes
            .windows(14)
            .position(|w| w == b"\xAB\xCD\xEFMaxMind.com")
            .unwrap();
        let tail = bytes.split_off(meta);
        bytes.truncate(meta / 2);
        bytes.extend_from_slice(&tail);
        assert!(GeoDb::from_bytes(bytes, "t.mmdb").is_err());
    }

    #[test]
    fn categories_parse() {
        let s = AnonymousSet::parse_list("vpn, Tor hosting-provider").unwrap();
        assert!(s.contains(AnonymousCategory::Vpn));
        assert!(s.contains(AnonymousCategory::Tor));
        assert!(s.contains(AnonymousCategory::Hosting));
        assert!(!s.contains(AnonymousCategory::PublicProxy));
        let err = AnonymousSet::parse_list("vpn, icloud").unwrap_err();
        assert_eq!(err.value, "icloud");
    }
}
