//! What recording the workers' alerts came to, counted for the metrics.

use crate::metrics::{Metrics, Suppression};
use crate::state::Recorded;

/// Counts what a commit recorded: each alert that is not to be delivered, under why.
pub fn recorded(metrics: &Metrics, recorded: &[Recorded]) {
    for r in recorded {
        let reason = match r {
            Recorded::New => continue,
            Recorded::Duplicate => Suppression::Duplicate,
            Recorded::Suppressed => Suppression::Throttled,
            Recorded::Silenced(_) => Suppression::Silenced,
            Recorded::SameStory(_) => Suppression::SameStory,
        };
        metrics.suppressed(reason);
    }
}
