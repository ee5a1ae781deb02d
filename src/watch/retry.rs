//! When recording what workers found fails (the state's disk full, say), the files stay unseen
//! and a walk reads them again: a walk soon, not the 15-minute one, backing off from
//! [`FIRST`] while recording keeps failing.

use std::time::{Duration, Instant};

/// The first retry walk, after a failure.
pub const FIRST: Duration = Duration::from_secs(5);
/// The longest wait between retry walks.
pub const MAX: Duration = Duration::from_secs(5 * 60);

/// The retry walk to make, if any, and the wait before the next one.
#[derive(Debug)]
pub struct Retry {
    due: Option<Instant>,
    delay: Duration,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry {
            due: None,
            delay: FIRST,
        }
    }
}

impl Retry {
    /// Recording failed at `now`: schedules a walk, unless one is scheduled already; returns
    /// in how long, when it was scheduled now. The wait doubles with each walk scheduled, up
    /// to [`MAX`], until recording succeeds.
    pub fn failed(&mut self, now: Instant) -> Option<Duration> {
        if self.due.is_some() {
            return None;
        }
        let delay = self.delay;
        self.due = Some(now + delay);
        self.delay = (delay * 2).min(MAX);
        Some(delay)
    }

    /// Recording succeeded: the next failure waits [`FIRST`] again. (A walk scheduled still
    /// happens: the files that failed are read by it.)
    pub fn succeeded(&mut self) {
        self.delay = FIRST;
    }

    /// Whether the walk is due at `now`; true once per walk scheduled.
    pub fn due(&mut self, now: Instant) -> bool {
        if self.due.is_some_and(|due| now >= due) {
            self.due = None;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_schedules_one_walk_soon_backing_off_while_failures_go_on() {
        let mut r = Retry::default();
        let t0 = Instant::now();
        assert!(!r.due(t0));
        assert_eq!(r.failed(t0), Some(FIRST));
        // Failures before the walk add no walk.
        assert_eq!(r.failed(t0 + Duration::from_secs(1)), None);
        assert!(!r.due(t0 + Duration::from_secs(4)));
        assert!(r.due(t0 + FIRST));
        assert!(!r.due(t0 + FIRST), "once per walk");
        // The walk's files fail again: a longer wait, and longer, up to MAX.
        let mut t = t0 + FIRST;
        let mut waits = Vec::new();
        for _ in 0..10 {
            let wait = r.failed(t).unwrap();
            waits.push(wait.as_secs());
            t += wait;
            assert!(r.due(t));
        }
        assert_eq!(waits, [10, 20, 40, 80, 160, 300, 300, 300, 300, 300]);
        // Recording works again: the next failure is retried soon.
        r.succeeded();
        assert_eq!(r.failed(t), Some(FIRST));
    }
}
