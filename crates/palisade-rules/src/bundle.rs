//! The bundle format: a manifest, detached signatures over it, and the ruleset files.
//!
//! A bundle is one file of length-prefixed sections, so it can be served as-is by any static
//! HTTP server and parsed without escaping rules:
//!
//! ```text
//! palisade-rules-bundle 1
//! manifest manifest.json <len>
//! <len bytes: the manifest, JSON>
//! signature <key id> <len>
//! <len bytes: the Ed25519 signature over the manifest, hex>
//! file sqli.yml <len>
//! <len bytes: the ruleset>
//! ```
//!
//! Every section's bytes are followed by a newline. The manifest lists each file's name, size and
//! SHA-256; the signature covers the manifest bytes exactly (prefixed with
//! [`crate::keys::SIGNING_CONTEXT`]), so a signature vouches for every file through its digest.
//! Verification checks the signature first, before anything in the manifest is believed.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;
use std::time::SystemTime;

use palisade_engine::RuleSource;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::hex;
use crate::keys::{KeyRing, SecretKey};
use crate::version::Version;

/// First line of every bundle.
pub const MAGIC: &str = "palisade-rules-bundle 1";
/// Manifest format this build reads and writes.
pub const MANIFEST_FORMAT: u32 = 1;
/// Largest bundle accepted (bytes): far above any real ruleset, low enough to bound memory.
pub const MAX_BUNDLE_BYTES: usize = 16 << 20;
/// Most ruleset files in a bundle.
pub const MAX_FILES: usize = 256;
/// Most signatures on a bundle.
pub const MAX_SIGNATURES: usize = 8;

/// The signed description of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Manifest format ([`MANIFEST_FORMAT`]).
    pub format: u32,
    /// Ruleset version; a running Palisade only moves forward.
    pub version: String,
    /// When the bundle was packed (RFC 3339, UTC).
    pub created_at: String,
    /// Oldest Palisade that understands these rules.
    pub min_palisade: String,
    /// Every ruleset file, in load order.
    pub files: Vec<FileEntry>,
}

/// One ruleset file in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// File name (`sqli.yml`): letters, digits, `.`, `_`, `-`; ends in `.yml` or `.yaml`.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the contents, hex.
    pub sha256: String,
}

/// One signature section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureSection {
    /// Id of the key that made it (a hint; the signature must verify with that trusted key).
    pub key_id: String,
    /// The signature, hex (128 digits).
    pub signature: String,
}

/// A bundle as read (nothing checked but its framing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The manifest's exact bytes (what the signatures cover).
    pub manifest: Vec<u8>,
    /// Signatures, in file order.
    pub signatures: Vec<SignatureSection>,
    /// `(name, contents)` of each ruleset file, in file order.
    pub files: Vec<(String, Vec<u8>)>,
}

/// Why a bundle was refused. [`BundleError::reason`] is a short stable code for counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleError {
    /// Not a well-formed bundle (framing, manifest JSON, names, sizes).
    Malformed(String),
    /// No signature by a trusted key verifies.
    Signature(String),
    /// A file is missing, extra, or differs from its manifest digest.
    Checksum(String),
    /// The bundle needs a newer Palisade.
    TooNew {
        /// The bundle's `min_palisade`.
        min_palisade: String,
        /// This build.
        running: String,
    },
    /// The bundle is older than the rules in force.
    Older {
        /// The bundle's version.
        bundle: String,
        /// The version in force.
        running: String,
    },
    /// The rules do not compile (with the user's rules and exclusions on top).
    Compile(String),
}

impl BundleError {
    /// Short code: `malformed`, `signature`, `checksum`, `too_new`, `older`, `compile`.
    pub fn reason(&self) -> &'static str {
        match self {
            BundleError::Malformed(_) => "malformed",
            BundleError::Signature(_) => "signature",
            BundleError::Checksum(_) => "checksum",
            BundleError::TooNew { .. } => "too_new",
            BundleError::Older { .. } => "older",
            BundleError::Compile(_) => "compile",
        }
    }
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BundleError::Malformed(m) => write!(f, "malformed bundle: {m}"),
            BundleError::Signature(m) => write!(f, "signature refused: {m}"),
            BundleError::Checksum(m) => write!(f, "checksum mismatch: {m}"),
            BundleError::TooNew { min_palisade, running } => write!(
                f,
                "bundle needs palisade {min_palisade} or newer; this is palisade {running}: upgrade palisade to use it"
            ),
            BundleError::Older { bundle, running } => write!(
                f,
                "bundle version {bundle} is older than the rules in force ({running}); rules never move backwards"
            ),
            BundleError::Compile(m) => write!(f, "rules do not compile: {m}"),
        }
    }
}

