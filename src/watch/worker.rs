//! Workers: read a complete file, skip it if its content was already evaluated, ingest it and
//! run the rules — everything per file that can happen in parallel. Recording stays on the
//! daemon's loop, so the state store has one writer; the outbox's threads deliver.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};

use super::Msg;
use crate::metrics::{ArticleResult, Metrics};
use crate::sources::Input;
use crate::state::{FileRecord, State};
use newswatch_engine::alert::Alert;
use newswatch_engine::article;
use newswatch_engine::rules::{RuleError, Ruleset, Scanner};

/// One file to look at.
#[derive(Clone, Debug)]
pub struct Job {
    /// Absolute path: the key in the state store.
    pub path: PathBuf,
    /// The path as shown in alerts and logs (under the watched folder as configured).
    pub shown: PathBuf,
    /// The watched folder's name.
    pub source: String,
    /// False under `startup: skip`: record the file as seen without evaluating it.
    pub evaluate: bool,
}

/// What came of a job.
#[derive(Debug)]
pub struct Outcome {
    pub job: Job,
    /// What to record for the file, when it was read.
    pub record: Option<FileRecord>,
    pub alerts: Vec<Alert>,
    pub rule_errors: Vec<RuleError>,
    /// A line for the log: why the file was skipped, or notes on rules.
    pub problems: Vec<String>,
    /// What was done with the file: for the counters of the heartbeat and the debug log.
    pub verdict: Verdict,
}

/// What a worker did with a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Its articles were evaluated.
    Evaluated { articles: usize },
    /// Looked at and not evaluated, for this reason.
    Skipped(&'static str),
    /// Gone before it could be read, or not a regular file: nothing to count.
    Gone(&'static str),
}

impl Outcome {
    fn new(job: Job) -> Outcome {
        Outcome {
            job,
            record: None,
            alerts: Vec::new(),
            rule_errors: Vec::new(),
            problems: Vec::new(),
            verdict: Verdict::Gone("not read"),
        }
    }
}

/// What every worker shares.
pub struct Shared {
    pub rules: ArcSwap<Ruleset>,
    /// `limits.max_file_size`, which a SIGHUP may change.
    pub max_file_size: AtomicU64,
    pub stopping: AtomicBool,
    pub metrics: Arc<Metrics>,
}

/// Runs jobs from `jobs` until it closes, sending each outcome to `done`.
pub fn run(
    shared: Arc<Shared>,
    state: State,
    jobs: Arc<Mutex<Receiver<Job>>>,
    done: SyncSender<Msg>,
) {
    let mut next = None;
    // One scanner per rule set: a reload ends `serve`, which hands back the job that saw it.
    while let Some(job) = next.take().or_else(|| receive(&jobs)) {
        let rules = shared.rules.load_full();
        next = serve(&shared, &state, &rules, job, &jobs, &done);
    }
}

fn receive(jobs: &Mutex<Receiver<Job>>) -> Option<Job> {
    jobs.lock().expect("job queue").recv().ok()
}

/// Runs `job` and the jobs after it with one scanner of `rules`; returns the first job that
/// finds the rules reloaded, or `None` when the queue or the loop is gone.
fn serve(
    shared: &Shared,
    state: &State,
    rules: &Arc<Ruleset>,
    mut job: Job,
    jobs: &Mutex<Receiver<Job>>,
    done: &SyncSender<Msg>,
) -> Option<Job> {
    let mut scanner = rules.scanner();
    loop {
        if !shared.stopping.load(Ordering::SeqCst) {
            let outcome = guarded(shared, state, &mut scanner, job);
            done.send(Msg::Done(Box::new(outcome))).ok()?;
        }
        // Else: left for the catch-up at the next start; nothing about it was recorded.
        job = receive(jobs)?;
        if !Arc::ptr_eq(rules, &shared.rules.load()) {
            return Some(job);
        }
    }
}

/// [`process`], with a panic (a bug, never expected) turned into a logged problem: the file is
/// recorded as seen so it is not retried forever, and the worker lives on.
fn guarded(shared: &Shared, state: &State, scanner: &mut Scanner<'_>, job: Job) -> Outcome {
    let copy = job.clone();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        process(shared, state, scanner, job)
    }))
    .unwrap_or_else(|panic| {
        shared.metrics.articles(ArticleResult::Failed, 1);
        let mut out = Outcome::new(copy);
        out.problems.push(format!(
            "{}: skipped: internal error while reading it ({}); please report this file",
            out.job.shown.display(),
            crate::panic_message(&panic)
        ));
        out.verdict = Verdict::Skipped("internal error while reading it");
        if let Ok(meta) = std::fs::metadata(&out.job.path) {
            out.record = Some(FileRecord {
                size: meta.len(),
                mtime_ns: mtime_ns(&meta),
                sha256: String::new(),
            });
        }
        out
    })
}

fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i64)
}

fn process(shared: &Shared, state: &State, scanner: &mut Scanner<'_>, job: Job) -> Outcome {
    let mut out = Outcome::new(job);
    let Ok(meta) = std::fs::metadata(&out.job.path) else {
        out.verdict = Verdict::Gone("gone before it could be read");
        return out; // vanished before we could read it: nothing to do
    };
    if !meta.is_file() {
        out.verdict = Verdict::Gone("not a regular file");
        return out;
    }
    let size = meta.len();
    let mtime_ns = mtime_ns(&meta);
    let known = match state.file(&out.job.path) {
        Ok(known) => known,
        Err(e) => {
            out.problems.push(e.to_string());
            None
        }
    };
    if known
        .as_ref()
        .is_some_and(|k| k.size == size && k.mtime_ns == mtime_ns)
    {
        out.verdict = Verdict::Skipped("already seen (same size and mtime)");
        return out;
    }
    let input = Input::File {
        path: out.job.path.clone(),
        source: out.job.source.clone(),
    };
    let bytes = match input.read(shared.max_file_size.load(Ordering::Relaxed)) {
        Ok(bytes) => bytes,
        Err(newswatch_engine::Error::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            out.verdict = Verdict::Gone("gone before it could be read");
            return out;
        }
        Err(newswatch_engine::Error::Io { source, .. }) => {
            shared.metrics.articles(ArticleResult::Failed, 1);
            // Not recorded: once it can be read (a `chmod` is an event), it is read.
            out.problems.push(format!(
                "{}: skipped: cannot read it ({source}); it is read once it can be",
                out.job.shown.display()
            ));
            out.verdict = Verdict::Skipped("cannot read it");
            return out;
        }
        Err(e) => {
            shared.metrics.articles(ArticleResult::Skipped, 1);
            out.problems.push(shown(e.to_string(), &out.job));
            out.verdict = Verdict::Skipped("not an article (binary, too large or malformed)");
            out.record = Some(FileRecord {
                size,
                mtime_ns,
                sha256: String::new(),
            });
            return out;
        }
    };
    let sha256 = format!("{:x}", Sha256::digest(&bytes));
    let unchanged = known.is_some_and(|k| k.sha256 == sha256);
    out.record = Some(FileRecord {
        size,
        mtime_ns,
        sha256,
    });
    if unchanged {
        shared.metrics.articles(ArticleResult::Unchanged, 1);
        out.verdict = Verdict::Skipped("same content as already evaluated");
        return out;
    }
    if !out.job.evaluate {
        shared.metrics.articles(ArticleResult::Skipped, 1);
        out.verdict = Verdict::Skipped("startup: skip (recorded without evaluating)");
        return out;
    }
    let metrics = &shared.metrics;
    match article::ingest(&bytes, &out.job.shown) {
        Ok(articles) if articles.is_empty() => metrics.articles(ArticleResult::Skipped, 1),
        Ok(articles) => {
            out.verdict = Verdict::Evaluated {
                articles: articles.len(),
            };
            let now = SystemTime::now();
            for mut a in articles {
                a.source.get_or_insert_with(|| out.job.source.clone());
                let started = Instant::now();
                match scanner.scan(&a, now) {
                    Ok(eval) => {
                        metrics.evaluated(&eval, started.elapsed());
                        out.alerts.extend(eval.alerts);
                        out.rule_errors.extend(eval.errors);
                        out.problems.extend(eval.notes);
                    }
                    Err(e) => {
                        metrics.articles(ArticleResult::Failed, 1);
                        out.problems.push(e.to_string());
                    }
                }
            }
        }
        Err(e) => {
            // A binary file is no article, as one over the size limit; a broken one failed.
            let result = match e {
                newswatch_engine::Error::Binary { .. } => ArticleResult::Skipped,
                _ => ArticleResult::Failed,
            };
            metrics.articles(result, 1);
            out.verdict = Verdict::Skipped("cannot be read as an article");
            out.problems.push(e.to_string());
        }
    }
    out
}

/// Messages about the absolute path are shown with the configured one.
fn shown(message: String, job: &Job) -> String {
    message.replace(&*job.path.to_string_lossy(), &job.shown.to_string_lossy())
}
