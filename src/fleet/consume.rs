//! `newswatch consume`: one worker of a fleet.
//!
//! ```text
//!  signal thread ─► stop ─┐
//!                         ▼
//!  runtime (one thread):  loop ── batch of articles (pull, 0.5 s at most) ──► jobs ─┐
//!                          ▲  ├── progress acks for articles held ack_wait/3       │
//!                          │  └── per article evaluated: publish its alerts,       │
//!                          │      await their acks, then ack it (or terminate it)  │
//!                          └────────────── done ◄── evaluating threads (one per core)
//! ```
//!
//! The worker holds at most two batches of articles at a time, so that a worker that dies
//! leaves little to redeliver and the server's `max_ack_pending` is shared fairly. An article is
//! acked only after the server has acknowledged every alert it raised; while that takes (a
//! server restarting), the alerts are published again with backoff — the same ids, so the
//! stream's duplicate window keeps one of each — and the article is kept with progress acks.
//! On SIGINT or SIGTERM the worker asks for nothing more, finishes and acks the articles in
//! hand (those of the batch under way included), and returns; what it could not finish within
//! the grace time is left unacked and goes to another worker.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use async_nats::jetstream::{self, AckKind, consumer::PullConsumer};
use futures_util::StreamExt;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinSet;

use super::pool::{self, AlertOut, Done, Job, Outcome};
use super::{NAME_HEADER, SOURCE_HEADER, Settings, stream};
use crate::outputs::nats::{ConnectMode, connect, publish_json};
use newswatch_engine::rules::{Ruleset, RulesetOptions};

/// How long one pull waits for articles: also the longest a stop waits for the batch under way.
const EXPIRES: Duration = Duration::from_millis(500);
/// After SIGINT/SIGTERM, the time to finish the articles in hand (DESIGN: exit within 2 s).
const GRACE: Duration = Duration::from_millis(1500);
/// The bytes of one batch at most: a batch of large articles must not fill memory, and any
/// message fits (NATS caps a message at 64 MiB).
const BATCH_BYTES: usize = 65 << 20;
/// How long the alerts of one article are published again before it is left to be
/// delivered again.
const RETRY_FOR: Duration = Duration::from_secs(120);

/// Set by SIGINT or SIGTERM.
#[derive(Default)]
struct Stop {
    flag: AtomicBool,
    notify: tokio::sync::Notify,
}

