//! `palisade check`: validate config and print the effective policy with where each value came from.

use std::path::PathBuf;
use std::process::ExitCode;

use palisade_policy::{Inputs, Policy, Source};

use crate::EXIT_CONFIG;

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
    println!(
        "palisade {} — configuration is valid",
        env!("CARGO_PKG_VERSION")
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
        println!("{:<36} {:<24} {}", setting.env, value, src);
    }
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
        println!("HIPAA checklist: not yet available in this build.");
    }
    ExitCode::SUCCESS
}
