//! Ed25519 keys: the public keys Palisade trusts (compiled in, plus `PALISADE_RULES_PUBKEY`) and
//! the publisher's signing key file.
//!
//! Key files are text: lines starting with `#` are comments, the one other line is the key as
//! 64 hex digits (a public key, or a secret seed). A key's *id* is the first 8 bytes of the
//! SHA-256 of the public key, in hex: it names the signer in signatures and audit events without
//! revealing anything.

use std::fmt;
use std::io::Read;
use std::path::Path;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::hex;

/// The project's rules key, trusted by every build (`rulesets/keys/palisade-2026.pub`).
pub const BUILTIN_KEY_FILE: &str = include_str!("../../../rulesets/keys/palisade-2026.pub");
/// Label of the built-in key in audit events.
pub const BUILTIN_KEY_LABEL: &str = "palisade-2026";
/// Label of the key given by `PALISADE_RULES_PUBKEY`.
pub const ENV_KEY_LABEL: &str = "PALISADE_RULES_PUBKEY";

/// Prefix of the signed message: a signature over a manifest cannot be replayed as a signature
/// over anything else signed with the same key.
pub const SIGNING_CONTEXT: &[u8] = b"palisade-rules-manifest-v1\n";

/// A key file or key text that is not what it should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError(pub String);

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KeyError {}

/// The key line of a key file: the one line that is not blank or a `#` comment.
fn key_line(text: &str) -> Option<&str> {
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let first = lines.next()?;
    lines.next().is_none().then_some(first)
}

/// The id of a public key: hex of the first 8 bytes of its SHA-256.
pub fn key_id(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    hex::encode(&digest[..8])
}

/// A public key Palisade accepts rulesets from.
#[derive(Clone)]
pub struct TrustedKey {
    /// Where the key came from, for audit events (`palisade-2026`, `PALISADE_RULES_PUBKEY`).
    pub label: String,
    /// [`key_id`] of the key.
    pub id: String,
    key: VerifyingKey,
}

impl fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrustedKey({} {})", self.label, self.id)
    }
}

impl TrustedKey {
    /// Parses a public key: 64 hex digits, or a key file's text (`#` comments allowed).
    pub fn parse(label: &str, text: &str) -> Result<TrustedKey, KeyError> {
        let bad = || {
            KeyError(format!(
                "{label}: not an Ed25519 public key: expected 64 hex digits (32 bytes), as printed by `palisade rules keygen`"
            ))
        };
        let line = key_line(text).ok_or_else(bad)?;
        let bytes = hex::decode_array::<32>(line).ok_or_else(bad)?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| bad())?;
        Ok(TrustedKey {
            label: label.to_string(),
            id: key_id(&key),
            key,
        })
    }

    /// The public key as hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.key.as_bytes())
    }

    /// Whether `signature` is this key's signature over `manifest`.
    pub fn verifies(&self, manifest: &[u8], signature: &[u8; 64]) -> bool {
        let sig = Signature::from_bytes(signature);
        let mut msg = Vec::with_capacity(SIGNING_CONTEXT.len() + manifest.len());
        msg.extend_from_slice(SIGNING_CONTEXT);
        msg.extend_from_slice(manifest);
        // Strict verification refuses malleable and small-order-key signatures.
        self.key.verify_strict(&msg, &sig).is_ok()
    }
}

/// The set of keys a bundle's signature is checked against.
#[derive(Debug, Clone)]
pub struct KeyRing {
    keys: Vec<TrustedKey>,
}

impl KeyRing {
    /// The compiled-in project key only.
    pub fn builtin() -> KeyRing {
        // The file is part of the source tree and checked by a test; an unparsable one would
        // trust nothing rather than panic.
        let keys = TrustedKey::parse(BUILTIN_KEY_LABEL, BUILTIN_KEY_FILE)
            .map(|k| vec![k])
            .unwrap_or_default();
        KeyRing { keys }
    }

    /// The compiled-in key plus `extra` (the text of `PALISADE_RULES_PUBKEY`), if given.
    pub fn with_extra(extra: Option<&str>) -> Result<KeyRing, KeyError> {
        let mut ring = KeyRing::builtin();
        if let Some(text) = extra.filter(|t| !t.trim().is_empty()) {
            ring.add(TrustedKey::parse(ENV_KEY_LABEL, text)?);
        }
        Ok(ring)
    }

    /// A ring of exactly these keys (tests, tools).
    pub fn of(keys: Vec<TrustedKey>) -> KeyRing {
        KeyRing { keys }
    }

    /// Adds a key (a key already present is not added twice).
    pub fn add(&mut self, key: TrustedKey) {
        if !self.keys.iter().any(|k| k.id == key.id) {
            self.keys.push(key);
        }
    }

    /// The trusted keys.
    pub fn keys(&self) -> &[TrustedKey] {
        &self.keys
    }

    /// The key with this id, if trusted.
    pub fn get(&self, id: &str) -> Option<&TrustedKey> {
        self.keys.iter().find(|k| k.id == id)
    }
}

