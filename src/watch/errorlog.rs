//! Errors that repeat, logged without flooding: a rule failing on every article says so once,
//! then once a minute with a count, not once per article. (Outputs that are down have their
//! own quieter retry log in the outbox.)

use std::time::{Duration, Instant};

/// Logs errors that repeat without flooding: the first one of a kind in full, then one line a
/// minute with how many more came.
#[derive(Default)]
pub(super) struct ErrorLog {
    kinds: std::collections::HashMap<String, Repeats>,
}

struct Repeats {
    since: Instant,
    more: u64,
    last: String,
}

impl ErrorLog {
    const WINDOW: Duration = Duration::from_secs(60);

    pub fn log(&mut self, key: &str, line: &str) {
        match self.kinds.get_mut(key) {
            Some(r) => {
                r.more += 1;
                r.last = line.to_string();
            }
            None => {
                tracing::error!("{line}");
                self.kinds.insert(
                    key.to_string(),
                    Repeats {
                        since: Instant::now(),
                        more: 0,
                        last: String::new(),
                    },
                );
            }
        }
    }

    /// Writes the counts of windows that are over (all of them when `all`).
    pub fn flush(&mut self, all: bool) {
        let now = Instant::now();
        self.kinds.retain(|_, r| {
            if !all && now.duration_since(r.since) < Self::WINDOW {
                return true;
            }
            if r.more > 0 {
                tracing::error!(
                    "{} (and {} more like it in {:.0?})",
                    r.last,
                    r.more - 1,
                    now.duration_since(r.since)
                );
            }
            // A kind that went quiet starts over with a full line next time.
            r.more > 0 && !all && {
                r.since = now;
                r.more = 0;
                true
            }
        });
    }
}
