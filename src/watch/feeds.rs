//! What is done with the polls of feeds (the source is `crate::feeds`): their items go the way
//! of a file's articles — deduplicated by content, evaluated, their alerts recorded with their
//! deliveries and delivered by the outbox.
//!
//! [`intake`] and [`record`] serve the daemon and `newswatch fetch` alike. In the daemon, the
//! poller's results reach an intake thread (which reads the state and runs the rules, like a
//! worker), and its outcomes the loop, which records them — with the feed's new validators and
//! schedule, in the same transaction — as it records files.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::mpsc::{self, SyncSender};
use std::time::{Instant, SystemTime};

use super::worker::Shared;
use super::{Daemon, Msg, WatchError, tally};
use crate::feeds::{Feed, Polled, Poller};
use crate::metrics::{ArticleResult, Metrics};
use crate::state::{FeedPoll, FeedRow, Recorded, Silences, State, StateError, Throttle};
use newswatch_engine::alert::Alert;
use newswatch_engine::rules::{RuleError, Scanner};

/// What came of one poll, ready to record.
#[derive(Debug)]
pub struct FeedOutcome {
    /// What to record of the feed.
    pub poll: FeedPoll,
    /// The feed's name in logs.
    pub shown: String,
    /// No poll had succeeded before this one.
    pub first: bool,
    /// The content hashes of the items the feed holds now (when it was read).
    pub items: Option<Vec<String>>,
    pub alerts: Vec<Alert>,
    pub rule_errors: Vec<RuleError>,
    pub problems: Vec<String>,
    /// Items evaluated now; items the feed held before or that were seen elsewhere are not.
    pub evaluated: usize,
    /// Items recorded without evaluation: `first_poll: skip`.
    pub skipped: usize,
    /// The link of the last item evaluated.
    pub last_link: Option<String>,
}

/// Evaluates the items of `polled` that the state has not seen (in any feed), unless this is a
/// feed's first poll under `first_poll: skip`: then they are only to be recorded.
pub fn intake(
    state: &State,
    scanner: &mut Scanner<'_>,
    polled: Polled,
    metrics: &Metrics,
) -> FeedOutcome {
    let Polled {
        feed,
        first,
        articles,
        poll,
    } = polled;
    let mut out = FeedOutcome {
        poll,
        shown: feed.shown,
        first,
        items: None,
        alerts: Vec::new(),
        rule_errors: Vec::new(),
        problems: Vec::new(),
        evaluated: 0,
        skipped: 0,
        last_link: None,
    };
    let Some(articles) = articles else {
        return out;
    };
    let skip = first && feed.first_poll == crate::config::FirstPoll::Skip;
    let now = SystemTime::now();
    let mut items = Vec::with_capacity(articles.len());
    let mut here = HashSet::new();
    for a in articles {
        let sha = a.sha256();
        items.push(sha.clone());
        if !here.insert(sha.clone()) {
            continue; // the same item twice in one feed
        }
        match state.item_seen(&sha) {
            Ok(false) => {}
            Ok(true) => {
                metrics.articles(ArticleResult::Unchanged, 1);
                continue;
            }
            Err(e) => out.problems.push(e.to_string()),
        }
        if skip {
            metrics.articles(ArticleResult::Skipped, 1);
            out.skipped += 1;
            continue;
        }
        let started = Instant::now();
        match scanner.scan(&a, now) {
            Ok(eval) => {
                metrics.evaluated(&eval, started.elapsed());
                out.evaluated += 1;
                out.last_link.clone_from(&a.path);
                out.alerts.extend(eval.alerts);
                out.rule_errors.extend(eval.errors);
                out.problems.extend(eval.notes);
            }
            Err(e) => {
                metrics.articles(ArticleResult::Failed, 1);
                out.problems.push(format!("feed {}: {e}", out.shown));
            }
        }
    }
    out.items = Some(items);
    out
}

/// Records an outcome: its alerts (each queued for the outputs `targets` gives), the feed's
/// poll, and its items. Inside the caller's transaction ([`State::batch`]).
pub fn record<'t>(
    s: &State,
    o: &FeedOutcome,
    throttle: &Throttle,
    silences: &Silences,
    targets: impl Fn(&Alert) -> Vec<&'t str>,
) -> Result<Vec<Recorded>, StateError> {
    let mut recorded = Vec::with_capacity(o.alerts.len());
    for alert in &o.alerts {
        recorded.push(s.record_alert(alert, throttle, silences, &targets(alert))?);
    }
    s.record_poll(&o.poll)?;
    if let Some(items) = &o.items {
        s.record_items(&o.poll.key, items, o.poll.polled_ms)?;
    }
    Ok(recorded)
}

