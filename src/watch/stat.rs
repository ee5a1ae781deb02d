//! The `stat`s the daemon's loop needs answered, made on a thread of its own: the size and
//! mtime of files that are settling (see `pending`), and whether files reported gone are still
//! gone. A `stat` is usually quick, but not on a slow or hung disk or network share, and the
//! loop must go on handling events meanwhile; the answers come back as messages.
//!
//! Not on the walker's thread nor the workers': behind a walk of a large tree or a queue of
//! files to evaluate, the answers — and with them the files that settle — would wait.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, SyncSender};

use super::Msg;
use super::error::WatchError;
use super::pending::Stamp;

/// What the loop asks.
enum Ask {
    /// The stamps of settling files: answered with [`Msg::Stamped`].
    Stamps(Vec<PathBuf>),
    /// Files reported deleted or moved away: those still missing come back in [`Msg::Gone`].
    Gone(Vec<PathBuf>),
}

/// The thread that `stat`s files for the loop; it ends with the daemon.
pub struct Stat {
    asks: mpsc::Sender<Ask>,
}

impl Stat {
    pub fn start(tx: SyncSender<Msg>) -> Result<Stat, WatchError> {
        let (asks, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("newswatch-stat".into())
            .spawn(move || {
                for ask in rx {
                    let answer = match ask {
                        Ask::Stamps(paths) => {
                            Msg::Stamped(paths.into_iter().map(|p| (stamp(&p), p)).collect())
                        }
                        Ask::Gone(paths) => {
                            Msg::Gone(paths.into_iter().filter(|p| !p.exists()).collect())
                        }
                    };
                    if tx.send(answer).is_err() {
                        return;
                    }
                }
            })
            .map_err(WatchError::thread("the stat thread"))?;
        Ok(Stat { asks })
    }

    /// Looks at the size and mtime of `paths`.
    pub fn stamps(&self, paths: Vec<PathBuf>) {
        // Gone only when the daemon stops.
        let _ = self.asks.send(Ask::Stamps(paths));
    }

    /// Checks that `paths` are still gone.
    pub fn gone(&self, paths: Vec<PathBuf>) {
        let _ = self.asks.send(Ask::Gone(paths));
    }
}

/// Size and mtime of a file, or `None` if it is gone.
fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()))
}
