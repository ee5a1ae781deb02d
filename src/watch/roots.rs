//! Watched folders: where they are, what their files are called in alerts, and walking and
//! watching them.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, SyncSender};
use std::time::SystemTime;

use walkdir::WalkDir;

use super::Msg;
use super::error::WatchError;
use super::events::FolderWatcher;
use super::filter::{FilterError, PathFilter};
use super::pending;
use crate::config::{Config, WatchConfig};

/// Why a watched folder cannot be watched as configured.
#[derive(Debug, thiserror::Error)]
pub enum RootError {
    #[error("{}: {source}", path.display())]
    Path {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("watch {}: {source}", path.display())]
    Filter { path: PathBuf, source: FilterError },
    #[error("cannot create ./inbox: {0}")]
    Inbox(#[source] std::io::Error),
    #[error("watched folder {} does not exist (create it, or fix the path)", .0.display())]
    Missing(PathBuf),
}

/// A watched folder.
#[derive(Debug, Clone)]
pub struct Root {
    /// As configured (shown in alerts: `inbox/a.txt`).
    pub given: PathBuf,
    /// Absolute, as events report paths.
    pub abs: PathBuf,
    /// The folder's name: the `source` of its articles.
    pub name: String,
    pub recursive: bool,
    pub filter: PathFilter,
}

impl Root {
    pub fn new(config: &WatchConfig) -> Result<Root, RootError> {
        let abs = std::path::absolute(&config.path).map_err(|source| RootError::Path {
            path: config.path.clone(),
            source,
        })?;
        let name = abs
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| abs.display().to_string());
        Ok(Root {
            given: config.path.clone(),
            abs,
            name,
            recursive: config.recursive,
            filter: PathFilter::new(&config.include, &config.exclude).map_err(|source| {
                RootError::Filter {
                    path: config.path.clone(),
                    source,
                }
            })?,
        })
    }

    /// The path of `abs` below this folder, if it is an article file this folder watches.
    pub fn accepts<'p>(&self, abs: &'p Path) -> Option<&'p Path> {
        let rel = abs.strip_prefix(&self.abs).ok()?;
        let depth_ok = self.recursive || rel.components().count() == 1;
        (depth_ok && self.filter.accepts(rel)).then_some(rel)
    }
}

/// The watched folders: `paths` from the command line, else the config's `watch:`, else
/// `./inbox` (created). Each must exist. (A `stat` of each, and `mkdir` of `./inbox`: for the
/// start, and for a SIGHUP on the reload thread, never on the daemon's loop.)
pub fn resolve(paths: &[PathBuf], config: &Config) -> Result<Vec<Root>, RootError> {
    // A folder from the command line or the default: all of it, recursively.
    let whole = |path: PathBuf| WatchConfig {
        path,
        recursive: true,
        include: Vec::new(),
        exclude: Vec::new(),
    };
    let configs: Vec<WatchConfig> = if !paths.is_empty() {
        paths.iter().cloned().map(whole).collect()
    } else if !config.watch.is_empty() {
        config.watch.clone()
    } else {
        let inbox = PathBuf::from("inbox");
        std::fs::create_dir_all(&inbox).map_err(RootError::Inbox)?;
        vec![whole(inbox)]
    };
    configs
        .iter()
        .map(|c| {
            if !c.path.is_dir() {
                return Err(RootError::Missing(c.path.clone()));
            }
            Root::new(c)
        })
        .collect()
}

/// The root that watches `abs` (the deepest one, if folders are nested).
pub fn owner<'r>(roots: &'r [Root], abs: &Path) -> Option<(&'r Root, PathBuf)> {
    roots
        .iter()
        .filter_map(|r| r.accepts(abs).map(|rel| (r, rel.to_path_buf())))
        .max_by_key(|(r, _)| r.abs.components().count())
}

/// Walks watched folders on a thread of its own, one walk after another, sending the files
/// found to the daemon's loop in batches. Walks asked for while one runs are merged: a folder
/// asked for twice, or inside another asked for, is walked once — untarring a thousand
/// folders costs a few walks, not a thousand threads.
///
/// The thread owns the watch on the folders, too: a folder that appears is watched there, then
/// walked (a walk after the watch finds what was written before it), and the files found are
/// `stat`ed there, so the loop never waits on the file system for either.
pub struct Walker {
    requests: mpsc::Sender<Ask>,
}

/// What the walker is asked.
enum Ask {
    Walk(Walk),
    /// Look whether a watched folder was deleted, or replaced (`mv`, deleted and recreated).
    Check,
}

/// A folder to walk.
struct Walk {
    dir: PathBuf,
    /// Evaluate the files found (else only record them: `startup: skip`).
    evaluate: bool,
    /// Watch the folder (recursively) before walking it.
    watch: bool,
}

