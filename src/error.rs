//! The program's error type: the engine's errors (reading articles, loading rules), the
//! config's and the state store's.
//!
//! Every message names what it is about (a file, a rule, a config key) and, where there is
//! something to do, says what: these strings reach users unchanged.

use std::path::PathBuf;

/// Anything that stops a command from doing its job.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading articles or loading rules.
    #[error(transparent)]
    Engine(#[from] newswatch_engine::Error),
    /// The configuration file cannot be read.
    #[error("{}: {source}", path.display())]
    ConfigUnreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
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
