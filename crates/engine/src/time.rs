//! The one form times take in articles and alerts: RFC 3339, UTC, whole seconds.
//!
//! Times are compared as strings downstream (throttle windows, `alerts --since`), so every
//! time the engine writes goes through [`rfc3339`], and programs around it should write theirs
//! the same way.

use std::time::SystemTime;

/// `at` as RFC 3339 UTC with whole seconds (`2026-11-28T15:04:05Z`). Times before 1970 or past
/// what RFC 3339 can write are clamped to its range.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
///
/// let at = UNIX_EPOCH + Duration::from_millis(1_764_600_000_500);
/// assert_eq!(newswatch_engine::time::rfc3339(at), "2025-12-01T14:40:00Z");
/// ```
pub fn rfc3339(at: SystemTime) -> String {
    let at =
        jiff::Timestamp::try_from(at).unwrap_or(match at.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(_) => jiff::Timestamp::MAX,
            Err(_) => jiff::Timestamp::MIN,
        });
    format_timestamp(at)
}

pub(crate) fn format_timestamp(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}
