//! A parallel map whose results are consumed in input order: the engine under `scan`.
//!
//! `scan` must print alerts in input order (the same output from run to run, whatever the
//! thread count) while every core reads and evaluates articles. Evaluating in batches with a
//! barrier after each leaves cores idle at every barrier; handing each result to a printing
//! thread costs a wake-up, and on a small machine a context switch, per article. Here workers
//! take items one at a time, in order, from a shared cursor; the worker that completes the
//! oldest outstanding item consumes it — and every later one already done — then goes back to
//! work. Nobody waits on anybody in the common case.
//!
//! Because items are taken in order, the results waiting for their turn are bounded: a worker
//! does not take item `i` until item `i - window` has been consumed. Memory stays flat
//! whatever the number of items, and one slow item holds up at most `window` others.

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// What takes the results. Called by one worker at a time, in item order.
pub(crate) trait Consumer<T, R> {
    /// Called with each item's result, in item order. [`ControlFlow::Break`] stops the map:
    /// items not yet taken are never worked on, and results not yet consumed are dropped.
    fn consume(&mut self, item: &T, result: R) -> ControlFlow<()>;

    /// Called when every result ready has been consumed but items remain in the workers'
    /// hands — after every item that completes while an older one is still being worked on:
    /// a moment to flush output, if it has been a while. Stops the map like `consume` does.
    fn idle(&mut self) -> ControlFlow<()>;
}

/// How the work is spread.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Workers {
    /// Worker threads; 0 for one per core.
    pub threads: usize,
    /// Items taken but not yet consumed, at most.
    pub window: usize,
    /// Stack size of each worker: parsers of deeply nested input recurse.
    pub stack_size: usize,
}

/// The state the workers share, under one lock taken twice per item.
struct Shared<R> {
    /// The next item to hand out.
    next: usize,
    /// Items consumed so far: `next` stays less than `window` ahead.
    consumed: usize,
    /// Items whose results left `ready` for the consumer (consumed, or being consumed).
    handed: usize,
    /// Results of items `handed..`, by position; `None` while still being worked on.
    ready: VecDeque<Option<R>>,
    /// Whether a worker is consuming: results are consumed by one worker at a time.
    consuming: bool,
    /// Set when the consumer stops early, or a worker panics: workers take nothing more.
    stopped: bool,
    /// Workers waiting for the window to move.
    waiting: usize,
}

/// Runs `work` on every item on `workers.threads` threads and hands each result to
/// `consumer`, in item order. Each thread calls `init` once for its own state (a scanner, say),
/// which `work` gets with each item.
///
/// Returns whether every item was consumed (false if the consumer stopped the map), or an
/// error if no worker thread could be started. A panic in `work` or `consumer` is passed on
/// to the caller once the other workers have stopped.
pub(crate) fn map_in_order<T, S, R, C>(
    items: &[T],
    workers: Workers,
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, &T) -> R + Sync,
    consumer: &mut C,
) -> std::io::Result<bool>
where
    T: Sync,
    R: Send,
    C: Consumer<T, R> + Send,
{
    let run = Run {
        items,
        window: workers.window.max(1),
        shared: Mutex::new(Shared {
            next: 0,
            consumed: 0,
            handed: 0,
            ready: VecDeque::new(),
            consuming: false,
            stopped: false,
            waiting: 0,
        }),
        moved: Condvar::new(),
        consumer: Mutex::new(consumer),
    };
    let threads = match workers.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    std::thread::scope(|scope| {
        let mut handles = Vec::new();
        let mut failure = None;
        for _ in 0..threads {
            let spawned = std::thread::Builder::new()
                .name("newswatch-scan".into())
                .stack_size(workers.stack_size)
                .spawn_scoped(scope, || run.worker(&mut init(), &work));
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(e) => failure = Some(e),
            }
        }
        if handles.is_empty() {
            return Err(failure.unwrap_or_else(|| std::io::Error::other("no worker thread")));
        }
        for handle in handles {
            // The worker's own panic, not the scope's "a scoped thread panicked".
            if let Err(panic) = handle.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Ok(())
    })?;
    let shared = run.lock();
    Ok(!shared.stopped && shared.consumed == items.len())
}

