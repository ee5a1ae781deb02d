//! The watcher daemon: `newswatch watch`.
//!
//! One loop owns the daemon's decisions — which file is read when, what is recorded. It waits
//! on no `stat`, no rules compiler, no output and no watch being set up: all that runs on
//! threads of its own, which answer the loop with a [`Msg`].
//!
//! ```text
//!  notify threads ─┐                       ┌─► workers: stat, read, hash, ingest, evaluate ─┐
//!  signal thread ──┤                       ├─► walker: watch new folders, walk, stat found ─┤
//!                  └─► Msg channel ─► loop ┼─► stat thread: settling files' stamps, gone? ──┤
//!                            ▲             ├─► reload thread: rules; config on SIGHUP ──────┤
//!                            │             └─► state (one writer) ─► outbox ─► outputs      │
//!                            └─── Done, Found, Stamped, Gone, Reloaded ◄────────────────────┘
//! ```
//!
//! What runs where:
//!
//! - **The loop** matches paths to watched folders, keeps the books of files that are settling
//!   (`pending`), hands out jobs, and swaps in what a reload built: the new rules with one
//!   `ArcSwap` store, the new folders, walker, watches and outputs by moving handles. The one
//!   slow thing it does itself is write the state: what the workers found (alerts with their
//!   deliveries, files), files gone, outputs known — small SQLite transactions on the one
//!   connection that writes, so that the store has one writer.
//! - **Workers** `stat`, read, hash, ingest and evaluate files, in parallel (`worker`).
//! - **The walker** sets up the watch on a folder that appears, then walks it — and every
//!   watched folder at the start, after lost events and every 15 minutes — and `stat`s the
//!   files it finds for whether they may still be being written (`roots`).
//! - **The stat thread** looks at the size and mtime of files settling after a change, and
//!   checks that files reported gone are still gone (`stat`).
//! - **The reload thread** recompiles the rules when their folder changes and, on SIGHUP,
//!   re-reads the config, resolves the watched folders, compiles the rules, builds the outputs
//!   and sets up the watches: one reload at a time, those asked for meanwhile merged into one
//!   (`reload`). A rule that no longer compiles keeps its last good version.
//! - **The outbox** has one delivery thread per output, across reloads too: a SIGHUP hands
//!   each running output's thread its new build, taken after the delivery in hand, so that no
//!   queue is ever delivered by two threads (`crate::outbox`). The loop never waits for it.
//! - **Operators' edits** (`newswatch silence`, `newswatch outbox`, other processes) are seen
//!   by the loop reading the state's revision counter once a second (`operator`): the silences
//!   are read again and the outputs woken only when it changed.
//! - Only the start, before the loop runs and before anything is watched, compiles the rules
//!   and builds the outputs on the calling thread.
//!
//! The promises of DESIGN.md and how they are kept: a file is read once complete (closed after
//! writing, renamed into place, or unchanged for a settle time — see `pending`); folders that
//! appear are walked, since their first files have no events; an overflow or watcher error
//! triggers a walk of everything, and so does start-up (catch-up) and a slow periodic timer;
//! a watched folder or the rules folder deleted or swapped by `mv` is noticed (its own events,
//! and a look every [`FOLDER_CHECK`] on the walker's and the reload thread) and watched again
//! — walked, or its rules reloaded — once back; files whose recording failed (a full disk)
//! are walked again soon, backing off from 5 s (`retry`);
//! the state store remembers each file's size, mtime and content hash so a walk re-reads only
//! what changed, and each alert id so nothing is delivered twice. Alerts are recorded with
//! their deliveries before any is made; the [`Outbox`] threads deliver and retry them.

