//! Native TLS settings (issue #5, HIPAA §164.312(e)(1) transmission security).
//!
//! On Heroku the router terminates TLS and speaks plain HTTP to the dyno, so these settings are
//! for everything else (a VM, Dokku, a container, dyno-to-dyno traffic in a Private Space). This
//! module only decides *where* the certificates come from and how TLS is offered; reading and
//! checking the PEM (bad, mismatched, expired) happens in `palisade-proxy`'s `tls` module, whose
//! errors name the setting through [`PemSource::origin`].

use std::path::PathBuf;

use crate::settings as s;
use crate::{values, ConfigError, Resolver, Source, Upstream};

/// The lowest TLS version offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    /// TLS 1.2 with ECDHE + AEAD suites only (NIST SP 800-52r2), and TLS 1.3.
    Tls12,
    /// TLS 1.3 only (the default).
    Tls13,
}

impl TlsVersion {
    /// `1.2` or `1.3`, as the user writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Tls12 => "1.2",
            TlsVersion::Tls13 => "1.3",
        }
    }
}

/// Where a PEM value is: inline in the setting, or in a file the setting names.
#[derive(Clone, PartialEq, Eq)]
pub enum PemValue {
    /// PEM text given directly (a config var holding `-----BEGIN ...`).
    Inline(String),
    /// A path to a PEM file (relative paths are relative to the app directory).
    File(PathBuf),
}

// Never print inline PEM: for the key it is the secret itself.
impl std::fmt::Debug for PemValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PemValue::Inline(t) => write!(f, "Inline({} bytes, redacted)", t.len()),
            PemValue::File(p) => f.debug_tuple("File").field(p).finish(),
        }
    }
}

/// A certificate chain or private key, and the setting it came from (for error messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PemSource {
    /// The setting that gave it, e.g. `config var PALISADE_TLS_KEY`.
    pub origin: Source,
    /// The PEM text or its file.
    pub value: PemValue,
}

/// Native TLS termination, present when `PALISADE_TLS_CERT` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPolicy {
    /// Default certificate chain (leaf first), served when no other certificate matches the
    /// client's SNI name or the client sends none.
    pub cert: PemSource,
    /// Private key of [`Self::cert`].
    pub key: PemSource,
    /// Directory of further `NAME.crt` + `NAME.key` pairs, each served for the DNS names in its
    /// certificate's subjectAltName (SNI).
    pub certs_dir: Option<(PathBuf, Source)>,
    /// The port TLS listens on: `PALISADE_TLS_PORT`, else the public port.
    pub port: Option<u16>,
    /// TLS takes the public port itself, so no plain-HTTP listener exists. `false` when
    /// `PALISADE_TLS_PORT` names another port: the public port keeps serving plain HTTP.
    pub replaces_plain: bool,
    /// Lowest version offered.
    pub min_version: TlsVersion,
}

/// Default of `PALISADE_TLS_MIN_VERSION`.
pub const DEFAULT_TLS_MIN_VERSION: TlsVersion = TlsVersion::Tls13;

fn parse_min_version(t: &str) -> Result<TlsVersion, String> {
    let v = t.trim().to_ascii_lowercase();
    let v = v
        .strip_prefix("tlsv")
        .or_else(|| v.strip_prefix("tls"))
        .unwrap_or(&v);
    match v {
        "1.3" => Ok(TlsVersion::Tls13),
        "1.2" => Ok(TlsVersion::Tls12),
        _ => Err(
            "1.3 (the default: TLS 1.3 only) or 1.2 (adds TLS 1.2 with ECDHE + AES-GCM/ChaCha20 \
             suites); TLS 1.1 and older are never offered"
                .into(),
        ),
    }
}

fn is_inline_pem(t: &str) -> bool {
    t.trim_start().starts_with("-----BEGIN")
}

