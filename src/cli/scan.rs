//! `newswatch scan`: the one-shot pipeline — paths → ingest → rules → alerts on stdout.
//!
//! Inputs are read and evaluated in parallel, in batches, and printed in input order, so the
//! output is the same from run to run whatever the thread count.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use super::Format;
use super::ordered;
use super::print::{AlertPrinter, ColorChoice};
use crate::config::{Config, OutputKind};
use crate::outbox::{self, RetryPolicy};
use crate::outputs::Route;
use crate::sources::{self, Input};
use crate::state::lock::{ScanAccess, StateLock};
use crate::state::{Recorded, Silences, State, Throttle};
use newswatch_engine::Alert;
use newswatch_engine::Error;
use newswatch_engine::article::{self, Article};
use newswatch_engine::rules::{Evaluation, Scanner};

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Files and folders to scan (folders recursively); `-` reads stdin.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,
    /// Read `-` (stdin) as FMT: text, markdown, html, feed, json, jsonl or email [default:
    /// the format its content shows].
    #[arg(long, value_name = "FMT", value_parser = parse_format)]
    stdin_format: Option<article::Format>,
    #[command(flatten)]
    setup: super::Setup,
    /// Output format [default: text on a terminal, json otherwise].
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// State file: record alerts there and skip those whose id is already recorded.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Deliver alerts to the config's outputs too (without it, scan only prints — and with
    /// `--state` records — so that trying a rule never runs anyone's scripts or webhooks).
    #[arg(long)]
    deliver: bool,
    /// Exit 2 on any problem: a skipped file, a rule that fails to compile or to run.
    #[arg(long)]
    strict: bool,
    /// Only the rules whose names match this glob (repeatable): `--rule 'chips/*'`.
    #[arg(long = "rule", id = "rule", value_name = "GLOB")]
    rule_globs: Vec<String>,
    /// Print each file's number of alerts (`PATH:N`), not the alerts.
    #[arg(short = 'c', long, conflicts_with_all = ["files_with_alerts", "quiet"])]
    count: bool,
    /// Print the paths of the files with alerts, not the alerts.
    #[arg(short = 'l', long, conflicts_with = "quiet")]
    files_with_alerts: bool,
    /// Print nothing: the exit code says whether there were alerts.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Colour text output: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, value_enum, default_value_t)]
    color: ColorChoice,
}

/// What scan prints for the alerts of each file.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Show {
    Alerts,
    Count,
    Files,
    Nothing,
}

/// Exit codes, like grep's.
const FOUND: u8 = 0;
const NOT_FOUND: u8 = 1;
const TROUBLE: u8 = 2;

/// Workers read and evaluate inputs; the calling thread prints.
const WORKERS: ordered::Workers = ordered::Workers {
    threads: 0, // one per core
    // Inputs read ahead of the printer: enough to keep every core busy past a slow one.
    window: 256,
    stack_size: 16 << 20,
};

/// How often, at most, printed alerts are flushed while the scan runs.
const FLUSH_EVERY: Duration = Duration::from_millis(20);

/// Rule errors shown per rule before the rest are only counted.
const ERRORS_SHOWN_PER_RULE: usize = 3;