impl std::error::Error for BundleError {}

fn malformed(m: impl Into<String>) -> BundleError {
    BundleError::Malformed(m.into())
}

/// Whether `name` is an acceptable ruleset file name.
pub fn valid_file_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
        && (name.ends_with(".yml") || name.ends_with(".yaml"))
}

fn valid_key_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// SHA-256 as hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes))
}

/// A cursor over the bundle bytes.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn line(&mut self) -> Result<&'a str, BundleError> {
        let end = self
            .rest
            .iter()
            .take(512)
            .position(|&b| b == b'\n')
            .ok_or_else(|| {
                malformed("a section header line is missing or longer than 512 bytes")
            })?;
        let line = std::str::from_utf8(&self.rest[..end])
            .map_err(|_| malformed("a section header is not UTF-8"))?;
        self.rest = &self.rest[end + 1..];
        Ok(line)
    }

    fn body(&mut self, len: usize) -> Result<&'a [u8], BundleError> {
        if self.rest.len() < len + 1 || self.rest[len] != b'\n' {
            return Err(malformed("a section is shorter than its declared length"));
        }
        let body = &self.rest[..len];
        self.rest = &self.rest[len + 1..];
        Ok(body)
    }
}

impl Bundle {
    /// Reads a bundle's framing. Refuses anything not exactly in the format.
    pub fn parse(bytes: &[u8]) -> Result<Bundle, BundleError> {
        if bytes.len() > MAX_BUNDLE_BYTES {
            return Err(malformed(format!(
                "{} bytes is over the {MAX_BUNDLE_BYTES}-byte limit",
                bytes.len()
            )));
        }
        let mut r = Reader { rest: bytes };
        if r.line()? != MAGIC {
            return Err(malformed(format!("the first line must be `{MAGIC}`")));
        }
        let mut manifest = None;
        let mut signatures = Vec::new();
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        while !r.rest.is_empty() {
            let header = r.line()?;
            let parts: Vec<&str> = header.split(' ').collect();
            let [kind, name, len] = parts[..] else {
                return Err(malformed(format!("bad section header {header:?}")));
            };
            let len: usize = len
                .parse()
                .ok()
                .filter(|&n| n <= MAX_BUNDLE_BYTES)
                .ok_or_else(|| malformed(format!("bad section length in {header:?}")))?;
            let body = r.body(len)?;
            match kind {
                "manifest" if manifest.is_none() && name == "manifest.json" => {
                    manifest = Some(body.to_vec());
                }
                "signature" if valid_key_id(name) && signatures.len() < MAX_SIGNATURES => {
                    let signature = std::str::from_utf8(body)
                        .map_err(|_| malformed("a signature is not hex"))?
                        .to_string();
                    signatures.push(SignatureSection {
                        key_id: name.to_ascii_lowercase(),
                        signature,
                    });
                }
                "file" if valid_file_name(name) && files.len() < MAX_FILES => {
                    if files.iter().any(|(n, _)| n == name) {
                        return Err(malformed(format!("file {name} appears twice")));
                    }
                    files.push((name.to_string(), body.to_vec()));
                }
                _ => return Err(malformed(format!("unexpected section {header:?}"))),
            }
        }
        let manifest = manifest.ok_or_else(|| malformed("no manifest section"))?;
        Ok(Bundle {
            manifest,
            signatures,
            files,
        })
    }

