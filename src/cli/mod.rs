//! The command line: argument parsing, logging, and one module per command.
//!
//! Commands tie the pipeline's stages together; nothing below `cli` knows about them.

mod alerts;
mod check;
mod consume;
mod explain;
mod fetch;
mod init;
mod log;
mod ordered;
mod outbox;
mod print;
mod publish;
mod rules;
mod scan;
mod silence;
mod status;
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
    /// Evaluate rules on files, folders (recursively) and `-` (stdin, read in the format its
    /// content shows, or `--stdin-format`'s); print the alerts.
    ///
    /// Exit code: 0 alerts raised, 1 none, 2 the scan could not do its job (missing path, no
    /// rules folder, bad config; with --strict also a skipped file or a failing rule).
    Scan(scan::Args),
    /// Watch folders and evaluate every new or changed article: the daemon.
    ///
    /// Runs until SIGINT or SIGTERM (exit 0 after a clean stop); SIGHUP re-reads the config.
    Watch(watch::Args),
    /// Poll every feed of the config once, evaluate their new items, deliver the alerts (cron).
    ///
    /// A feed in a backoff or under a `Retry-After` waits. Exit code: 0 alerts raised, 1 none,
    /// 2 could not run (bad config, no feeds, no rules folder, every feed failing).
    Fetch(fetch::Args),
    /// Compile every rule (and the config) and print every problem as FILE:LINE:COL: message.
    ///
    /// Exit code: 0 no problems, 1 problems.
    Check(check::Args),
    /// Show the alert history from the state store.
    Alerts(alerts::Args),
    /// Inspect and mend the delivery queue: list, retry (or move) and drop deliveries.
    ///
    /// `outbox` alone lists the deliveries pending or failed.
    Outbox(outbox::Args),
    /// Mute matching alerts for a while: recorded, not delivered.
    Silence(silence::Args),
    /// Health of the daemon using a state: running or not, rules, counts, last article,
    /// deliveries per output.
    ///
    /// Reads only (the state and its lock). Exit code: 0 healthy, 1 needs attention (no daemon
    /// running, failed deliveries, broken rules), 2 could not read the state.
    Status(status::Args),
    /// Run the rules' test cases (NAME.test.yaml beside NAME.rhai).
    ///
    /// Exit code: 0 all pass, 1 a failure (or a broken rule or test file).
    Test(test::Args),
    /// List the rules: name, description, on or off, file, terms (`--tests`: their test
    /// cases passed and failed).
    Rules(rules::Args),
    /// Evaluate one rule on one article and show every API call it made, and why it did or
    /// did not fire.
    ///
    /// Exit code: 0 the rule raised an alert, 1 it did not, 2 error.
    Explain(explain::Args),
    /// Create a starting setup: newswatch.yaml, rules/ with an example rule and its test, inbox/.
    Init(init::Args),
    /// Write Rhai definition files for the rule API (for editors with the Rhai language server).
    Definitions {
        /// Where to write them.
        #[arg(default_value = ".rhai/definitions")]
        dir: PathBuf,
    },
    /// A worker of a fleet: evaluate articles from a NATS JetStream stream, publish the alerts
    /// back (to ALERTS_SUBJECT.RULE), then ack the articles.
    ///
    /// Runs until SIGINT or SIGTERM (exit 0 after finishing the articles in hand); 2 if it
    /// cannot start (no rules folder, a bad config).
    Consume(consume::Args),
    /// Put files and folders (or `-`) into the fleet's articles stream, one message per file.
    ///
    /// Exit code: 0 all published, 2 something could not be (each named).
    Publish(publish::Args),
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