impl Stop {
    fn is_set(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    fn set(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_one();
    }
}

/// What a worker did, for its last log line.
#[derive(Default)]
struct Stats {
    articles: u64,
    alerts: u64,
    terminated: u64,
}

/// Runs a worker until SIGINT or SIGTERM: `rules` (compiled from `rules_dir` with `options`,
/// which a change in the folder recompiles) on the articles of the settings' stream. `Err` is
/// what stopped it from starting.
pub fn consume(
    settings: Settings,
    rules_dir: &Path,
    rules: Ruleset,
    options: RulesetOptions,
    max_file_size: u64,
) -> Result<(), String> {
    let stop = Arc::new(Stop::default());
    spawn_signals(stop.clone())?;
    let rules = Arc::new(ArcSwap::from_pointee(rules));
    let _reloading = super::rules::watch(rules_dir, options, rules.clone());
    let shared = Arc::new(pool::Shared {
        rules,
        max_file_size,
        alerts_subject: settings.alerts_subject.clone(),
        errors: pool::RuleErrors::default(),
    });
    let (jobs, job_rx) = std::sync::mpsc::channel();
    let (done_tx, done) = tokio::sync::mpsc::unbounded_channel();
    let threads = pool::start(shared.clone(), job_rx, done_tx)
        .map_err(|e| format!("cannot start the evaluating threads: {e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the NATS client: {e}"))?;
    let worker = Worker {
        settings,
        stop,
        jobs,
        held: HashMap::new(),
        stats: Stats::default(),
    };
    let result = runtime.block_on(worker.run(done));
    // The jobs' channel is closed: the threads end after the article in hand.
    drop(runtime);
    for thread in threads {
        let _ = thread.join();
    }
    for (rule, n) in shared.errors.summary() {
        tracing::error!("rule {rule}: failed on {n} articles in all");
    }
    result
}

/// An article in hand: evaluated, or its alerts being published.
struct Held {
    message: Arc<jetstream::Message>,
    /// When it was last said to be in progress (or received).
    progressed: Instant,
}

struct Worker {
    settings: Settings,
    stop: Arc<Stop>,
    jobs: std::sync::mpsc::Sender<Job>,
    held: HashMap<u64, Held>,
    stats: Stats,
}

/// How a finished article ended.
enum Finished {
    Acked {
        alerts: usize,
    },
    Terminated,
    /// Not acked: it is delivered again (here or elsewhere) after `ack_wait`.
    Left(String),
}

impl Worker {
    async fn run(mut self, mut done: UnboundedReceiver<Done>) -> Result<(), String> {
        let s = self.settings.clone();
        let client = connect(&s.url, s.credentials.as_deref(), ConnectMode::Wait).await?;
        let mut context = jetstream::new(client.clone());
        context.set_timeout(s.timeout);
        let Some(consumer) = self.set_up(&context).await else {
            tracing::info!("stopped before the server could be reached");
            return Ok(());
        };
        tracing::info!(
            "consuming stream {} with consumer {} (ack_wait {:?}, up to {} deliveries over {:?}); alerts to {}.RULE",
            s.stream,
            s.durable,
            s.ack_wait,
            s.max_deliver,
            stream::redelivery_span(s.ack_wait, s.max_deliver),
            s.alerts_subject
        );
        let limit = 2 * s.batch.max(1);
        let progress_every = (s.ack_wait / 3).max(Duration::from_millis(100));
        let mut tick = tokio::time::interval(progress_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut tasks: JoinSet<(u64, Finished)> = JoinSet::new();
        let mut batch = None;
        let mut trouble = Trouble::default();
        let mut next_id = 0u64;
        let mut stopping: Option<Instant> = None;
        loop {
            if self.stop.is_set() && stopping.is_none() {
                tracing::info!(
                    "stopping: finishing the {} articles in hand",
                    self.held.len()
                );
                stopping = Some(Instant::now());
            }
            if let Some(since) = stopping {
                if batch.is_none() && self.held.is_empty() {
                    break;
                }
                if since.elapsed() >= GRACE {
                    tracing::warn!(
                        "stopping: {} articles not finished in time are left unacked: they are delivered again after ack_wait",
                        self.held.len()
                    );
                    break;
                }
            }
            let room = limit.saturating_sub(self.held.len());
            if batch.is_none() && stopping.is_none() && room > 0 && trouble.may_pull() {
                let want = room.min(s.batch);
                match consumer
                    .batch()
                    .max_messages(want)
                    .max_bytes(BATCH_BYTES)
                    .expires(EXPIRES)
                    .messages()
                    .await
                {
                    Ok(b) => batch = Some(b),
                    Err(e) => trouble.failed(&format!("cannot ask for articles: {e}")),
                }
            }
            let pull_at = trouble.pull_after;
            tokio::select! {
                _ = self.stop.notify.notified(), if stopping.is_none() => {}
                item = next_message(&mut batch), if batch.is_some() => match item {
                    Some(Ok(message)) => {
                        trouble.succeeded();
                        next_id += 1;
                        self.dispatch(next_id, message, &mut tasks);
                    }
                    // Heartbeats missed, a server restarting, a leader changing: not fatal.
                    Some(Err(e)) => {
                        batch = None;
                        trouble.failed(&format!("while receiving articles: {e}"));
                    }
                    None => batch = None,
                },
                Some(d) = done.recv() => {
                    if let Some(held) = self.held.get(&d.id) {
                        let message = held.message.clone();
                        let (context, stop) = (context.clone(), self.stop.clone());
                        tasks.spawn(async move {
                            (d.id, finish(&context, &message, d.outcome, &stop).await)
                        });
                    }
                }
                Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Ok((id, finished)) = joined {
                        self.held.remove(&id);
                        match finished {
                            Finished::Acked { alerts } => {
                                self.stats.articles += 1;
                                self.stats.alerts += alerts as u64;
                            }
                            Finished::Terminated => self.stats.terminated += 1,
                            Finished::Left(why) => tracing::warn!("{why}"),
                        }
                    }
                }
                _ = tick.tick() => self.progress(progress_every),
                _ = tokio::time::sleep_until(pull_at.into()), if batch.is_none() && pull_at > Instant::now() => {}
                _ = tokio::time::sleep(Duration::from_millis(20)), if stopping.is_some() => {}
            }
            if trouble.should_set_up_again() && stopping.is_none() {
                // The stream or the consumer may be gone (a server restarted without its
                // storage, an operator deleted them): make them again.
                if let Err(e) = stream::set_up(&context, &s).await {
                    tracing::warn!("{e}");
                }
            }
        }
        // Acks are written to the connection before the process ends.
        let _ = tokio::time::timeout(Duration::from_millis(300), client.flush()).await;
        tracing::info!(
            "stopped: {} articles evaluated and acked, {} alerts published, {} terminated",
            self.stats.articles,
            self.stats.alerts,
            self.stats.terminated
        );
        Ok(())
    }