impl Walker {
    /// Starts the walker of `roots`, which keeps `watcher` (the watch on `roots`) for as long
    /// as it runs: replacing the walker (SIGHUP) replaces the watch, once the old walker's walk
    /// in hand is done.
    pub fn new(
        roots: Vec<Root>,
        watcher: FolderWatcher,
        tx: SyncSender<Msg>,
    ) -> Result<Walker, WatchError> {
        let (requests, rx) = mpsc::channel();
        // Who the folders are now: `stat`s, on the thread starting the walker (never the loop).
        let ids = roots
            .iter()
            .map(|r| (r.abs.clone(), identity(&r.abs)))
            .collect();
        let walks = Walks {
            roots,
            watcher,
            tx,
            reported: HashSet::new(),
            ids,
            confirm: HashSet::new(),
        };
        std::thread::Builder::new()
            .name("newswatch-walk".into())
            .spawn(move || walks.serve(rx))
            .map_err(WatchError::thread("the walker thread"))?;
        Ok(Walker { requests })
    }

    /// Walks `dir` (a watched folder or a folder inside one) soon; with `evaluate`, the files
    /// found are evaluated, else only recorded. What cannot be read — a folder without
    /// permission, a broken link, a link loop — is logged once and passed over.
    pub fn walk(&self, dir: PathBuf, evaluate: bool) {
        self.ask(Walk {
            dir,
            evaluate,
            watch: false,
        });
    }

    /// A folder appeared (new, moved in, or made readable), which notify may not have reached:
    /// watches it and everything below, then walks it.
    pub fn watch_and_walk(&self, dir: PathBuf) {
        self.ask(Walk {
            dir,
            evaluate: true,
            watch: true,
        });
    }

    /// Looks soon whether a watched folder was deleted or replaced by another (`mv`, or
    /// deleted and recreated) — a watch follows the folder it was set on, not its path — and
    /// if so watches and walks the folder now at its path; says so in the log.
    pub fn check(&self) {
        let _ = self.requests.send(Ask::Check);
    }

    fn ask(&self, walk: Walk) {
        // Gone only when the daemon stops.
        let _ = self.requests.send(Ask::Walk(walk));
    }
}

/// The walker thread's side.
struct Walks {
    roots: Vec<Root>,
    watcher: FolderWatcher,
    tx: SyncSender<Msg>,
    /// What could not be read and was said so: said once, not at every walk.
    reported: HashSet<PathBuf>,
    /// Which folder each watched path was when last looked at (`None`: missing).
    ids: HashMap<PathBuf, Option<FolderId>>,
    /// Folders watched again at the last check, to be watched and walked once more at the
    /// next: notify may handle the old folder's last event after the new watch was set, and
    /// drop the new watch with the old (seen on a loaded machine: a file written just after
    /// a folder was recreated was never seen).
    confirm: HashSet<PathBuf>,
}

impl Walks {
    fn serve(mut self, rx: mpsc::Receiver<Ask>) {
        while let Ok(first) = rx.recv() {
            let mut asked = Vec::new();
            let mut check = false;
            for ask in std::iter::once(first).chain(rx.try_iter()) {
                match ask {
                    Ask::Walk(walk) => asked.push(walk),
                    Ask::Check => check = true,
                }
            }
            if check {
                asked.extend(self.check());
            }
            // Watched before walked: what is written in between is found by the walk.
            let watch = asked
                .iter()
                .filter(|w| w.watch)
                .map(|w| (w.dir.clone(), false))
                .collect();
            for (dir, _) in merge(watch) {
                if let Err(e) = self.watcher.watch_tree(&dir) {
                    tracing::debug!("not watched: {e}");
                }
            }
            let walks = asked.into_iter().map(|w| (w.dir, w.evaluate)).collect();
            for (dir, evaluate) in merge(walks) {
                if !self.walk(&dir, evaluate) {
                    return;
                }
            }
        }
    }

    /// Compares each watched folder with what it was: one deleted is said so (once); one
    /// replaced, or back, is watched again, and returned to be walked.
    fn check(&mut self) -> Vec<Walk> {
        let mut walks = Vec::new();
        for root in &self.roots {
            let now = identity(&root.abs);
            let before = self.ids.insert(root.abs.clone(), now);
            if before == Some(now) && now.is_some() && self.confirm.remove(&root.abs) {
                let _ = self.watcher.unwatch(&root.abs);
                if self.watcher.watch_tree(&root.abs).is_ok() {
                    walks.push(Walk {
                        dir: root.abs.clone(),
                        evaluate: true,
                        watch: false,
                    });
                }
                continue;
            }
            if before == Some(now) || before.is_none() {
                continue;
            }
            let shown = root.given.display();
            match (before.flatten(), now) {
                (_, None) => tracing::warn!(
                    "watched folder {shown} is gone (deleted or moved away): watching it again once it is back"
                ),
                (before, Some(_)) => {
                    if before.is_some() {
                        tracing::warn!(
                            "watched folder {shown} was replaced (moved or recreated): watching and walking the new one"
                        );
                    } else {
                        tracing::info!("watched folder {shown} is back: watching and walking it");
                    }
                    // The old watch (unless notify dropped it with the folder deleted) reports
                    // the old folder's events under this path: off with it. (Not as soon as
                    // the folder is gone: a deleted folder's watch is the kernel's to drop.)
                    let _ = self.watcher.unwatch(&root.abs);
                    match self.watcher.watch_tree(&root.abs) {
                        Ok(()) => {
                            self.confirm.insert(root.abs.clone());
                            walks.push(Walk {
                                dir: root.abs.clone(),
                                evaluate: true,
                                watch: false,
                            });
                        }
                        Err(e) => {
                            tracing::warn!("watched folder {shown} cannot be watched: {e}");
                            // Tried again at the next check.
                            self.ids.insert(root.abs.clone(), None);
                        }
                    }
                }
            }
        }
        walks
    }

