//! The poller: one scheduling thread that knows when each feed is due, and a small pool of
//! threads that make the polls. The scheduler hands a due feed to an idle thread only while its
//! host has fewer than [`PER_HOST`] polls running, so one slow or busy host never takes more;
//! a `Retry-After` or backoff delays only the feed it was given for. Each poll's result goes to
//! the consumer's channel as a [`Polled`]; the scheduler learns the feed's new record from the
//! thread that made it, so the next poll uses the new validators and address at once.
//!
//! Two modes: the daemon's, polling each feed again when due until stopped (the feed list can be
//! replaced meanwhile, on SIGHUP); and [`poll_once`], for `newswatch fetch`, polling each feed
//! once now unless a backoff or a `Retry-After` is in force.

use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::http::Client;
use super::schedule::{self, Jitter};
use super::{Feed, PER_HOST, Polled};
use crate::metrics::Metrics;
use crate::state::{FeedPoll, FeedRow, now_ms};

/// Polls at a time, over all hosts.
const THREADS: usize = 8;

/// The longest the scheduler sleeps without looking at its feeds.
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// What the scheduler is told.
enum Control {
    /// The feeds are now these (SIGHUP), with the state's records of them.
    Feeds(Vec<Feed>, HashMap<String, FeedRow>),
    /// What a poll of `key` brought could not be recorded: ask in full next time, and treat
    /// the next success as the first again if this one was.
    Unsure {
        key: String,
        first: bool,
    },
    /// A poll is done (from a poll thread).
    Done(Box<Done>),
    Stop,
}

struct Done {
    key: String,
    host: String,
    poll: FeedPoll,
}

/// A poll to make (for a poll thread).
struct Job {
    feed: Feed,
    row: FeedRow,
    host: String,
}

/// One feed as the scheduler keeps it.
struct Entry {
    feed: Feed,
    row: FeedRow,
    /// When it is polled next (Unix ms).
    due_ms: i64,
    busy: bool,
    /// Polled (once mode): not again.
    finished: bool,
}

/// The daemon's poller; dropping it stops the scheduling (polls in hand finish on their own).
pub struct Poller {
    control: Sender<Control>,
}

impl Poller {
    /// Starts polling `feeds` (each from its record in `rows`, if any), sending each poll's
    /// result to `sink`.
    pub fn start(
        feeds: Vec<Feed>,
        rows: HashMap<String, FeedRow>,
        sink: Sender<Polled>,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Poller> {
        let (control, inbox) = mpsc::channel();
        let mut scheduler = Scheduler::new(control.clone(), sink, metrics, false)?;
        scheduler.set(feeds, rows);
        std::thread::Builder::new()
            .name("newswatch-feeds".into())
            .spawn(move || scheduler.run(&inbox))?;
        Ok(Poller { control })
    }

    /// Polls these feeds from now on: new ones soon, removed ones no more, edited ones with
    /// their new settings (a shorter `every` applies at once).
    pub fn reconfigure(&self, feeds: Vec<Feed>, rows: HashMap<String, FeedRow>) {
        let _ = self.control.send(Control::Feeds(feeds, rows));
    }

    /// The result of a poll of `key` could not be recorded: its validators are dropped (the
    /// next poll reads the feed in full, and its items are evaluated then).
    pub fn unsure(&self, key: String, first: bool) {
        let _ = self.control.send(Control::Unsure { key, first });
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        let _ = self.control.send(Control::Stop);
    }
}

/// What [`poll_once`] did.
pub struct Once {
    /// Feeds polled.
    pub polled: usize,
    /// Feeds not polled, with when they may be (Unix ms): a backoff after failures or a
    /// `Retry-After` is in force.
    pub held: Vec<(Feed, i64)>,
}

/// Polls each of `feeds` once, now — except those whose record says a backoff or a
/// `Retry-After` is in force — sending each result to `sink`; returns once all are done.
pub fn poll_once(
    feeds: Vec<Feed>,
    rows: HashMap<String, FeedRow>,
    sink: Sender<Polled>,
    metrics: Arc<Metrics>,
) -> std::io::Result<Once> {
    let (control, inbox) = mpsc::channel();
    let mut scheduler = Scheduler::new(control, sink, metrics, true)?;
    let now = now_ms();
    let mut held = Vec::new();
    let (ready, waiting): (Vec<Feed>, Vec<Feed>) = feeds.into_iter().partition(|f| {
        rows.get(&f.key)
            .is_none_or(|r| r.failures == 0 || r.next_poll_ms <= now)
    });
    for feed in waiting {
        let until = rows[&feed.key].next_poll_ms;
        held.push((feed, until));
    }
    let polled = ready.len();
    scheduler.set(ready, rows);
    for entry in scheduler.entries.values_mut() {
        entry.due_ms = now;
    }
    scheduler.run(&inbox);
    Ok(Once { polled, held })
}

struct Scheduler {
    entries: HashMap<String, Entry>,
    /// Polls running per host.
    hosts: HashMap<String, usize>,
    idle: usize,
    jobs: Option<Sender<Job>>,
    jitter: Jitter,
    once: bool,
}

impl Scheduler {
    fn new(
        control: Sender<Control>,
        sink: Sender<Polled>,
        metrics: Arc<Metrics>,
        once: bool,
    ) -> std::io::Result<Scheduler> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let client = Client::new();
        for i in 0..THREADS {
            let (queue, client, control, sink, metrics) = (
                queue.clone(),
                client.clone(),
                control.clone(),
                sink.clone(),
                metrics.clone(),
            );
            std::thread::Builder::new()
                .name(format!("newswatch-feed-{i}"))
                .stack_size(16 << 20)
                .spawn(move || serve(&queue, &client, &control, &sink, &metrics))?;
        }
        Ok(Scheduler {
            entries: HashMap::new(),
            hosts: HashMap::new(),
            idle: THREADS,
            jobs: Some(jobs),
            jitter: Jitter::new(),
            once,
        })
    }

