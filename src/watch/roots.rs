//! Watched folders: where they are, what their files are called in alerts, and walking them.

use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;

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

/// Walks `dir` (a watched folder or a folder inside one) on its own thread, sending the files
/// found in batches. Unreadable entries and symlink loops are logged and passed over.
pub fn spawn_walk(roots: Vec<Root>, dir: PathBuf, evaluate: bool, tx: SyncSender<Msg>) {
    std::thread::Builder::new()
        .name("newswatch-walk".into())
        .spawn(move || {
            let mut batch = Vec::new();
            let walk = WalkDir::new(&dir)
                .follow_links(true)
                .into_iter()
                .filter_entry(|e| {
                    e.depth() == 0 || !e.file_type().is_dir() || owner_dir(&roots, e.path())
                });
            for entry in walk {
                match entry {
                    Ok(e) if e.file_type().is_file() && owner(&roots, e.path()).is_some() => {
                        batch.push(e.into_path());
                        if batch.len() >= 512 {
                            let paths = std::mem::take(&mut batch);
                            if tx.send(Msg::Found { paths, evaluate }).is_err() {
                                return;
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::debug!("walk: {e}"),
                }
            }
            let _ = tx.send(Msg::Found {
                paths: batch,
                evaluate,
            });
        })
        .expect("spawn a walker thread");
}

/// Whether a folder may hold files some root watches.
fn owner_dir(roots: &[Root], dir: &Path) -> bool {
    roots.iter().any(|r| match dir.strip_prefix(&r.abs) {
        Ok(rel) => r.recursive && r.filter.enters(rel),
        Err(_) => r.abs.starts_with(dir),
    })
}