    /// The bundle's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC.as_bytes());
        out.push(b'\n');
        let mut section = |kind: &str, name: &str, body: &[u8]| {
            out.extend_from_slice(format!("{kind} {name} {}\n", body.len()).as_bytes());
            out.extend_from_slice(body);
            out.push(b'\n');
        };
        section("manifest", "manifest.json", &self.manifest);
        for s in &self.signatures {
            section("signature", &s.key_id, s.signature.as_bytes());
        }
        for (name, body) in &self.files {
            section("file", name, body);
        }
        out
    }

    /// Packs ruleset files into an unsigned bundle with a new manifest.
    pub fn pack(
        version: &str,
        min_palisade: &str,
        created_at: SystemTime,
        files: Vec<(String, Vec<u8>)>,
    ) -> Result<Bundle, BundleError> {
        Version::parse(version).map_err(|e| malformed(format!("version: {e}")))?;
        Version::parse(min_palisade).map_err(|e| malformed(format!("min_palisade: {e}")))?;
        if files.is_empty() {
            return Err(malformed("no ruleset files to pack"));
        }
        let mut seen = BTreeSet::new();
        for (name, body) in &files {
            if !valid_file_name(name) {
                return Err(malformed(format!(
                    "file name {name:?}: use letters, digits, '.', '_' or '-', ending in .yml or .yaml"
                )));
            }
            if !seen.insert(name.clone()) {
                return Err(malformed(format!("file {name} given twice")));
            }
            std::str::from_utf8(body).map_err(|_| malformed(format!("{name} is not UTF-8")))?;
        }
        let manifest = Manifest {
            format: MANIFEST_FORMAT,
            version: version.to_string(),
            created_at: palisade_audit::time::format_rfc3339_micros(created_at),
            min_palisade: min_palisade.to_string(),
            files: files
                .iter()
                .map(|(name, body)| FileEntry {
                    name: name.clone(),
                    size: body.len() as u64,
                    sha256: sha256_hex(body),
                })
                .collect(),
        };
        let manifest = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| malformed(format!("manifest: {e}")))?;
        Ok(Bundle {
            manifest,
            signatures: Vec::new(),
            files,
        })
    }

    /// Packs every `*.yml`/`*.yaml` file directly in `dir` (sorted by name).
    pub fn pack_dir(
        dir: &Path,
        version: &str,
        min_palisade: &str,
        created_at: SystemTime,
    ) -> Result<Bundle, BundleError> {
        let read_err = |e: std::io::Error| malformed(format!("{}: {e}", dir.display()));
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(read_err)? {
            let entry = entry.map_err(read_err)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if (name.ends_with(".yml") || name.ends_with(".yaml")) && entry.path().is_file() {
                let body = std::fs::read(entry.path()).map_err(read_err)?;
                files.push((name, body));
            }
        }
        files.sort();
        Bundle::pack(version, min_palisade, created_at, files)
    }

    /// Adds (or replaces) this key's signature.
    pub fn sign(&mut self, key: &SecretKey) {
        let id = key.id();
        self.signatures.retain(|s| s.key_id != id);
        self.signatures.push(SignatureSection {
            key_id: id,
            signature: hex::encode(&key.sign_manifest(&self.manifest)),
        });
    }

    /// Checks signature, manifest and checksums; the result is safe to compile. Does not compare
    /// versions with the rules in force (see [`crate::Updater`]): only `min_palisade` against
    /// `running` (this build's version unless testing).
    pub fn verify(&self, keys: &KeyRing, running: Version) -> Result<VerifiedBundle, BundleError> {
        // 1. Signature, before believing anything the manifest says.
        if self.signatures.is_empty() {
            return Err(BundleError::Signature(
                "the bundle is not signed (run `palisade rules sign --key …`)".into(),
            ));
        }
        let mut signer = None;
        for s in &self.signatures {
            let Some(key) = keys.get(&s.key_id) else {
                continue;
            };
            let Some(sig) = hex::decode_array::<64>(s.signature.trim()) else {
                return Err(BundleError::Signature(format!(
                    "signature by key {} is not 128 hex digits",
                    s.key_id
                )));
            };
            if key.verifies(&self.manifest, &sig) {
                signer = Some(key.clone());
                break;
            }
            return Err(BundleError::Signature(format!(
                "the signature by trusted key {} ({}) does not match the manifest: the bundle was altered or signed wrongly",
                key.label, key.id
            )));
        }
        let Some(signer) = signer else {
            let ids: Vec<&str> = self.signatures.iter().map(|s| s.key_id.as_str()).collect();
            return Err(BundleError::Signature(format!(
                "signed by key(s) {} — none is trusted (trusted: {}; add a key with PALISADE_RULES_PUBKEY)",
                ids.join(", "),
                keys.keys().iter().map(|k| format!("{} {}", k.label, k.id)).collect::<Vec<_>>().join(", ")
            )));
        };
        // 2. The manifest.
        let manifest: Manifest = serde_json::from_slice(&self.manifest)
            .map_err(|e| malformed(format!("manifest.json: {e}")))?;
        if manifest.format != MANIFEST_FORMAT {
            return Err(malformed(format!(
                "manifest format {} is not {MANIFEST_FORMAT}: this palisade is too old for it",
                manifest.format
            )));
        }
        let version =
            Version::parse(&manifest.version).map_err(|e| malformed(format!("version: {e}")))?;
        let min = Version::parse(&manifest.min_palisade)
            .map_err(|e| malformed(format!("min_palisade: {e}")))?;
        if min > running {
            return Err(BundleError::TooNew {
                min_palisade: min.to_string(),
                running: running.to_string(),
            });
        }
        // 3. Files: exactly the manifest's, each matching its size and digest.
        if manifest.files.is_empty() {
            return Err(malformed("the manifest lists no files"));
        }
        let listed: BTreeSet<&str> = manifest.files.iter().map(|f| f.name.as_str()).collect();
        if listed.len() != manifest.files.len() {
            return Err(malformed("the manifest lists a file twice"));
        }
        for (name, _) in &self.files {
            if !listed.contains(name.as_str()) {
                return Err(BundleError::Checksum(format!(
                    "file {name} is not in the manifest"
                )));
            }
        }
        let mut sources = Vec::with_capacity(manifest.files.len());
        for entry in &manifest.files {
            let Some((_, body)) = self.files.iter().find(|(n, _)| *n == entry.name) else {
                return Err(BundleError::Checksum(format!(
                    "file {} is in the manifest but not in the bundle",
                    entry.name
                )));
            };
            if body.len() as u64 != entry.size
                || sha256_hex(body) != entry.sha256.to_ascii_lowercase()
            {
                return Err(BundleError::Checksum(format!(
                    "file {} differs from the manifest's size/SHA-256",
                    entry.name
                )));
            }
            let text = std::str::from_utf8(body)
                .map_err(|_| malformed(format!("{} is not UTF-8", entry.name)))?;
            sources.push(RuleSource::new(
                format!("bundle {}/{}", manifest.version, entry.name),
                text,
            ));
        }
        Ok(VerifiedBundle {
            manifest,
            version,
            signer_label: signer.label,
            signer_id: signer.id,
            sources,
            digest: sha256_hex(&self.to_bytes()),
        })
    }
}

