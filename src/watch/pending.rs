//! Deciding when a file is complete.
//!
//! A file is evaluated once, whole. Three signals say a file is complete: it was renamed into
//! place, its writer closed it (Linux reports `close_write`), or — where neither comes — its
//! size and modification time stayed the same for a settle interval. A file someone is known
//! to be writing (writes seen, no close yet) waits for the close, up to a long quiet period,
//! so a writer that pauses between chunks is not read half-way.

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

    /// Files that are now complete, removed from the tracker. `stat` reads a file's stamp
    /// (`None` when it vanished: it is dropped).
    pub fn take_ready(
        &mut self,
        now: Instant,
        stat: impl Fn(&Path) -> Option<Stamp>,
    ) -> Vec<PathBuf> {
        let mut ready = Vec::new();
        self.files.retain(|path, p| {
            let quiet = now.duration_since(p.last_change);
            if quiet < SETTLE {
                return true;
            }
            let Some(stamp) = stat(path) else {
                return false;
            };
            if p.stamp != Some(stamp) {
                // Still changing (or first look): wait another settle interval.
                p.stamp = Some(stamp);
                p.last_change = now;
                return true;
            }
            if p.writer_open && quiet < OPEN_WRITER_QUIET {
                return true;
            }
            ready.push(path.clone());
            false
        });
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
}
