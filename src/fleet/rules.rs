//! Rules that reload while a worker runs, as in the daemon: the rules folder is watched (the
//! daemon's own watch, `crate::watch::watch_rules`), a change is applied once the folder has
//! been quiet for a moment, and a rule that no longer compiles keeps its last good version.
//! The evaluating threads pick the new rule set up at their next article.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::watch::{FolderWatcher, Watched};
use newswatch_engine::rules::{Ruleset, RulesetOptions};

/// Rule changes are applied once the rules folder is quiet this long (editors write twice).
const QUIET: Duration = Duration::from_millis(150);

/// Keeps the watch on the rules folder; dropping it stops the reloads.
pub struct Reloading {
    _watcher: FolderWatcher,
}

/// Watches `dir` and reloads `rules` when a rule or list in it changes; `None` (said in the
/// log) when the folder cannot be watched: the rules then stay as loaded.
pub fn watch(
    dir: &Path,
    options: RulesetOptions,
    rules: Arc<ArcSwap<Ruleset>>,
) -> Option<Reloading> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Watched>(64);
    let watcher = match crate::watch::watch_rules(dir, tx) {
        Ok(watcher) => watcher,
        Err(e) => {
            tracing::warn!("rules will not reload on change: {e}");
            return None;
        }
    };
    let dir = dir.to_path_buf();
    let spawned = std::thread::Builder::new()
        .name("newswatch-reload".into())
        .spawn(move || reload_on_change(&rx, &dir, &options, &rules));
    if let Err(e) = spawned {
        tracing::warn!("rules will not reload on change: cannot start a thread: {e}");
        return None;
    }
    Some(Reloading { _watcher: watcher })
}

fn reload_on_change(
    rx: &Receiver<Watched>,
    dir: &PathBuf,
    options: &RulesetOptions,
    rules: &ArcSwap<Ruleset>,
) {
    while rx.recv().is_ok() {
        // Until the folder is quiet.
        loop {
            match rx.recv_timeout(QUIET) {
                Ok(_) => continue,
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        match rules.load().reload_with(dir, options.clone()) {
            Ok(reloaded) => {
                for d in reloaded.diagnostics() {
                    tracing::error!("{d} (the rule keeps its last good version, if it had one)");
                }
                tracing::info!("rules reloaded: {} rules", reloaded.rules().len());
                rules.store(Arc::new(reloaded));
            }
            Err(e) => tracing::error!("{e}; keeping the rules loaded before"),
        }
    }
}
