//! The event source: `notify` watchers turned into a stream of [`Watched`] events.
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

/// What the watchers report. The daemon turns it into its own messages (`From<Watched>`):
/// this module knows nothing of what is done with it.
#[derive(Debug)]
pub enum Watched {
    /// A file-system change under a watched folder.
    Fs(Change),
    /// Events were lost (queue overflow, watcher error): walk everything again.
    Rescan(String),
    /// Something under the rules folder changed.
    RulesChanged,
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
fn translate(event: Event) -> Vec<Watched> {
    if event.need_rescan() {
        return vec![Watched::Rescan("the kernel event queue overflowed".into())];
    }
    let mut paths = event.paths;
    let change = |f: fn(PathBuf) -> Change, paths: Vec<PathBuf>| -> Vec<Watched> {
        paths.into_iter().map(|p| Watched::Fs(f(p))).collect()
    };
    match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => change(Change::Completed, paths),
        EventKind::Access(_) => Vec::new(),
        EventKind::Create(CreateKind::Folder) => change(Change::Folder, paths),
        EventKind::Create(_) => change(folder_or_changed, paths),
        EventKind::Modify(ModifyKind::Name(RenameMode::From)) => change(Change::Gone, paths),
        EventKind::Modify(ModifyKind::Name(RenameMode::Both)) if paths.len() == 2 => {
            let to = paths.pop().expect("two paths");
            let from = paths.pop().expect("two paths");
            // inotify reports the new name first, on its own (`To`): read the file once.
            if cfg!(target_os = "linux") {
                vec![Watched::Fs(Change::Gone(from))]
            } else {
                vec![Watched::Fs(Change::Gone(from)), Watched::Fs(arrived(to))]
            }
        }
        EventKind::Modify(ModifyKind::Name(_)) => change(arrived, paths),
        EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any) => {
            change(|path| Change::Changed { path, write: true }, paths)
        }
        // A folder whose permissions changed may have become readable: walk and watch it.
        EventKind::Modify(ModifyKind::Metadata(_)) => change(folder_or_changed, paths),
        EventKind::Modify(_) | EventKind::Any | EventKind::Other => {
            change(|path| Change::Changed { path, write: false }, paths)
        }
        EventKind::Remove(_) => change(Change::Gone, paths),
    }
}

/// A folder to walk, or a file that changed.
fn folder_or_changed(path: PathBuf) -> Change {
    if path.is_dir() {
        Change::Folder(path)
    } else {
        Change::Changed { path, write: false }
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
struct Forward<T> {
    tx: SyncSender<T>,
    overflowed: Arc<AtomicBool>,
}

impl<T: From<Watched>> Forward<T> {
    fn send(&self, event: Watched) {
        match self.tx.try_send(T::from(event)) {
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
    watcher: RecommendedWatcher,
}

impl FolderWatcher {
    /// Watches `dir` and every folder below it. A folder below that cannot be watched (no
    /// read permission, or gone meanwhile) is passed over — the walk that reads the folders
    /// says so — and the rest is still watched; it is watched once it changes (a `chmod`
    /// reports it as a [`Change::Folder`]). `Err` if `dir` itself cannot be watched.
    pub fn watch_tree(&mut self, dir: &Path) -> notify::Result<()> {
        match self.watcher.watch(dir, RecursiveMode::Recursive) {
            Ok(()) => Ok(()),
            Err(e) if passable(&e) && e.paths.first().is_some_and(|p| p != dir) => {
                // notify stops at the first folder it cannot watch: watch the subtrees one by
                // one, so that only the folders that cannot be watched are left out.
                tracing::debug!("watching {} folder by folder: {e}", dir.display());
                for child in subfolders(dir) {
                    if let Err(e) = self.watch_tree(&child) {
                        if !passable(&e) {
                            return Err(explain(e, &child));
                        }
                        tracing::debug!("not watched: {e}");
                    }
                }
                Ok(())
            }
            Err(e) => Err(explain(e, dir)),
        }
    }
}

impl FolderWatcher {
    /// Stops watching `dir` and everything below it.
    pub fn unwatch(&mut self, dir: &Path) -> notify::Result<()> {
        self.watcher.unwatch(dir)
    }
}

/// Whether a folder that cannot be watched may be left out: it is unreadable or gone. Other
/// errors (the inotify limit) would hit every folder alike.
fn passable(e: &notify::Error) -> bool {
    match &e.kind {
        notify::ErrorKind::Io(io) => matches!(
            io.kind(),
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::NotFound
        ),
        notify::ErrorKind::PathNotFound => true,
        _ => false,
    }
}

/// The folders right inside `dir`, following links as notify does.
fn subfolders(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect()
}

/// Starts watching `roots` (recursively, see [`FolderWatcher::watch_tree`]), sending
/// [`Watched::Fs`] and [`Watched::Rescan`] to `tx`. `overflowed` is set when `tx` was full and events
/// were dropped.
pub fn watch_folders<T: From<Watched> + Send + 'static>(
    roots: &[PathBuf],
    tx: SyncSender<T>,
    overflowed: Arc<AtomicBool>,
) -> notify::Result<FolderWatcher> {
    let fwd = Forward { tx, overflowed };
    let watcher = notify::recommended_watcher(move |res: notify::Result<Event>| match res {
        Ok(event) => translate(event).into_iter().for_each(|m| fwd.send(m)),
        Err(e) => fwd.send(Watched::Rescan(format!("watcher error: {e}"))),
    })?;
    let mut folders = FolderWatcher { watcher };
    for root in roots {
        folders.watch_tree(root)?;
    }
    Ok(folders)
}

/// Starts watching the rules folder, sending [`Watched::RulesChanged`] for changes to `.rhai` files.
pub fn watch_rules<T: From<Watched> + Send + 'static>(
    dir: &Path,
    tx: SyncSender<T>,
) -> notify::Result<FolderWatcher> {
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<Event>| {
        let relevant = match &res {
            Ok(e) => {
                !matches!(e.kind, EventKind::Access(_))
                    && e.paths.iter().any(|p| is_rule_or_list(p) || p.is_dir())
            }
            Err(_) => true,
        };
        if relevant {
            let _ = tx.try_send(T::from(Watched::RulesChanged));
        }
    })?;
    watcher
        .watch(dir, RecursiveMode::Recursive)
        .map_err(|e| explain(e, dir))?;
    Ok(FolderWatcher { watcher })
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

/// Whether a change to `path` in the rules folder changes the rules: a rule (`*.rhai`), or a
/// term list (`lists/*.txt`), which the rules using it are recompiled with.
fn is_rule_or_list(path: &std::path::Path) -> bool {
    match path.extension().and_then(|x| x.to_str()) {
        Some("rhai") => true,
        Some("txt") => path
            .parent()
            .and_then(|d| d.file_name())
            .is_some_and(|d| d == "lists"),
        _ => false,
    }
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
            if cfg!(target_os = "linux") {
                &[r#"Fs(Gone("/i/.a.tmp"))"#][..]
            } else {
                &[r#"Fs(Gone("/i/.a.tmp"))"#, r#"Fs(Completed("/i/a.txt"))"#][..]
            }
        );
        assert_eq!(
            one(
                EventKind::Modify(ModifyKind::Name(RenameMode::To)),
                &["/i/a.txt"]
            ),
            [r#"Fs(Completed("/i/a.txt"))"#]
        );
        let overflow = Event::new(EventKind::Other).set_flag(Flag::Rescan);
        assert!(matches!(translate(overflow)[0], Watched::Rescan(_)));
    }
}
