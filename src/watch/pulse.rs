//! The daemon's pulse: what it counts as files go by, the debug line per file, and the
//! heartbeat it writes from these into the state at most once a second (`newswatch status`
//! reads it). All of it runs on the loop, in the time of a few additions per file and one
//! small write a second — nothing an article waits for.

use std::path::Path;
use std::time::{Duration, Instant};

use super::worker::{Outcome, Verdict};
use crate::state::{Counters, Heartbeat, State, broken_rule_names, now_ms};
use newswatch_engine::rules::Ruleset;

/// At most one heartbeat a second.
const EVERY: Duration = Duration::from_secs(1);

pub struct Pulse {
    started_ms: i64,
    counters: Counters,
    /// The last file evaluated, as shown, and when (Unix ms).
    last_article: Option<(std::path::PathBuf, i64)>,
    next: Instant,
    /// A failed write is said once, until one succeeds again.
    failing: bool,
}

impl Pulse {
    pub fn new() -> Pulse {
        Pulse {
            started_ms: now_ms(),
            counters: Counters::default(),
            last_article: None,
            next: Instant::now(),
            failing: false,
        }
    }

    /// Counts a recorded outcome (`alerts`: those it recorded, repeats left out), and logs
    /// at debug level what was done with its file and why.
    pub fn count(&mut self, o: &Outcome, alerts: usize) {
        let shown = o.job.shown.display();
        match o.verdict {
            Verdict::Evaluated { articles } => {
                self.counters.articles_evaluated += 1;
                self.last_article = Some((o.job.shown.clone(), now_ms()));
                tracing::debug!(
                    "evaluated {shown}: {articles} article(s), {} alert(s), {alerts} new",
                    o.alerts.len()
                );
            }
            Verdict::Skipped(why) => {
                self.counters.articles_skipped += 1;
                tracing::debug!("ignored {shown}: {why}");
            }
            Verdict::Gone(why) => tracing::debug!("ignored {shown}: {why}"),
        }
        self.counters.alerts_raised += alerts as u64;
    }

    /// Counts the items of a feed poll: `evaluated` of them run through the rules (each counts
    /// as an article evaluated), raising `alerts` recorded; `last` the link of the last one.
    pub fn count_items(&mut self, evaluated: usize, alerts: usize, last: Option<&str>) {
        self.counters.articles_evaluated += evaluated as u64;
        self.counters.alerts_raised += alerts as u64;
        if let (Some(link), 1..) = (last, evaluated) {
            self.last_article = Some((link.into(), now_ms()));
        }
    }

    /// Writes the heartbeat if a second has passed since the last (or `now` says so).
    pub fn beat(&mut self, state: &State, rules: &Ruleset, rules_dir: &Path, now: bool) {
        let at = Instant::now();
        if !now && at < self.next {
            return;
        }
        self.next = at + EVERY;
        let hb = Heartbeat {
            time_ms: now_ms(),
            pid: std::process::id(),
            started_ms: self.started_ms,
            version: env!("CARGO_PKG_VERSION").into(),
            rules_loaded: rules.rules().len() as u64,
            rules_broken: broken_rule_names(rules_dir, rules.diagnostics()),
            counters: self.counters,
            last_article: self.last_article.clone(),
        };
        match state.write_heartbeat(&hb) {
            Ok(()) => self.failing = false,
            Err(e) if !self.failing => {
                self.failing = true;
                tracing::warn!(
                    "cannot write the heartbeat (newswatch status shows an old one): {e}"
                );
            }
            Err(_) => {}
        }
    }
}
