//! Watched folders: where they are, what their files are called in alerts, and walking them.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};

use walkdir::WalkDir;

use super::events::Msg;
use super::filter::PathFilter;
use crate::config::WatchConfig;

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
    pub fn new(config: &WatchConfig) -> Result<Root, String> {
        let abs = std::path::absolute(&config.path)
            .map_err(|e| format!("{}: {e}", config.path.display()))?;
        let name = abs
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| abs.display().to_string());
        Ok(Root {
            given: config.path.clone(),
            abs,
            name,
            recursive: config.recursive,
            filter: PathFilter::new(&config.include, &config.exclude)
                .map_err(|e| format!("watch {}: {e}", config.path.display()))?,
        })
    }

    /// The path of `abs` below this folder, if it is an article file this folder watches.
    pub fn accepts<'p>(&self, abs: &'p Path) -> Option<&'p Path> {
        let rel = abs.strip_prefix(&self.abs).ok()?;
        let depth_ok = self.recursive || rel.components().count() == 1;
        (depth_ok && self.filter.accepts(rel)).then_some(rel)
    }
}

/// The root that watches `abs` (the deepest one, if folders are nested).
pub fn owner<'r>(roots: &'r [Root], abs: &Path) -> Option<(&'r Root, PathBuf)> {
    roots
        .iter()
        .filter_map(|r| r.accepts(abs).map(|rel| (r, rel.to_path_buf())))
        .max_by_key(|(r, _)| r.abs.components().count())
}

/// Walks watched folders, each walk on a thread of its own, sending the files found to the
/// daemon's loop in batches.
#[derive(Clone)]
pub struct Walker {
    roots: Vec<Root>,
    tx: SyncSender<Msg>,
    /// What could not be read and was said so: said once, not at every walk.
    reported: Arc<Mutex<HashSet<PathBuf>>>,
}

impl Walker {
    pub fn new(roots: Vec<Root>, tx: SyncSender<Msg>) -> Walker {
        Walker {
            roots,
            tx,
            reported: Arc::default(),
        }
    }

    /// Walks `dir` (a watched folder or a folder inside one). What cannot be read — a folder
    /// without permission, a broken link, a link loop — is logged once and passed over.
    pub fn spawn(&self, dir: PathBuf, evaluate: bool) {
        let walker = self.clone();
        std::thread::Builder::new()
            .name("newswatch-walk".into())
            .spawn(move || walker.walk(&dir, evaluate))
            .expect("spawn a walker thread");
    }

    fn walk(&self, dir: &Path, evaluate: bool) {
        let mut batch = Vec::new();
        let walk = WalkDir::new(dir)
            .follow_links(true)
            .into_iter()
            .filter_entry(|e| {
                e.depth() == 0 || !e.file_type().is_dir() || owner_dir(&self.roots, e.path())
            });
        for entry in walk {
            match entry {
                Ok(e) if e.file_type().is_file() && owner(&self.roots, e.path()).is_some() => {
                    batch.push(e.into_path());
                    if batch.len() >= 512 {
                        let paths = std::mem::take(&mut batch);
                        if self.tx.send(Msg::Found { paths, evaluate }).is_err() {
                            return;
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => self.report(crate::sources::walk_error(e, dir)),
            }
        }
        let _ = self.tx.send(Msg::Found {
            paths: batch,
            evaluate,
        });
    }

    fn report(&self, e: crate::Error) {
        let crate::Error::Skipped { path, reason } = e else {
            return tracing::warn!("{e}");
        };
        // As configured, like the paths in alerts.
        let shown = self
            .roots
            .iter()
            .find_map(|r| Some(r.given.join(path.strip_prefix(&r.abs).ok()?)))
            .unwrap_or_else(|| path.clone());
        let e = crate::Error::Skipped {
            path: shown,
            reason,
        };
        let mut reported = self.reported.lock().unwrap_or_else(|e| e.into_inner());
        if reported.insert(path) {
            tracing::warn!("{e}");
        } else {
            tracing::debug!("{e}");
        }
    }
}

/// Whether a folder may hold files some root watches.
fn owner_dir(roots: &[Root], dir: &Path) -> bool {
    roots.iter().any(|r| match dir.strip_prefix(&r.abs) {
        Ok(rel) => r.recursive && r.filter.enters(rel),
        Err(_) => r.abs.starts_with(dir),
    })
}
