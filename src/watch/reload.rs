//! Reloads, on a thread of their own: recompiling the rules (seconds, for thousands of rules
//! or a slow disk), and on SIGHUP re-reading the config, resolving the watched folders,
//! building the outputs and setting up the watches. The daemon's loop asks
//! ([`Reloader::request`]) and goes on with its events; the result comes back as a
//! [`Msg::Reloaded`], which the loop applies by swapping it in.
//!
//! One reload runs at a time. What is asked meanwhile waits as one queued reload, however
//! often it was asked — five SIGHUPs or a hundred rule-file events while a reload runs make
//! one more — and a config reload, which recompiles the rules too, stands for a rules reload.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use super::error::WatchError;
use super::events::{self, FolderWatcher};
use super::roots::{self, Root, Walker};
use super::{Msg, Options, watch_rules_or_warn};
use crate::config::Config;
use crate::outputs::Route;
use newswatch_engine::rules::Ruleset;

/// A reload to make. A config reload includes a rules reload, so it is the larger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Request {
    /// The rules folder changed: recompile it.
    Rules,
    /// SIGHUP: re-read the config and apply all of it.
    Config,
}

/// What a reload built, for the loop to swap in.
pub enum Reloaded {
    /// The rules folder recompiled.
    Rules(Arc<Ruleset>),
    /// The watch on the rules folder, set again: the folder was replaced (`mv`, or deleted
    /// and recreated). `None` if it cannot be watched, which was said.
    RulesWatcher(Option<FolderWatcher>),
    /// The config re-read, and everything built from it.
    Config(Box<Reconfigured>),
}

/// A config re-read on SIGHUP, with everything built from it that could fail or take time.
pub struct Reconfigured {
    pub opts: Options,
    pub roots: Vec<Root>,
    pub rules: Arc<Ruleset>,
    pub routes: Vec<Route>,
    /// The walker of the new folders, holding their watch.
    pub walker: Walker,
    /// The watch on the new rules folder, when the rules folder changed (`None` inside when
    /// it cannot be watched, which was said).
    pub rules_watcher: Option<Option<FolderWatcher>>,
    /// The feeds to poll, OPML files read.
    pub feeds: Vec<crate::feeds::Feed>,
}

/// What the reload thread starts from.
pub struct Setup {
    /// The config file, re-read on SIGHUP.
    pub config_path: Option<PathBuf>,
    /// Folders from the command line.
    pub paths: Vec<PathBuf>,
    pub rules_dir: PathBuf,
    /// The rules folder came from the command line: kept whatever the config says.
    pub rules_fixed: bool,
    pub state_path: PathBuf,
    /// The rules in force.
    pub rules: Arc<Ruleset>,
    /// The loop's channel: for the results, and for the watchers built.
    pub tx: SyncSender<Msg>,
    /// Set by the folder watchers when the channel was full.
    pub overflowed: Arc<AtomicBool>,
}

/// The reload asked for and not started yet, if any.
#[derive(Default)]
struct Queue {
    queued: Option<Request>,
    /// Look whether the rules folder was replaced.
    check: bool,
    closed: bool,
}

impl Queue {
    /// Adds `request` to the queued reload: asked twice, made once.
    fn ask(&mut self, request: Request) {
        self.queued = self.queued.max(Some(request));
    }
}

type Shared = Arc<(Mutex<Queue>, Condvar)>;

/// The handle of the reload thread; dropping it ends the thread after the reload in hand.
pub struct Reloader {
    queue: Shared,
}

impl Reloader {
    pub fn start(setup: Setup) -> Result<Reloader, WatchError> {
        let queue = Shared::default();
        let theirs = queue.clone();
        let rules_id = roots::identity(&setup.rules_dir);
        std::thread::Builder::new()
            .name("newswatch-reload".into())
            .spawn(move || serve(setup, rules_id, &theirs))
            .map_err(WatchError::thread("the reload thread"))?;
        Ok(Reloader { queue })
    }

    /// Asks for a reload; never waits for one.
    pub fn request(&self, request: Request) {
        let (queue, wake) = &*self.queue;
        queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .ask(request);
        wake.notify_one();
    }