    /// The streams and the consumer, tried until they can be set up or the worker is stopped
    /// (`None`): a worker may start before its server.
    async fn set_up(&self, context: &jetstream::Context) -> Option<PullConsumer> {
        let mut wait = Duration::from_millis(250);
        let mut said = false;
        loop {
            match stream::set_up(context, &self.settings).await {
                Ok(consumer) => return Some(consumer),
                Err(e) => {
                    if !said {
                        tracing::warn!("{e}; trying again until the server answers");
                        said = true;
                    } else {
                        tracing::debug!("{e}");
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.stop.notify.notified() => {}
            }
            if self.stop.is_set() {
                return None;
            }
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }

    /// Hands a message to the evaluating threads, and holds it until it is acked.
    fn dispatch(
        &mut self,
        id: u64,
        message: jetstream::Message,
        tasks: &mut JoinSet<(u64, Finished)>,
    ) {
        let message = Arc::new(message);
        let headers = message.headers.as_ref();
        let header = |name: &str| {
            headers
                .and_then(|h| h.get(name))
                .map(|v| v.as_str().to_string())
                .filter(|v| !v.is_empty())
        };
        let name = header(NAME_HEADER).unwrap_or_else(|| "-".into());
        let source =
            header(SOURCE_HEADER).unwrap_or_else(|| default_source(&name, &message.subject));
        self.held.insert(
            id,
            Held {
                message: message.clone(),
                progressed: Instant::now(),
            },
        );
        let at = match message.info() {
            Ok(info) => {
                if info.delivered > 1 {
                    tracing::debug!(
                        "{name} (stream sequence {}): delivery {}",
                        info.stream_sequence,
                        info.delivered
                    );
                }
                let ns = info.published.unix_timestamp_nanos().max(0) as u64;
                SystemTime::UNIX_EPOCH + Duration::from_nanos(ns)
            }
            Err(e) => {
                let why = format!("{name}: no JetStream metadata ({e})");
                tasks.spawn(async move { (id, terminate(&message, &why).await) });
                return;
            }
        };
        let payload = message.payload.clone();
        if self
            .jobs
            .send(Job {
                id,
                name,
                source,
                payload,
                at,
            })
            .is_err()
        {
            tracing::error!("the evaluating threads are gone");
            self.stop.set();
        }
    }

    /// Says the articles held a while are still at work, so that the server waits for them.
    fn progress(&mut self, every: Duration) {
        for held in self.held.values_mut() {
            if held.progressed.elapsed() >= every {
                held.progressed = Instant::now();
                let message = held.message.clone();
                tokio::spawn(async move {
                    let _ = message.ack_with(AckKind::Progress).await;
                });
            }
        }
    }
}

/// The next message of the batch under way (`batch` is `Some`: the select's condition).
async fn next_message(
    batch: &mut Option<async_nats::jetstream::consumer::pull::Batch>,
) -> Option<Result<jetstream::Message, async_nats::Error>> {
    match batch {
        Some(b) => b.next().await,
        None => std::future::pending().await,
    }
}

/// Publishes an article's alerts, awaits the server's acknowledgement of each, then acks the
/// article; a malformed one is terminated.
async fn finish(
    context: &jetstream::Context,
    message: &jetstream::Message,
    outcome: Outcome,
    stop: &Stop,
) -> Finished {
    let alerts = match outcome {
        Outcome::Malformed(why) => return terminate(message, &why).await,
        Outcome::Evaluated(alerts) => alerts,
    };
    let count = alerts.len();
    let mut pending = alerts;
    let mut wait = Duration::from_millis(200);
    let started = Instant::now();
    let mut said = false;
    while !pending.is_empty() {
        let results =
            futures_util::future::join_all(pending.iter().map(|a| publish(context, a))).await;
        let mut failed = Vec::new();
        let mut last = String::new();
        for (alert, result) in pending.into_iter().zip(results) {
            if let Err(e) = result {
                last = e;
                failed.push(alert);
            }
        }
        pending = failed;
        if pending.is_empty() {
            break;
        }
        if stop.is_set() || started.elapsed() >= RETRY_FOR {
            return Finished::Left(format!(
                "{}: {} alerts not stored ({last}): the article is left unacked, to be delivered again",
                shown(message),
                pending.len()
            ));
        }
        if !said {
            tracing::warn!(
                "{}: {} alerts not stored yet ({last}): publishing them again; the article is acked once they are",
                shown(message),
                pending.len()
            );
            said = true;
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(5));
    }
    match message.ack().await {
        Ok(()) => Finished::Acked { alerts: count },
        Err(e) => Finished::Left(format!(
            "{}: cannot ack ({e}): it is delivered again, and its alerts dropped as duplicates",
            shown(message)
        )),
    }
}

async fn publish(context: &jetstream::Context, alert: &AlertOut) -> Result<(), String> {
    let ack = publish_json(
        context,
        alert.subject.clone(),
        &alert.id,
        alert.json.clone(),
    )
    .await
    .map_err(|e| e.to_string())?;
    ack.await.map(|_| ()).map_err(|e| e.to_string())
}

/// Terminates a message that can never be evaluated: one log line, and it is not delivered
/// again.
async fn terminate(message: &jetstream::Message, why: &str) -> Finished {
    let seq = message
        .info()
        .map(|i| i.stream_sequence)
        .unwrap_or_default();
    tracing::warn!(
        "{why} (stream sequence {seq}): not an article; terminated, not delivered again"
    );
    match message.ack_with(AckKind::Term).await {
        Ok(()) => Finished::Terminated,
        Err(e) => Finished::Left(format!("{why}: cannot terminate it ({e})")),
    }
}

/// The article's name for logs.
fn shown(message: &jetstream::Message) -> String {
    message
        .headers
        .as_ref()
        .and_then(|h| h.get(NAME_HEADER))
        .map(|v| v.as_str().to_string())
        .unwrap_or_else(|| format!("message on {}", message.subject))
}

/// The `source` of an article published without `Newswatch-Source`: the folder its name is in,
/// else the subject it came on.
fn default_source(name: &str, subject: &str) -> String {
    Path::new(name)
        .parent()
        .and_then(|p| p.file_name())
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| subject.to_string())
}

/// Failures to receive articles, logged without flooding, and when to pull again.
struct Trouble {
    failures: u32,
    pull_after: Instant,
    said: Option<Instant>,
    /// The failure count at which the streams were last set up again.
    set_up_at: u32,
}

impl Default for Trouble {
    fn default() -> Trouble {
        Trouble {
            failures: 0,
            pull_after: Instant::now(),
            said: None,
            set_up_at: 0,
        }
    }
}

impl Trouble {
    const SAY_EVERY: Duration = Duration::from_secs(10);

    fn may_pull(&self) -> bool {
        Instant::now() >= self.pull_after
    }

    fn failed(&mut self, what: &str) {
        self.failures += 1;
        if self.said.is_none_or(|at| at.elapsed() >= Self::SAY_EVERY) {
            tracing::warn!("{what}; trying again");
            self.said = Some(Instant::now());
        } else {
            tracing::debug!("{what}");
        }
        let wait = Duration::from_millis(100) * 2u32.saturating_pow(self.failures.min(6));
        self.pull_after = Instant::now() + wait.min(Duration::from_secs(5));
    }

    fn succeeded(&mut self) {
        if self.failures > 0 && self.said.is_some() {
            tracing::info!("receiving articles again");
        }
        self.failures = 0;
        self.said = None;
        self.set_up_at = 0;
    }

    /// After a few failures in a row, and every few after: whether to set the streams and the
    /// consumer up again.
    fn should_set_up_again(&mut self) -> bool {
        let due = self.failures >= 3
            && self.failures.is_multiple_of(3)
            && self.set_up_at != self.failures;
        if due {
            self.set_up_at = self.failures;
        }
        due
    }
}

fn spawn_signals(stop: Arc<Stop>) -> Result<(), String> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .map_err(|e| format!("cannot handle signals: {e}"))?;
    std::thread::Builder::new()
        .name("newswatch-signals".into())
        .spawn(move || {
            for _ in signals.forever() {
                stop.set();
            }
        })
        .map_err(|e| format!("cannot start the signal thread: {e}"))?;
    Ok(())
}
