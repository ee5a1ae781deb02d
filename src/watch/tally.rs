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
            // Silences record alerts with a variant of their own: it counts as
            // `Suppression::Silenced` here.
        };
        metrics.suppressed(reason);
    }
}