/// One map in progress.
struct Run<'a, T, R, C> {
    items: &'a [T],
    window: usize,
    shared: Mutex<Shared<R>>,
    /// Signalled when the window moves or the map stops.
    moved: Condvar,
    /// Only locked by the worker that set `consuming`: never contended.
    consumer: Mutex<&'a mut C>,
}

impl<T, R, C: Consumer<T, R>> Run<'_, T, R, C> {
    fn lock(&self) -> MutexGuard<'_, Shared<R>> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn worker<S>(&self, state: &mut S, work: &impl Fn(&mut S, &T) -> R) {
        let _stop_others_on_panic = StopOnPanic(self);
        let mut shared = self.lock();
        loop {
            while !shared.stopped
                && shared.next < self.items.len()
                && shared.next >= shared.consumed + self.window
            {
                shared.waiting += 1;
                shared = self
                    .moved
                    .wait(shared)
                    .unwrap_or_else(PoisonError::into_inner);
                shared.waiting -= 1;
            }
            if shared.stopped || shared.next >= self.items.len() {
                return;
            }
            let i = shared.next;
            shared.next += 1;
            drop(shared);

            let result = work(state, &self.items[i]);

            shared = self.lock();
            let slot = i - shared.handed;
            if shared.ready.len() <= slot {
                shared.ready.resize_with(slot + 1, || None);
            }
            shared.ready[slot] = Some(result);
            // With an older item still out, this only tells the consumer it is idle.
            if !shared.consuming {
                shared = self.consume(shared);
            }
        }
    }

    /// Consumes every result ready from the oldest on, and those that become ready meanwhile.
    fn consume<'s>(&'s self, mut shared: MutexGuard<'s, Shared<R>>) -> MutexGuard<'s, Shared<R>> {
        shared.consuming = true;
        let mut consumer = self.consumer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut batch = Vec::new();
        loop {
            while let Some(Some(_)) = shared.ready.front() {
                batch.extend(shared.ready.pop_front().flatten());
            }
            if batch.is_empty() {
                let more = shared.handed < self.items.len() && !shared.stopped;
                drop(shared);
                let flow = if more {
                    consumer.idle()
                } else {
                    ControlFlow::Continue(())
                };
                shared = self.lock();
                if flow.is_break() {
                    self.stop(&mut shared);
                }
                // Ready meanwhile: another worker left it to us.
                if matches!(shared.ready.front(), Some(Some(_))) && !shared.stopped {
                    continue;
                }
                shared.consuming = false;
                return shared;
            }
            let first = shared.handed;
            shared.handed += batch.len();
            drop(shared);
            let mut flow = ControlFlow::Continue(());
            for (k, result) in batch.drain(..).enumerate() {
                if flow.is_continue() {
                    flow = consumer.consume(&self.items[first + k], result);
                }
            }
            shared = self.lock();
            shared.consumed = shared.handed;
            if shared.waiting > 0 {
                self.moved.notify_all();
            }
            if flow.is_break() {
                self.stop(&mut shared);
                shared.consuming = false;
                return shared;
            }
        }
    }

    fn stop(&self, shared: &mut Shared<R>) {
        shared.stopped = true;
        self.moved.notify_all();
    }
}

/// Stops every worker when one panics: the others would wait forever for the lost item.
struct StopOnPanic<'r, 'a, T, R, C>(&'r Run<'a, T, R, C>);

