//! `palisade`: the command line. Subcommands are thin; the work lives in the library crates.

mod check;
mod logging;
mod rules_cmd;
mod run;
mod supervisor;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit status for a configuration Palisade refuses.
pub const EXIT_CONFIG: u8 = 2;
/// Exit status when Palisade cannot start for another reason (port taken, app never ready).
pub const EXIT_STARTUP: u8 = 1;

const ABOUT: &str =
    "Palisade: a web application firewall for Heroku apps that handle health data.\n\
Every request is checked and logged before the app sees it.";

#[derive(Parser, Debug)]
#[command(name = "palisade", version, about = ABOUT, long_about = ABOUT,
    after_long_help = "Every setting is a config var (PALISADE_*) or a key in palisade.yml; \
`palisade run --help` lists them all, and docs/configuration.md explains each.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the firewall: in front of a web command it starts (supervisor mode), or in front of an
    /// app that is already running (--upstream).
    #[command(after_long_help = run::long_help())]
    Run(run::RunArgs),
    /// Validate the configuration (config vars + palisade.yml) and print the effective policy.
    /// Exits 0 when valid, 2 with a message naming the bad value when not.
    Check {
        /// Path of palisade.yml (default: $PALISADE_CONFIG, else ./palisade.yml if present).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        /// Also print the HIPAA Security Rule checklist for this policy.
        #[arg(long)]
        hipaa: bool,
    },
    /// Ruleset bundles: keygen, pack, sign, verify, fetch (see docs/rule-updates.md).
    Rules {
        #[command(subcommand)]
        command: rules_cmd::RulesCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Check { config, hipaa } => check::check(config, hipaa),
        Command::Rules { command } => rules_cmd::rules(command),
    }
}
