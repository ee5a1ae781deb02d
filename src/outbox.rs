//! Delivery: recorded alerts → outputs, through the state store's outbox.
//!
//! The model is Vector's: an alert is first recorded together with one outbox row per output
//! that accepts it (see [`State::record_alert`]); then each output's own thread delivers its
//! rows oldest first (`workers`: one thread per output, across reloads too). A delivery that
//! failed transiently stays at the head of that output's queue and is retried with exponential
//! backoff and jitter — not before a receiver's `Retry-After`, for days by default — so each
//! output sees alerts in the order they were raised, and one slow or failing output never
//! delays the others. A delivery that can never succeed (a permanent failure: HTTP 400, a
//! program that cannot start) is marked `failed` at once, with its error, and the queue goes
//! on. Rows live in SQLite, so deliveries survive restarts: delivery is at least once, and
//! receivers drop repeats by the alert's stable `id`.
//!
//! A repeat happens only when the process stopped between a delivery and its record. When the
//! record itself fails (a full disk, a locked or broken state), the delivery is remembered
//! ([`Unrecorded`]) and its record retried with backoff, saying so at each step; the queue
//! waits meanwhile, and the alert is not delivered again — unless the process stops first.

mod workers;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::outputs::{DeliveryError, Filter, Output, Route};
use crate::state::{OutputIdentity, Queue, State, StateError, now_ms};
use newswatch_engine::alert::Alert;
pub use workers::Outbox;

/// Why the outbox cannot start, or a direct delivery was given up.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("cannot start an output thread: {0}")]
    Thread(#[source] std::io::Error),
    /// `scan` without a state gave up on a delivery.
    #[error("output {output}: alert {alert} not delivered: {source}")]
    NotDelivered {
        output: String,
        alert: String,
        #[source]
        source: DeliveryError,
    },
}

