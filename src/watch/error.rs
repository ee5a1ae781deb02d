//! Why the daemon cannot start, or a SIGHUP cannot apply a config. The messages reach users
//! as they are, naming what they are about.

use super::roots::RootError;
use crate::outputs::OutputError;
use crate::state::StateError;

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// A watched folder is missing or its `include`/`exclude` is wrong.
    #[error(transparent)]
    Folder(#[from] RootError),
    /// The rules folder is missing.
    #[error(transparent)]
    Rules(#[from] newswatch_engine::Error),
    /// The config file, re-read on SIGHUP.
    #[error(transparent)]
    Config(#[from] crate::Error),
    #[error(transparent)]
    State(#[from] StateError),
    /// Another daemon holds the state.
    #[error(transparent)]
    Lock(#[from] crate::state::lock::LockError),
    /// An output cannot be built.
    #[error(transparent)]
    Outputs(#[from] OutputError),
    /// The outputs' delivery threads cannot start.
    #[error(transparent)]
    Outbox(#[from] crate::outbox::OutboxError),
    /// The metrics endpoint cannot listen (`http.listen`).
    #[error(transparent)]
    Http(#[from] crate::metrics::HttpError),
    #[error("cannot watch: {0}")]
    Watch(#[from] notify::Error),
    #[error("cannot install signal handlers: {0}")]
    Signals(#[source] std::io::Error),
    /// A thread (`what`: "worker threads", "the walker thread", …) cannot be started.
    #[error("cannot start {what}: {source}")]
    Thread {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}

impl WatchError {
    /// For `map_err` on `std::thread::Builder::spawn`.
    pub fn thread(what: &'static str) -> impl FnOnce(std::io::Error) -> WatchError {
        move |source| WatchError::Thread { what, source }
    }
}
