//! The delivery threads: one per output, kept in a registry keyed by the output's identity
//! (the key of its queue), so that no queue is ever delivered by two threads at once.
//!
//! A reload (SIGHUP) does not stop and restart the outputs: it hands each running thread the
//! output built from the new config, which the thread takes between two deliveries — a
//! delivery in hand, however slow, finishes first, and is recorded before the next starts.
//! An output the new config no longer has is asked to stop after its delivery in hand and is
//! left to finish; if the config brings it back before it has, the same thread takes it up
//! again. Only once a thread has returned does a new one start for its queue.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Drained, OutboxError, RetryPolicy, Targets, Unrecorded, drain_with};
use crate::metrics::{DeliveryResult, Metrics};
use crate::outputs::{DeliveryError, Digest, Output, Route};
use crate::state::{State, now_ms};
use newswatch_engine::alert::Alert;

/// How often an output's thread with nothing to deliver looks at its queue again.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// The running delivery threads, one per output, and which outputs accept which alerts.
pub struct Outbox {
    state_path: PathBuf,
    targets: Targets,
    /// By queue key: the outputs of the config, and those of earlier configs still finishing
    /// a delivery.
    workers: HashMap<String, Worker>,
    /// Threads started so far, to number their names.
    started: usize,
    metrics: Arc<Metrics>,
}

/// One output's delivery thread.
struct Worker {
    control: Arc<Control>,
    thread: JoinHandle<()>,
}

/// How the outbox talks to a delivery thread.
struct Control {
    /// Stop after the delivery in hand (read between deliveries).
    stop: AtomicBool,
    mailbox: Mutex<Mailbox>,
    bell: Condvar,
}

#[derive(Default)]
struct Mailbox {
    /// The output as a reload built it, to take before the next delivery.
    next: Option<(Box<dyn Output>, RetryPolicy)>,
    /// New deliveries are queued.
    woken: bool,
    /// The thread has returned, or is returning: it takes nothing more.
    exited: bool,
}

impl Control {
    fn mailbox(&self) -> MutexGuard<'_, Mailbox> {
        self.mailbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn ring(&self, f: impl FnOnce(&mut Mailbox)) {
        f(&mut self.mailbox());
        self.bell.notify_all();
    }
}

impl Outbox {
    /// Starts one delivery thread per route, each with its own connection to the state at
    /// `state_path`. Deliveries queued before (by an earlier run) start right away.
    pub fn start(
        state_path: &Path,
        routes: Vec<Route>,
        policy: RetryPolicy,
        metrics: Arc<Metrics>,
    ) -> Result<Outbox, OutboxError> {
        let mut outbox = Outbox {
            state_path: state_path.to_path_buf(),
            targets: Targets::default(),
            workers: HashMap::new(),
            started: 0,
            metrics,
        };
        outbox.reconfigure(routes, policy)?;
        Ok(outbox)
    }

    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    /// Makes the outputs those of `routes` (a reload): each running output's thread is handed
    /// its new build, taken after its delivery in hand; outputs that are new get a thread;
    /// those left out stop after their delivery in hand. An output whose thread cannot start
    /// is left undelivered (its alerts stay queued), and the first such error is returned
    /// once every other output is in place.
    pub fn reconfigure(
        &mut self,
        routes: Vec<Route>,
        policy: RetryPolicy,
    ) -> Result<(), OutboxError> {
        // Threads that returned (outputs left out earlier) are done with.
        self.workers.retain(|_, w| !w.thread.is_finished());
        let keys: Vec<&String> = routes.iter().map(|r| &r.key).collect();
        for (key, worker) in &self.workers {
            if !keys.contains(&key) {
                worker.control.stop.store(true, Ordering::SeqCst);
                worker.control.ring(|_| {});
            }
        }
        let mut targets = Targets::default();
        let mut first_error = None;
        for route in routes {
            targets.routes.push((route.key.clone(), route.filter));
            let output = match self.workers.get(&route.key) {
                Some(worker) => {
                    let mut mailbox = worker.control.mailbox();
                    if mailbox.exited {
                        Some(route.output)
                    } else {
                        // Taken up again if it was asked to stop: still one thread per queue.
                        worker.control.stop.store(false, Ordering::SeqCst);
                        mailbox.next = Some((route.output, policy.clone()));
                        mailbox.woken = true;
                        drop(mailbox);
                        worker.control.bell.notify_all();
                        None
                    }
                }
                None => Some(route.output),
            };
            if let Some(output) = output
                && let Err(e) = self.spawn(route.key, output, policy.clone())
            {
                first_error.get_or_insert(e);
            }
        }
        self.targets = targets;
        first_error.map_or(Ok(()), Err)
    }

    /// Starts the thread of the queue `key`. The one it replaces, if any, has returned.
    fn spawn(
        &mut self,
        key: String,
        output: Box<dyn Output>,
        policy: RetryPolicy,
    ) -> Result<(), OutboxError> {
        let state = State::open(&self.state_path)?;
        let control = Arc::new(Control {
            stop: AtomicBool::new(false),
            mailbox: Mutex::new(Mailbox::default()),
            bell: Condvar::new(),
        });
        let thread = std::thread::Builder::new()
            .name(format!("newswatch-output-{}", self.started))
            .spawn({
                let (key, control, metrics) = (key.clone(), control.clone(), self.metrics.clone());
                move || deliver_forever(state, key, output, policy, control, &metrics)
            })
            .map_err(OutboxError::Thread)?;
        self.started += 1;
        if let Some(old) = self.workers.insert(key, Worker { control, thread }) {
            let _ = old.thread.join();
        }
        Ok(())
    }

