//! Deciding when a file is complete.
//!
//! A file is evaluated once, whole. Three signals say a file is complete: it was renamed into
//! place, its writer closed it (Linux reports `close_write`), or — where neither comes — its
//! size and modification time stayed the same for a settle interval. A file someone is known
//! to be writing (writes seen, no close yet) waits for the close, up to a long quiet period,
//! so a writer that pauses between chunks is not read half-way.
//!
//! The tracker only decides; it never touches the file system. Its owner `stat`s the files it
//! says are due ([`Tracker::due`]) elsewhere — on the daemon, a thread of its own — and hands
//! back what it saw ([`Tracker::looked`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a file must stay unchanged when no close or rename tells us it is complete.
pub const SETTLE: Duration = Duration::from_millis(500);

/// How long a file with an open writer may stay quiet before it is read anyway.
pub const OPEN_WRITER_QUIET: Duration = Duration::from_secs(30);

/// Size and modification time, as seen by `stat`.
pub type Stamp = (u64, Option<std::time::SystemTime>);

#[derive(Debug)]
struct Pending {
    last_change: Instant,
    stamp: Option<Stamp>,
    writer_open: bool,
    /// When its stamp was asked for, until the answer comes.
    looking: Option<Instant>,
}

/// Files seen changing but not yet known to be complete.
#[derive(Debug, Default)]
pub struct Tracker {
    files: HashMap<PathBuf, Pending>,
}

impl Tracker {
    /// Notes a change to `path`; `write` when the change was a write by an open writer.
    pub fn changed(&mut self, path: &Path, now: Instant, write: bool) {
        let p = self.files.entry(path.to_path_buf()).or_insert(Pending {
            last_change: now,
            stamp: None,
            writer_open: false,
            looking: None,
        });
        p.last_change = now;
        p.writer_open |= write && cfg!(target_os = "linux");
    }

    /// Forgets `path`: it was completed by a close or rename, or removed.
    pub fn forget(&mut self, path: &Path) {
        self.files.remove(path);
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Files quiet for a settle interval, whose stamp (size and mtime) is to be looked at now.
    /// Each is asked for once: it is not due again until [`Tracker::looked`] has the answer.
    pub fn due(&mut self, now: Instant) -> Vec<PathBuf> {
        let mut due = Vec::new();
        for (path, p) in &mut self.files {
            if p.looking.is_none() && now.duration_since(p.last_change) >= SETTLE {
                p.looking = Some(now);
                due.push(path.clone());
            }
        }
        due
    }

    /// The stamp of `path` as looked at after [`Tracker::due`] (`None` when it vanished: it is
    /// dropped). Returns whether the file is complete now; then it is removed from the tracker.
    pub fn looked(&mut self, path: &Path, stamp: Option<Stamp>, now: Instant) -> bool {
        let Some(p) = self.files.get_mut(path) else {
            return false; // completed or removed meanwhile
        };
        let Some(asked) = p.looking.take() else {
            return false; // an answer for an earlier entry of this path
        };
        if p.last_change >= asked {
            // It changed after the look was asked for: what was seen may be older; look again.
            return false;
        }
        let Some(stamp) = stamp else {
            self.files.remove(path);
            return false;
        };
        if p.stamp != Some(stamp) {
            // Still changing (or first look): wait another settle interval.
            p.stamp = Some(stamp);
            p.last_change = now;
            return false;
        }
        if p.writer_open && now.duration_since(p.last_change) < OPEN_WRITER_QUIET {
            return false;
        }
        self.files.remove(path);
        true
    }

    /// Files that are now complete, removed from the tracker: [`Tracker::due`] with the looks
    /// made at once by `stat`.
    #[cfg(test)]
    pub fn take_ready(
        &mut self,
        now: Instant,
        stat: impl Fn(&Path) -> Option<Stamp>,
    ) -> Vec<PathBuf> {
        let mut ready: Vec<PathBuf> = self
            .due(now)
            .into_iter()
            .filter(|path| self.looked(path, stat(path), now))
            .collect();
        ready.sort();
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_ready_after_two_stable_looks() {
        let mut t = Tracker::default();
        let t0 = Instant::now();
        let p = Path::new("/x/a.txt");
        t.changed(p, t0, false);
        let stat = |_: &Path| Some((10, None));
        assert!(t.take_ready(t0 + SETTLE / 2, stat).is_empty());
        assert!(
            t.take_ready(t0 + SETTLE, stat).is_empty(),
            "first look records the stamp"
        );
        assert_eq!(t.take_ready(t0 + SETTLE * 2, stat), [p]);
        assert!(t.is_empty());
    }

    #[test]
    fn vanished_files_are_dropped() {
        let mut t = Tracker::default();
        let t0 = Instant::now();
        t.changed(Path::new("/x/a.txt"), t0, false);
        assert!(t.take_ready(t0 + SETTLE, |_| None).is_empty());
        assert!(t.is_empty());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn an_open_writer_is_waited_for() {
        let mut t = Tracker::default();
        let t0 = Instant::now();
        let p = Path::new("/x/a.txt");
        t.changed(p, t0, true);
        let stat = |_: &Path| Some((10, None));
        assert!(t.take_ready(t0 + SETTLE, stat).is_empty());
        assert!(t.take_ready(t0 + SETTLE * 3, stat).is_empty());
        assert_eq!(t.take_ready(t0 + SETTLE + OPEN_WRITER_QUIET, stat), [p]);
    }

    #[test]
    fn a_change_while_a_look_is_out_is_looked_at_again() {
        let mut t = Tracker::default();
        let t0 = Instant::now();
        let p = Path::new("/x/a.txt");
        t.changed(p, t0, false);
        let stat = |_: &Path| Some((10, None));
        assert!(t.take_ready(t0 + SETTLE, stat).is_empty(), "first look");
        assert_eq!(t.due(t0 + SETTLE * 2), [p]);
        assert!(t.due(t0 + SETTLE * 2).is_empty(), "asked for once");
        // Written to again before the answer: the answer may predate the write.
        t.changed(p, t0 + SETTLE * 2 + SETTLE / 10, false);
        assert!(!t.looked(p, Some((10, None)), t0 + SETTLE * 3));
        assert!(
            t.due(t0 + SETTLE * 3).is_empty(),
            "quiet for less than a settle time"
        );
        assert_eq!(t.take_ready(t0 + SETTLE * 4, stat), [p]);
        // An answer for a path no longer tracked is dropped.
        assert!(!t.looked(p, Some((10, None)), t0 + SETTLE * 4));
        assert!(t.is_empty());
    }
}
