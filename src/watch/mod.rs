//! The watcher daemon: `newswatch watch`.
//!
//! One loop owns the daemon's decisions; everything slow or blocking happens elsewhere:
//!
//! ```text
//!  notify threads ─┐                      ┌─► workers (read, hash, ingest, evaluate) ─┐
//!  walker thread ──┼─► Msg channel ─► loop ┤                                            │
//!  signal thread ──┘        ▲             └─► state (one writer) ─► outputs            │
//!                           └──────────────────── Msg::Done ◄─────────────────────────┘
//! ```
//!
//! The promises of DESIGN.md and how they are kept: a file is read once complete (closed after
//! writing, renamed into place, or unchanged for a settle time — see `pending`); folders that
//! appear are walked, since their first files have no events; an overflow or watcher error
//! triggers a walk of everything, and so does start-up (catch-up) and a slow periodic timer;
//! the state store remembers each file's size, mtime and content hash so a walk re-reads only
//! what changed, and each alert id so nothing is delivered twice. Alerts are recorded with
//! their deliveries before any is made; the [`Outbox`] threads deliver and retry them.

mod errorlog;
mod events;
mod filter;
mod pending;
mod roots;
mod worker;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use crate::config::{Config, Startup};
use crate::outbox::Outbox;
use crate::outputs;
use crate::state::Recorded;
use crate::state::State;
use errorlog::ErrorLog;
use events::{Change, FolderWatcher, Watched};
use newswatch_engine::rules::Ruleset;
use roots::{Root, Walker};
use worker::{Job, Outcome, Shared};

/// How often the loop looks at pending files.
const TICK: Duration = Duration::from_millis(50);
/// A safety-net walk of every watched folder, for events the platform never sent.
const PERIODIC_RESCAN: Duration = Duration::from_secs(15 * 60);
/// Rule changes are applied once the rules folder is quiet this long (editors write twice).
const RULES_QUIET: Duration = Duration::from_millis(150);
/// Time allowed to finish the work in hand after SIGINT/SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(1200);

/// All a stop may take, outputs recording their deliveries in hand included: DESIGN allows two
/// seconds, and the process still has to exit.
const STOP_BUDGET: Duration = Duration::from_millis(1500);

