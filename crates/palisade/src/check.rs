//! `palisade check`: validate config and print the effective policy with where each value came from.

use std::path::PathBuf;
use std::process::ExitCode;

use palisade_policy::{Inputs, Policy, Source};

use crate::{wiring, EXIT_CONFIG};

/// Loads the policy from this process's environment and config file, or prints the error in the
/// form a busy reader can act on.
pub fn load_policy(config: Option<PathBuf>) -> Result<Policy, String> {
    let inputs = Inputs::from_process(config).map_err(|e| e.to_string())?;
    palisade_policy::load(&inputs).map_err(|e| e.to_string())
}

/// Runs the subcommand.
pub fn check(config: Option<PathBuf>, hipaa: bool) -> ExitCode {
    let policy = match load_policy(config) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("palisade: configuration refused: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let components = match wiring::build(&policy) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("palisade: configuration refused: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    // Certificates are checked too: a bad one refuses the configuration as at startup.
    let transport_text = match palisade_proxy::tls::describe_transport(&policy) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("palisade: configuration refused: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    println!(
        "palisade {} — configuration is valid",
        env!("CARGO_PKG_VERSION")
    );
    println!(
        "rules: {} rules, version {} (embedded), paranoia {}, anomaly threshold {}, mode {:?}",
        components.engine.rule_count(),
        components.engine.version(),
        policy.paranoia,
        policy.anomaly_threshold,
        policy.mode
    );
    let transport = &policy.transport;
    println!(
        "HTTPS redirect {}; HSTS {}",
        if transport.https_redirect {
            "on"
        } else {
            "off"
        },
        transport.hsts.as_ref().map_or_else(
            || "off".to_string(),
            |h| format!(
                "max-age={} includeSubDomains={} preload={}",
                h.max_age, h.include_subdomains, h.preload
            )
        ),
    );
    match &policy.config_file {
        Some(p) => println!("config file: {}", p.display()),
        None => println!("config file: none (defaults and config vars only)"),
    }
    println!();
    println!("{:<36} {:<24} source", "setting", "value");
    for (setting, value, source) in &policy.provenance {
        let src = match source {
            Source::Default => "default".to_string(),
            other => other.to_string(),
        };
        let shown = if setting.env.contains("KEY")
            || setting.env.contains("REDIS_URL")
            || setting.env.contains("WEBHOOK")
        {
            "<set>"
        } else {
            value.as_str()
        };
        println!("{:<36} {:<24} {}", setting.env, shown, src);
    }
    print!("\n{transport_text}");
    println!();
    match crate::rules_cmd::describe(&policy) {
        Ok(lines) => lines.iter().for_each(|l| println!("{l}")),
        Err(e) => {
            eprintln!("palisade: configuration refused: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    }
    if hipaa {
        println!();
        let items = palisade_audit::hipaa_checklist(&wiring::policy_summary(
            &policy,
            &components.audit,
            components.engine.version(),
        ));
        print!("{}", palisade_audit::render_checklist_text(&items));
    }
    ExitCode::SUCCESS
}

/// The effective policy as JSON (setting → value), for the startup audit event and the report.
pub fn policy_json(policy: &Policy) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for (setting, value, _) in &policy.provenance {
        // Secrets never leave the process.
        let shown = if setting.env.contains("KEY")
            || setting.env.contains("REDIS_URL")
            || setting.env.contains("WEBHOOK")
        {
            "<set>".to_string()
        } else {
            value.clone()
        };
        map.insert(setting.env.to_string(), serde_json::Value::String(shown));
    }
    serde_json::Value::Object(map)
}