    /// Asks to look whether the rules folder was replaced (`mv rules.new rules`, or deleted
    /// and recreated): if so it is watched again and reloaded. Never waits.
    pub fn check_rules(&self) {
        let (queue, wake) = &*self.queue;
        queue.lock().unwrap_or_else(PoisonError::into_inner).check = true;
        wake.notify_one();
    }
}

impl Drop for Reloader {
    fn drop(&mut self) {
        let (queue, wake) = &*self.queue;
        queue.lock().unwrap_or_else(PoisonError::into_inner).closed = true;
        wake.notify_one();
    }
}

/// Makes the reloads asked for, one after another, until the [`Reloader`] or the loop is gone.
fn serve(mut setup: Setup, mut rules_id: Option<roots::FolderId>, queue: &Shared) {
    let (queue, wake) = &**queue;
    loop {
        let (mut request, check) = {
            let mut q = queue.lock().unwrap_or_else(PoisonError::into_inner);
            loop {
                if q.closed {
                    return;
                }
                if q.queued.is_some() || q.check {
                    break (q.queued.take(), std::mem::take(&mut q.check));
                }
                q = wake.wait(q).unwrap_or_else(PoisonError::into_inner);
            }
        };
        if check && let Some(watcher) = setup.check_rules(&mut rules_id) {
            if setup.tx.send(Msg::Reloaded(watcher)).is_err() {
                return;
            }
            request = request.max(Some(Request::Rules));
        }
        let Some(request) = request else {
            continue;
        };
        let dir = setup.rules_dir.clone();
        let reloaded = match request {
            Request::Rules => setup.reload_rules(),
            Request::Config => setup.reload_config(),
        };
        if setup.rules_dir != dir {
            // Another folder, watched by the config reload.
            rules_id = roots::identity(&setup.rules_dir);
        }
        if let Some(reloaded) = reloaded
            && setup.tx.send(Msg::Reloaded(reloaded)).is_err()
        {
            return;
        }
    }
}

impl Setup {
    /// Compares the rules folder with what it was (`id`): replaced, or back, it is watched
    /// again — the watcher to swap in is returned, and the rules are to be reloaded; gone, it
    /// is said so, and the rules stay as loaded.
    fn check_rules(&self, id: &mut Option<roots::FolderId>) -> Option<Reloaded> {
        let now = roots::identity(&self.rules_dir);
        let before = std::mem::replace(id, now);
        if before == now {
            return None;
        }
        let shown = self.rules_dir.display();
        if now.is_none() {
            tracing::warn!(
                "rules folder {shown} is gone (deleted or moved away): the rules stay as loaded, and reload once it is back"
            );
            return None;
        }
        if before.is_some() {
            tracing::warn!(
                "rules folder {shown} was replaced (moved or recreated): watching the new one and reloading"
            );
        } else {
            tracing::info!("rules folder {shown} is back: watching it again and reloading");
        }
        Some(Reloaded::RulesWatcher(watch_rules_or_warn(
            &self.rules_dir,
            &self.tx,
        )))
    }

    /// Recompiles the rules folder; a rule that no longer compiles keeps its last good version.
    fn reload_rules(&mut self) -> Option<Reloaded> {
        match self.rules.reload(&self.rules_dir) {
            Ok(rules) => {
                log_kept(&rules);
                self.rules = Arc::new(rules);
                Some(Reloaded::Rules(self.rules.clone()))
            }
            Err(e) => {
                tracing::error!("{e}; keeping the rules loaded before");
                None
            }
        }
    }

    /// SIGHUP: re-reads the config and builds what it needs — rules, limits, outputs and
    /// watched folders. Nothing of it is kept unless all of it could be built.
    fn reload_config(&mut self) -> Option<Reloaded> {
        let Some(path) = self.config_path.clone() else {
            return self.reload_rules();
        };
        let built = Config::load(&path)
            .and_then(|config| config.require_env().map(|()| config))
            .map_err(WatchError::from)
            .and_then(|config| self.build(config, path));
        match built {
            Ok(new) => {
                self.rules = new.rules.clone();
                self.rules_dir = new.opts.rules_dir.clone();
                Some(Reloaded::Config(Box::new(new)))
            }
            Err(e) => {
                tracing::error!("SIGHUP: {e}; keeping the running config");
                None
            }
        }
    }