/// A publisher's secret signing key. Never logged (its `Debug` shows only the public id).
pub struct SecretKey {
    key: SigningKey,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(id {})", self.id())
    }
}

impl SecretKey {
    /// A new random key (from the operating system's random source).
    pub fn generate() -> Result<SecretKey, KeyError> {
        let mut seed = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut seed))
            .map_err(|e| KeyError(format!("cannot read /dev/urandom for a new key: {e}")))?;
        Ok(SecretKey {
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// Parses a secret key file's text (64 hex digits of seed, `#` comments allowed).
    pub fn parse(text: &str) -> Result<SecretKey, KeyError> {
        let seed = key_line(text).and_then(hex::decode_array::<32>).ok_or_else(|| {
            KeyError(
                "not an Ed25519 secret key: expected one line of 64 hex digits (as written by `palisade rules keygen`)"
                    .into(),
            )
        })?;
        Ok(SecretKey {
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// Reads a secret key file.
    pub fn read(path: &Path) -> Result<SecretKey, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            KeyError(format!(
                "cannot read the signing key {}: {e}",
                path.display()
            ))
        })?;
        SecretKey::parse(&text).map_err(|e| KeyError(format!("{}: {e}", path.display())))
    }

    /// The key file text (seed as hex, with a comment naming the public key).
    pub fn to_file_text(&self) -> String {
        format!(
            "# Palisade rules signing key (Ed25519 secret seed, hex). SECRET: never commit it.\n# Public key: {}\n{}\n",
            self.public_hex(),
            hex::encode(self.key.as_bytes())
        )
    }

    /// The public key as hex (what `PALISADE_RULES_PUBKEY` takes).
    pub fn public_hex(&self) -> String {
        hex::encode(self.key.verifying_key().as_bytes())
    }

    /// The public key as a trusted key with this label.
    pub fn trusted(&self, label: &str) -> TrustedKey {
        let key = self.key.verifying_key();
        TrustedKey {
            label: label.to_string(),
            id: key_id(&key),
            key,
        }
    }

    /// [`key_id`] of the public key.
    pub fn id(&self) -> String {
        key_id(&self.key.verifying_key())
    }

    /// Signs a manifest (with [`SIGNING_CONTEXT`] prepended).
    pub fn sign_manifest(&self, manifest: &[u8]) -> [u8; 64] {
        let mut msg = Vec::with_capacity(SIGNING_CONTEXT.len() + manifest.len());
        msg.extend_from_slice(SIGNING_CONTEXT);
        msg.extend_from_slice(manifest);
        self.key.sign(&msg).to_bytes()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn builtin_key_parses() {
        let ring = KeyRing::builtin();
        assert_eq!(ring.keys().len(), 1);
        assert_eq!(ring.keys()[0].label, BUILTIN_KEY_LABEL);
        assert_eq!(ring.keys()[0].id.len(), 16);
    }

    #[test]
    fn sign_and_verify_round_trip() {
        let sk = SecretKey::generate().unwrap();
        let again = SecretKey::parse(&sk.to_file_text()).unwrap();
        assert_eq!(again.public_hex(), sk.public_hex());
        let pk = TrustedKey::parse("test", &sk.public_hex()).unwrap();
        assert_eq!(pk.id, sk.id());
        let sig = sk.sign_manifest(b"{\"a\":1}");
        assert!(pk.verifies(b"{\"a\":1}", &sig));
        assert!(!pk.verifies(b"{\"a\":2}", &sig));
        let mut bad = sig;
        bad[10] ^= 1;
        assert!(!pk.verifies(b"{\"a\":1}", &bad));
        let other = SecretKey::generate().unwrap().trusted("other");
        assert!(!other.verifies(b"{\"a\":1}", &sig));
    }

    #[test]
    fn bad_keys_are_named() {
        let e = TrustedKey::parse(ENV_KEY_LABEL, "abc").unwrap_err();
        assert!(
            e.0.contains("PALISADE_RULES_PUBKEY") && e.0.contains("64 hex"),
            "{e}"
        );
        assert!(KeyRing::with_extra(Some("zz")).is_err());
        assert_eq!(KeyRing::with_extra(Some("  ")).unwrap().keys().len(), 1);
        assert!(SecretKey::parse("# only a comment\n").is_err());
        assert!(SecretKey::parse("00\n11\n").is_err());
    }

    #[test]
    fn env_key_is_added_once() {
        let sk = SecretKey::generate().unwrap();
        let ring = KeyRing::with_extra(Some(&sk.public_hex())).unwrap();
        assert_eq!(ring.keys().len(), 2);
        assert_eq!(ring.get(&sk.id()).unwrap().label, ENV_KEY_LABEL);
        let mut ring2 = ring.clone();
        ring2.add(sk.trusted("again"));
        assert_eq!(ring2.keys().len(), 2);
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let sk = SecretKey::generate().unwrap();
        let seed_hex = hex::encode(sk.key.as_bytes());
        assert!(!format!("{sk:?}").contains(&seed_hex));
    }
}