pub(crate) fn run(args: Args) -> u8 {
    let loaded = match args.setup.load_or_exit() {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    // Walking the inputs needs no rules: it runs while they compile.
    let (rules, inputs) = std::thread::scope(|s| {
        let walk = s.spawn(|| sources::expand(&args.paths));
        let rules = loaded.rules_or_exit();
        let inputs = walk
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (rules, inputs)
    });
    let rules = match rules {
        Ok(rules) if args.rule_globs.is_empty() => rules,
        Ok(rules) => match select(rules, &args.rule_globs) {
            Ok(rules) => rules,
            Err(e) => {
                tracing::error!("{e}");
                return TROUBLE;
            }
        },
        Err(code) => return code,
    };
    let config = loaded.config;
    let problems = rules.diagnostics().len();
    for d in rules.diagnostics() {
        tracing::error!("{d}");
    }
    if args.deliver
        && let Err(e) = config.require_env()
    {
        tracing::error!("{e}");
        return TROUBLE;
    }
    let max_file_size = config.limits.max_file_size;
    let sink = match AlertSink::new(args.state.as_deref(), &config, args.deliver) {
        Ok(sink) => sink,
        Err(e) => {
            tracing::error!("{e}");
            return TROUBLE;
        }
    };

    let mut trouble = false;
    let mut skipped = 0;
    let inputs: Vec<Input> = inputs
        .into_iter()
        .filter_map(|input| match input {
            Ok(input) => Some(input),
            // Inside a folder: one unreadable thing must not fail the scan of the rest.
            Err(e @ Error::Skipped { .. }) => {
                tracing::warn!("{e}");
                skipped += 1;
                None
            }
            Err(e) => {
                tracing::error!("{e}");
                trouble = true;
                None
            }
        })
        .collect();

    let show = if args.quiet {
        Show::Nothing
    } else if args.count {
        Show::Count
    } else if args.files_with_alerts {
        Show::Files
    } else {
        Show::Alerts
    };
    let started = Instant::now();
    let mut report = Report {
        printer: AlertPrinter::with_color(Format::or_default(args.format), args.color),
        show,
        files: 0,
        articles: 0,
        sink,
        errors: RuleErrorLog::default(),
        alerts: 0,
        problems: problems + skipped,
        early: None,
        flushed: None,
    };
    let scanned = ordered::map_in_order(
        &inputs,
        WORKERS,
        || rules.scanner(),
        |scanner, input| {
            // A bug in a parser must cost one file, not the whole scan.
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                scan_one(scanner, input, max_file_size, args.stdin_format)
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
        },
        &mut report,
    );
    if let Err(e) = scanned {
        tracing::error!("cannot start worker threads: {e}");
        return TROUBLE;
    }
    if let Some(code) = report.early {
        return code;
    }
    if let Err(e) = report.printer.flush() {
        return broken_pipe_or_trouble(e, report.alerts);
    }
    let Report {
        sink,
        errors,
        alerts,
        mut problems,
        files,
        articles,
        ..
    } = report;
    errors.finish();
    problems += sink.finish();
    if std::io::stderr().is_terminal() {
        eprintln!(
            "{files} files, {articles} articles, {alerts} alerts, {problems} problems, in {:.2}s",
            started.elapsed().as_secs_f64()
        );
    }

    if trouble || (args.strict && problems > 0) {
        TROUBLE
    } else if alerts > 0 {
        FOUND
    } else {
        NOT_FOUND
    }
}

/// What becomes of each input's evaluations, in input order: alerts offered to the sink and
/// printed, problems logged and counted.
struct Report {
    printer: AlertPrinter,
    show: Show,
    /// Inputs read, and articles evaluated in them.
    files: usize,
    articles: usize,
    sink: AlertSink,
    errors: RuleErrorLog,
    alerts: usize,
    problems: usize,
    /// Set when the scan must end early: the exit code.
    early: Option<u8>,
    /// When output was last flushed while waiting on inputs.
    flushed: Option<Instant>,
}

impl Report {
    fn end(&mut self, code: u8) -> ControlFlow<()> {
        self.early = Some(code);
        ControlFlow::Break(())
    }
}

impl ordered::Consumer<Input, Result<Vec<Evaluation>, Error>> for Report {
    fn consume(
        &mut self,
        input: &Input,
        result: Result<Vec<Evaluation>, Error>,
    ) -> ControlFlow<()> {
        self.files += 1;
        let evaluations = match result {
            Ok(evaluations) => evaluations,
            Err(e) => {
                self.problems += 1;
                tracing::warn!("{e}");
                return ControlFlow::Continue(());
            }
        };
        self.articles += evaluations.len();
        let mut here = 0;
        for eval in evaluations {
            for note in &eval.notes {
                tracing::warn!("{note}");
            }
            for e in &eval.errors {
                self.problems += 1;
                self.errors.report(e, input);
            }
            for alert in &eval.alerts {
                match self.sink.offer(alert) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => {
                        tracing::error!("{e}");
                        return self.end(TROUBLE);
                    }
                }
                self.alerts += 1;
                here += 1;
                if self.show == Show::Alerts
                    && let Err(e) = self.printer.print(alert)
                {
                    return self.end(broken_pipe_or_trouble(e, self.alerts));
                }
            }
        }
        let path = input.path().display();
        let line = match self.show {
            Show::Count => Some(format!("{path}:{here}")),
            Show::Files if here > 0 => Some(path.to_string()),
            _ => None,
        };
        if let Some(line) = line
            && let Err(e) = self.printer.line(&line)
        {
            return self.end(broken_pipe_or_trouble(e, self.alerts));
        }
        ControlFlow::Continue(())
    }

    /// Alerts reach a reader on a pipe while the scan waits on slow inputs — at most every
    /// [`FLUSH_EVERY`], not a write per article.
    fn idle(&mut self) -> ControlFlow<()> {
        if !self.printer.is_pending() || self.flushed.is_some_and(|at| at.elapsed() < FLUSH_EVERY) {
            return ControlFlow::Continue(());
        }
        self.flushed = Some(Instant::now());
        match self.printer.flush() {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => self.end(broken_pipe_or_trouble(e, self.alerts)),
        }
    }
}