mod error;
mod errorlog;
mod events;
pub(crate) mod feeds;
mod filter;
mod operator;
mod pending;
mod pulse;
mod reload;
mod retry;
mod roots;
mod stat;
mod tally;
mod worker;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use crate::config::{Config, Startup};
use crate::metrics::Metrics;
use crate::outbox::Outbox;
use crate::outputs;
use crate::state::lock::StateLock;
use crate::state::{Recorded, State};
pub use error::WatchError;
use errorlog::ErrorLog;
use events::Change;
/// The rules folder's watch, for the fleet's workers (`crate::fleet`), which reload like the daemon.
pub(crate) use events::{FolderWatcher, Watched, watch_rules};
use operator::Operator;
use pulse::Pulse;
use reload::{Reconfigured, Reloaded, Reloader, Request};
use roots::{Root, Walker};
use stat::Stat;
use worker::{Job, Outcome, Shared};

/// How often the loop looks at pending files.
const TICK: Duration = Duration::from_millis(50);
/// A safety-net walk of every watched folder, for events the platform never sent.
const PERIODIC_RESCAN: Duration = Duration::from_secs(15 * 60);
/// Rule changes are applied once the rules folder is quiet this long (editors write twice).
const RULES_QUIET: Duration = Duration::from_millis(150);
/// How often the watched folders and the rules folder are looked at for whether they were
/// deleted or replaced (`mv`, deleted and recreated): a watch follows the folder, not the path.
const FOLDER_CHECK: Duration = Duration::from_secs(1);
/// Time allowed to finish the work in hand after SIGINT/SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(1200);

/// All a stop may take, outputs recording their deliveries in hand included: DESIGN allows two
/// seconds, and the process still has to exit.
const STOP_BUDGET: Duration = Duration::from_millis(1500);

/// What the daemon's loop receives: from the watchers, the signal thread, the walker, the
/// workers, the stat and reload threads.
enum Msg {
    /// A file-system change under a watched folder.
    Fs(Change),
    /// Events were lost (queue overflow, watcher error): walk everything again.
    Rescan(String),
    /// Something under the rules folder changed.
    RulesChanged,
    /// A signal arrived (SIGINT, SIGTERM, SIGHUP).
    Signal(i32),
    /// Files found by a walk of a watched folder: those to read now, and those changed so
    /// recently that they may still be being written. `evaluate` is false for the start-up
    /// walk under `startup: skip` (then every file is ready: it is only recorded).
    Found {
        ready: Vec<PathBuf>,
        settling: Vec<PathBuf>,
        evaluate: bool,
    },
    /// A worker finished a job.
    Done(Box<Outcome>),
    /// Sizes and mtimes of settling files, as asked (`None`: the file is gone).
    Stamped(Vec<(Option<pending::Stamp>, PathBuf)>),
    /// Files deleted or moved away that are still gone: to forget.
    Gone(Vec<PathBuf>),
    /// A reload is ready to be swapped in.
    Reloaded(Reloaded),
    /// A feed was polled and its new items evaluated (`feeds`).
    Feed(Box<feeds::FeedOutcome>),
}

impl From<Watched> for Msg {
    fn from(event: Watched) -> Msg {
        match event {
            Watched::Fs(change) => Msg::Fs(change),
            Watched::Rescan(why) => Msg::Rescan(why),
            Watched::RulesChanged => Msg::RulesChanged,
        }
    }
}

/// Everything `watch` needs, resolved by the command line.
pub struct Options {
    pub config: Config,
    /// The config file, re-read on SIGHUP.
    pub config_path: Option<PathBuf>,
    /// Folders given on the command line (replace the config's `watch:`).
    pub paths: Vec<PathBuf>,
    pub rules_dir: PathBuf,
    /// Whether `rules_dir` came from the command line: then a SIGHUP keeps it, whatever the
    /// config's `rules:` says, as at start.
    pub rules_fixed: bool,
    pub state_path: PathBuf,
}

/// Runs the daemon until SIGINT or SIGTERM. Errors are what stops it from starting.
pub fn run(opts: Options) -> Result<(), WatchError> {
    let mut daemon = Daemon::start(opts)?;
    daemon.run();
    Ok(())
}