/// What the daemon's loop receives: from the watchers, the signal thread, the walker and the
/// workers.
#[derive(Debug)]
enum Msg {
    /// A file-system change under a watched folder.
    Fs(Change),
    /// Events were lost (queue overflow, watcher error): walk everything again.
    Rescan(String),
    /// Something under the rules folder changed.
    RulesChanged,
    /// A signal arrived (SIGINT, SIGTERM, SIGHUP).
    Signal(i32),
    /// Files found by a walk of a watched folder; `evaluate` is false for the start-up walk
    /// under `startup: skip`.
    Found { paths: Vec<PathBuf>, evaluate: bool },
    /// A worker finished a job.
    Done(Box<Outcome>),
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
pub fn run(opts: Options) -> Result<(), String> {
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
    tx: SyncSender<Msg>,
    rx: Receiver<Msg>,
    overflowed: Arc<AtomicBool>,
    jobs: Option<mpsc::Sender<Job>>,
    workers: Vec<std::thread::JoinHandle<()>>,
    folder_watcher: FolderWatcher,
    walker: Walker,
    rules_watcher: Option<FolderWatcher>,
    /// Paths newswatch writes itself (state, output files): never articles.
    own_files: HashSet<PathBuf>,
    tracker: pending::Tracker,
    inflight: HashSet<PathBuf>,
    again: HashSet<PathBuf>,
    /// Files deleted or moved away, to forget at the next tick.
    gone: Vec<PathBuf>,
    rules_due: Option<Instant>,
    next_rescan: Instant,
    errors: ErrorLog,
}

impl Daemon {
    fn start(opts: Options) -> Result<Daemon, String> {
        let roots = roots::resolve(&opts.paths, &opts.config)?;
        let mut state = State::open(&opts.state_path).map_err(|e| e.to_string())?;
        match state.forget_missing_files() {
            Ok(0) => {}
            Ok(1) => tracing::info!("forgot 1 file deleted while newswatch was stopped"),
            Ok(n) => tracing::info!("forgot {n} files deleted while newswatch was stopped"),
            Err(e) => tracing::warn!("{e}"),
        }
        let rules = load_rules(&opts.rules_dir, &opts.config)?;
        let routes = outputs::build(&opts.config.outputs)?;
        warn_of_orphans(&state, &routes);
        let outbox = Outbox::start(&opts.state_path, routes, opts.config.retry.policy())?;
        let (tx, rx) = mpsc::sync_channel(1 << 16);
        let overflowed = Arc::new(AtomicBool::new(false));

        spawn_signals(tx.clone())?;
        // Watch before the catch-up walk, so nothing written during the walk is missed.
        let abs: Vec<PathBuf> = roots.iter().map(|r| r.abs.clone()).collect();
        let folder_watcher = events::watch_folders(&abs, tx.clone(), overflowed.clone())
            .map_err(|e| format!("cannot watch: {e}"))?;
        let rules_watcher = watch_rules_or_warn(&opts.rules_dir, &tx);

        let shared = Arc::new(Shared {
            rules: ArcSwap::from_pointee(rules),
            max_file_size: AtomicU64::new(opts.config.limits.max_file_size),
            stopping: AtomicBool::new(false),
        });
        let (jobs_tx, jobs_rx) = mpsc::channel();
        let jobs_rx = Arc::new(Mutex::new(jobs_rx));
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut workers = Vec::new();
        for i in 0..threads {
            let state = State::open(&opts.state_path).map_err(|e| e.to_string())?;
            let (shared, jobs, done) = (shared.clone(), jobs_rx.clone(), tx.clone());
            workers.push(
                std::thread::Builder::new()
                    .name(format!("newswatch-worker-{i}"))
                    .stack_size(16 << 20)
                    .spawn(move || worker::run(shared, state, jobs, done))
                    .map_err(|e| format!("cannot start worker threads: {e}"))?,
            );
        }

        let mut own_files: HashSet<PathBuf> = ["", "-wal", "-shm", "-journal"]
            .iter()
            .filter_map(|suffix| {
                let mut p = opts.state_path.clone().into_os_string();
                p.push(suffix);
                std::path::absolute(PathBuf::from(p)).ok()
            })
            .collect();
        own_files.extend(output_paths(&opts.config));

        let evaluate = opts.config.startup == Startup::Process;
        let walker = Walker::new(roots.clone(), tx.clone())?;
        for root in &roots {
            tracing::info!("watching {}", root.given.display());
            walker.walk(root.abs.clone(), evaluate);
        }
        Ok(Daemon {
            opts,
            roots,
            state,
            outbox,
            shared,
            tx,
            rx,
            overflowed,
            jobs: Some(jobs_tx),
            workers,
            folder_watcher,
            walker,
            rules_watcher,
            own_files,
            tracker: pending::Tracker::default(),
            inflight: HashSet::new(),
            again: HashSet::new(),
            gone: Vec::new(),
            rules_due: None,
            next_rescan: Instant::now() + PERIODIC_RESCAN,
            errors: ErrorLog::default(),
        })
    }

