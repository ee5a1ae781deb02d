//! The one error type of the engine.
//!
//! Every message names what it is about (a file, a folder, a limit) and, where there is
//! something to do, says what: these strings reach users unchanged. Variants carry the facts
//! (which path, which limit) so that a caller can match on them rather than parse messages.

use std::path::{Path, PathBuf};

/// Anything that can go wrong reading articles or loading rules. (A rule that fails to compile
/// or to run is not an `Error`: see [`Diagnostic`](crate::Diagnostic) and
/// [`RuleError`](crate::RuleError).)
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or folder could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// Something found while walking a folder cannot be read: a folder without read
    /// permission, a broken symbolic link, a link loop. What else the folder holds is read.
    #[error("{}: skipped: {reason}", path.display())]
    Skipped {
        /// What could not be read.
        path: PathBuf,
        /// Why, in a phrase.
        reason: String,
    },
    /// A file holds NUL bytes and no text encoding explains them.
    #[error("{}: skipped: binary file (NUL byte at offset {offset})", path.display())]
    Binary {
        /// The file.
        path: PathBuf,
        /// The first NUL byte.
        offset: usize,
    },
    /// An input is larger than the size limit it is read under.
    #[error(
        "{}: skipped: {size} bytes is over the size limit of {limit} bytes (raise limits.max_file_size to read it)",
        path.display()
    )]
    TooLarge {
        /// The file (or `-` for standard input, or the article's path or title).
        path: PathBuf,
        /// Its size in bytes (at least; reading stopped past the limit).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A file could not be parsed as its format.
    #[error("{}: {message}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// An article's text is over what the engine can index ([`MAX_TEXT_SIZE`](crate::rules::MAX_TEXT_SIZE)).
    #[error(
        "{article}: not evaluated: {size} bytes of text is over the {limit} bytes an article may have"
    )]
    ArticleTooLarge {
        /// The article's path, or its title when it has none.
        article: String,
        /// Its title and body, in bytes.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// No rule of this name is loaded.
    #[error("no rule named {rule:?} is loaded (`newswatch rules` lists them)")]
    NoSuchRule {
        /// The name asked for.
        rule: String,
    },
    /// The rule asked for is switched off ([`RulesetOptions::disabled`](crate::RulesetOptions::disabled)
    /// or a `//! disabled` line): it is compiled but never evaluated.
    #[error(
        "rule {rule} is switched off (disabled in the config or by a `//! disabled` line): switch it on to run it"
    )]
    RuleDisabled {
        /// The rule's name.
        rule: String,
    },
    /// A glob of [`RulesetOptions::disabled`](crate::RulesetOptions::disabled) does not parse.
    #[error("invalid glob {glob:?} in the rules switched off: {message}")]
    BadGlob {
        /// The glob as given.
        glob: String,
        /// What is wrong with it.
        message: String,
    },
    /// The rules folder does not exist.
    #[error("rules folder {} not found: create it, or point --rules (or `rules:` in the config) at your rules", path.display())]
    NoRules {
        /// The folder looked for.
        path: PathBuf,
    },
}

impl Error {
    /// What cannot be read inside a folder walked with `walkdir` (as the engine walks a rules
    /// folder), said plainly: a [`Error::Skipped`] naming the entry, or `root` when the entry
    /// has no path.
    pub fn from_walk(e: walkdir::Error, root: &Path) -> Error {
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

    /// The file or folder the error is about, if it is about one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Error::Io { path, .. }
            | Error::Skipped { path, .. }
            | Error::Binary { path, .. }
            | Error::TooLarge { path, .. }
            | Error::Malformed { path, .. }
            | Error::NoRules { path } => Some(path),
            Error::ArticleTooLarge { .. }
            | Error::NoSuchRule { .. }
            | Error::RuleDisabled { .. }
            | Error::BadGlob { .. } => None,
        }
    }
}
