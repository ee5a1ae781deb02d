//! Delivery: recorded alerts → outputs, through the state store's outbox.
//!
//! The model is Vector's: an alert is first recorded together with one outbox row per output
//! that accepts it (see [`State::record_alert`]); then each output's own thread delivers its
//! rows oldest first. A failed delivery stays at the head of that output's queue and is retried
//! with exponential backoff and jitter — for days by default — so each output sees alerts in
//! the order they were raised, and one slow or failing output never delays the others. Rows
//! live in SQLite, so deliveries survive restarts: delivery is at least once, and receivers
//! drop repeats by the alert's stable `id` (a repeat happens only when the process stopped
//! between a delivery and its record).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use crate::outputs::{DeliveryError, Filter, Output, Route};
use crate::state::{OutputIdentity, Queue, State, StateError, now_ms};
use newswatch_engine::alert::Alert;

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
    /// A delivery still failing this long after its first attempt is given up (and shown as
    /// failed by `newswatch alerts`).
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
    routes: Vec<(String, Filter)>,
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

/// Delivers what is due in `key`'s queue, oldest first, until the queue is empty, its head
/// must wait for a retry, or `stop` is set. Logs name the output by `output.name()`.
pub fn drain(
    state: &State,
    key: &str,
    output: &mut dyn Output,
    policy: &RetryPolicy,
    stop: &AtomicBool,
) -> Result<Drained, StateError> {
    let name = output.name().to_string();
    loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(Drained::Stopped);
        }
        let Some(head) = state.next_delivery(key)? else {
            return Ok(Drained::Empty);
        };
        let now = now_ms();
        if head.next_try_ms > now {
            return Ok(Drained::WaitingUntil(head.next_try_ms));
        }
        let Some(alert) = state.alert(&head.alert_id)? else {
            state.given_up(head.seq, "the alert is missing from the state store")?;
            continue;
        };
        match output.deliver(&alert) {
            Ok(()) => {
                state.delivered(head.seq)?;
                if head.attempts > 0 {
                    tracing::info!(
                        "output {name}: delivered alert {} after {} failed attempts",
                        alert.id,
                        head.attempts
                    );
                }
            }
            Err(e) => {
                let attempts = head.attempts + 1;
                let age =
                    Duration::from_millis((now - head.first_try_ms.unwrap_or(now)).max(0) as u64);
                if age >= policy.give_up_after {
                    tracing::error!(
                        "output {name}: giving up on alert {} after {attempts} attempts over {age:?}: {e}",
                        alert.id
                    );
                    state.given_up(head.seq, &e.to_string())?;
                    continue;
                }
                let wait = policy.backoff(attempts);
                if attempts <= 3 || attempts % 10 == 0 {
                    tracing::warn!(
                        "output {name}: delivery of alert {} failed (attempt {attempts}): {e}; retrying in {:.1}s",
                        alert.id,
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

/// The running delivery threads, one per output.
pub struct Outbox {
    targets: Targets,
    wakers: Vec<SyncSender<()>>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Outbox {
    /// Starts one delivery thread per route, each with its own connection to the state at
    /// `state_path`. Deliveries queued before (by an earlier run) start right away.
    pub fn start(
        state_path: &Path,
        routes: Vec<Route>,
        policy: RetryPolicy,
    ) -> Result<Outbox, OutboxError> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut targets = Targets::default();
        let mut wakers = Vec::new();
        let mut threads = Vec::new();
        for route in routes {
            let state = State::open(state_path)?;
            let (tx, rx) = mpsc::sync_channel(1);
            targets.routes.push((route.key.clone(), route.filter));
            let (key, output, policy, stop) =
                (route.key, route.output, policy.clone(), stop.clone());
            threads.push(
                std::thread::Builder::new()
                    .name(format!("newswatch-output-{}", wakers.len()))
                    .spawn(move || deliver_forever(state, key, output, policy, stop, rx))
                    .map_err(OutboxError::Thread)?,
            );
            wakers.push(tx);
        }
        Ok(Outbox {
            targets,
            wakers,
            stop,
            threads,
        })
    }

    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    /// Tells every output thread that new deliveries are queued.
    pub fn wake(&self) {
        for w in &self.wakers {
            let _ = w.try_send(());
        }
    }

    /// Asks the threads to stop after the delivery in hand, and waits until `deadline` for
    /// them to record it: a delivery made and not recorded would be made again by the next
    /// start. Returns whether every thread stopped in time; one still delivering then (a slow
    /// receiver, a long command) is left to finish or die with the process, and its alert is
    /// delivered again next time. Anything undelivered stays queued for the next start.
    pub fn stop(&mut self, deadline: Instant) -> bool {
        self.stop.store(true, Ordering::SeqCst);
        self.wake();
        while Instant::now() < deadline && !self.threads.iter().all(|t| t.is_finished()) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let stopped = self.threads.iter().all(|t| t.is_finished());
        // Joined only when finished: a thread still delivering is not waited for.
        for t in std::mem::take(&mut self.threads) {
            if t.is_finished() {
                let _ = t.join();
            }
        }
        stopped
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake();
    }
}

fn deliver_forever(
    state: State,
    key: String,
    mut output: Box<dyn Output>,
    policy: RetryPolicy,
    stop: Arc<AtomicBool>,
    wake: Receiver<()>,
) {
    loop {
        let wait = match drain(&state, &key, output.as_mut(), &policy, &stop) {
            Ok(Drained::Stopped) => return,
            Ok(Drained::Empty) => Duration::from_secs(60),
            Ok(Drained::WaitingUntil(due)) => Duration::from_millis((due - now_ms()).max(1) as u64),
            Err(e) => {
                tracing::error!("output {}: {e}", output.name());
                Duration::from_secs(5)
            }
        };
        match wake.recv_timeout(wait) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Delivers `alert` now to `route`, without an outbox (for `scan` without `--state`): a few
/// quick retries, then the failure is returned. The caller checks the route's filter.
pub fn deliver_now(route: &mut Route, alert: &Alert) -> Result<(), OutboxError> {
    let mut last = None;
    for attempt in 0..3 {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(500 << attempt));
        }
        match route.output.deliver(alert) {
            Ok(()) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    Err(OutboxError::NotDelivered {
        output: route.name().to_string(),
        alert: alert.id.clone(),
        source: last.expect("three attempts failed"),
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