struct Daemon {
    opts: Options,
    roots: Vec<Root>,
    state: State,
    outbox: Outbox,
    shared: Arc<Shared>,
    rx: Receiver<Msg>,
    overflowed: Arc<AtomicBool>,
    jobs: Option<mpsc::Sender<Job>>,
    workers: Vec<std::thread::JoinHandle<()>>,
    /// Walks, and holds the watch on the watched folders.
    walker: Walker,
    rules_watcher: Option<FolderWatcher>,
    reloader: Reloader,
    stat: Stat,
    /// Paths newswatch writes itself (state, output files): never articles.
    own_files: HashSet<PathBuf>,
    tracker: pending::Tracker,
    inflight: HashSet<PathBuf>,
    again: HashSet<PathBuf>,
    /// Files deleted or moved away, to forget at the next tick.
    gone: Vec<PathBuf>,
    rules_due: Option<Instant>,
    next_rescan: Instant,
    next_check: Instant,
    /// A walk soon when recording failed (the state's disk full): its files are still unseen.
    retry: retry::Retry,
    errors: ErrorLog,
    /// Silences and outbox edits made by `newswatch silence` and `newswatch outbox`.
    operator: Operator,
    metrics: Arc<Metrics>,
    /// Counters and the heartbeat written from them.
    pulse: Pulse,
    /// The feeds polled, and their outcomes waiting to be recorded.
    feeds: feeds::FeedSide,
    /// One daemon per state: held until the process ends.
    _lock: StateLock,
}

impl Daemon {
    fn start(opts: Options) -> Result<Daemon, WatchError> {
        let metrics = Arc::new(Metrics::new());
        if let Some(http) = &opts.config.http {
            // First, so that `/readyz` answers (503) while the rules compile.
            crate::metrics::serve(http.listen, metrics.clone())?;
        }
        let roots = roots::resolve(&opts.paths, &opts.config)?;
        let feed_list = crate::feeds::resolve(&opts.config)?;
        // Opened first, for its errors (a folder that cannot be written, a foreign file), then
        // locked before anything is written: a second daemon on this state changes nothing.
        let mut state = State::open(&opts.state_path)?;
        state.set_story_window(opts.config.stories.window);
        metrics.state_writable(true);
        let lock = StateLock::for_daemon(&opts.state_path)?;
        match state.forget_missing_files() {
            Ok(0) => {}
            Ok(1) => tracing::info!("forgot 1 file deleted while newswatch was stopped"),
            Ok(n) => tracing::info!("forgot {n} files deleted while newswatch was stopped"),
            Err(e) => tracing::warn!("{e}"),
        }
        let rules = Arc::new(reload::load_rules(&opts.rules_dir, &opts.config)?);
        metrics.rules_loaded(rules.rules().len());
        let routes = crate::config::build_routes(&opts.config.outputs)?;
        warn_of_orphans(&state, &routes);
        let policy = opts.config.retry.policy();
        let outbox = Outbox::start(&opts.state_path, routes, policy, metrics.clone())?;
        let (tx, rx) = mpsc::sync_channel(1 << 16);
        let overflowed = Arc::new(AtomicBool::new(false));

        spawn_signals(tx.clone())?;
        // Watch before the catch-up walk, so nothing written during the walk is missed.
        let abs: Vec<PathBuf> = roots.iter().map(|r| r.abs.clone()).collect();
        let folder_watcher = events::watch_folders(&abs, tx.clone(), overflowed.clone())?;
        let rules_watcher = watch_rules_or_warn(&opts.rules_dir, &tx);

        let shared = Arc::new(Shared {
            rules: ArcSwap::new(rules.clone()),
            max_file_size: AtomicU64::new(opts.config.limits.max_file_size),
            stopping: AtomicBool::new(false),
            metrics: metrics.clone(),
        });
        let feeds = feeds::FeedSide::start(
            feed_list,
            &mut state,
            shared.clone(),
            tx.clone(),
            &opts.state_path,
            metrics.clone(),
        )?;
        let (jobs_tx, jobs_rx) = mpsc::channel();
        let jobs_rx = Arc::new(Mutex::new(jobs_rx));
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut workers = Vec::new();
        for i in 0..threads {
            let state = State::open(&opts.state_path)?;
            let (shared, jobs, done) = (shared.clone(), jobs_rx.clone(), tx.clone());
            workers.push(
                std::thread::Builder::new()
                    .name(format!("newswatch-worker-{i}"))
                    .stack_size(16 << 20)
                    .spawn(move || worker::run(shared, state, jobs, done))
                    .map_err(WatchError::thread("worker threads"))?,
            );
        }
        let reloader = Reloader::start(reload::Setup {
            config_path: opts.config_path.clone(),
            paths: opts.paths.clone(),
            rules_dir: opts.rules_dir.clone(),
            rules_fixed: opts.rules_fixed,
            state_path: opts.state_path.clone(),
            rules,
            tx: tx.clone(),
            overflowed: overflowed.clone(),
        })?;
        let stat = Stat::start(tx.clone())?;

        let mut own_files: HashSet<PathBuf> = ["", "-wal", "-shm", "-journal", ".lock"]
            .iter()
            .filter_map(|suffix| {
                let mut p = opts.state_path.clone().into_os_string();
                p.push(suffix);
                std::path::absolute(PathBuf::from(p)).ok()
            })
            .collect();
        own_files.extend(output_paths(&opts.config));

        let evaluate = opts.config.startup == Startup::Process;
        let walker = Walker::new(roots.clone(), folder_watcher, tx.clone())?;
        for root in &roots {
            tracing::info!("watching {}", root.given.display());
            walker.walk(root.abs.clone(), evaluate);
        }
        let mut daemon = Daemon {
            opts,
            roots,
            state,
            outbox,
            shared,
            rx,
            overflowed,
            jobs: Some(jobs_tx),
            workers,
            walker,
            rules_watcher,
            reloader,
            stat,
            own_files,
            tracker: pending::Tracker::default(),
            inflight: HashSet::new(),
            again: HashSet::new(),
            gone: Vec::new(),
            rules_due: None,
            next_rescan: Instant::now() + PERIODIC_RESCAN,
            next_check: Instant::now() + FOLDER_CHECK,
            retry: retry::Retry::default(),
            errors: ErrorLog::default(),
            operator: Operator::default(),
            metrics,
            pulse: Pulse::new(),
            feeds,
            _lock: lock,
        };
        // The silences in force before the first alert is recorded.
        daemon.operator.look(&daemon.state, Instant::now());
        Ok(daemon)
    }

