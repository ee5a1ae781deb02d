//! The event source: `notify` watchers turned into a stream of [`Msg`]s.
//!
//! Kept apart from what the daemon does with events (as watchexec does): this file knows
//! notify's event kinds and nothing of state, rules or outputs. The notify callback never
//! blocks — a handler that blocks lets the kernel queue overflow — so it only translates and
//! `try_send`s; when the channel is full it sets a flag that turns into one rescan.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};

use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RenameMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};

/// What the daemon's loop receives.
#[derive(Debug)]
pub enum Msg {
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
    Done(Box<super::worker::Outcome>),
}

/// A change to one path, reduced to what decides when to read it.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    /// Created or written to; `write` when data was written (a writer has it open).
    Changed { path: PathBuf, write: bool },
    /// Closed after writing, or renamed into place: complete now.
    Completed(PathBuf),
    /// A folder appeared (created or moved in): its files may have no events of their own.
    Folder(PathBuf),
    /// Removed or moved away.
    Gone(PathBuf),
}

/// Translates one notify event.
fn translate(event: Event) -> Vec<Msg> {
    if event.need_rescan() {
        return vec![Msg::Rescan("the kernel event queue overflowed".into())];
    }
    let mut paths = event.paths;
    let change = |f: fn(PathBuf) -> Change, paths: Vec<PathBuf>| -> Vec<Msg> {
        paths.into_iter().map(|p| Msg::Fs(f(p))).collect()
    };
    match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => change(Change::Completed, paths),
        EventKind::Access(_) => Vec::new(),
        EventKind::Create(CreateKind::Folder) => change(Change::Folder, paths),
        EventKind::Create(_) => change(
            |path| {
                if path.is_dir() {
                    Change::Folder(path)
                } else {
                    Change::Changed { path, write: false }
                }
            },
            paths,
        ),
        EventKind::Modify(ModifyKind::Name(RenameMode::From)) => change(Change::Gone, paths),
        EventKind::Modify(ModifyKind::Name(RenameMode::Both)) if paths.len() == 2 => {
            let to = paths.pop().expect("two paths");
            let from = paths.pop().expect("two paths");
            vec![Msg::Fs(Change::Gone(from)), Msg::Fs(arrived(to))]
        }
        EventKind::Modify(ModifyKind::Name(_)) => change(arrived, paths),
        EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any) => {
            change(|path| Change::Changed { path, write: true }, paths)
        }
        EventKind::Modify(_) | EventKind::Any | EventKind::Other => {
            change(|path| Change::Changed { path, write: false }, paths)
        }
        EventKind::Remove(_) => change(Change::Gone, paths),
    }
}

/// A path renamed into place: a complete file, or a folder to walk.
fn arrived(path: PathBuf) -> Change {
    if path.is_dir() {
        Change::Folder(path)
    } else {
        Change::Completed(path)
    }
}

/// Forwards translated events to the daemon's loop without ever blocking.
#[derive(Clone)]
struct Forward {
    tx: SyncSender<Msg>,
    overflowed: Arc<AtomicBool>,
}

impl Forward {
    fn send(&self, msg: Msg) {
        match self.tx.try_send(msg) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => {
                if !self.overflowed.swap(true, Ordering::SeqCst) {
                    tracing::warn!("event backlog full: a rescan will catch up");
                }
            }
        }
    }
}

/// Watches folders recursively; dropping it stops the watch.
pub struct FolderWatcher {
    _watcher: RecommendedWatcher,
}

/// Starts watching `roots` (recursively), sending [`Msg::Fs`] and [`Msg::Rescan`] to `tx`.
/// `overflowed` is set when `tx` was full and events were dropped.
pub fn watch_folders(
    roots: &[PathBuf],
    tx: SyncSender<Msg>,
    overflowed: Arc<AtomicBool>,
) -> notify::Result<FolderWatcher> {
    let fwd = Forward { tx, overflowed };
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<Event>| match res {
        Ok(event) => translate(event).into_iter().for_each(|m| fwd.send(m)),
        Err(e) => fwd.send(Msg::Rescan(format!("watcher error: {e}"))),
    })?;
    for root in roots {
        watcher
            .watch(root, RecursiveMode::Recursive)
            .map_err(|e| explain(e, root))?;
    }
    Ok(FolderWatcher { _watcher: watcher })
}

/// Starts watching the rules folder, sending [`Msg::RulesChanged`] for changes to `.rhai` files.
pub fn watch_rules(dir: &Path, tx: SyncSender<Msg>) -> notify::Result<FolderWatcher> {
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<Event>| {
        let relevant = match &res {
            Ok(e) => {
                !matches!(e.kind, EventKind::Access(_))
                    && e.paths
                        .iter()
                        .any(|p| p.extension().is_some_and(|x| x == "rhai") || p.is_dir())
            }
            Err(_) => true,
        };
        if relevant {
            let _ = tx.try_send(Msg::RulesChanged);
        }
    })?;
    watcher
        .watch(dir, RecursiveMode::Recursive)
        .map_err(|e| explain(e, dir))?;
    Ok(FolderWatcher { _watcher: watcher })
}

/// Adds what to do to notify's errors.
fn explain(mut e: notify::Error, path: &Path) -> notify::Error {
    if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) {
        e.kind = notify::ErrorKind::Generic(format!(
            "too many folders to watch under {}: raise the limit with `sysctl fs.inotify.max_user_watches=524288`",
            path.display()
        ));
    }
    e.add_path(path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{DataChange, Flag};

    fn one(kind: EventKind, paths: &[&str]) -> Vec<String> {
        let mut e = Event::new(kind);
        for p in paths {
            e = e.add_path(PathBuf::from(p));
        }
        translate(e).into_iter().map(|m| format!("{m:?}")).collect()
    }

    #[test]
    fn translates_the_events_that_matter() {
        assert_eq!(
            one(
                EventKind::Access(AccessKind::Close(AccessMode::Write)),
                &["/i/a.txt"]
            ),
            [r#"Fs(Completed("/i/a.txt"))"#]
        );
        assert!(
            one(
                EventKind::Access(AccessKind::Open(AccessMode::Any)),
                &["/i/a.txt"]
            )
            .is_empty()
        );
        assert_eq!(
            one(
                EventKind::Modify(ModifyKind::Data(DataChange::Any)),
                &["/i/a.txt"]
            ),
            [r#"Fs(Changed { path: "/i/a.txt", write: true })"#]
        );
        assert_eq!(
            one(
                EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
                &["/i/.a.tmp", "/i/a.txt"]
            ),
            [r#"Fs(Gone("/i/.a.tmp"))"#, r#"Fs(Completed("/i/a.txt"))"#]
        );
        let overflow = Event::new(EventKind::Other).set_flag(Flag::Rescan);
        assert!(matches!(translate(overflow)[0], Msg::Rescan(_)));
    }
}