impl<T, R, C> Drop for StopOnPanic<'_, '_, T, R, C> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let run = self.0;
            run.shared
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .stopped = true;
            run.moved.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// A consumer from a closure; counts its idle calls.
    struct Each<F>(F, usize);

    impl<T, R, F: FnMut(&T, R) -> ControlFlow<()>> Consumer<T, R> for Each<F> {
        fn consume(&mut self, item: &T, result: R) -> ControlFlow<()> {
            (self.0)(item, result)
        }

        fn idle(&mut self) -> ControlFlow<()> {
            self.1 += 1;
            ControlFlow::Continue(())
        }
    }

    const WORKERS: Workers = Workers {
        threads: 4,
        window: 8,
        stack_size: 1 << 20,
    };

    #[test]
    fn results_come_in_input_order() {
        let items: Vec<usize> = (0..500).collect();
        let mut seen = Vec::new();
        let done = map_in_order(
            &items,
            WORKERS,
            || (),
            |_, &i| {
                // Early items finish last.
                if i % 7 == 0 {
                    std::thread::sleep(Duration::from_micros(200));
                }
                i * 2
            },
            &mut Each(
                |&i: &usize, r| {
                    assert_eq!(r, i * 2);
                    seen.push(i);
                    ControlFlow::Continue(())
                },
                0,
            ),
        )
        .unwrap();
        assert!(done);
        assert_eq!(seen, items);
    }

    #[test]
    fn workers_never_run_more_than_a_window_ahead() {
        let items: Vec<usize> = (0..200).collect();
        let taken = AtomicUsize::new(0);
        let consumed = AtomicUsize::new(0);
        map_in_order(
            &items,
            WORKERS,
            || (),
            |_, _| {
                let t = taken.fetch_add(1, Ordering::SeqCst) + 1;
                assert!(t <= consumed.load(Ordering::SeqCst) + WORKERS.window);
            },
            &mut Each(
                |_: &usize, ()| {
                    // A slow consumer: workers must wait for it, not pile results up.
                    std::thread::sleep(Duration::from_micros(100));
                    consumed.fetch_add(1, Ordering::SeqCst);
                    ControlFlow::Continue(())
                },
                0,
            ),
        )
        .unwrap();
        assert_eq!(taken.load(Ordering::SeqCst), items.len());
    }

    #[test]
    fn break_stops_the_workers() {
        let items: Vec<usize> = (0..10_000).collect();
        let worked = AtomicUsize::new(0);
        let mut consumed = 0;
        let done = map_in_order(
            &items,
            WORKERS,
            || (),
            |_, _| worked.fetch_add(1, Ordering::SeqCst),
            &mut Each(
                |&i: &usize, _| {
                    consumed += 1;
                    if i == 10 {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                },
                0,
            ),
        )
        .unwrap();
        assert!(!done);
        assert_eq!(consumed, 11);
        // Read ahead at most the window, plus what each worker took before it saw the stop.
        let bound = 11 + WORKERS.window + WORKERS.threads;
        assert!(worked.load(Ordering::SeqCst) <= bound);
    }

    #[test]
    fn no_items_is_done_at_once() {
        let items: [u8; 0] = [];
        let mut each = Each(|_: &u8, ()| ControlFlow::Continue(()), 0);
        assert!(map_in_order(&items, WORKERS, || (), |_, _| (), &mut each).unwrap());
    }

    #[test]
    fn a_consumer_kept_waiting_is_told() {
        // The first item is done long before the others.
        let items: Vec<usize> = (0..3).collect();
        let mut each = Each(|_: &usize, ()| ControlFlow::Continue(()), 0);
        let slow = |_: &mut (), &i: &usize| {
            if i > 0 {
                std::thread::sleep(Duration::from_millis(50));
            }
        };
        assert!(map_in_order(&items, WORKERS, || (), slow, &mut each).unwrap());
        assert!(each.1 >= 1, "idle never called");
    }

    #[test]
    #[should_panic(expected = "boom")]
    fn a_panic_in_work_reaches_the_caller() {
        let items: Vec<usize> = (0..100).collect();
        let _ = map_in_order(
            &items,
            WORKERS,
            || (),
            |_, &i| {
                if i == 50 {
                    panic!("boom");
                }
            },
            &mut Each(|_: &usize, ()| ControlFlow::Continue(()), 0),
        );
    }
}