    /// Returns false when the daemon's loop is gone.
    fn walk(&mut self, dir: &Path, evaluate: bool) -> bool {
        let mut found = Found::new(evaluate);
        let walk = WalkDir::new(dir)
            .follow_links(true)
            .into_iter()
            .filter_entry(|e| {
                e.depth() == 0 || !e.file_type().is_dir() || owner_dir(&self.roots, e.path())
            });
        for entry in walk {
            match entry {
                Ok(e) if e.file_type().is_file() && owner(&self.roots, e.path()).is_some() => {
                    found.push(e);
                    if found.len() >= 512 && !found.send(&self.tx) {
                        return false;
                    }
                }
                Ok(_) => {}
                Err(e) => report(
                    &self.roots,
                    &mut self.reported,
                    newswatch_engine::Error::from_walk(e, dir),
                ),
            }
        }
        found.send(&self.tx)
    }
}

/// Which folder a path is: device and inode.
pub type FolderId = (u64, u64);

/// Which folder `path` is now, or `None` if it is missing (or no folder).
pub fn identity(path: &Path) -> Option<FolderId> {
    let meta = std::fs::metadata(path).ok().filter(|m| m.is_dir())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        Some((0, 0))
    }
}

/// Files found by a walk, not yet sent: those to read now, and those written to so recently
/// that they may still be being written.
struct Found {
    evaluate: bool,
    ready: Vec<PathBuf>,
    settling: Vec<PathBuf>,
}

impl Found {
    fn new(evaluate: bool) -> Found {
        Found {
            evaluate,
            ready: Vec::new(),
            settling: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.ready.len() + self.settling.len()
    }

    fn push(&mut self, entry: walkdir::DirEntry) {
        // Only a file to evaluate waits: one only recorded is recorded as it is now.
        let settled = !self.evaluate
            || entry
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .is_some_and(|t| t <= SystemTime::now() - pending::SETTLE);
        if settled {
            self.ready.push(entry.into_path());
        } else {
            self.settling.push(entry.into_path());
        }
    }

    /// Sends what was found to the loop; false when the loop is gone.
    fn send(&mut self, tx: &SyncSender<Msg>) -> bool {
        tx.send(Msg::Found {
            ready: std::mem::take(&mut self.ready),
            settling: std::mem::take(&mut self.settling),
            evaluate: self.evaluate,
        })
        .is_ok()
    }
}

/// The walks to make for the folders `asked`: each once, none inside another (which walks it
/// too), evaluating if any asked so.
fn merge(mut asked: Vec<(PathBuf, bool)>) -> Vec<(PathBuf, bool)> {
    // Sorted, a folder comes right after the one it is in, or after a sibling inside it.
    asked.sort_by(|a, b| a.0.cmp(&b.0));
    let mut merged: Vec<(PathBuf, bool)> = Vec::new();
    for (dir, evaluate) in asked {
        match merged.last_mut() {
            Some((parent, e)) if dir.starts_with(&*parent) => *e |= evaluate,
            _ => merged.push((dir, evaluate)),
        }
    }
    merged
}

/// Logs what a walk could not read, once per path (`reported`), named as configured.
fn report(roots: &[Root], reported: &mut HashSet<PathBuf>, e: newswatch_engine::Error) {
    let newswatch_engine::Error::Skipped { path, reason } = e else {
        return tracing::warn!("{e}");
    };
    // As configured, like the paths in alerts.
    let shown = roots
        .iter()
        .find_map(|r| Some(r.given.join(path.strip_prefix(&r.abs).ok()?)))
        .unwrap_or_else(|| path.clone());
    let e = newswatch_engine::Error::Skipped {
        path: shown,
        reason,
    };
    if reported.insert(path) {
        tracing::warn!("{e}");
    } else {
        tracing::debug!("{e}");
    }
}

/// Whether a folder may hold files some root watches.
fn owner_dir(roots: &[Root], dir: &Path) -> bool {
    roots.iter().any(|r| match dir.strip_prefix(&r.abs) {
        Ok(rel) => r.recursive && r.filter.enters(rel),
        Err(_) => r.abs.starts_with(dir),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_asked_together_are_merged() {
        let asked = [
            ("/i/b", false),
            ("/i/a/x", true),
            ("/i/a", false),
            ("/i/b", false),
            ("/i/ab", false),
            ("/i/a/y/z", false),
        ];
        let merged = merge(asked.iter().map(|&(p, e)| (PathBuf::from(p), e)).collect());
        let merged: Vec<_> = merged
            .iter()
            .map(|(p, e)| (p.to_str().unwrap(), *e))
            .collect();
        assert_eq!(merged, [("/i/a", true), ("/i/ab", false), ("/i/b", false)]);
    }
}
