//! When a feed is polled next: `every` as the user wrote it, lengthened (never shortened) by
//! what the server says — `Cache-Control: max-age`, RSS `<ttl>`, `Retry-After` — all within
//! 1 s and 24 h; after failures, an exponential backoff from `every`, capped at 24 h and never
//! switched off. Each wait gets a little random extra, so that feeds configured alike, or that
//! failed together (the network was down), do not stay in step.

use std::time::Duration;

use crate::config::{EVERY_MAX, EVERY_MIN};

/// What the server said about when to ask again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hints {
    pub max_age: Option<Duration>,
    pub ttl: Option<Duration>,
    pub retry_after: Option<Duration>,
}

/// The wait after a poll that succeeded: clamp(max(every, hints), 1 s, 24 h).
pub fn after_success(every: Duration, hints: Hints) -> Duration {
    [hints.max_age, hints.ttl, hints.retry_after]
        .into_iter()
        .flatten()
        .fold(every, Duration::max)
        .clamp(EVERY_MIN, EVERY_MAX)
}

/// The wait after the `failures`-th failed poll in a row: `every` doubled for each, or the
/// server's `Retry-After` if longer; within 1 s and 24 h.
pub fn after_failure(every: Duration, failures: u32, retry_after: Option<Duration>) -> Duration {
    let backoff = every.saturating_mul(1 << failures.min(20));
    backoff
        .max(retry_after.unwrap_or_default())
        .clamp(EVERY_MIN, EVERY_MAX)
}

/// `wait` with a random extra of up to `share` of it (at most `cap`), from `random` in [0, 1):
/// only ever longer, so `every` and `Retry-After` hold.
pub fn jittered(wait: Duration, share: f64, cap: Duration, random: f64) -> Duration {
    wait + wait.mul_f64(share).min(cap).mul_f64(random.clamp(0.0, 1.0))
}

/// The extra after a success: up to 5% of the wait, at most 30 s.
pub fn success_jitter(wait: Duration, random: f64) -> Duration {
    jittered(wait, 0.05, Duration::from_secs(30), random)
}

/// The extra after a failure: up to a quarter of the backoff, so feeds that failed together
/// spread out.
pub fn failure_jitter(wait: Duration, random: f64) -> Duration {
    jittered(wait, 0.25, EVERY_MAX, random).min(EVERY_MAX + Duration::from_secs(3600))
}

/// When a feed that is due (or new) is first polled after the start: spread over `every`, at
/// most 10 s, so that a daemon starting with a hundred feeds does not ask for them all at once.
pub fn start_spread(every: Duration, random: f64) -> Duration {
    every
        .min(Duration::from_secs(10))
        .mul_f64(random.clamp(0.0, 1.0))
}

/// A small random number generator (SplitMix64) for jitter: no need for more.
pub struct Jitter(u64);

impl Jitter {
    pub fn new() -> Jitter {
        // Generators made at the same moment (a pool's threads) must still differ.
        static MADE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let seed = n.wrapping_mul(0xD1B5_4A32_D192_ED03)
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
            ^ (u64::from(std::process::id()) << 32);
        Jitter(seed)
    }

    /// A number in [0, 1).
    pub fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn every_is_kept_and_hints_only_lengthen_it() {
        let none = Hints::default();
        assert_eq!(after_success(S(900), none), S(900));
        let short = Hints {
            max_age: Some(S(60)),
            ttl: Some(S(300)),
            retry_after: None,
        };
        assert_eq!(after_success(S(900), short), S(900), "never shortened");
        let long = Hints {
            max_age: Some(S(3600)),
            ..none
        };
        assert_eq!(after_success(S(900), long), S(3600));
        let ttl = Hints {
            ttl: Some(S(7200)),
            ..long
        };
        assert_eq!(after_success(S(900), ttl), S(7200));
        let huge = Hints {
            max_age: Some(S(10 * 86_400)),
            ..none
        };
        assert_eq!(after_success(S(900), huge), EVERY_MAX);
        assert_eq!(after_success(Duration::from_millis(10), none), EVERY_MIN);
    }

    #[test]
    fn backoff_doubles_and_is_capped_never_off() {
        assert_eq!(after_failure(S(1), 1, None), S(2));
        assert_eq!(after_failure(S(1), 2, None), S(4));
        assert_eq!(after_failure(S(1), 3, None), S(8));
        assert_eq!(after_failure(S(1), 1, Some(S(5))), S(5));
        assert_eq!(after_failure(S(1800), 10, None), EVERY_MAX);
        assert_eq!(after_failure(S(1800), u32::MAX, None), EVERY_MAX);
    }

    #[test]
    fn jitter_only_lengthens_and_is_bounded() {
        let mut j = Jitter::new();
        for _ in 0..1000 {
            let r = j.next();
            assert!((0.0..1.0).contains(&r));
            let w = success_jitter(S(900), r);
            assert!(w >= S(900) && w <= S(930), "{w:?}");
            let f = failure_jitter(S(8), r);
            assert!(f >= S(8) && f <= S(10), "{f:?}");
            assert!(start_spread(S(1800), r) <= S(10));
        }
    }
}
