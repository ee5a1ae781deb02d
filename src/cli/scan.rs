//! `newswatch scan`: the one-shot pipeline — paths → ingest → rules → alerts on stdout.
//!
//! Inputs are read and evaluated in parallel, in batches, and printed in input order, so the
//! output is the same from run to run whatever the thread count.

use std::collections::HashMap;
use std::path::PathBuf;

use rayon::prelude::*;

use super::Format;
use super::print::AlertPrinter;
use crate::article::{self, Article};
use crate::config::{Config, OutputKind};
use crate::outbox::{self, RetryPolicy};
use crate::outputs::{self, Route};
use crate::rules::{Evaluation, Ruleset};
use crate::sources::{self, Input};
use crate::state::{Recorded, State, Throttle};
use crate::{Alert, Error};

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Files and folders to scan (folders recursively); `-` reads one article from stdin.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    setup: super::Setup,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// State file: record alerts there and skip those whose id is already recorded.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Exit 2 on any problem: a skipped file, a rule that fails to compile or to run.
    #[arg(long)]
    strict: bool,
}

/// Exit codes, like grep's.
const FOUND: u8 = 0;
const NOT_FOUND: u8 = 1;
const TROUBLE: u8 = 2;

/// Inputs evaluated in parallel between two prints.
const BATCH: usize = 256;

/// Rule errors shown per rule before the rest are only counted.
const ERRORS_SHOWN_PER_RULE: usize = 3;

pub(crate) fn run(args: Args) -> u8 {
    let (super::Loaded { config, .. }, rules) = match args.setup.load_rules_or_exit() {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let mut problems = rules.diagnostics().len();
    for d in rules.diagnostics() {
        tracing::error!("{d}");
    }
    let max_file_size = config.limits.max_file_size;
    let mut sink = match AlertSink::new(args.state.as_deref(), &config) {
        Ok(sink) => sink,
        Err(e) => {
            tracing::error!("{e}");
            return TROUBLE;
        }
    };

    let mut trouble = false;
    let mut inputs = Vec::new();
    for input in sources::expand(&args.paths) {
        match input {
            Ok(input) => inputs.push(input),
            Err(e) => {
                tracing::error!("{e}");
                trouble = true;
            }
        }
    }

    let pool = match rayon::ThreadPoolBuilder::new().stack_size(16 << 20).build() {
        Ok(pool) => pool,
        Err(e) => {
            tracing::error!("cannot start worker threads: {e}");
            return TROUBLE;
        }
    };
    let mut printer = AlertPrinter::new(args.format);
    let mut errors = RuleErrorLog::default();
    let mut alerts = 0usize;
    for batch in inputs.chunks(BATCH) {
        let results: Vec<_> = pool.install(|| {
            batch
                .par_iter()
                .map(|input| {
                    // A bug in a parser must cost one file, not the whole scan.
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        scan_one(&rules, input, max_file_size)
                    }))
                        .unwrap_or_else(|panic| {
                            Err(Error::Malformed {
                                path: input.path().to_path_buf(),
                                message: format!(
                                    "skipped: internal error while reading it ({}); please report this file",
                                    crate::panic_message(&panic)
                                ),
                            })
                        })
                })
                .collect()
        });
        for (input, result) in batch.iter().zip(results) {
            match result {
                Ok(evaluations) => {
                    for eval in evaluations {
                        for note in &eval.notes {
                            tracing::warn!("{note}");
                        }
                        for e in &eval.errors {
                            problems += 1;
                            errors.report(e, input);
                        }
                        for alert in &eval.alerts {
                            match sink.offer(alert) {
                                Ok(true) => {}
                                Ok(false) => continue,
                                Err(e) => {
                                    tracing::error!("{e}");
                                    return TROUBLE;
                                }
                            }
                            alerts += 1;
                            if let Err(e) = printer.print(alert) {
                                return broken_pipe_or_trouble(e, alerts);
                            }
                        }
                    }
                }
                Err(e) => {
                    problems += 1;
                    tracing::warn!("{e}");
                }
            }
        }
        if let Err(e) = printer.flush() {
            return broken_pipe_or_trouble(e, alerts);
        }
    }
    errors.finish();
    problems += sink.finish();

    if trouble || (args.strict && problems > 0) {
        TROUBLE
    } else if alerts > 0 {
        FOUND
    } else {
        NOT_FOUND
    }
}