/// `rules` with only those named by one of `globs`; `Err` when none is.
fn select(
    rules: newswatch_engine::rules::Ruleset,
    globs: &[String],
) -> Result<newswatch_engine::rules::Ruleset, String> {
    let mut builder = globset::GlobSetBuilder::new();
    for g in globs {
        builder.add(crate::config::glob(g)?);
    }
    let set = builder.build().map_err(|e| e.to_string())?;
    let names: Vec<String> = rules.rules().iter().map(|r| r.name().to_string()).collect();
    let rules = rules.retain(|r| set.is_match(r.name()));
    if rules.rules().is_empty() {
        return Err(format!(
            "no rule matches --rule {}: the rules are {}",
            globs.join(", --rule "),
            names.join(", ")
        ));
    }
    Ok(rules)
}

/// `--stdin-format`'s value: a format's name (or an extension of its files).
fn parse_format(name: &str) -> Result<article::Format, String> {
    name.parse()
}

/// Reads, ingests and evaluates one input (stdin in `stdin_format`, else as sniffed).
fn scan_one(
    scanner: &mut Scanner<'_>,
    input: &Input,
    max_file_size: u64,
    stdin_format: Option<article::Format>,
) -> Result<Vec<Evaluation>, Error> {
    let bytes = input.read(max_file_size)?;
    let articles = input.ingest(&bytes, stdin_format)?;
    let now = SystemTime::now();
    articles
        .into_iter()
        .map(|mut a: Article| {
            a.source.get_or_insert_with(|| input.source().to_string());
            scanner.scan(&a, now)
        })
        .collect()
}

/// Where alerts go besides stdout: with `--state`, recorded (known ids are skipped); with
/// `--deliver`, delivered to the config's outputs (queued in the outbox first with `--state`).
struct AlertSink {
    state: Option<State>,
    routes: Vec<Route>,
    /// Without a state: for each route that failed, the alerts not offered to it since. One
    /// output that is down costs its retries once, not for every alert of the scan.
    down: Vec<Option<usize>>,
    throttle: Throttle,
    /// With a state: the silences in force when the scan started.
    silences: Silences,
    policy: RetryPolicy,
    problems: usize,
    /// With a state: the lock when no daemon holds it (so that none starts delivering the
    /// same queue meanwhile); `None` when a daemon does, and delivers what is queued here.
    lock: Option<StateLock>,
}