    fn run(&mut self) {
        self.beat(true);
        loop {
            self.metrics.beat();
            let first = match self.rx.recv_timeout(TICK) {
                Ok(msg) => Some(msg),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let mut batch: Vec<Msg> = first.into_iter().collect();
            if !batch.is_empty() {
                batch.extend(self.rx.try_iter().take(4096));
            }
            let mut done = Vec::new();
            let mut stop = false;
            for msg in batch {
                match msg {
                    Msg::Done(outcome) => done.push(*outcome),
                    Msg::Signal(SIGHUP) => self.sighup(),
                    Msg::Signal(_) => stop = true,
                    other => self.handle(other),
                }
            }
            self.commit(done);
            self.commit_feeds();
            if stop {
                self.shutdown();
                return;
            }
            self.tick();
        }
    }

    fn handle(&mut self, msg: Msg) {
        let now = Instant::now();
        match msg {
            Msg::Fs(Change::Changed { path, write }) => {
                if self.watched(&path).is_some() {
                    self.tracker.changed(&path, now, write);
                }
            }
            Msg::Fs(Change::Completed(path)) => {
                self.tracker.forget(&path);
                self.dispatch(path, true);
            }
            Msg::Fs(Change::Folder(path)) => {
                // New, moved in, or made readable: notify may not have reached it.
                self.walker.watch_and_walk(path);
            }
            Msg::Fs(Change::Gone(path)) => {
                if self.roots.iter().any(|r| r.abs == path) {
                    // A watched folder itself deleted or moved away.
                    self.walker.check();
                }
                self.tracker.forget(&path);
                if self.watched(&path).is_some() {
                    self.gone.push(path);
                }
            }
            Msg::Rescan(reason) => self.rescan(&reason),
            Msg::RulesChanged => {
                self.rules_due = Some(now + RULES_QUIET);
                // The rules folder itself may have been moved away or deleted.
                self.reloader.check_rules();
            }
            Msg::Found {
                ready,
                settling,
                evaluate,
            } => {
                for path in ready {
                    self.dispatch(path, evaluate);
                }
                // Possibly still being written: let them settle like any new file.
                for path in settling {
                    self.tracker.changed(&path, now, false);
                }
            }
            Msg::Stamped(looks) => {
                let mut ready: Vec<PathBuf> = looks
                    .into_iter()
                    .filter(|(stamp, path)| self.tracker.looked(path, *stamp, now))
                    .map(|(_, path)| path)
                    .collect();
                ready.sort();
                for path in ready {
                    self.dispatch(path, true);
                }
            }
            Msg::Gone(paths) => self.forget(paths),
            Msg::Reloaded(Reloaded::Rules(rules)) => {
                tracing::info!("rules reloaded: {} rules", rules.rules().len());
                self.metrics.rules_loaded(rules.rules().len());
                self.shared.rules.store(rules);
            }
            Msg::Reloaded(Reloaded::Config(new)) => self.reconfigure(*new),
            Msg::Reloaded(Reloaded::RulesWatcher(watcher)) => self.rules_watcher = watcher,
            Msg::Feed(outcome) => self.feeds.done.push(*outcome),
            Msg::Signal(_) | Msg::Done(_) => unreachable!("handled by the loop"),
        }
    }

    /// The root watching `path`, if it is an article file newswatch does not write itself.
    fn watched(&self, path: &Path) -> Option<(&Root, PathBuf)> {
        if self.own_files.contains(path) {
            return None;
        }
        roots::owner(&self.roots, path)
    }

    fn dispatch(&mut self, path: PathBuf, evaluate: bool) {
        let Some((root, rel)) = self.watched(&path) else {
            tracing::debug!(
                "ignored {}: newswatch's own file, hidden or temporary, or left out by include/exclude",
                path.display()
            );
            return;
        };
        if self.inflight.contains(&path) {
            self.again.insert(path);
            return;
        }
        let job = Job {
            shown: root.given.join(rel),
            source: root.name.clone(),
            path: path.clone(),
            evaluate,
        };
        if let Some(jobs) = &self.jobs
            && jobs.send(job).is_ok()
        {
            self.inflight.insert(path);
        }
    }

    fn rescan(&mut self, reason: &str) {
        tracing::warn!("{reason}: walking every watched folder to catch up");
        for root in &self.roots {
            self.walker.walk(root.abs.clone(), true);
        }
    }

    fn tick(&mut self) {
        let now = Instant::now();
        if self.overflowed.swap(false, Ordering::SeqCst) {
            self.rescan("events were dropped");
        }
        let due = self.tracker.due(now);
        if !due.is_empty() {
            self.stat.stamps(due);
        }
        if self.rules_due.is_some_and(|due| now >= due) {
            self.rules_due = None;
            self.reloader.request(Request::Rules);
        }
        self.errors.flush(false);
        if !self.gone.is_empty() {
            // Forgotten once the stat thread has seen that they are not back.
            self.stat.gone(std::mem::take(&mut self.gone));
        }
        if self.retry.due(now) {
            self.rescan("recording in the state failed");
        }
        if self.operator.look(&self.state, now) {
            self.outbox.wake();
        }
        if now >= self.next_check {
            self.next_check = now + FOLDER_CHECK;
            self.walker.check();
            self.reloader.check_rules();
        }
        if now >= self.next_rescan {
            self.next_rescan = now + PERIODIC_RESCAN;
            for root in &self.roots {
                self.walker.walk(root.abs.clone(), true);
            }
        }
        self.beat(false);
    }

    /// The heartbeat, at most once a second unless `now`.
    fn beat(&mut self, now: bool) {
        let rules = self.shared.rules.load();
        self.pulse
            .beat(&self.state, &rules, &self.opts.rules_dir, now);
    }

    /// Drops the records of files deleted or moved away, and still gone when the stat thread
    /// looked. (One back right after that look is read again at the next walk, whose alerts
    /// are not repeated: their ids are recorded.)
    fn forget(&mut self, gone: Vec<PathBuf>) {
        if gone.is_empty() {
            return;
        }
        let forgotten = self.state.batch(|s| {
            for path in &gone {
                s.forget_file(path)?;
            }
            Ok(())
        });
        if let Err(e) = forgotten {
            self.metrics.state_writable(false);
            tracing::warn!("{e}");
        }
    }

    /// Records what workers produced — alerts with their deliveries, then the files — in one
    /// transaction, then wakes the outputs.
    fn commit(&mut self, done: Vec<Outcome>) {
        if done.is_empty() {
            return;
        }
        let outbox = &self.outbox;
        let throttle = self.opts.config.throttle.throttle();
        let targets = outbox.targets();
        let silences = self.operator.silences();
        let recorded = self.state.batch(|s| {
            let mut recorded = Vec::new();
            // Per outcome, the alerts recorded (throttled and silenced ones too): for the
            // counters.
            let mut raised = Vec::with_capacity(done.len());
            for o in &done {
                let mut n = 0;
                for alert in &o.alerts {
                    let outputs = targets.for_alert(alert);
                    let r = s.record_alert(alert, &throttle, silences, &outputs)?;
                    if r != Recorded::Duplicate {
                        n += 1;
                    }
                    recorded.push(r);
                }
                raised.push(n);
                if let Some(record) = &o.record {
                    s.record_file(&o.job.path, record)?;
                }
            }
            Ok((recorded, raised))
        });
        self.metrics.state_writable(recorded.is_ok());
        match recorded {
            Ok((recorded, raised)) => {
                self.retry.succeeded();
                tally::recorded(&self.metrics, &recorded);
                if recorded.contains(&Recorded::New) {
                    outbox.wake();
                }
                for (o, n) in done.iter().zip(raised) {
                    self.pulse.count(o, n);
                }
            }
            // Nothing was recorded: the files stay unseen, and a walk soon retries them.
            Err(e) => match self.retry.failed(Instant::now()) {
                Some(wait) => tracing::error!(
                    "{e}; the files are read again by a walk in {}s",
                    wait.as_secs()
                ),
                None => tracing::error!("{e}; the files are read again by the walk scheduled"),
            },
        }
        for o in done {
            for p in &o.problems {
                tracing::warn!("{p}");
            }
            for e in &o.rule_errors {
                self.errors
                    .log(&e.rule, &format!("{e} (on {})", o.job.shown.display()));
            }
            self.inflight.remove(&o.job.path);
            if self.again.remove(&o.job.path) {
                self.dispatch(o.job.path, true);
            }
        }
    }

    /// SIGHUP: the config is re-read, or without one the rules, on the reload thread.
    fn sighup(&mut self) {
        if self.opts.config_path.is_some() {
            self.reloader.request(Request::Config);
        } else {
            tracing::info!("SIGHUP: no config file to re-read; reloading rules");
            self.reloader.request(Request::Rules);
        }
    }

    /// Applies a config re-read on SIGHUP: rules, limits, outputs and watched folders.
    fn reconfigure(&mut self, new: Reconfigured) {
        let Reconfigured {
            opts,
            roots,
            rules,
            routes,
            walker,
            rules_watcher,
            feeds,
        } = new;
        self.feeds.reconfigure(&mut self.state, feeds);
        warn_of_orphans(&self.state, &routes);
        // Running outputs take their new build after the delivery in hand: never a second
        // thread on one queue, and the loop does not wait.
        if let Err(e) = self.outbox.reconfigure(routes, opts.config.retry.policy()) {
            tracing::error!(
                "SIGHUP: {e}; its alerts are recorded but not delivered until a restart"
            );
        }
        self.state.set_story_window(opts.config.stories.window);
        self.walker = walker;
        self.roots = roots;
        self.metrics.rules_loaded(rules.rules().len());
        self.shared.rules.store(rules);
        self.shared
            .max_file_size
            .store(opts.config.limits.max_file_size, Ordering::Relaxed);
        if let Some(watcher) = rules_watcher {
            self.rules_watcher = watcher;
        }
        self.own_files.extend(output_paths(&opts.config));
        if opts.config.http != self.opts.config.http {
            tracing::warn!("SIGHUP: http: changes to the endpoint apply at the next start");
        }
        self.opts = opts;
        tracing::info!("SIGHUP: config reloaded");
        self.rescan("config reloaded");
    }

    /// Finishes the files in hand, records them, and returns.
    fn shutdown(&mut self) {
        tracing::info!("stopping: finishing the files in hand");
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.jobs = None;
        let started = Instant::now();
        let deadline = started + SHUTDOWN_GRACE;
        let busy = |d: &Daemon| !d.workers.iter().all(|w| w.is_finished());
        while Instant::now() < deadline && busy(self) {
            let mut done = Vec::new();
            while let Ok(msg) = self.rx.recv_timeout(Duration::from_millis(10)) {
                match msg {
                    Msg::Done(o) => done.push(*o),
                    Msg::Feed(o) => self.feeds.done.push(*o),
                    _ => {}
                }
            }
            self.commit(done);
            self.commit_feeds();
        }
        let mut done = Vec::new();
        while let Ok(msg) = self.rx.try_recv() {
            match msg {
                Msg::Done(o) => done.push(*o),
                Msg::Feed(o) => self.feeds.done.push(*o),
                _ => {}
            }
        }
        self.commit(done);
        self.commit_feeds();
        // What the outputs have in hand is recorded too, within the two seconds of a stop.
        if !self.outbox.stop(started + STOP_BUDGET) {
            tracing::warn!(
                "an output was still delivering: its alert is delivered again at the next start"
            );
            outputs::kill_running();
        }
        self.errors.flush(true);
        self.beat(true);
        tracing::info!("stopped");
    }
}

/// Makes the state know the outputs (carrying queues of an older newswatch over), then says
/// which queued deliveries no output of the config will make: an output removed, or changed
/// (a webhook URL or token). They stay queued, not lost.
fn warn_of_orphans(state: &State, routes: &[outputs::Route]) {
    if let Err(e) = crate::outbox::adopt(state, routes) {
        tracing::error!("{e}");
    }
    for q in crate::outbox::orphans(state, routes).unwrap_or_default() {
        tracing::warn!(
            "{} alerts wait for output {:?}, which the config no longer has: they stay queued until it is back",
            q.pending,
            q.name
        );
    }
}

/// A watch on the rules folder, or `None` (said in the log) if it cannot be watched.
fn watch_rules_or_warn(dir: &Path, tx: &SyncSender<Msg>) -> Option<FolderWatcher> {
    events::watch_rules(dir, tx.clone())
        .inspect_err(|e| tracing::warn!("rules will not reload on change: {e}"))
        .ok()
}

fn output_paths(config: &Config) -> Vec<PathBuf> {
    config
        .outputs
        .iter()
        .filter_map(|o| o.path.as_ref())
        .filter_map(|p| std::path::absolute(p).ok())
        .collect()
}

fn spawn_signals(tx: SyncSender<Msg>) -> Result<(), WatchError> {
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(WatchError::Signals)?;
    std::thread::Builder::new()
        .name("newswatch-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                // Blocking send: a stop request must not be dropped on a full channel.
                if tx.send(Msg::Signal(signal)).is_err() {
                    return;
                }
            }
        })
        .map_err(WatchError::thread("the signal thread"))?;
    Ok(())
}
