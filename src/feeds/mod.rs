//! Feeds: a source of the pipeline, like the watched folders. newswatch polls the feeds of the
//! config (`feeds:`, OPML files included) itself, politely, and hands on what each poll brought:
//! the feed's items as articles (ingested from the response's bytes by the engine, `source` the
//! feed's title, `path` the item's link), or that nothing changed, or why the poll failed —
//! with what to record of the feed (validators, next poll, failures).
//!
//! What is done with the items — deduplication, rules, recording, delivery — is the business of
//! whoever started the poller: the daemon (`watch`) or `newswatch fetch`. Nothing here writes
//! the state; the feed rows it starts from and hands back are plain data.
//!
//! - `opml` reads the feed lists of feed readers;
//! - `http` makes one conditional GET;
//! - `schedule` says when a feed is polled next (every, server hints, backoff, jitter);
//! - `poller` runs the polls on a small pool, at most [`PER_HOST`] at a time per host.

mod http;
mod opml;
mod poller;
mod schedule;

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use crate::Error;
use crate::config::{Config, FeedEntry, FirstPoll, check_feed_url};
use crate::metrics::{FeedFetch, Metrics};
use crate::state::{FeedPoll, FeedRow};
use newswatch_engine::Article;
use newswatch_engine::article::IngestOptions;

pub use poller::{Poller, poll_once};

/// Requests at a time to one host (scheme, name and port), at most.
pub const PER_HOST: usize = 2;

/// A feed to poll, as the config resolves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Feed {
    /// Its URL as the config gives it: its key in the state.
    pub key: String,
    /// What logs call it: the URL as written (secrets in `${VAR}` unexpanded).
    pub shown: String,
    /// Its name in the OPML file it comes from, until the feed gives its own title.
    pub title: Option<String>,
    pub every: Duration,
    pub first_poll: FirstPoll,
    pub timeout: Duration,
    pub max_size: u64,
}

/// One poll, done: what to record of the feed, and what it brought.
#[derive(Debug)]
pub struct Polled {
    pub feed: Feed,
    /// No poll of this feed had succeeded before: `first_poll` applies to its items.
    pub first: bool,
    /// The feed's items, when the poll read the feed (not when it was unchanged or failed).
    pub articles: Option<Vec<Article>>,
    /// What to record of the feed.
    pub poll: FeedPoll,
}

/// The feeds of `config`, OPML files read: each URL once (the first entry listing it wins).
/// Errors name the OPML file, line and column.
pub fn resolve(config: &Config) -> Result<Vec<Feed>, Error> {
    let (feeds, problems) = resolve_all(config);
    match problems.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(feeds),
    }
}

/// [`resolve`], with every problem (for `check`). Relative OPML paths are read from the
/// current folder, like every path of the config.
pub fn resolve_all(config: &Config) -> (Vec<Feed>, Vec<Error>) {
    let mut feeds = Vec::new();
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    let mut add = |feed: Feed, feeds: &mut Vec<Feed>| {
        if seen.insert(feed.key.clone()) {
            feeds.push(feed);
        }
    };
    for entry in &config.feeds {
        let settings = |url: &str, shown: String, title: Option<String>| Feed {
            key: url.to_string(),
            shown,
            title,
            every: entry.every.unwrap_or(config.feed_defaults.every),
            first_poll: entry.first_poll.unwrap_or(config.feed_defaults.first_poll),
            timeout: entry.timeout.unwrap_or(config.feed_defaults.timeout),
            max_size: entry.max_size.unwrap_or(config.feed_defaults.max_size),
        };
        if let Some(url) = &entry.url {
            let shown = entry.url_as_written.clone().unwrap_or_else(|| url.clone());
            add(settings(url, shown, None), &mut feeds);
        }
        if let Some(path) = &entry.opml {
            match read_opml(entry, path) {
                Ok(outlines) => {
                    for o in outlines {
                        add(settings(&o.url, o.url.clone(), o.title), &mut feeds);
                    }
                }
                Err(e) => problems.push(e),
            }
        }
    }
    (feeds, problems)
}

/// The feeds an OPML file lists; one with an address that is not a feed's is left out, said.
fn read_opml(entry: &FeedEntry, path: &Path) -> Result<Vec<opml::Outline>, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::ConfigUnreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let outlines = opml::parse(&text).map_err(|e| Error::Config {
        path: path.to_path_buf(),
        line: e.line,
        column: e.column,
        message: format!("{} (listed in feeds: as opml: {:?})", e.message, entry.opml),
    })?;
    Ok(outlines
        .into_iter()
        .filter(|o| match check_feed_url(&o.url) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!("{}: left out: {e}", path.display());
                false
            }
        })
        .collect())
}

