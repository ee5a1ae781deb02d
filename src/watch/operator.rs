//! What an operator changes while the daemon runs: `newswatch silence` adds and expires
//! silences, `newswatch outbox` puts deliveries back in queues. Both are other processes
//! writing the state; each edit bumps the state's revision counter, and the daemon's loop reads
//! that one row at most once a second — the silences are read again, and the outputs woken,
//! only when it changed.

use std::time::{Duration, Instant};

use crate::state::{Silences, State};

/// How often the revision counter is read (DESIGN: a new silence is seen within a second).
const CHECK: Duration = Duration::from_secs(1);

/// The silences in force, as of the last revision read.
#[derive(Default)]
pub struct Operator {
    silences: Silences,
    revision: Option<i64>,
    next_check: Option<Instant>,
}

impl Operator {
    pub fn silences(&self) -> &Silences {
        &self.silences
    }

    /// Reads the revision counter if it is time to (always the first time); true when an
    /// operator changed something since the last look (the first look included), so that the
    /// outputs are to be woken. A state that cannot be read keeps the silences as they were,
    /// to be read again at the next look.
    pub fn look(&mut self, state: &State, now: Instant) -> bool {
        if self.next_check.is_some_and(|due| now < due) {
            return false;
        }
        self.next_check = Some(now + CHECK);
        let revision = match state.revision() {
            Ok(revision) => revision,
            Err(e) => {
                tracing::warn!("{e}");
                return false;
            }
        };
        if self.revision == Some(revision) {
            return false;
        }
        match state.active_silences() {
            Ok(silences) => {
                self.silences = silences;
                self.revision = Some(revision);
            }
            Err(e) => tracing::warn!("cannot read the silences: {e}"),
        }
        true
    }
}
