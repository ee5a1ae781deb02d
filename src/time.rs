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

/// A time kept as Unix milliseconds (the outbox's and silences'), as RFC 3339 to the second.
pub fn rfc3339_ms(ms: i64) -> String {
    let at = std::time::UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    rfc3339(at)
}