/// A bundle whose signature, manifest and checksums are good.
#[derive(Debug, Clone)]
pub struct VerifiedBundle {
    /// The manifest.
    pub manifest: Manifest,
    /// Its parsed version.
    pub version: Version,
    /// Label of the key that signed it (`palisade-2026`, `PALISADE_RULES_PUBKEY`).
    pub signer_label: String,
    /// Id of that key.
    pub signer_id: String,
    /// The rulesets, in manifest order, ready for `Engine::compile`.
    pub sources: Vec<RuleSource>,
    /// SHA-256 of the whole bundle, hex.
    pub digest: String,
}

/// Reads and verifies a bundle file.
pub fn read_bundle_file(path: &Path, keys: &KeyRing) -> Result<VerifiedBundle, BundleError> {
    let bytes = std::fs::read(path)
        .map_err(|e| malformed(format!("cannot read {}: {e}", path.display())))?;
    Bundle::parse(&bytes)?.verify(keys, Version::palisade())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const RULES: &str = "ruleset: t\ndefaults:\n  category: test\n  paranoia: 1\n  score: 5\n  targets: [args]\n  transforms: [url_decode]\nrules:\n  - id: 990001\n    name: canary\n    literals: [\"canary-attack\"]\n";

    fn packed(version: &str, min: &str) -> Bundle {
        Bundle::pack(
            version,
            min,
            SystemTime::now(),
            vec![
                ("a.yml".into(), RULES.as_bytes().to_vec()),
                ("b.yaml".into(), b"rules: []\n".to_vec()),
            ],
        )
        .unwrap()
    }

    fn ring(sk: &SecretKey) -> KeyRing {
        KeyRing::of(vec![sk.trusted("test")])
    }

    #[test]
    fn pack_sign_parse_verify_round_trip() {
        let sk = SecretKey::generate().unwrap();
        let mut b = packed("1.2.3", "0.1.0");
        b.sign(&sk);
        let bytes = b.to_bytes();
        let again = Bundle::parse(&bytes).unwrap();
        assert_eq!(again, b);
        let v = again.verify(&ring(&sk), Version::palisade()).unwrap();
        assert_eq!(v.version.to_string(), "1.2.3");
        assert_eq!(v.signer_id, sk.id());
        assert_eq!(v.sources.len(), 2);
        assert_eq!(v.sources[0].yaml, RULES);
        assert_eq!(v.manifest.files[0].sha256, sha256_hex(RULES.as_bytes()));
    }

    #[test]
    fn unsigned_or_untrusted_is_refused() {
        let sk = SecretKey::generate().unwrap();
        let b = packed("1.0.0", "0.1.0");
        assert_eq!(
            b.verify(&ring(&sk), Version::palisade())
                .unwrap_err()
                .reason(),
            "signature"
        );
        let mut b2 = b.clone();
        b2.sign(&SecretKey::generate().unwrap());
        let e = b2.verify(&ring(&sk), Version::palisade()).unwrap_err();
        assert_eq!(e.reason(), "signature");
        assert!(e.to_string().contains("none is trusted"), "{e}");
    }

    #[test]
    fn altered_manifest_or_file_is_refused() {
        let sk = SecretKey::generate().unwrap();
        let mut b = packed("1.0.0", "0.1.0");
        b.sign(&sk);
        let mut m = b.clone();
        m.manifest = String::from_utf8(m.manifest)
            .unwrap()
            .replace("1.0.0", "9.0.0")
            .into_bytes();
        assert_eq!(
            m.verify(&ring(&sk), Version::palisade())
                .unwrap_err()
                .reason(),
            "signature"
        );
        let mut f = b.clone();
        f.files[0].1 = RULES.replace("canary-attack", "canary-attacc").into_bytes();
        assert_eq!(
            f.verify(&ring(&sk), Version::palisade())
                .unwrap_err()
                .reason(),
            "checksum"
        );
        let mut extra = b.clone();
        extra.files.push(("c.yml".into(), b"rules: []\n".to_vec()));
        assert_eq!(
            extra
                .verify(&ring(&sk), Version::palisade())
                .unwrap_err()
                .reason(),
            "checksum"
        );
        let mut missing = b.clone();
        missing.files.pop();
        assert_eq!(
            missing
                .verify(&ring(&sk), Version::palisade())
                .unwrap_err()
                .reason(),
            "checksum"
        );
    }

    #[test]
    fn too_new_is_refused() {
        let sk = SecretKey::generate().unwrap();
        let mut b = packed("1.0.0", "99.0.0");
        b.sign(&sk);
        let e = b.verify(&ring(&sk), Version::palisade()).unwrap_err();
        assert_eq!(e.reason(), "too_new");
        assert!(e.to_string().contains("upgrade palisade"), "{e}");
        assert!(b
            .verify(&ring(&sk), Version::parse("99.0.0").unwrap())
            .is_ok());
    }

    #[test]
    fn framing_errors_are_clear() {
        let sk = SecretKey::generate().unwrap();
        let mut b = packed("1.0.0", "0.1.0");
        b.sign(&sk);
        let bytes = b.to_bytes();
        assert!(Bundle::parse(b"hello\n")
            .unwrap_err()
            .to_string()
            .contains("first line"));
        assert!(Bundle::parse(&bytes[..bytes.len() - 3]).is_err());
        let mut junk = bytes.clone();
        junk.extend_from_slice(b"x");
        assert!(Bundle::parse(&junk).is_err());
        let evil = format!("{MAGIC}\nfile ../etc/passwd.yml 1\nx\n");
        assert!(Bundle::parse(evil.as_bytes()).is_err());
        let huge = format!("{MAGIC}\nfile a.yml 99999999999999999999\n");
        assert!(Bundle::parse(huge.as_bytes()).is_err());
        assert!(Bundle::parse(format!("{MAGIC}\n").as_bytes())
            .unwrap_err()
            .to_string()
            .contains("no manifest"));
    }

    #[test]
    fn random_input_never_panics() {
        let sk = SecretKey::generate().unwrap();
        let mut b = packed("1.0.0", "0.1.0");
        b.sign(&sk);
        let bytes = b.to_bytes();
        let keys = ring(&sk);
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..1000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut m = bytes.clone();
            let i = (state as usize) % m.len();
            m[i] = (state >> 32) as u8;
            if (state >> 40) % 3 == 0 {
                m.truncate(i);
            }
            if let Ok(parsed) = Bundle::parse(&m) {
                let _ = parsed.verify(&keys, Version::palisade());
            }
        }
    }

    #[test]
    fn pack_refuses_bad_names_and_versions() {
        let now = SystemTime::now();
        assert!(Bundle::pack("1.0", "0.1.0", now, vec![("x.txt".into(), vec![])]).is_err());
        assert!(Bundle::pack("1.0", "0.1.0", now, vec![("../a.yml".into(), vec![])]).is_err());
        assert!(Bundle::pack("v1", "0.1.0", now, vec![("a.yml".into(), vec![])]).is_err());
        assert!(Bundle::pack("1.0", "0.1.0", now, vec![]).is_err());
    }
}

#[cfg(test)]
mod shipped {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The bundle committed next to the rulesets was signed with the project key's secret half;
    /// the compiled-in public key must accept it (the key pair really is one).
    #[test]
    fn the_shipped_bundle_verifies_with_the_compiled_in_key() {
        let bytes = include_bytes!("../../../rulesets/bundles/palisade-rules-0.1.0.bundle");
        let v = Bundle::parse(bytes)
            .unwrap()
            .verify(&KeyRing::builtin(), Version::palisade())
            .unwrap();
        assert_eq!(v.signer_label, crate::keys::BUILTIN_KEY_LABEL);
        assert_eq!(v.version.to_string(), "0.1.0");
    }
}