/// Reads a certificate or key setting. Inline PEM is recorded in the provenance by size only.
fn pem_setting(
    r: &mut Resolver<'_>,
    st: s::Setting,
    secret: bool,
) -> Result<Option<PemSource>, ConfigError> {
    let Some((text, origin)) = r.raw(st)? else {
        r.provenance
            .push((st, st.default.to_string(), Source::Default));
        return Ok(None);
    };
    if text.trim().is_empty() {
        return Err(ConfigError::Invalid {
            source: origin,
            value: text,
            allowed: "PEM text (-----BEGIN ...) or the path of a PEM file".into(),
        });
    }
    let value = if is_inline_pem(&text) {
        if secret && matches!(origin, Source::File { .. }) {
            return Err(ConfigError::Invalid {
                source: origin,
                value: "(a PEM private key, not shown)".into(),
                allowed: "the path of a key file: palisade.yml is committed with the code, so a private \
                          key must not be in it (or set the PALISADE_TLS_KEY config var to the PEM text)"
                    .into(),
            });
        }
        // Some platforms cannot hold newlines in a variable; accept `\n` escapes then.
        let pem = if !text.contains('\n') && text.contains("\\n") {
            text.replace("\\n", "\n")
        } else {
            text
        };
        let shown = if secret {
            "(PEM private key, redacted)".to_string()
        } else {
            format!("(PEM text, {} bytes)", pem.len())
        };
        r.provenance.push((st, shown, origin.clone()));
        PemValue::Inline(pem)
    } else {
        let path = text.trim().to_string();
        r.provenance.push((st, path.clone(), origin.clone()));
        PemValue::File(PathBuf::from(path))
    };
    Ok(Some(PemSource { origin, value }))
}

