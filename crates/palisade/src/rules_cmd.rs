//! `palisade rules …`: build, sign, verify and fetch ruleset bundles; and the run-time wiring that
//! loads the rules in force (embedded floor, boot bundle, updater) for `palisade run` and
//! `palisade check`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::SystemTime;

use clap::Subcommand;
use palisade_engine::{embedded_rulesets, EngineConfig, UserRules};
use palisade_policy::Policy;
use palisade_rules::fetch::{fetch, parse_url, Fetched};
use palisade_rules::{
    spawn_updater, AuditCallback, Bundle, KeyRing, RulesEvent, RulesHandle, RulesLoader, SecretKey,
    TrustedKey, Updater, UpdaterConfig, Version, DEFAULT_FETCH_TIMEOUT,
};

use crate::EXIT_CONFIG;

/// Exit status when a bundle is refused or cannot be fetched.
const EXIT_REFUSED: u8 = 1;

/// `palisade rules` subcommands.
#[derive(Subcommand, Debug)]
pub enum RulesCommand {
    /// Create a new Ed25519 signing key; prints its public key (give it to palisade as
    /// PALISADE_RULES_PUBKEY). Keep the key file secret and out of git.
    Keygen {
        /// Where to write the secret key (created with mode 0600; never overwritten).
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
    },
    /// Pack ruleset files (*.yml, *.yaml in a directory) into an unsigned bundle.
    Pack {
        /// Directory of ruleset files (not recursive).
        #[arg(long, value_name = "DIR", conflicts_with = "embedded")]
        dir: Option<PathBuf>,
        /// Pack the rulesets built into this palisade instead of a directory.
        #[arg(long)]
        embedded: bool,
        /// Ruleset version (1-4 dot-separated numbers); palisade only ever moves to newer ones.
        #[arg(long = "rules-version", value_name = "VERSION")]
        rules_version: String,
        /// Oldest palisade that can use these rules (default: this palisade's version).
        #[arg(long, value_name = "VERSION")]
        min_palisade: Option<String>,
        /// Output bundle file.
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
    },
    /// Sign a bundle's manifest (adds or replaces this key's detached signature).
    Sign {
        /// Secret key file from `palisade rules keygen`.
        #[arg(long, value_name = "PATH")]
        key: PathBuf,
        /// Bundle to sign.
        bundle: PathBuf,
        /// Write the signed bundle here instead of in place.
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
    },
    /// Check a bundle: signature by a trusted key, checksums, minimum version, and that it
    /// compiles. Exits 0 when palisade would accept it, 1 when not.
    Verify {
        /// Bundle file.
        bundle: PathBuf,
        /// Also trust this public key (hex; default: $PALISADE_RULES_PUBKEY).
        #[arg(long, value_name = "HEX", env = "PALISADE_RULES_PUBKEY")]
        pubkey: Option<String>,
    },
    /// Download a bundle, verify it, and write it (only if it passes) — for build time.
    Fetch {
        /// Bundle URL (default: $PALISADE_RULES_URL).
        #[arg(long, value_name = "URL", env = "PALISADE_RULES_URL")]
        url: String,
        /// Where to write the verified bundle.
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
        /// Also trust this public key (hex; default: $PALISADE_RULES_PUBKEY).
        #[arg(long, value_name = "HEX", env = "PALISADE_RULES_PUBKEY")]
        pubkey: Option<String>,
    },
}

fn fail(code: u8, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("palisade: {msg}");
    ExitCode::from(code)
}

/// Writes `bytes` to `path` via a temporary file and a rename, so a reader never sees half.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Runs `palisade rules …`.
pub fn rules(cmd: RulesCommand) -> ExitCode {
    match cmd {
        RulesCommand::Keygen { out } => keygen(&out),
        RulesCommand::Pack {
            dir,
            embedded,
            rules_version,
            min_palisade,
            out,
        } => pack(dir, embedded, &rules_version, min_palisade, &out),
        RulesCommand::Sign { key, bundle, out } => sign(&key, &bundle, out.as_deref()),
        RulesCommand::Verify { bundle, pubkey } => verify(&bundle, pubkey.as_deref()),
        RulesCommand::Fetch { url, out, pubkey } => fetch_cmd(&url, &out, pubkey.as_deref()),
    }
}

