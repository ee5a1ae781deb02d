//! The worker's evaluating threads: one per core, each with its own scanner of the shared
//! compiled rule set (compiled once; a reload is picked up at the next article), as `scan` and
//! the daemon's workers do. They know nothing of NATS: bytes and headers in, alert JSON or
//! "malformed" out.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use bytes::Bytes;

use crate::outputs::nats::alert_subject;
use newswatch_engine::article::{self, Format, IngestOptions};
use newswatch_engine::rules::{Ruleset, Scanner};

/// An article to evaluate: a message's bytes and what its headers say.
pub struct Job {
    /// The worker's own number for the message in hand.
    pub id: u64,
    /// `Newswatch-Name` (`-` without one): the format and the alerts' `path`.
    pub name: String,
    pub source: String,
    pub payload: Bytes,
    /// When the stream took the article: the time of its alerts, the same on every worker.
    pub at: SystemTime,
}

/// One alert to publish.
pub struct AlertOut {
    pub subject: String,
    pub id: String,
    pub json: Bytes,
}

/// What came of a job.
pub enum Outcome {
    /// Evaluated: the alerts to publish before the article is acked (maybe none).
    Evaluated(Vec<AlertOut>),
    /// Not an article, and never will be: to terminate, with this reason.
    Malformed(String),
}

pub struct Done {
    pub id: u64,
    pub outcome: Outcome,
}

/// What the evaluating threads share.
pub struct Shared {
    pub rules: Arc<ArcSwap<Ruleset>>,
    pub max_file_size: u64,
    pub alerts_subject: String,
    pub errors: RuleErrors,
}

/// Starts one evaluating thread per core, taking jobs from `jobs` until it closes and sending
/// each outcome to `done`.
pub fn start(
    shared: Arc<Shared>,
    jobs: Receiver<Job>,
    done: tokio::sync::mpsc::UnboundedSender<Done>,
) -> std::io::Result<Vec<std::thread::JoinHandle<()>>> {
    let jobs = Arc::new(Mutex::new(jobs));
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    (0..threads)
        .map(|i| {
            let (shared, jobs, done) = (shared.clone(), jobs.clone(), done.clone());
            std::thread::Builder::new()
                .name(format!("newswatch-eval-{i}"))
                .stack_size(newswatch_engine::STACK_SIZE)
                .spawn(move || run(&shared, &jobs, &done))
        })
        .collect()
}

fn run(
    shared: &Shared,
    jobs: &Mutex<Receiver<Job>>,
    done: &tokio::sync::mpsc::UnboundedSender<Done>,
) {
    let receive = || {
        jobs.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv()
            .ok()
    };
    let mut next = receive();
    while let Some(first) = next.take() {
        // One scanner per rule set: a reload ends the inner loop.
        let rules = shared.rules.load_full();
        let mut scanner = rules.scanner();
        let mut job = first;
        loop {
            let outcome = guarded(shared, &mut scanner, &job);
            if done
                .send(Done {
                    id: job.id,
                    outcome,
                })
                .is_err()
            {
                return;
            }
            let Some(after) = receive() else { return };
            if !Arc::ptr_eq(&rules, &shared.rules.load()) {
                next = Some(after);
                break;
            }
            job = after;
        }
    }
}

/// [`evaluate`], a panic (a bug) turned into a malformed article: its message is terminated
/// with a log line instead of failing on every worker it is delivered to.
fn guarded(shared: &Shared, scanner: &mut Scanner<'_>, job: &Job) -> Outcome {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        evaluate(shared, scanner, job)
    }))
    .unwrap_or_else(|panic| {
        Outcome::Malformed(format!(
            "{}: skipped: internal error while reading it ({}); please report this article",
            job.name,
            crate::panic_message(&panic)
        ))
    })
}

fn evaluate(shared: &Shared, scanner: &mut Scanner<'_>, job: &Job) -> Outcome {
    if job.payload.len() as u64 > shared.max_file_size {
        return Outcome::Malformed(format!(
            "{}: skipped: {} bytes, more than limits.max_file_size ({} bytes)",
            job.name,
            job.payload.len(),
            shared.max_file_size
        ));
    }
    // `publish -` names what it read from stdin `-`: read in the format its content shows, as
    // `scan -` reads it.
    let mut options = IngestOptions::default();
    if job.name == "-" {
        options = options.format(Format::sniff(&job.payload));
    }
    let articles = match article::ingest_with(&job.payload, Path::new(&job.name), &options) {
        Ok(parsed) => parsed.articles,
        // Binary, malformed, refused: the same bytes fail the same way on every worker.
        Err(e) => return Outcome::Malformed(e.to_string()),
    };
    let mut alerts = Vec::new();
    for mut a in articles {
        a.source.get_or_insert_with(|| job.source.clone());
        match scanner.scan(&a, job.at) {
            Ok(eval) => {
                for note in &eval.notes {
                    tracing::warn!("{note}");
                }
                for e in &eval.errors {
                    shared
                        .errors
                        .report(&e.rule, &format!("{e} (on {})", job.name));
                }
                alerts.extend(eval.alerts.into_iter().map(|alert| AlertOut {
                    subject: alert_subject(&shared.alerts_subject, &alert.rule),
                    json: alert.to_json().into(),
                    id: alert.id,
                }));
            }
            // An article of the file that cannot be evaluated (over the text size limit).
            Err(e) => tracing::warn!("{}: {e}", job.name),
        }
    }
    Outcome::Evaluated(alerts)
}

/// Rule errors, logged a few per rule and then only counted (a rule failing on every article
/// must not flood the log).
#[derive(Default)]
pub struct RuleErrors {
    per_rule: Mutex<HashMap<String, u64>>,
    total: AtomicU64,
}

impl RuleErrors {
    const SHOWN_PER_RULE: u64 = 3;

    pub fn report(&self, rule: &str, line: &str) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let mut per_rule = self.per_rule.lock().unwrap_or_else(PoisonError::into_inner);
        let seen = per_rule.entry(rule.to_string()).or_default();
        *seen += 1;
        if *seen <= Self::SHOWN_PER_RULE {
            tracing::error!("{line}");
        } else if *seen == Self::SHOWN_PER_RULE + 1 {
            tracing::error!(
                "rule {rule}: more errors are only counted (see the summary at the stop)"
            );
        }
    }

    /// The rules that failed more often than was shown, and how often.
    pub fn summary(&self) -> Vec<(String, u64)> {
        let per_rule = self.per_rule.lock().unwrap_or_else(PoisonError::into_inner);
        let mut rules: Vec<(String, u64)> = per_rule
            .iter()
            .filter(|(_, n)| **n > Self::SHOWN_PER_RULE)
            .map(|(r, n)| (r.clone(), *n))
            .collect();
        rules.sort();
        rules
    }
}