/// Polls `feed` once as `row` (the state's record of it) says — from its current address,
/// with its validators — and reads the feed out of the answer. `next` turns a wait into when
/// the next poll is due (Unix ms), jitter included.
pub fn poll(
    client: &http::Client,
    feed: Feed,
    row: &FeedRow,
    metrics: &Metrics,
    next: impl FnOnce(Result<Duration, Duration>) -> i64,
) -> Polled {
    let polled_ms = crate::state::now_ms();
    let answer = client.get(&http::Asked {
        url: &row.url,
        etag: row.etag.as_deref(),
        last_modified: row.last_modified.as_deref(),
        timeout: feed.timeout,
        max_size: feed.max_size,
    });
    let first = row.last_ok_ms.is_none();
    let mut poll = FeedPoll {
        key: feed.key.clone(),
        url: row.url.clone(),
        title: None,
        etag: row.etag.clone(),
        last_modified: row.last_modified.clone(),
        next_poll_ms: 0,
        failures: 0,
        polled_ms,
        ok: false,
        status: answer.status,
        error: None,
    };
    let mut articles = None;
    let mut hints = schedule::Hints {
        max_age: answer.max_age,
        ..schedule::Hints::default()
    };
    let read = match answer.body {
        http::Body::Fetched(bytes) => match ingest(&bytes, answer.content_type.as_deref(), &feed) {
            Ok(items) => {
                hints.ttl = http::rss_ttl(&bytes);
                poll.title = items.iter().find_map(|a| a.source.clone());
                (poll.etag, poll.last_modified) = (answer.etag, answer.last_modified);
                articles = Some(items);
                metrics.feed_fetch(FeedFetch::Fetched);
                Ok(())
            }
            // Read in full next time: what these validators stand for was never read.
            Err(e) => {
                (poll.etag, poll.last_modified) = (None, None);
                Err(e)
            }
        },
        http::Body::NotModified => {
            metrics.feed_fetch(FeedFetch::NotModified);
            poll.etag = answer.etag.or(poll.etag);
            poll.last_modified = answer.last_modified.or(poll.last_modified);
            Ok(())
        }
        http::Body::Failed(why) => Err(why),
    };
    match read {
        Ok(()) => {
            poll.ok = true;
            if let Some(to) = answer.moved_to {
                tracing::info!(
                    "feed {}: moved permanently to {to}: polled there from now on",
                    feed.shown
                );
                poll.url = to;
            }
            poll.next_poll_ms = next(Ok(schedule::after_success(feed.every, hints)));
        }
        Err(why) => {
            metrics.feed_fetch(FeedFetch::Failed);
            fail(&mut poll, &feed, row, why, answer.retry_after, next);
        }
    }
    Polled {
        feed,
        first,
        articles,
        poll,
    }
}

/// A poll that failed for `why`, with a backoff.
fn fail(
    poll: &mut FeedPoll,
    feed: &Feed,
    row: &FeedRow,
    why: String,
    retry_after: Option<Duration>,
    next: impl FnOnce(Result<Duration, Duration>) -> i64,
) {
    poll.failures = row.failures.saturating_add(1);
    let wait = schedule::after_failure(feed.every, poll.failures, retry_after);
    tracing::warn!(
        "feed {}: {why} ({} failure(s) in a row; next try in {}s)",
        feed.shown,
        poll.failures,
        wait.as_secs()
    );
    poll.ok = false;
    poll.error = Some(why);
    poll.next_poll_ms = next(Err(wait));
}

/// A poll of `feed` that failed before it could say more (an internal error), for `why`.
fn failed(
    feed: Feed,
    row: &FeedRow,
    why: String,
    next: impl FnOnce(Result<Duration, Duration>) -> i64,
) -> Polled {
    let mut poll = FeedPoll {
        key: feed.key.clone(),
        url: row.url.clone(),
        polled_ms: crate::state::now_ms(),
        ..FeedPoll::default()
    };
    fail(&mut poll, &feed, row, why, None, next);
    Polled {
        first: row.last_ok_ms.is_none(),
        feed,
        articles: None,
        poll,
    }
}

/// The feed's items as articles: `path` is the item's link (the feed's address without one),
/// `source` the feed's title (its OPML name, else its address, without one).
fn ingest(bytes: &[u8], content_type: Option<&str>, feed: &Feed) -> Result<Vec<Article>, String> {
    let json = content_type.is_some_and(|t| t.contains("json"))
        || bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let name = if json { "feed.json" } else { "feed.xml" };
    let parsed =
        newswatch_engine::article::ingest_with(bytes, Path::new(name), &IngestOptions::default())
            .map_err(|e| {
            let e = e.to_string();
            let e = e.strip_prefix(&format!("{name}: ")).unwrap_or(&e);
            format!("not a feed that can be read: {e}")
        })?;
    for warning in &parsed.warnings {
        tracing::warn!("feed {}: {warning}", feed.shown);
    }
    let fallback = feed.title.clone().unwrap_or_else(|| feed.shown.clone());
    Ok(parsed
        .articles
        .into_iter()
        .map(|mut a| {
            a.path = Some(a.url.clone().unwrap_or_else(|| feed.key.clone()));
            a.source.get_or_insert_with(|| fallback.clone());
            a
        })
        .collect())
}