/// Says, once per poll, what it came to (at debug level when nothing is new).
pub fn log(o: &FeedOutcome, recorded: &[Recorded]) {
    let new = recorded
        .iter()
        .filter(|r| **r != Recorded::Duplicate)
        .count();
    if o.skipped > 0 {
        tracing::info!(
            "feed {}: first poll: {} item(s) recorded as seen, not evaluated (first_poll: skip)",
            o.shown,
            o.skipped
        );
    }
    if o.evaluated > 0 {
        tracing::info!(
            "feed {}: {} new item(s) evaluated, {new} alert(s)",
            o.shown,
            o.evaluated
        );
    } else if o.poll.ok {
        tracing::debug!("feed {}: nothing new", o.shown);
    }
    for p in &o.problems {
        tracing::warn!("{p}");
    }
}

/// The state's records of the feeds, by key, after making its feeds those of the config.
pub fn sync(state: &mut State, feeds: &[Feed]) -> Result<HashMap<String, FeedRow>, StateError> {
    let keys: Vec<(String, String)> = feeds
        .iter()
        .map(|f| (f.key.clone(), f.key.clone()))
        .collect();
    state.sync_feeds(&keys)?;
    Ok(state
        .feeds()?
        .into_iter()
        .map(|row| (row.key.clone(), row))
        .collect())
}

/// The daemon's feeds: the poller and the intake thread between it and the loop.
pub(super) struct FeedSide {
    poller: Poller,
    /// Outcomes received, recorded at the end of the loop's turn.
    pub(super) done: Vec<FeedOutcome>,
}

impl FeedSide {
    /// Starts polling `feeds`; the intake thread evaluates with the rules of `shared` and sends
    /// its outcomes to the loop (`tx`).
    pub(super) fn start(
        feeds: Vec<Feed>,
        state: &mut State,
        shared: Arc<Shared>,
        tx: SyncSender<Msg>,
        state_path: &std::path::Path,
        metrics: Arc<Metrics>,
    ) -> Result<FeedSide, WatchError> {
        let rows = sync(state, &feeds)?;
        if !feeds.is_empty() {
            tracing::info!("polling {} feed(s)", feeds.len());
        }
        let reader = State::open(state_path)?;
        let (sink, polls) = mpsc::channel::<Polled>();
        std::thread::Builder::new()
            .name("newswatch-feed-intake".into())
            .stack_size(16 << 20)
            .spawn(move || {
                for polled in polls {
                    let rules = shared.rules.load_full();
                    let mut scanner = rules.scanner();
                    let shown = polled.feed.shown.clone();
                    // A bug must cost one poll, not the feeds: its items come again with the
                    // next poll that reads the feed in full.
                    let o = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        intake(&reader, &mut scanner, polled, &shared.metrics)
                    }));
                    let o = match o {
                        Ok(o) => o,
                        Err(panic) => {
                            tracing::error!(
                                "feed {shown}: internal error while evaluating it ({}); please report this feed",
                                crate::panic_message(&panic)
                            );
                            continue;
                        }
                    };
                    if tx.send(Msg::Feed(Box::new(o))).is_err() {
                        return;
                    }
                }
            })
            .map_err(WatchError::thread("the feed intake thread"))?;
        let poller = Poller::start(feeds, rows, sink, metrics)
            .map_err(WatchError::thread("the feed poller"))?;
        Ok(FeedSide {
            poller,
            done: Vec::new(),
        })
    }

    /// SIGHUP: these feeds from now on.
    pub(super) fn reconfigure(&mut self, state: &mut State, feeds: Vec<Feed>) {
        match sync(state, &feeds) {
            Ok(rows) => {
                tracing::info!("polling {} feed(s)", feeds.len());
                self.poller.reconfigure(feeds, rows);
            }
            Err(e) => tracing::error!("SIGHUP: {e}; the feeds stay as they were"),
        }
    }
}

impl Daemon {
    /// Records the outcomes of feed polls received this turn, like [`Daemon::commit`] records
    /// files: one transaction, then the outputs woken.
    pub(super) fn commit_feeds(&mut self) {
        let done = std::mem::take(&mut self.feeds.done);
        if done.is_empty() {
            return;
        }
        let throttle = self.opts.config.throttle.throttle();
        let targets = self.outbox.targets();
        let silences = self.operator.silences();
        let recorded = self.state.batch(|s| {
            done.iter()
                .map(|o| record(s, o, &throttle, silences, |a| targets.for_alert(a)))
                .collect::<Result<Vec<_>, _>>()
        });
        self.metrics.state_writable(recorded.is_ok());
        match recorded {
            Ok(recorded) => {
                for (o, r) in done.iter().zip(&recorded) {
                    tally::recorded(&self.metrics, r);
                    if r.contains(&Recorded::New) {
                        self.outbox.wake();
                    }
                    let raised = r.iter().filter(|r| **r != Recorded::Duplicate).count();
                    self.pulse
                        .count_items(o.evaluated, raised, o.last_link.as_deref());
                    log(o, r);
                }
            }
            Err(e) => {
                tracing::error!("{e}; the feeds' items are read again at their next poll");
                for o in &done {
                    self.feeds.poller.unsure(o.poll.key.clone(), o.first);
                }
            }
        }
        for o in &done {
            for e in &o.rule_errors {
                self.errors
                    .log(&e.rule, &format!("{e} (on feed {})", o.shown));
            }
        }
    }
}