    fn run(&mut self) {
        loop {
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
                    Msg::Signal(SIGHUP) => self.reload_config(),
                    Msg::Signal(_) => stop = true,
                    other => self.handle(other),
                }
            }
            self.commit(done);
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
                if let Err(e) = self.folder_watcher.watch_tree(&path) {
                    tracing::debug!("not watched: {e}");
                }
                self.walker.walk(path, true);
            }
            Msg::Fs(Change::Gone(path)) => {
                self.tracker.forget(&path);
                if self.watched(&path).is_some() {
                    self.gone.push(path);
                }
            }
            Msg::Rescan(reason) => self.rescan(&reason),
            Msg::RulesChanged => self.rules_due = Some(now + RULES_QUIET),
            Msg::Found { paths, evaluate } => {
                let settled = SystemTime::now() - pending::SETTLE;
                for path in paths {
                    let old = std::fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .is_ok_and(|t| t <= settled);
                    if old || !evaluate {
                        self.dispatch(path, evaluate);
                    } else {
                        // Possibly still being written: let it settle like any new file.
                        self.tracker.changed(&path, now, false);
                    }
                }
            }
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
        for path in self.tracker.take_ready(now, stamp) {
            self.dispatch(path, true);
        }
        if self.rules_due.is_some_and(|due| now >= due) {
            self.rules_due = None;
            self.reload_rules();
        }
        self.errors.flush(false);
        self.forget_gone();
        if now >= self.next_rescan {
            self.next_rescan = now + PERIODIC_RESCAN;
            for root in &self.roots {
                self.walker.walk(root.abs.clone(), true);
            }
        }
    }

    /// Drops the records of files deleted or moved away, unless one is back by now.
    fn forget_gone(&mut self) {
        if self.gone.is_empty() {
            return;
        }
        let gone = std::mem::take(&mut self.gone);
        let forgotten = self.state.batch(|s| {
            for path in gone.iter().filter(|p| !p.exists()) {
                s.forget_file(&path.to_string_lossy())?;
            }
            Ok(())
        });
        if let Err(e) = forgotten {
            tracing::warn!("{e}");
        }
    }

    /// Records what workers produced — alerts with their deliveries, then the files — in one
    /// transaction, then wakes the outputs.
    fn commit(&mut self, done: Vec<Outcome>) {
        if done.is_empty() {
            return;
        }
        let throttle = self.opts.config.throttle.throttle();
        let targets = self.outbox.targets();
        let recorded = self.state.batch(|s| {
            let mut fresh = 0;
            for o in &done {
                for alert in &o.alerts {
                    if s.record_alert(alert, &throttle, &targets.for_alert(alert))? == Recorded::New
                    {
                        fresh += 1;
                    }
                }
                if let Some(record) = &o.record {
                    s.record_file(&o.job.path.to_string_lossy(), record)?;
                }
            }
            Ok(fresh)
        });
        match recorded {
            Ok(0) => {}
            Ok(_) => self.outbox.wake(),
            // Nothing was recorded: the files stay unseen and the next walk retries them.
            Err(e) => tracing::error!("{e}"),
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

    fn reload_rules(&mut self) {
        let current = self.shared.rules.load_full();
        match current.reload(&self.opts.rules_dir) {
            Ok(rules) => {
                for d in rules.diagnostics() {
                    tracing::error!("{d} (the rule keeps its last good version, if it had one)");
                }
                tracing::info!("rules reloaded: {} rules", rules.rules().len());
                self.shared.rules.store(Arc::new(rules));
            }
            Err(e) => tracing::error!("{e}; keeping the rules loaded before"),
        }
    }

    /// SIGHUP: re-reads the config; applies rules, limits, outputs and watched folders.
    fn reload_config(&mut self) {
        let Some(path) = self.opts.config_path.clone() else {
            tracing::info!("SIGHUP: no config file to re-read; reloading rules");
            self.reload_rules();
            return;
        };
        let config = match Config::load(&path) {
            Ok(config) => config,
            Err(e) => {
                tracing::error!("SIGHUP: {e}; keeping the running config");
                return;
            }
        };
        let mut opts = Options {
            config,
            config_path: Some(path),
            paths: self.opts.paths.clone(),
            rules_dir: self.opts.rules_dir.clone(),
            rules_fixed: self.opts.rules_fixed,
            state_path: self.opts.state_path.clone(),
        };
        if let (false, Some(dir)) = (opts.rules_fixed, &opts.config.rules) {
            opts.rules_dir = dir.clone();
        }
        let applied = roots::resolve(&opts.paths, &opts.config).and_then(|roots| {
            // The same folder: a rule that no longer compiles keeps its last good version,
            // as on any edit. Another folder: its rules as they are.
            let rules = if opts.rules_dir == self.opts.rules_dir {
                let rules = self
                    .shared
                    .rules
                    .load()
                    .reload_with(&opts.rules_dir, opts.config.limits.rules())
                    .map_err(|e| e.to_string())?;
                for d in rules.diagnostics() {
                    tracing::error!("{d} (the rule keeps its last good version, if it had one)");
                }
                rules
            } else {
                load_rules(&opts.rules_dir, &opts.config)?
            };
            let routes = outputs::build(&opts.config.outputs)?;
            let abs: Vec<PathBuf> = roots.iter().map(|r| r.abs.clone()).collect();
            let watcher = events::watch_folders(&abs, self.tx.clone(), self.overflowed.clone())
                .map_err(|e| format!("cannot watch: {e}"))?;
            Ok((roots, rules, routes, watcher))
        });
        match applied {
            Ok((roots, rules, routes, watcher)) => {
                // The old outputs stop first, their deliveries in hand recorded: a new thread
                // for the same queue must not deliver its head again meanwhile.
                self.outbox.stop(Instant::now() + SHUTDOWN_GRACE);
                warn_of_orphans(&self.state, &routes);
                match Outbox::start(&opts.state_path, routes, opts.config.retry.policy()) {
                    Ok(outbox) => self.outbox = outbox,
                    Err(e) => tracing::error!(
                        "SIGHUP: {e}; alerts are recorded but not delivered until a restart"
                    ),
                }
                match Walker::new(roots.clone(), self.tx.clone()) {
                    Ok(walker) => self.walker = walker,
                    Err(e) => tracing::error!("SIGHUP: {e}; walking with the old folders"),
                }
                self.roots = roots;
                self.shared.rules.store(Arc::new(rules));
                self.shared
                    .max_file_size
                    .store(opts.config.limits.max_file_size, Ordering::Relaxed);
                self.folder_watcher = watcher;
                if opts.rules_dir != self.opts.rules_dir {
                    // Edits in the new folder reload; those in the old one no longer do.
                    self.rules_watcher = watch_rules_or_warn(&opts.rules_dir, &self.tx);
                }
                self.own_files.extend(output_paths(&opts.config));
                self.opts = opts;
                tracing::info!("SIGHUP: config reloaded");
                self.rescan("config reloaded");
            }
            Err(e) => tracing::error!("SIGHUP: {e}; keeping the running config"),
        }
    }

    /// Finishes the files in hand, records them, and returns.
    fn shutdown(&mut self) {
        tracing::info!("stopping: finishing the files in hand");
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.jobs = None;
        let started = Instant::now();
        let deadline = started + SHUTDOWN_GRACE;
        while Instant::now() < deadline && !self.workers.iter().all(|w| w.is_finished()) {
            let mut done = Vec::new();
            while let Ok(msg) = self.rx.recv_timeout(Duration::from_millis(10)) {
                if let Msg::Done(o) = msg {
                    done.push(*o);
                }
            }
            self.commit(done);
        }
        let done: Vec<_> = self
            .rx
            .try_iter()
            .filter_map(|m| match m {
                Msg::Done(o) => Some(*o),
                _ => None,
            })
            .collect();
        self.commit(done);
        // What the outputs have in hand is recorded too, within the two seconds of a stop.
        if !self.outbox.stop(started + STOP_BUDGET) {
            tracing::warn!(
                "an output was still delivering: its alert is delivered again at the next start"
            );
            outputs::kill_running();
        }
        self.errors.flush(true);
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

/// Size and mtime of a file, or `None` if it is gone.
fn stamp(path: &Path) -> Option<pending::Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()))
}

fn load_rules(dir: &Path, config: &Config) -> Result<Ruleset, String> {
    let rules =
        Ruleset::load_with(dir, config.limits.ruleset_options()).map_err(|e| e.to_string())?;
    for d in rules.diagnostics() {
        tracing::error!("{d}");
    }
    tracing::info!(
        "{} rules loaded from {}",
        rules.rules().len(),
        dir.display()
    );
    Ok(rules)
}

fn output_paths(config: &Config) -> Vec<PathBuf> {
    config
        .outputs
        .iter()
        .filter_map(|o| o.path.as_ref())
        .filter_map(|p| std::path::absolute(p).ok())
        .collect()
}

fn spawn_signals(tx: SyncSender<Msg>) -> Result<(), String> {
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;
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
        .map_err(|e| format!("cannot start the signal thread: {e}"))?;
    Ok(())
}