    /// Tells every output thread that new deliveries are queued.
    pub fn wake(&self) {
        for w in self.workers.values() {
            w.control.ring(|m| m.woken = true);
        }
    }

    /// Asks the threads to stop after the delivery in hand, and waits until `deadline` for
    /// them to record it: a delivery made and not recorded would be made again by the next
    /// start. Returns whether every thread stopped in time; one still delivering then (a slow
    /// receiver, a long command) is left to finish or die with the process, and its alert is
    /// delivered again next time. Anything undelivered stays queued for the next start.
    pub fn stop(&mut self, deadline: Instant) -> bool {
        for w in self.workers.values() {
            w.control.stop.store(true, Ordering::SeqCst);
            w.control.ring(|_| {});
        }
        let finished = |o: &Outbox| o.workers.values().all(|w| w.thread.is_finished());
        while Instant::now() < deadline && !finished(self) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let stopped = finished(self);
        // Joined only when finished: a thread still delivering is not waited for.
        self.workers.retain(|_, w| !w.thread.is_finished());
        stopped
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        for w in self.workers.values() {
            w.control.stop.store(true, Ordering::SeqCst);
            w.control.ring(|_| {});
        }
    }
}

/// An output's thread: delivers its queue whenever woken or due, takes a new build of its
/// output between deliveries, and returns once asked to stop (and not taken up again).
fn deliver_forever(
    state: State,
    key: String,
    mut output: Box<dyn Output>,
    mut policy: RetryPolicy,
    control: Arc<Control>,
    metrics: &Metrics,
) {
    let mut unrecorded = Unrecorded::default();
    let mut wait = Duration::ZERO;
    loop {
        {
            let until = Instant::now() + wait;
            let mut mailbox = control.mailbox();
            loop {
                if mailbox.woken || mailbox.next.is_some() || control.stop.load(Ordering::SeqCst) {
                    break;
                }
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                mailbox = control
                    .bell
                    .wait_timeout(mailbox, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            mailbox.woken = false;
            if control.stop.load(Ordering::SeqCst) {
                // Under the lock: a reload either took it up again before this, or sees it
                // gone and starts another thread.
                mailbox.exited = true;
                metrics.output_gone(output.name());
                return;
            }
            if let Some((new, new_policy)) = mailbox.next.take() {
                if new.name() != output.name() {
                    metrics.output_gone(output.name()); // renamed: its gauge goes by the new name
                }
                output = new;
                policy = new_policy;
            }
        }
        let mut counted = Counted {
            output: output.as_mut(),
            metrics,
        };
        let drained = drain_with(
            &state,
            &key,
            &mut counted,
            &policy,
            &control.stop,
            &mut unrecorded,
        );
        if let Ok(pending) = state.pending(&key) {
            metrics.outbox_pending(output.name(), pending);
        }
        wait = match drained {
            // Stopped or taken up again: the mailbox says which.
            Ok(Drained::Stopped) => Duration::ZERO,
            // Looked at again each second though nothing woke it: a `scan --state` on this
            // state queues alerts for the daemon to deliver (it leaves delivery to the lock's
            // holder), and only the state tells of them. One indexed query a second.
            Ok(Drained::Empty) => IDLE_POLL,
            Ok(Drained::WaitingUntil(due)) => Duration::from_millis((due - now_ms()).max(1) as u64),
            Err(e) => {
                tracing::error!("output {}: {e}", output.name());
                Duration::from_secs(5)
            }
        };
    }
}

/// An output whose delivery attempts are counted in the metrics, by what each came to.
struct Counted<'a> {
    output: &'a mut dyn Output,
    metrics: &'a Metrics,
}

impl Counted<'_> {
    /// Counts a delivery by its result, and passes the result on.
    fn count(&self, delivered: Result<(), DeliveryError>) -> Result<(), DeliveryError> {
        let result = match &delivered {
            Ok(()) => DeliveryResult::Delivered,
            Err(e) if e.is_permanent() => DeliveryResult::Failed,
            Err(_) => DeliveryResult::TransientFailure,
        };
        self.metrics.delivery(self.output.name(), result);
        delivered
    }
}

impl Output for Counted<'_> {
    fn name(&self) -> &str {
        self.output.name()
    }

    fn deliver(&mut self, alert: &Alert) -> Result<(), DeliveryError> {
        let delivered = self.output.deliver(alert);
        self.count(delivered)
    }

    fn deliver_digest(&mut self, digest: &Digest) -> Result<(), DeliveryError> {
        let delivered = self.output.deliver_digest(digest);
        self.count(delivered)
    }

    fn digest_schedule(&self) -> Option<&crate::outputs::Schedule> {
        self.output.digest_schedule()
    }
}
