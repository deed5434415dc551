//! `palisade`: the command line. Subcommands are thin; the work lives in the library crates.

mod alert_tls;
mod allocator;
mod check;
mod logging;
mod redis_tls;
mod rules_cmd;
mod run;
mod supervisor;
mod tools;
mod wiring;

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
    /// Run one raw HTTP/1.1 request (a file, or stdin) through the engine with the effective
    /// policy and print every rule that fired, on which target, after which transforms, with
    /// the score and the verdict.
    Explain {
        /// File holding the raw request (request line, headers, blank line, body). Default: stdin.
        file: Option<PathBuf>,
        /// Path of palisade.yml (default: $PALISADE_CONFIG, else ./palisade.yml if present).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
    },
    /// Audit-log tools.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Turn exported audit logs into one self-contained HTML report (traffic, blocks, top
    /// clients, policy in force, HIPAA checklist, log integrity).
    Report {
        /// Exported log files (raw JSON lines or with logplex/syslog prefixes). Default: stdin.
        files: Vec<PathBuf>,
        /// Where to write the HTML file.
        #[arg(
            long,
            short,
            value_name = "FILE",
            default_value = "palisade-report.html"
        )]
        out: PathBuf,
        /// Page title.
        #[arg(long)]
        title: Option<String>,
    },
    /// Ruleset bundles: keygen, pack, sign, verify, fetch (see docs/rule-updates.md).
    Rules {
        #[command(subcommand)]
        command: rules_cmd::RulesCommand,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Check exported logs' tamper-evidence chains: reports gaps (deleted lines), edits,
    /// reordering and dyno restarts with line numbers. Uses PALISADE_AUDIT_KEY when set (HMAC
    /// chains). Exit 0 intact, 1 tampered, 2 no audit lines.
    Verify {
        /// Exported log files (several dynos may be interleaved). Default: stdin.
        files: Vec<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Check { config, hipaa } => check::check(config, hipaa),
        Command::Explain { file, config } => tools::explain(file, config),
        Command::Audit(AuditCommand::Verify { files, json }) => tools::audit_verify(&files, json),
        Command::Report { files, out, title } => tools::report(&files, &out, title),
        Command::Rules { command } => rules_cmd::rules(command),
    }
}