fn keygen(out: &Path) -> ExitCode {
    use std::os::unix::fs::OpenOptionsExt;
    let key = match SecretKey::generate() {
        Ok(k) => k,
        Err(e) => return fail(EXIT_REFUSED, e),
    };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out);
    let written = file.and_then(|mut f| f.write_all(key.to_file_text().as_bytes()));
    if let Err(e) = written {
        return fail(
            EXIT_REFUSED,
            format!(
                "cannot create {}: {e} (an existing key is never overwritten)",
                out.display()
            ),
        );
    }
    println!("{}", key.public_hex());
    eprintln!(
        "palisade: secret key written to {} (key id {}). Keep it out of git. Trust it with PALISADE_RULES_PUBKEY={}",
        out.display(),
        key.id(),
        key.public_hex()
    );
    ExitCode::SUCCESS
}

fn pack(
    dir: Option<PathBuf>,
    embedded: bool,
    version: &str,
    min: Option<String>,
    out: &Path,
) -> ExitCode {
    let min = min.unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string());
    let now = SystemTime::now();
    let bundle = match (dir, embedded) {
        (_, true) => {
            let files = embedded_rulesets()
                .iter()
                .map(|s| {
                    let name = s.name.rsplit('/').next().unwrap_or(&s.name).to_string();
                    (name, s.yaml.as_bytes().to_vec())
                })
                .collect();
            Bundle::pack(version, &min, now, files)
        }
        (Some(dir), false) => Bundle::pack_dir(&dir, version, &min, now),
        (None, false) => return fail(EXIT_CONFIG, "say what to pack: --dir DIR or --embedded"),
    };
    let bundle = match bundle {
        Ok(b) => b,
        Err(e) => return fail(EXIT_CONFIG, e),
    };
    // Refuse to pack rules that would not compile: better here than on every dyno.
    let sources: Vec<_> = bundle
        .files
        .iter()
        .map(|(n, b)| {
            palisade_engine::RuleSource::new(n.clone(), String::from_utf8_lossy(b).into_owned())
        })
        .collect();
    if let Err(e) =
        palisade_engine::Engine::compile(&sources, &UserRules::empty(), &EngineConfig::default())
    {
        return fail(EXIT_CONFIG, format!("rules do not compile: {e}"));
    }
    if let Err(e) = write_atomically(out, &bundle.to_bytes()) {
        return fail(EXIT_REFUSED, format!("cannot write {}: {e}", out.display()));
    }
    println!("packed {} file(s) as rules version {version} into {} (unsigned: run `palisade rules sign`)", bundle.files.len(), out.display());
    ExitCode::SUCCESS
}

fn read_bundle(path: &Path) -> Result<Bundle, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Bundle::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn sign(key: &Path, bundle_path: &Path, out: Option<&Path>) -> ExitCode {
    let key = match SecretKey::read(key) {
        Ok(k) => k,
        Err(e) => return fail(EXIT_CONFIG, e),
    };
    let mut bundle = match read_bundle(bundle_path) {
        Ok(b) => b,
        Err(e) => return fail(EXIT_REFUSED, e),
    };
    bundle.sign(&key);
    let out = out.unwrap_or(bundle_path);
    if let Err(e) = write_atomically(out, &bundle.to_bytes()) {
        return fail(EXIT_REFUSED, format!("cannot write {}: {e}", out.display()));
    }
    println!(
        "signed {} with key {} (public key {})",
        out.display(),
        key.id(),
        key.public_hex()
    );
    ExitCode::SUCCESS
}

fn key_ring(pubkey: Option<&str>) -> Result<KeyRing, String> {
    KeyRing::with_extra(pubkey).map_err(|e| e.to_string())
}

