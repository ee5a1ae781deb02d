//! The time one file may take to be read: the net under the parsers' input bounds.
//!
//! Each parser is linear in its input or refuses beforehand (see `ingest`'s bounds), which
//! makes reading deterministic. The budget catches what those bounds did not foresee: the HTML
//! parser is fed in chunks and the budget checked between them, and every loop over a file's
//! items checks it per item, so a file that runs over is refused within one chunk or one item
//! of its deadline instead of holding a worker for minutes. What runs whole before the first
//! check — decoding, the HTML guard's pass, feed-rs reading a feed's XML — is linear in the
//! file and bounded by its size limit.

use std::time::{Duration, Instant};

/// The timeout [`IngestOptions`](super::IngestOptions) starts with: a 16 MiB page of real text
/// reads in well under a second; a harmless file dropped while every worker holds a hostile
/// one is read within twice this.
pub const DEFAULT_INGEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A deadline for reading one file.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budget {
    timeout: Duration,
    deadline: Option<Instant>,
}

impl Budget {
    /// A budget of `timeout` from now (`checked_add` failing means no deadline at all).
    pub(crate) fn new(timeout: Duration) -> Budget {
        Budget {
            timeout,
            deadline: Instant::now().checked_add(timeout),
        }
    }

    /// Whether the deadline has passed.
    pub(crate) fn spent(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// `Err` saying so once the deadline has passed.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.spent() {
            Err(format!(
                "refused: reading it took longer than the ingest timeout ({:?})",
                self.timeout
            ))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
impl Budget {
    /// A budget that never runs out, for parsers' own tests.
    pub(crate) fn unlimited() -> Budget {
        Budget {
            timeout: Duration::MAX,
            deadline: None,
        }
    }
}
