//! The one error type of the library.
//!
//! Every message names what it is about (a file, a rule, a config key) and, where there is
//! something to do, says what: these strings reach users unchanged.

use std::path::PathBuf;

/// Anything that can go wrong reading articles, loading rules or reading the config.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Something found while walking a folder cannot be read: a folder without read
    /// permission, a broken symbolic link, a link loop. What else the folder holds is read.
    #[error("{}: skipped: {reason}", path.display())]
    Skipped { path: PathBuf, reason: String },
    /// A file holds NUL bytes and no text encoding explains them.
    #[error("{}: skipped: binary file (NUL byte at offset {offset})", path.display())]
    Binary { path: PathBuf, offset: usize },
    /// A file is larger than `limits.max_file_size`.
    #[error(
        "{}: skipped: {size} bytes is over the size limit of {limit} bytes (raise limits.max_file_size to read it)",
        path.display()
    )]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    /// A file could not be parsed as its format.
    #[error("{}: {message}", path.display())]
    Malformed { path: PathBuf, message: String },
    /// The rules folder does not exist.
    #[error("rules folder {} not found: create it, or point --rules (or `rules:` in the config) at your rules", path.display())]
    NoRules { path: PathBuf },
    /// The configuration is invalid.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Config {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// The state store could not be opened or written.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
}