fn verify(path: &Path, pubkey: Option<&str>) -> ExitCode {
    let keys = match key_ring(pubkey) {
        Ok(k) => k,
        Err(e) => return fail(EXIT_CONFIG, e),
    };
    let bundle = match read_bundle(path) {
        Ok(b) => b,
        Err(e) => return fail(EXIT_REFUSED, format!("refused: {e}")),
    };
    let verified = match bundle.verify(&keys, Version::palisade()) {
        Ok(v) => v,
        Err(e) => return fail(EXIT_REFUSED, format!("refused ({}): {e}", e.reason())),
    };
    let engine = match palisade_engine::Engine::compile(
        &verified.sources,
        &UserRules::empty(),
        &EngineConfig::default(),
    ) {
        Ok(e) => e,
        Err(e) => return fail(EXIT_REFUSED, format!("refused (compile): {e}")),
    };
    println!("bundle {}: OK", path.display());
    println!("  version        {}", verified.version);
    println!("  created at     {}", verified.manifest.created_at);
    println!("  min palisade   {}", verified.manifest.min_palisade);
    println!(
        "  signed by      {} ({})",
        verified.signer_label, verified.signer_id
    );
    println!("  rules          {} at paranoia 1", engine.rule_count());
    for f in &verified.manifest.files {
        println!(
            "  file           {} ({} bytes, sha256 {})",
            f.name, f.size, f.sha256
        );
    }
    ExitCode::SUCCESS
}

fn fetch_cmd(url: &str, out: &Path, pubkey: Option<&str>) -> ExitCode {
    let keys = match key_ring(pubkey) {
        Ok(k) => k,
        Err(e) => return fail(EXIT_CONFIG, e),
    };
    let url = match parse_url(url) {
        Ok(u) => u,
        Err(e) => return fail(EXIT_CONFIG, format!("--url / PALISADE_RULES_URL: {e}")),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(EXIT_REFUSED, e),
    };
    // BoringSSL for https:// (certificate and host name verified), plain TCP for http://.
    let connector = match crate::alert_tls::TlsAlertConnector::new() {
        Ok(c) => c,
        Err(e) => return fail(EXIT_REFUSED, e),
    };
    let fetched = runtime.block_on(fetch(&connector, &url, None, DEFAULT_FETCH_TIMEOUT));
    let bytes = match fetched {
        Ok(Fetched::Bundle { bytes, .. }) => bytes,
        Ok(Fetched::NotModified) => {
            return fail(EXIT_REFUSED, format!("{}: unexpected 304", url.redacted()))
        }
        Err(e) => {
            return fail(
                EXIT_REFUSED,
                format!("cannot fetch {}: {e}", url.redacted()),
            )
        }
    };
    let verified = match Bundle::parse(&bytes).and_then(|b| b.verify(&keys, Version::palisade())) {
        Ok(v) => v,
        Err(e) => {
            return fail(
                EXIT_REFUSED,
                format!(
                    "bundle from {} refused ({}): {e}",
                    url.redacted(),
                    e.reason()
                ),
            )
        }
    };
    if let Err(e) = palisade_engine::Engine::compile(
        &verified.sources,
        &UserRules::empty(),
        &EngineConfig::default(),
    ) {
        return fail(
            EXIT_REFUSED,
            format!("bundle from {} refused (compile): {e}", url.redacted()),
        );
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Err(e) = std::fs::create_dir_all(parent) {
            return fail(
                EXIT_REFUSED,
                format!("cannot create {}: {e}", parent.display()),
            );
        }
    }
    if let Err(e) = write_atomically(out, &bytes) {
        return fail(EXIT_REFUSED, format!("cannot write {}: {e}", out.display()));
    }
    println!(
        "fetched rules {} (signed by {} {}) into {}",
        verified.version,
        verified.signer_label,
        verified.signer_id,
        out.display()
    );
    ExitCode::SUCCESS
}

/// The engine config the policy asks for.
pub fn engine_config(policy: &Policy) -> EngineConfig {
    EngineConfig {
        paranoia: policy.paranoia,
        anomaly_threshold: policy.anomaly_threshold,
        max_inspect_body: usize::try_from(policy.max_inspect_body).unwrap_or(usize::MAX),
        ..EngineConfig::default()
    }
}