    /// Makes `feeds` the feeds polled, keeping what is known of those already polled.
    fn set(&mut self, feeds: Vec<Feed>, mut rows: HashMap<String, FeedRow>) {
        let now = now_ms();
        let mut entries = HashMap::with_capacity(feeds.len());
        for feed in feeds {
            let key = feed.key.clone();
            let entry = match self.entries.remove(&key) {
                Some(mut e) => {
                    e.feed = feed;
                    e.due_ms = e.due_ms.min(self.regular_due(&e.feed, &e.row));
                    e
                }
                None => {
                    let row = rows.remove(&key).unwrap_or_else(|| FeedRow {
                        url: key.clone(),
                        key: key.clone(),
                        ..FeedRow::default()
                    });
                    let due = if row.next_poll_ms > now {
                        row.next_poll_ms.min(self.regular_due(&feed, &row))
                    } else {
                        let spread = schedule::start_spread(feed.every, self.jitter.next());
                        now + spread.as_millis() as i64
                    };
                    Entry {
                        feed,
                        row,
                        due_ms: due,
                        busy: false,
                        finished: false,
                    }
                }
            };
            entries.insert(key, entry);
        }
        self.entries = entries;
    }

    /// When a feed that is not failing is due by its `every` (which may have been shortened
    /// since its next poll was set); a failing one keeps its backoff.
    fn regular_due(&self, feed: &Feed, row: &FeedRow) -> i64 {
        match row.last_poll_ms {
            Some(last) if row.failures == 0 => last + feed.every.as_millis() as i64,
            _ => i64::MAX,
        }
    }