/// How failed deliveries are retried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Wait after the first failure; doubled after each further one…
    pub initial: Duration,
    /// …up to this.
    pub max: Duration,
    /// A delivery still failing (transiently) this long after its first attempt is given up:
    /// marked `failed`, as `newswatch alerts` shows.
    pub give_up_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(7 * 86_400),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempts + 1`, with ±20% jitter so that outputs recovering
    /// together are not hit together.
    fn backoff(&self, attempts: u32) -> Duration {
        let exp = self
            .initial
            .saturating_mul(1u32 << attempts.saturating_sub(1).min(30));
        let base = exp.min(self.max).as_secs_f64();
        let jitter = 0.8 + 0.4 * random_unit();
        Duration::try_from_secs_f64(base * jitter).unwrap_or(self.max)
    }
}

/// A number in [0, 1) that differs from call to call; jitter needs no better.
fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// The outputs an alert is queued for: their keys and filters.
#[derive(Default)]
pub struct Targets {
    pub(crate) routes: Vec<(String, Filter)>,
}

impl Targets {
    /// The keys of the outputs that accept `alert`.
    pub fn for_alert(&self, alert: &Alert) -> Vec<&str> {
        self.routes
            .iter()
            .filter(|(_, f)| f.accepts(alert))
            .map(|(k, _)| k.as_str())
            .collect()
    }
}

/// What [`drain`] stopped at.
#[derive(Debug, PartialEq, Eq)]
pub enum Drained {
    /// Nothing left to deliver.
    Empty,
    /// The head of the queue waits for its retry, due at this time (Unix ms).
    WaitingUntil(i64),
    /// Asked to stop.
    Stopped,
}

/// The longest wait between two tries at recording a delivery made.
const RECORD_BACKOFF_MAX: Duration = Duration::from_secs(60);

/// A delivery made whose record failed, kept by its output's thread so that the alert is not
/// delivered again: its record is retried first, with backoff, before anything else of the
/// queue.
#[derive(Debug, Default)]
pub struct Unrecorded {
    held: Option<Held>,
}

#[derive(Debug)]
struct Held {
    seq: i64,
    alert_id: String,
    failures: u32,
    /// The next try at the record (Unix ms).
    next_try_ms: i64,
}

impl Unrecorded {
    /// Remembers that delivery `seq` of `alert_id` was made and could not be recorded (once
    /// more), says so, and returns when to try the record again (Unix ms).
    fn failed(&mut self, seq: i64, alert_id: &str, output: &str, error: &StateError) -> i64 {
        let failures = match &self.held {
            Some(h) if h.seq == seq => h.failures + 1,
            _ => 1,
        };
        let wait = Duration::from_secs(1u64 << (failures - 1).min(6)).min(RECORD_BACKOFF_MAX);
        tracing::error!(
            "delivered alert {alert_id} to {output} but could not record it: {error}; retrying the record in {}s",
            wait.as_secs()
        );
        let next_try_ms = now_ms() + wait.as_millis() as i64;
        self.held = Some(Held {
            seq,
            alert_id: alert_id.to_string(),
            failures,
            next_try_ms,
        });
        next_try_ms
    }
}

/// Delivers what is due in `key`'s queue, oldest first, until the queue is empty, its head
/// must wait for a retry, or `stop` is set. Logs name the output by `output.name()`.
pub fn drain(
    state: &State,
    key: &str,
    output: &mut dyn Output,
    policy: &RetryPolicy,
    stop: &AtomicBool,
) -> Result<Drained, StateError> {
    drain_with(state, key, output, policy, stop, &mut Unrecorded::default())
}

/// [`drain`], with the memory of a delivery made whose record failed: kept between calls by a
/// thread that delivers the queue for long.
pub fn drain_with(
    state: &State,
    key: &str,
    output: &mut dyn Output,
    policy: &RetryPolicy,
    stop: &AtomicBool,
    unrecorded: &mut Unrecorded,
) -> Result<Drained, StateError> {
    let name = output.name().to_string();
    loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(Drained::Stopped);
        }
        if let Some(held) = &unrecorded.held {
            if held.next_try_ms > now_ms() {
                return Ok(Drained::WaitingUntil(held.next_try_ms));
            }
            let (seq, alert_id) = (held.seq, held.alert_id.clone());
            match state.delivered(seq) {
                Ok(()) => {
                    tracing::info!(
                        "output {name}: recorded the delivery of alert {alert_id} at last (it was not made again)"
                    );
                    unrecorded.held = None;
                }
                Err(e) => {
                    let due = unrecorded.failed(seq, &alert_id, &name, &e);
                    return Ok(Drained::WaitingUntil(due));
                }
            }
        }
        // A digest output's alerts wait for their period; what it delivers are its digests.
        let schedule = output.digest_schedule().cloned();
        let head = match &schedule {
            Some(schedule) => {
                state.make_digests(key, |t| schedule.period(t), now_ms())?;
                state.next_digest(key)?
            }
            None => state.next_delivery(key)?,
        };
        // Nothing due: a digest output's thread looks again within a second (its idle poll),
        // which makes the digest of a period at most a second after it ends.
        let Some(head) = head else {
            return Ok(Drained::Empty);
        };
        let now = now_ms();
        if head.next_try_ms > now {
            return Ok(Drained::WaitingUntil(head.next_try_ms));
        }
        let Some(item) = Item::load(state, &head.alert_id, head.seq)? else {
            state.failed(head.seq, "the alert is missing from the state store")?;
            continue;
        };
        let alert = item.shown();
        match item.deliver(output) {
            Ok(()) => {
                if let Err(e) = state.delivered(head.seq) {
                    let due = unrecorded.failed(head.seq, &head.alert_id, &name, &e);
                    return Ok(Drained::WaitingUntil(due));
                }
                if head.attempts > 0 {
                    tracing::info!(
                        "output {name}: delivered {alert} after {} failed attempts",
                        head.attempts
                    );
                }
            }
            Err(e) if e.is_permanent() => {
                tracing::error!(
                    "output {name}: delivery of {alert} failed for good, not retried: {e}; going on with the next"
                );
                state.failed(head.seq, &e.to_string())?;
            }
            Err(e) => {
                let attempts = head.attempts + 1;
                let age =
                    Duration::from_millis((now - head.first_try_ms.unwrap_or(now)).max(0) as u64);
                if age >= policy.give_up_after {
                    tracing::error!(
                        "output {name}: giving up on {alert} after {attempts} attempts over {age:?}: {e}"
                    );
                    state.failed(head.seq, &e.to_string())?;
                    continue;
                }
                // Not before the receiver asked for (`Retry-After`, already bounded).
                let wait = policy
                    .backoff(attempts)
                    .max(e.retry_after().unwrap_or_default());
                if attempts <= 3 || attempts % 10 == 0 {
                    tracing::warn!(
                        "output {name}: delivery of {alert} failed (attempt {attempts}): {e}; retrying in {:.1}s",
                        wait.as_secs_f64()
                    );
                }
                let due = now + wait.as_millis() as i64;
                state.retry_later(head.seq, &e.to_string(), due)?;
                return Ok(Drained::WaitingUntil(due));
            }
        }
    }
}

/// What one outbox row delivers: an alert, or a digest of alerts.
enum Item {
    Alert(Box<Alert>),
    Digest(crate::outputs::Digest),
}

impl Item {
    /// The item of the row `seq` for `alert_id`; `None` when what it names is gone.
    fn load(state: &State, alert_id: &str, seq: i64) -> Result<Option<Item>, StateError> {
        Ok(if alert_id.starts_with(crate::state::DIGEST_PREFIX) {
            state.digest(seq)?.map(|d| {
                Item::Digest(crate::outputs::Digest {
                    from: d.from,
                    to: d.to,
                    alerts: d.alerts,
                })
            })
        } else {
            state.alert(alert_id)?.map(|a| Item::Alert(Box::new(a)))
        })
    }

    fn deliver(&self, output: &mut dyn Output) -> Result<(), crate::outputs::DeliveryError> {
        match self {
            Item::Alert(alert) => output.deliver(alert),
            Item::Digest(digest) => output.deliver_digest(digest),
        }
    }

    /// How logs name it.
    fn shown(&self) -> String {
        match self {
            Item::Alert(alert) => format!("alert {}", alert.id),
            Item::Digest(d) => format!("the digest of {} to {}", d.from, d.to),
        }
    }
}

/// Delivers `alert` now to `route`, without an outbox (for `scan` without `--state`): a few
/// quick retries of a transient failure, then the failure is returned; a permanent one is
/// returned at once. The caller checks the route's filter.
pub fn deliver_now(route: &mut Route, alert: &Alert) -> Result<(), OutboxError> {
    let mut last = None;
    for attempt in 0..3 {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(500 << attempt));
        }
        match route.output.deliver(alert) {
            Ok(()) => return Ok(()),
            Err(e) => {
                let permanent = e.is_permanent();
                last = Some(e);
                if permanent {
                    break;
                }
            }
        }
    }
    Err(OutboxError::NotDelivered {
        output: route.name().to_string(),
        alert: alert.id.clone(),
        source: last.expect("an attempt failed"),
    })
}

/// Makes the state know the outputs of `routes` — their names, and, once after an upgrade, the
/// queues they had under their names ([`State::adopt_outputs`]) — and says what was carried
/// over or left waiting. For each start with a config (and each reload), before delivering.
pub fn adopt(state: &State, routes: &[Route]) -> Result<(), StateError> {
    let outputs: Vec<OutputIdentity> = routes
        .iter()
        .map(|r| OutputIdentity {
            key: &r.key,
            legacy_key: &r.legacy_key,
            name: r.name(),
        })
        .collect();
    let adopted = state.adopt_outputs(&outputs)?;
    for (name, rows) in adopted.carried {
        tracing::info!("output {name}: carried over its queue ({rows} deliveries) to its new key");
    }
    for old in adopted.ambiguous {
        tracing::warn!(
            "queue {old:?} is not carried over: more outputs were named so than the config has now, and which one it belonged to cannot be told; it stays queued under that name"
        );
    }
    Ok(())
}

/// The queues with pending deliveries that none of `routes` delivers: outputs removed from
/// the config, or changed (a webhook's URL or token): each with its last name.
pub fn orphans(state: &State, routes: &[Route]) -> Result<Vec<Queue>, StateError> {
    let mut queues = state.pending_outputs()?;
    queues.retain(|q| !routes.iter().any(|r| r.key == q.key));
    Ok(queues)
}
