//! Wall-clock times for the program, written as the engine writes alert times
//! ([`newswatch_engine::time::rfc3339`]) so that they compare as strings.

use std::time::{Duration, SystemTime};

use newswatch_engine::time::rfc3339;

/// The time `ago` before now; further back than time goes is its beginning.
pub fn rfc3339_ago(ago: Duration) -> String {
    rfc3339(
        SystemTime::now()
            .checked_sub(ago)
            .unwrap_or(SystemTime::UNIX_EPOCH),
    )
}