impl AlertSink {
    fn new(
        state_path: Option<&std::path::Path>,
        config: &Config,
        deliver: bool,
    ) -> Result<AlertSink, String> {
        // stdout is where scan prints anyway.
        let configs: Vec<_> = config
            .outputs
            .iter()
            .filter(|o| deliver && o.kind != OutputKind::Stdout)
            .cloned()
            .collect();
        let routes = if configs.is_empty() {
            Vec::new()
        } else {
            crate::config::build_routes(&configs)?
        };
        let mut state = state_path
            .map(State::open)
            .transpose()
            .map_err(|e| e.to_string())?;
        if let Some(state) = &mut state {
            state.set_story_window(config.stories.window);
        }
        // A daemon holding the state delivers its queue: recorded here, delivered there, once.
        // A scan that does not deliver queues nothing, and needs no lock.
        let lock = match state_path
            .filter(|_| deliver)
            .map(|path| (path, StateLock::for_scan(path)))
        {
            None => None,
            Some((_, Ok(ScanAccess::Own(lock)))) => Some(lock),
            Some((path, Ok(ScanAccess::Daemon(holder)))) => {
                tracing::warn!(
                    "newswatch {} (pid {}) holds {}: this scan records its alerts there and leaves their delivery to it",
                    holder.command,
                    holder.pid,
                    path.display()
                );
                None
            }
            Some((_, Err(e))) => return Err(e.to_string()),
        };
        let mut silences = Silences::default();
        if let Some(state) = &state {
            // Adopting queues is for a scan that delivers: a scan that only records leaves
            // the outbox to the daemon or to the next `scan --deliver`.
            if deliver {
                outbox::adopt(state, &routes).map_err(|e| e.to_string())?;
            }
            silences = state.active_silences().map_err(|e| e.to_string())?;
        }
        Ok(AlertSink {
            state,
            down: vec![None; routes.len()],
            routes,
            throttle: config.throttle.throttle(),
            silences,
            policy: config.retry.policy(),
            problems: 0,
            lock,
        })
    }

    /// Takes one alert; false if it was recorded before (and is not to be printed again).
    fn offer(&mut self, alert: &Alert) -> Result<bool, String> {
        let Some(state) = &self.state else {
            for (route, down) in self.routes.iter_mut().zip(&mut self.down) {
                if !route.filter.accepts(alert) {
                    continue;
                }
                if let Some(missed) = down {
                    *missed += 1;
                    continue;
                }
                if let Err(failure) = outbox::deliver_now(route, alert) {
                    tracing::error!(
                        "{failure} (with --state, failed deliveries are retried by the next scan)"
                    );
                    self.problems += 1;
                    *down = Some(0);
                }
            }
            return Ok(true);
        };
        let targets: Vec<&str> = self
            .routes
            .iter()
            .filter(|r| r.filter.accepts(alert))
            .map(|r| r.key.as_str())
            .collect();
        match state.record_alert(alert, &self.throttle, &self.silences, &targets) {
            // A later copy of a story is recorded, not shown: one alert per story, as delivered.
            Ok(Recorded::Duplicate | Recorded::SameStory(_)) => Ok(false),
            Ok(Recorded::New | Recorded::Suppressed | Recorded::Silenced(_)) => Ok(true),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Delivers what the outbox holds (this scan's alerts and earlier failures); deliveries
    /// that fail wait in the outbox for the next scan. Returns the number of problems.
    fn finish(mut self) -> usize {
        let Some(state) = &self.state else {
            for (route, down) in self.routes.iter().zip(&self.down) {
                if let Some(missed @ 1..) = down {
                    tracing::error!(
                        "output {}: {missed} more alerts not sent to it after it failed (with --state, they wait in the outbox for the next scan)",
                        route.name()
                    );
                    self.problems += missed;
                }
            }
            return self.problems;
        };
        if self.lock.is_none() {
            return self.problems; // the daemon holding the state delivers
        }
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
    fn report(&mut self, e: &newswatch_engine::RuleError, input: &Input) {
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
