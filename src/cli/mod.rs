//! The command line: argument parsing, logging, and one module per command.
//!
//! Commands tie the pipeline's stages together; nothing below `cli` knows about them.

mod alerts;
mod check;
mod init;
mod log;
mod print;
mod scan;
mod test;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::Error;
use crate::config::Config;

/// newswatch: alert rules (in Rhai) over text articles.
#[derive(Parser, Debug)]
#[command(name = "newswatch", version, about, long_about = None)]
struct Cli {
    /// Log level on stderr: error, warn, info, debug or trace (default: info, or RUST_LOG).
    #[arg(long, global = true, value_name = "LEVEL")]
    log_level: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Evaluate rules on files, folders (recursively) and `-` (stdin); print the alerts.
    ///
    /// Exit code: 0 alerts raised, 1 none, 2 the scan could not do its job (missing path, no
    /// rules folder, bad config; with --strict also a skipped file or a failing rule).
    Scan(scan::Args),
    /// Watch folders and evaluate every new or changed article: the daemon.
    ///
    /// Runs until SIGINT or SIGTERM (exit 0 after a clean stop); SIGHUP re-reads the config.
    Watch(watch::Args),
    /// Compile every rule (and the config) and print every problem as FILE:LINE:COL: message.
    ///
    /// Exit code: 0 no problems, 1 problems.
    Check(check::Args),
    /// Show the alert history from the state store.
    Alerts(alerts::Args),
    /// Run the rules' test cases (NAME.test.yaml beside NAME.rhai).
    ///
    /// Exit code: 0 all pass, 1 a failure (or a broken rule or test file).
    Test(test::Args),
    /// Create a starting setup: newswatch.yaml, rules/ with an example rule and its test, inbox/.
    Init(init::Args),
    /// Print shell completions for bash, zsh, fish, elvish or powershell.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Output format of alerts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Readable text, coloured on a terminal.
    Text,
    /// One alert JSON object per line, nothing else on stdout.
    Json,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    log::init(cli.log_level.as_deref());
    let code = match cli.command {
        Command::Scan(args) => scan::run(args),
        Command::Watch(args) => watch::run(args),
        Command::Check(args) => check::run(args),
        Command::Alerts(args) => alerts::run(args),
        Command::Test(args) => test::run(args),
        Command::Init(args) => init::run(args),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "newswatch",
                &mut std::io::stdout(),
            );
            0
        }
    };
    ExitCode::from(code)
}

/// The config from `--config FILE`, else `./newswatch.yaml` if present, else defaults.
fn load_config(explicit: Option<&PathBuf>) -> Result<(Config, Option<PathBuf>), Error> {
    let default = PathBuf::from("newswatch.yaml");
    match explicit {
        Some(path) => Ok((Config::load(path)?, Some(path.clone()))),
        None if default.is_file() => Ok((Config::load(&default)?, Some(default))),
        None => Ok((Config::default(), None)),
    }
}

/// The rules folder: `--rules`, else the config's `rules:`, else `./rules`.
fn rules_dir(explicit: Option<PathBuf>, config: &Config) -> PathBuf {
    explicit
        .or_else(|| config.rules.clone())
        .unwrap_or_else(|| PathBuf::from("rules"))
}
