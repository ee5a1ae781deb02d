//! Sources: where article bytes come from for `scan` — files, folders walked recursively, and
//! standard input. (The watcher daemon is the other source, in `watch`.)
//!
//! A source yields [`Input`]s and reads them with the size limit applied before a byte is read;
//! what the bytes mean is ingest's business.

use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use newswatch_engine::Error;
use newswatch_engine::article::{self, Article, Format, IngestOptions};

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
        match self {
            Input::File { path, .. } => article::read_file(path, max_size),
            Input::Stdin => article::read_to_limit(std::io::stdin().lock(), self.path(), max_size),
        }
    }

    /// The articles in `bytes`, this input's content: a file's in the format of its
    /// extension, standard input's in `stdin_format`, else in the format its content shows
    /// ([`Format::sniff`]). What had to be skipped or repaired is logged as a warning naming
    /// the input.
    pub fn ingest(
        &self,
        bytes: &[u8],
        stdin_format: Option<Format>,
    ) -> Result<Vec<Article>, Error> {
        let mut options = IngestOptions::default();
        if *self == Input::Stdin {
            options = options.format(stdin_format.unwrap_or_else(|| Format::sniff(bytes)));
        }
        let parsed = article::ingest_with(bytes, self.path(), &options)?;
        for warning in &parsed.warnings {
            tracing::warn!("{}: {warning}", self.path().display());
        }
        Ok(parsed.articles)
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
                Err(e) => inputs.push(Err(Error::from_walk(e, path))),
            }
        }
    }
    inputs
}

/// The last component of a folder's path (its canonical name for `.` and `..`).
fn folder_name(path: &Path) -> String {
    let named = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    named(path)
        .or_else(|| path.canonicalize().ok().as_deref().and_then(named))
        .unwrap_or_else(|| path.display().to_string())
}