/// Parses the TLS block of the settings table. `public_port`, `upstream` and `on_heroku` are
/// the already-resolved values they depend on.
pub(crate) fn load_tls(
    r: &mut Resolver<'_>,
    public_port: Option<u16>,
    upstream: &Upstream,
    on_heroku: bool,
) -> Result<Option<TlsPolicy>, ConfigError> {
    let cert = pem_setting(r, s::TLS_CERT, false)?;
    let key = pem_setting(r, s::TLS_KEY, true)?;
    let certs_dir = match r.raw(s::TLS_CERTS_DIR)? {
        Some((text, origin)) if !text.trim().is_empty() => {
            r.provenance
                .push((s::TLS_CERTS_DIR, text.trim().to_string(), origin.clone()));
            Some((PathBuf::from(text.trim()), origin))
        }
        Some((text, origin)) => {
            return Err(ConfigError::Invalid {
                source: origin,
                value: text,
                allowed: "the path of a directory of NAME.crt + NAME.key pairs".into(),
            })
        }
        None => {
            r.provenance.push((
                s::TLS_CERTS_DIR,
                s::TLS_CERTS_DIR.default.to_string(),
                Source::Default,
            ));
            None
        }
    };
    let tls_port = r.get_opt(s::TLS_PORT, values::parse_port)?;
    let explicit_min = r.raw(s::TLS_MIN_VERSION)?.is_some();
    let min_version = r.get(
        s::TLS_MIN_VERSION,
        DEFAULT_TLS_MIN_VERSION,
        parse_min_version,
    )?;

    let (cert, key) = match (cert, key) {
        (Some(c), Some(k)) => (c, k),
        (None, None) => {
            let stray = [
                (certs_dir.is_some(), s::TLS_CERTS_DIR.env),
                (tls_port.is_some(), s::TLS_PORT.env),
                (explicit_min, s::TLS_MIN_VERSION.env),
            ];
            if let Some((_, name)) = stray.iter().find(|(set, _)| *set) {
                return Err(ConfigError::Conflict {
                    message: format!(
                        "{name} is set but PALISADE_TLS_CERT and PALISADE_TLS_KEY are not, so Palisade \
                         terminates no TLS and {name} would do nothing. Set both to enable native TLS, \
                         or unset {name}. (On Heroku the router terminates TLS; see docs/tls.md.)"
                    ),
                });
            }
            return Ok(None);
        }
        (Some(_), None) => {
            return Err(ConfigError::Conflict {
                message:
                    "PALISADE_TLS_CERT is set but PALISADE_TLS_KEY is not: native TLS needs both \
                          the certificate chain and its private key"
                        .into(),
            })
        }
        (None, Some(_)) => {
            return Err(ConfigError::Conflict {
                message:
                    "PALISADE_TLS_KEY is set but PALISADE_TLS_CERT is not: native TLS needs both \
                          the certificate chain and its private key"
                        .into(),
            })
        }
    };

    let replaces_plain = tls_port.is_none() || tls_port == public_port;
    if replaces_plain && on_heroku {
        return Err(ConfigError::Conflict {
            message: "PALISADE_TLS_CERT is set on a Heroku dyno without PALISADE_TLS_PORT: TLS would take \
                      the public port, but the Heroku router speaks plain HTTP to $PORT (it terminates \
                      TLS itself), so every request would fail. Set PALISADE_TLS_PORT to a separate port \
                      (e.g. for dyno-to-dyno traffic in a Private Space) or unset PALISADE_TLS_CERT and \
                      PALISADE_TLS_KEY."
                .into(),
        });
    }
    let port = tls_port.or(public_port);
    if let (Some(p), Upstream::Child { port: Some(app) }) = (port, upstream) {
        if p == *app {
            return Err(ConfigError::Conflict {
                message: format!(
                    "PALISADE_TLS_PORT ({p}) equals the app's port: the app would take the port Palisade \
                     must terminate TLS on. Choose another port."
                ),
            });
        }
    }
    Ok(Some(TlsPolicy {
        cert,
        key,
        certs_dir,
        port,
        replaces_plain,
        min_version,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{load, Inputs};

    fn inputs(env: &[(&str, &str)], file: Option<&str>) -> Inputs {
        Inputs {
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            file: file.map(|t| (PathBuf::from("palisade.yml"), t.to_string())),
        }
    }

    const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const KEY: &str = "-----BEGIN PRIVATE KEY-----\nSECRETKEYBYTES\n-----END PRIVATE KEY-----\n";

    #[test]
    fn no_tls_by_default() {
        let p = load(&inputs(&[("PORT", "5000")], None)).unwrap();
        assert_eq!(p.tls, None);
    }

    #[test]
    fn inline_pem_and_defaults() {
        let p = load(&inputs(
            &[
                ("PORT", "5000"),
                ("PALISADE_TLS_CERT", CERT),
                ("PALISADE_TLS_KEY", KEY),
            ],
            None,
        ))
        .unwrap();
        let tls = p.tls.unwrap();
        assert_eq!(tls.cert.value, PemValue::Inline(CERT.into()));
        assert_eq!(tls.key.origin, Source::Env("PALISADE_TLS_KEY".into()));
        assert_eq!(tls.min_version, TlsVersion::Tls13);
        assert_eq!(tls.port, Some(5000));
        assert!(tls.replaces_plain);
        // The key never appears in the provenance `palisade check` prints, nor in Debug output.
        let shown = format!("{:?} {:?}", p.provenance, tls.key);
        assert!(!shown.contains("SECRETKEYBYTES"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
    }

    #[test]
    fn escaped_newlines_are_accepted() {
        let one_line = KEY.replace('\n', "\\n");
        let p = load(&inputs(
            &[("PALISADE_TLS_CERT", CERT), ("PALISADE_TLS_KEY", &one_line)],
            None,
        ))
        .unwrap();
        assert_eq!(p.tls.unwrap().key.value, PemValue::Inline(KEY.into()));
    }

    #[test]
    fn file_paths_from_yaml_and_separate_port() {
        let p = load(&inputs(
            &[("PORT", "5000")],
            Some("tls:\n  cert: certs/site.crt\n  key: certs/site.key\n  port: 5443\n  min_version: 1.2\n  certs_dir: certs/more\n"),
        ))
        .unwrap();
        let tls = p.tls.unwrap();
        assert_eq!(tls.cert.value, PemValue::File("certs/site.crt".into()));
        assert!(
            matches!(&tls.key.origin, Source::File { key, line: Some(3), .. } if key == "tls.key")
        );
        assert_eq!(tls.port, Some(5443));
        assert!(!tls.replaces_plain);
        assert_eq!(tls.min_version, TlsVersion::Tls12);
        assert_eq!(tls.certs_dir.unwrap().0, PathBuf::from("certs/more"));
    }

    #[test]
    fn min_version_other_than_12_or_13_is_refused_with_allowed_values() {
        for bad in ["1.1", "1.0", "tls1", "1.4", "modern"] {
            let e = load(&inputs(
                &[
                    ("PALISADE_TLS_CERT", CERT),
                    ("PALISADE_TLS_KEY", KEY),
                    ("PALISADE_TLS_MIN_VERSION", bad),
                ],
                None,
            ))
            .unwrap_err()
            .to_string();
            assert!(e.contains("PALISADE_TLS_MIN_VERSION"), "{e}");
            assert!(e.contains(&format!("{bad:?}")), "{e}");
            assert!(e.contains("1.3") && e.contains("1.2"), "{e}");
        }
        for (ok, want) in [
            ("TLSv1.2", TlsVersion::Tls12),
            ("1.3", TlsVersion::Tls13),
            ("tls1.3", TlsVersion::Tls13),
        ] {
            let p = load(&inputs(
                &[
                    ("PALISADE_TLS_CERT", CERT),
                    ("PALISADE_TLS_KEY", KEY),
                    ("PALISADE_TLS_MIN_VERSION", ok),
                ],
                None,
            ))
            .unwrap();
            assert_eq!(p.tls.unwrap().min_version, want);
        }
    }

    #[test]
    fn half_configurations_are_refused() {
        let e = load(&inputs(&[("PALISADE_TLS_CERT", CERT)], None)).unwrap_err();
        assert!(e.to_string().contains("PALISADE_TLS_KEY is not"), "{e}");
        let e = load(&inputs(&[("PALISADE_TLS_KEY", KEY)], None)).unwrap_err();
        assert!(e.to_string().contains("PALISADE_TLS_CERT is not"), "{e}");
        let e = load(&inputs(&[("PALISADE_TLS_MIN_VERSION", "1.2")], None)).unwrap_err();
        assert!(
            e.to_string().contains("PALISADE_TLS_MIN_VERSION is set"),
            "{e}"
        );
        let e = load(&inputs(&[("PALISADE_TLS_PORT", "8443")], None)).unwrap_err();
        assert!(e.to_string().contains("PALISADE_TLS_PORT is set"), "{e}");
        let e = load(&inputs(&[("PALISADE_TLS_CERT", "  ")], None)).unwrap_err();
        assert!(e.to_string().contains("PALISADE_TLS_CERT"), "{e}");
    }

    #[test]
    fn private_key_pem_in_the_committed_file_is_refused() {
        let yaml = format!(
            "tls:\n  cert: site.crt\n  key: \"{}\"\n",
            KEY.replace('\n', "\\n")
        );
        let e = load(&inputs(&[], Some(&yaml))).unwrap_err().to_string();
        assert!(e.contains("tls.key"), "{e}");
        assert!(e.contains("must not be in it"), "{e}");
        assert!(!e.contains("SECRETKEYBYTES"), "{e}");
    }

    #[test]
    fn heroku_public_port_cannot_be_tls() {
        let env = [
            ("DYNO", "web.1"),
            ("PORT", "5000"),
            ("PALISADE_TLS_CERT", CERT),
            ("PALISADE_TLS_KEY", KEY),
        ];
        let e = load(&inputs(&env, None)).unwrap_err();
        assert!(e.to_string().contains("router speaks plain HTTP"), "{e}");
        let mut env = env.to_vec();
        env.push(("PALISADE_TLS_PORT", "5443"));
        let tls = load(&inputs(&env, None)).unwrap().tls.unwrap();
        assert_eq!(tls.port, Some(5443));
        assert!(!tls.replaces_plain);
    }

    #[test]
    fn tls_port_equal_to_app_port_is_refused() {
        let e = load(&inputs(
            &[
                ("PORT", "5000"),
                ("PALISADE_APP_PORT", "5443"),
                ("PALISADE_TLS_PORT", "5443"),
                ("PALISADE_TLS_CERT", CERT),
                ("PALISADE_TLS_KEY", KEY),
            ],
            None,
        ))
        .unwrap_err();
        assert!(e.to_string().contains("app's port"), "{e}");
    }
}