    fn run(&mut self, inbox: &Receiver<Control>) {
        loop {
            let now = now_ms();
            self.dispatch(now);
            if self.once && self.entries.values().all(|e| e.finished) {
                return;
            }
            let next = self
                .entries
                .values()
                .filter(|e| !e.busy && !e.finished)
                .map(|e| e.due_ms)
                .min()
                .unwrap_or(i64::MAX);
            let wait = Duration::from_millis((next - now).clamp(0, 1000) as u64).min(LOOK_EVERY);
            match inbox.recv_timeout(wait) {
                Ok(Control::Done(done)) => self.done(*done),
                Ok(Control::Feeds(feeds, rows)) => self.set(feeds, rows),
                Ok(Control::Unsure { key, first }) => {
                    if let Some(e) = self.entries.get_mut(&key) {
                        (e.row.etag, e.row.last_modified) = (None, None);
                        if first {
                            e.row.last_ok_ms = None;
                        }
                    }
                }
                Ok(Control::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }

    /// Hands the feeds that are due, earliest first, to idle threads, as their hosts allow.
    fn dispatch(&mut self, now: i64) {
        if self.idle == 0 {
            return;
        }
        let mut due: Vec<(i64, String)> = self
            .entries
            .iter()
            .filter(|(_, e)| !e.busy && !e.finished && e.due_ms <= now)
            .map(|(k, e)| (e.due_ms, k.clone()))
            .collect();
        due.sort();
        for (_, key) in due {
            if self.idle == 0 {
                return;
            }
            let entry = self.entries.get_mut(&key).expect("listed above");
            let host = host_of(&entry.row.url);
            let running = self.hosts.entry(host.clone()).or_default();
            if *running >= PER_HOST {
                continue;
            }
            let job = Job {
                feed: entry.feed.clone(),
                row: entry.row.clone(),
                host,
            };
            let Some(jobs) = &self.jobs else { return };
            if jobs.send(job).is_err() {
                self.jobs = None;
                return;
            }
            *running += 1;
            self.idle -= 1;
            entry.busy = true;
        }
    }

    fn done(&mut self, done: Done) {
        self.idle += 1;
        if let Some(n) = self.hosts.get_mut(&done.host) {
            *n = n.saturating_sub(1);
        }
        let Some(entry) = self.entries.get_mut(&done.key) else {
            return; // left the config meanwhile
        };
        entry.busy = false;
        entry.finished = self.once;
        let (row, p) = (&mut entry.row, done.poll);
        row.url = p.url;
        row.title = p.title.or(row.title.take());
        (row.etag, row.last_modified) = (p.etag, p.last_modified);
        row.next_poll_ms = p.next_poll_ms;
        row.failures = p.failures;
        row.last_poll_ms = Some(p.polled_ms);
        if p.ok {
            row.last_ok_ms = Some(p.polled_ms);
        }
        row.last_status = p.status;
        row.last_error = p.error;
        entry.due_ms = p.next_poll_ms;
    }
}

/// A poll thread: polls the jobs it is given, sends each result to `sink` and tells the
/// scheduler the feed's new record.
fn serve(
    queue: &Mutex<Receiver<Job>>,
    client: &Client,
    control: &Sender<Control>,
    sink: &Sender<Polled>,
    metrics: &Metrics,
) {
    let mut jitter = Jitter::new();
    loop {
        let job = match queue.lock() {
            Ok(q) => q.recv(),
            Err(_) => return,
        };
        let Ok(Job { feed, row, host }) = job else {
            return;
        };
        let key = feed.key.clone();
        let copy = feed.clone();
        let mut next = |wait: Result<Duration, Duration>| {
            let wait = match wait {
                Ok(w) => schedule::success_jitter(w, jitter.next()),
                Err(w) => schedule::failure_jitter(w, jitter.next()),
            };
            now_ms() + wait.as_millis() as i64
        };
        // A bug in a parser must cost one poll of one feed, not the thread (nor, for
        // `fetch`, the whole run waiting for it).
        let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            super::poll(client, feed, &row, metrics, &mut next)
        }))
        .unwrap_or_else(|panic| {
            let why = format!(
                "internal error while reading it ({}); please report this feed",
                crate::panic_message(&panic)
            );
            super::failed(copy, &row, why, &mut next)
        });
        let poll = polled.poll.clone();
        // The consumer gone (stopping): the scheduler still frees the thread and the host.
        let _ = sink.send(polled);
        let done = Done { key, host, poll };
        if control.send(Control::Done(Box::new(done))).is_err() {
            return;
        }
    }
}

/// The host a poll of `url` is counted against: its scheme, name and port.
fn host_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        authority.to_ascii_lowercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_scheme_name_and_port() {
        assert_eq!(
            host_of("http://A.example:8080/x?y"),
            "http://a.example:8080"
        );
        assert_eq!(host_of("https://u:p@b.example/f"), "https://b.example");
        assert_ne!(host_of("http://a/x"), host_of("https://a/x"));
    }
}