    fn build(&self, config: Config, path: PathBuf) -> Result<Reconfigured, WatchError> {
        let mut opts = Options {
            config,
            config_path: Some(path),
            paths: self.paths.clone(),
            rules_dir: self.rules_dir.clone(),
            rules_fixed: self.rules_fixed,
            state_path: self.state_path.clone(),
        };
        if let (false, Some(dir)) = (opts.rules_fixed, &opts.config.rules) {
            opts.rules_dir = dir.clone();
        }
        let roots = roots::resolve(&opts.paths, &opts.config)?;
        let feeds = crate::feeds::resolve(&opts.config)?;
        // The same folder: a rule that no longer compiles keeps its last good version, as on
        // any edit. Another folder: its rules as they are.
        let same_rules = opts.rules_dir == self.rules_dir;
        let rules = if same_rules {
            let rules = self
                .rules
                .reload_with(&opts.rules_dir, opts.config.ruleset_options())?;
            log_kept(&rules);
            rules
        } else {
            load_rules(&opts.rules_dir, &opts.config)?
        };
        let routes = crate::config::build_routes(&opts.config.outputs)?;
        let abs: Vec<PathBuf> = roots.iter().map(|r| r.abs.clone()).collect();
        let watcher = events::watch_folders(&abs, self.tx.clone(), self.overflowed.clone())?;
        let walker = Walker::new(roots.clone(), watcher, self.tx.clone())?;
        // Edits in the new folder reload; those in the old one no longer do.
        let rules_watcher = (!same_rules).then(|| watch_rules_or_warn(&opts.rules_dir, &self.tx));
        Ok(Reconfigured {
            opts,
            roots,
            rules: Arc::new(rules),
            routes,
            walker,
            rules_watcher,
            feeds,
        })
    }
}

/// Logs the rules of a reload that did not compile.
fn log_kept(rules: &Ruleset) {
    for d in rules.diagnostics() {
        tracing::error!("{d} (the rule keeps its last good version, if it had one)");
    }
}

/// Compiles the rules folder `dir` afresh (at the start, or a SIGHUP naming another folder).
pub fn load_rules(dir: &Path, config: &Config) -> Result<Ruleset, WatchError> {
    let rules = Ruleset::load_with(dir, config.ruleset_options())?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reloads_asked_for_meanwhile_are_made_once() {
        let mut q = Queue::default();
        for _ in 0..100 {
            q.ask(Request::Rules);
        }
        assert_eq!(q.queued.take(), Some(Request::Rules));
        assert_eq!(q.queued.take(), None);
        for r in [
            Request::Rules,
            Request::Config,
            Request::Rules,
            Request::Config,
        ] {
            q.ask(r);
        }
        assert_eq!(
            q.queued.take(),
            Some(Request::Config),
            "a config reload includes the rules"
        );
        assert_eq!(q.queued.take(), None);
    }

    #[test]
    fn many_requests_while_a_reload_runs_make_at_most_one_more() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.rhai"), r#"alert("a");"#).unwrap();
        let rules = Arc::new(Ruleset::load(dir.path()).unwrap());
        let (tx, rx) = std::sync::mpsc::sync_channel(16);
        let reloader = Reloader::start(Setup {
            config_path: None,
            paths: Vec::new(),
            rules_dir: dir.path().to_path_buf(),
            rules_fixed: false,
            state_path: dir.path().join("state.db"),
            rules,
            tx,
            overflowed: Arc::default(),
        })
        .unwrap();
        for _ in 0..100 {
            reloader.request(Request::Rules);
        }
        for _ in 0..5 {
            reloader.request(Request::Config);
        }
        let mut reloads = 0;
        let mut wait = std::time::Duration::from_secs(20);
        while let Ok(msg) = rx.recv_timeout(wait) {
            match msg {
                Msg::Reloaded(Reloaded::Rules(rules)) => assert_eq!(rules.rules().len(), 1),
                _ => panic!("not a rules reload"),
            }
            reloads += 1;
            wait = std::time::Duration::from_millis(500);
        }
        assert!((1..=2).contains(&reloads), "{reloads} reloads");
    }
}
