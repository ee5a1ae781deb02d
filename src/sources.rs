//! Sources: where article bytes come from for `scan` — files, folders walked recursively, and
//! standard input. (The watcher daemon is the other source, in `watch`.)
//!
//! A source yields [`Input`]s and reads them with the size limit applied before a byte is read;
//! what the bytes mean is ingest's business.

use std::io::Read;
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use crate::Error;
use crate::article;

/// One thing to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A file, with the name of the folder it was found under (the article's `source`).
    File { path: PathBuf, source: String },
    /// Standard input (`-`).
    Stdin,
}

impl Input {
    /// A file named by the user (on the command line, in a test case): its articles' `source`
    /// is the name of the folder it is in, as for a folder walked.
    pub fn file(path: PathBuf) -> Input {
        let folder = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Input::File {
            source: folder_name(folder),
            path,
        }
    }

    /// The name shown for this input and recorded as the article's path.
    pub fn path(&self) -> &Path {
        match self {
            Input::File { path, .. } => path,
            Input::Stdin => Path::new("-"),
        }
    }

    /// The article's `source`.
    pub fn source(&self) -> &str {
        match self {
            Input::File { source, .. } => source,
            Input::Stdin => "stdin",
        }
    }

    /// Reads the input whole, refusing more than `max_size` bytes.
    pub fn read(&self, max_size: u64) -> Result<Vec<u8>, Error> {
        let io = |source| Error::Io {
            path: self.path().to_path_buf(),
            source,
        };
        let too_large = |size| Error::TooLarge {
            path: self.path().to_path_buf(),
            size,
            limit: max_size,
        };
        let mut bytes = Vec::new();
        match self {
            Input::File { path, .. } => {
                let file = std::fs::File::open(path).map_err(io)?;
                let size = file.metadata().map_err(io)?.len();
                if size > max_size {
                    return Err(too_large(size));
                }
                if size == 0 {
                    // Sizes of special files (in /proc, pipes) say nothing: read to the end.
                    // `take` guards against one that never ends.
                    file.take(max_size.saturating_add(1))
                        .read_to_end(&mut bytes)
                        .map_err(io)?;
                } else {
                    // The file as it was when looked at: what a writer appends meanwhile is a
                    // change the daemon sees and reads again. No read just to meet the end.
                    bytes.reserve_exact(size as usize);
                    file.take(size).read_to_end(&mut bytes).map_err(io)?;
                }
            }
            Input::Stdin => {
                std::io::stdin()
                    .lock()
                    .take(max_size.saturating_add(1))
                    .read_to_end(&mut bytes)
                    .map_err(io)?;
            }
        }
        if bytes.len() as u64 > max_size {
            return Err(too_large(bytes.len() as u64));
        }
        Ok(bytes)
    }
}

/// Expands command-line paths into inputs, in order. A named file is always read (its format
/// chosen by extension, plain text if unknown); in a folder only files of a supported format
/// are, and hidden files and folders are skipped. Paths that cannot be found are returned as
/// [`Error::Io`] in place, and what cannot be read inside a folder as [`Error::Skipped`]; the
/// rest is still expanded.
pub fn expand(paths: &[PathBuf]) -> Vec<Result<Input, Error>> {
    let mut inputs = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            inputs.push(Ok(Input::Stdin));
            continue;
        }
        let meta = match std::fs::metadata(path) {
            Ok(meta) => meta,
            Err(source) => {
                inputs.push(Err(Error::Io {
                    path: path.clone(),
                    source,
                }));
                continue;
            }
        };
        if !meta.is_dir() {
            inputs.push(Ok(Input::file(path.clone())));
            continue;
        }
        let source = folder_name(path);
        let walk = WalkDir::new(path)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
        for entry in walk {
            match entry {
                Ok(e) if e.file_type().is_file() && article::is_supported(e.path()) => {
                    inputs.push(Ok(Input::File {
                        path: e.into_path(),
                        source: source.clone(),
                    }))
                }
                Ok(_) => {}
                Err(e) => inputs.push(Err(walk_error(e, path))),
            }
        }
    }
    inputs
}

/// What cannot be read inside a walked folder, said plainly.
pub(crate) fn walk_error(e: walkdir::Error, root: &Path) -> Error {
    let path = e.path().unwrap_or(root).to_path_buf();
    let reason = if let Some(ancestor) = e.loop_ancestor() {
        format!(
            "symbolic link loop (it leads back to {})",
            ancestor.display()
        )
    } else {
        match e.io_error() {
            Some(io) if io.kind() == std::io::ErrorKind::NotFound && path.is_symlink() => {
                "broken symbolic link".to_string()
            }
            Some(io) if io.kind() == std::io::ErrorKind::PermissionDenied && path.is_dir() => {
                "folder not readable (permission denied): its files are not read".to_string()
            }
            Some(io) => io.to_string(),
            None => e.to_string(),
        }
    };
    Error::Skipped { path, reason }
}

/// The last component of a folder's path (its canonical name for `.` and `..`).
fn folder_name(path: &Path) -> String {
    let named = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    named(path)
        .or_else(|| path.canonicalize().ok().as_deref().and_then(named))
        .unwrap_or_else(|| path.display().to_string())
}