/// Reads, ingests and evaluates one input.
fn scan_one(rules: &Ruleset, input: &Input, max_file_size: u64) -> Result<Vec<Evaluation>, Error> {
    let bytes = input.read(max_file_size)?;
    let articles = article::ingest(&bytes, input.path())?;
    Ok(articles
        .into_iter()
        .map(|mut a: Article| {
            a.source.get_or_insert_with(|| input.source().to_string());
            rules.evaluate(&a)
        })
        .collect())
}

/// Where alerts go besides stdout: with `--state`, recorded (known ids are skipped) and queued
/// in the outbox; with outputs in the config, delivered to them.
struct AlertSink {
    state: Option<State>,
    routes: Vec<Route>,
    throttle: Throttle,
    policy: RetryPolicy,
    problems: usize,
}

impl AlertSink {
    fn new(state: Option<&std::path::Path>, config: &Config) -> Result<AlertSink, String> {
        // stdout is where scan prints anyway.
        let configs: Vec<_> = config
            .outputs
            .iter()
            .filter(|o| o.kind != OutputKind::Stdout)
            .cloned()
            .collect();
        let routes = if configs.is_empty() {
            Vec::new()
        } else {
            outputs::build(&configs)?
        };
        Ok(AlertSink {
            state: state
                .map(State::open)
                .transpose()
                .map_err(|e| e.to_string())?,
            routes,
            throttle: config.throttle.throttle(),
            policy: config.retry.policy(),
            problems: 0,
        })
    }

    /// Takes one alert; false if it was recorded before (and is not to be printed again).
    fn offer(&mut self, alert: &Alert) -> Result<bool, String> {
        let Some(state) = &self.state else {
            for failure in outbox::deliver_now(&mut self.routes, alert) {
                tracing::error!(
                    "{failure} (with --state, failed deliveries are retried by the next scan)"
                );
                self.problems += 1;
            }
            return Ok(true);
        };
        let targets: Vec<&str> = self
            .routes
            .iter()
            .filter(|r| r.filter.accepts(alert))
            .map(|r| r.key.as_str())
            .collect();
        match state.record_alert(alert, &self.throttle, &targets) {
            Ok(Recorded::Duplicate) => Ok(false),
            Ok(Recorded::New | Recorded::Suppressed) => Ok(true),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Delivers what the outbox holds (this scan's alerts and earlier failures); deliveries
    /// that fail wait in the outbox for the next scan. Returns the number of problems.
    fn finish(mut self) -> usize {
        let Some(state) = &self.state else {
            return self.problems;
        };
        let stop = std::sync::atomic::AtomicBool::new(false);
        for route in &mut self.routes {
            match outbox::drain(
                state,
                &route.key,
                route.output.as_mut(),
                &self.policy,
                &stop,
            ) {
                Ok(outbox::Drained::WaitingUntil(_)) => self.problems += 1,
                Ok(_) => {}
                Err(e) => {
                    tracing::error!("{e}");
                    self.problems += 1;
                }
            }
        }
        self.problems
    }
}

/// A closed stdout (`newswatch scan … | head`) ends the scan quietly, like other Unix tools.
fn broken_pipe_or_trouble(e: std::io::Error, alerts: usize) -> u8 {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        if alerts > 0 { FOUND } else { NOT_FOUND }
    } else {
        tracing::error!("cannot write to stdout: {e}");
        TROUBLE
    }
}

/// Logs rule errors, a few per rule, then only counts them.
#[derive(Default)]
struct RuleErrorLog {
    per_rule: HashMap<String, usize>,
}

impl RuleErrorLog {
    fn report(&mut self, e: &crate::RuleError, input: &Input) {
        let seen = self.per_rule.entry(e.rule.clone()).or_default();
        *seen += 1;
        if *seen <= ERRORS_SHOWN_PER_RULE {
            tracing::error!("{e} (on {})", input.path().display());
        }
    }

    fn finish(self) {
        let mut rules: Vec<_> = self.per_rule.into_iter().collect();
        rules.sort();
        for (rule, n) in rules {
            if n > ERRORS_SHOWN_PER_RULE {
                tracing::error!(
                    "rule {rule}: failed on {} more articles (not shown)",
                    n - ERRORS_SHOWN_PER_RULE
                );
            }
        }
    }
}