impl Format {
    /// `chosen`, else text for a person at a terminal and JSON Lines for a program reading a
    /// pipe or a file (DESIGN: "text output on a terminal").
    fn or_default(chosen: Option<Format>) -> Format {
        use std::io::IsTerminal;
        chosen.unwrap_or(if std::io::stdout().is_terminal() {
            Format::Text
        } else {
            Format::Json
        })
    }
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    log::init(cli.log_level.as_deref());
    let code = match cli.command {
        Command::Scan(args) => scan::run(args),
        Command::Watch(args) => watch::run(args),
        Command::Fetch(args) => fetch::run(args),
        Command::Check(args) => check::run(args),
        Command::Alerts(args) => alerts::run(args),
        Command::Outbox(args) => outbox::run(args),
        Command::Silence(args) => silence::run(args),
        Command::Status(args) => status::run(args),
        Command::Test(args) => test::run(args),
        Command::Rules(args) => rules::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Init(args) => init::run(args),
        Command::Consume(args) => consume::run(args),
        Command::Publish(args) => publish::run(args),
        Command::Definitions { dir } => match newswatch_engine::rules::write_definitions(&dir) {
            Ok(()) => {
                println!("wrote Rhai definitions to {}", dir.display());
                println!(
                    "point your editor's Rhai language server at it (rhai.toml: [source] include = [\"{}\"])",
                    dir.display()
                );
                0
            }
            Err(e) => {
                tracing::error!("cannot write definitions to {}: {e}", dir.display());
                2
            }
        },
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

/// `--config` and `--rules`: where the commands that load rules find them.
#[derive(clap::Args, Debug)]
pub(crate) struct Setup {
    /// Config file (default: ./newswatch.yaml if present).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Rules folder (default: `rules:` from the config, else ./rules).
    #[arg(long, value_name = "DIR")]
    rules: Option<PathBuf>,
}

/// What [`Setup`] resolves to.
pub(crate) struct Loaded {
    pub config: Config,
    /// The config file read, if any.
    pub config_path: Option<PathBuf>,
    pub rules_dir: PathBuf,
}

impl Loaded {
    /// The rules folder compiled with the config's limits; a missing rules folder is logged
    /// and `Err` is the exit code (2). Rules that do not compile are left in the rule set's
    /// diagnostics for the command to report.
    fn rules_or_exit(&self) -> Result<newswatch_engine::rules::Ruleset, u8> {
        newswatch_engine::rules::Ruleset::load_with(&self.rules_dir, self.config.ruleset_options())
            .map_err(|e| {
                tracing::error!("{e}");
                2
            })
    }
}

impl Setup {
    /// The config from `--config FILE`, else `./newswatch.yaml` if present, else defaults; the
    /// rules folder from `--rules`, else the config's `rules:`, else `./rules`.
    fn load(&self) -> Result<Loaded, Error> {
        let default = PathBuf::from("newswatch.yaml");
        let (config, config_path) = match &self.config {
            Some(path) => (Config::load(path)?, Some(path.clone())),
            None if default.is_file() => (Config::load(&default)?, Some(default)),
            None => (Config::default(), None),
        };
        let rules_dir = self
            .rules
            .clone()
            .or_else(|| config.rules.clone())
            .unwrap_or_else(|| PathBuf::from("rules"));
        Ok(Loaded {
            config,
            config_path,
            rules_dir,
        })
    }

    /// [`Setup::load`], then [`Loaded::rules_or_exit`].
    fn load_rules_or_exit(&self) -> Result<(Loaded, newswatch_engine::rules::Ruleset), u8> {
        let loaded = self.load_or_exit()?;
        let rules = loaded.rules_or_exit()?;
        Ok((loaded, rules))
    }

    /// [`Setup::load`] and the state file (`explicit`, else as for `watch`), for the commands
    /// that read the state; a bad config is logged and `Err` is the exit code (2).
    fn config_and_state_or_exit(&self, explicit: Option<PathBuf>) -> Result<(Loaded, PathBuf), u8> {
        let loaded = self.load_or_exit()?;
        let state = watch::state_path(explicit, &loaded.config);
        Ok((loaded, state))
    }

    /// [`Setup::load`], logging a bad config: `Err` is the exit code (2).
    fn load_or_exit(&self) -> Result<Loaded, u8> {
        self.load().map_err(|e| {
            tracing::error!("{e}");
            2
        })
    }
}