/// The loader for this policy: trusted keys, the user's rules from `palisade.yml`, engine config.
pub fn loader(policy: &Policy) -> Result<RulesLoader, String> {
    let keys = KeyRing::with_extra(policy.rules.pubkey.as_deref()).map_err(|e| e.to_string())?;
    let user = match &policy.config_file {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            UserRules::from_palisade_yml(&text).map_err(|e| e.to_string())?
        }
        None => UserRules::empty(),
    };
    Ok(RulesLoader::new(keys, user, engine_config(policy)))
}

/// A rules event as an audit event: `palisade run` writes it into the hash chain with the
/// requests it protects, so the log shows which rules were in force for each of them.
pub fn config_change(event: &RulesEvent) -> palisade_audit::ConfigChangeEvent {
    let json = event.to_json();
    let (event_type, success, reason) = match event {
        RulesEvent::Swapped { .. } => ("change", true, None),
        RulesEvent::Refused { reason, .. } => ("change", false, Some((*reason).to_string())),
        RulesEvent::Unreachable { .. } => ("access", false, Some("fetch".to_string())),
    };
    palisade_audit::ConfigChangeEvent {
        time: None,
        action: event.action(),
        event_type,
        success,
        reason,
        message: json["message"].as_str().unwrap_or_default().to_string(),
        details_key: "palisade.rules",
        details: json["palisade"]["rules"].clone(),
    }
}

/// Loads the rules in force at boot and starts the updater when a URL is configured.
///
/// `connector` makes the updater's connections (the binary's BoringSSL connector, so an
/// `https://` rules URL works and its certificate is verified).
pub fn start(
    policy: &Policy,
    audit: AuditCallback,
    connector: Arc<dyn palisade_audit::AlertConnector>,
) -> Result<(RulesHandle, Option<Updater>), String> {
    let loader = loader(policy)?;
    let (handle, events) = loader
        .boot(policy.rules.bundle.as_deref())
        .map_err(|e| e.to_string())?;
    for e in &events {
        audit(e);
    }
    let updater = match &policy.rules.url {
        None => None,
        Some(url) => {
            let url = parse_url(url).map_err(|e| format!("PALISADE_RULES_URL: {e}"))?;
            let config = UpdaterConfig {
                url,
                poll_interval: policy.rules.poll_interval,
                fetch_timeout: DEFAULT_FETCH_TIMEOUT.min(
                    policy
                        .rules
                        .poll_interval
                        .max(std::time::Duration::from_secs(5)),
                ),
                connector,
                loader,
            };
            Some(
                spawn_updater(handle.clone(), config, audit)
                    .map_err(|e| format!("cannot start the rules updater: {e}"))?,
            )
        }
    };
    Ok((handle, updater))
}

/// Lines for `palisade check`: the ruleset in force at boot and where it came from.
pub fn describe(policy: &Policy) -> Result<Vec<String>, String> {
    let loader = loader(policy)?;
    let (handle, events) = loader
        .boot(policy.rules.bundle.as_deref())
        .map_err(|e| e.to_string())?;
    let info = handle.info();
    let mut lines = vec![format!(
        "rules: version {} from {} ({} rules{})",
        info.version,
        info.origin,
        info.rule_count,
        match (&info.signer, &info.key_id) {
            (Some(s), Some(id)) => format!(", signed by {s} {id}"),
            _ => String::new(),
        }
    )];
    for e in &events {
        if let RulesEvent::Refused { message, .. } = e {
            return Err(format!("PALISADE_RULES_BUNDLE refused: {message}"));
        }
    }
    match &policy.rules.url {
        Some(url) => lines.push(format!(
            "rules updates: polling {} every {}",
            parse_url(url).map(|u| u.redacted()).unwrap_or_default(),
            palisade_policy::values::fmt_duration(policy.rules.poll_interval)
        )),
        None => lines
            .push("rules updates: off (set PALISADE_RULES_URL to poll for signed bundles)".into()),
    }
    let trusted: Vec<String> = loader
        .keys
        .keys()
        .iter()
        .map(|k: &TrustedKey| format!("{} {}", k.label, k.id))
        .collect();
    lines.push(format!("rules keys trusted: {}", trusted.join(", ")));
    Ok(lines)
}
