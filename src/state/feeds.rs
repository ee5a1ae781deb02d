//! Feeds in the state: one row per feed of the config (where it is polled now, its validators,
//! when it is polled next, its health), and the items seen, by content.
//!
//! A feed is keyed by its URL as the config gives it; `url` is where it is polled now, which a
//! permanent redirect changes. Items are keyed by their content hash (the article's SHA-256 of
//! title and body) and the feed they were seen in: an item already seen, in any feed, is not
//! evaluated again. Items that left their feed are forgotten after [`ITEMS_KEPT`], so the table
//! holds what feeds carry, not every item ever read. The poll's row and its items are written
//! in the daemon's transaction with the alerts they raised: validators are never recorded for
//! items that were not.

use rusqlite::{OptionalExtension, params};

use super::{State, StateError, bounded};

/// Schema 9.
pub(super) const MIGRATION: &str = "CREATE TABLE IF NOT EXISTS feeds (
         key TEXT PRIMARY KEY,
         url TEXT NOT NULL,
         title TEXT,
         etag TEXT,
         last_modified TEXT,
         next_poll_ms INTEGER NOT NULL DEFAULT 0,
         failures INTEGER NOT NULL DEFAULT 0,
         last_poll_ms INTEGER,
         last_ok_ms INTEGER,
         last_status INTEGER,
         last_error TEXT,
         items_seen INTEGER NOT NULL DEFAULT 0,
         active INTEGER NOT NULL DEFAULT 1
     );
     CREATE TABLE IF NOT EXISTS feed_items (
         sha256 TEXT NOT NULL,
         feed TEXT NOT NULL,
         seen_ms INTEGER NOT NULL,
         PRIMARY KEY (sha256, feed)
     );
     CREATE INDEX IF NOT EXISTS feed_items_by_feed ON feed_items(feed, seen_ms);";

/// How long an item no longer in its feed is remembered (90 days).
const ITEMS_KEPT: i64 = 90 * 86_400_000;

/// A feed as the state knows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeedRow {
    /// The URL as the config gives it.
    pub key: String,
    /// Where it is polled now (after permanent redirects).
    pub url: String,
    pub title: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// When it is polled next (Unix ms): after a failure, the backoff or `Retry-After` in force.
    pub next_poll_ms: i64,
    /// Failed polls in a row; 0 since the last success.
    pub failures: u32,
    pub last_poll_ms: Option<i64>,
    pub last_ok_ms: Option<i64>,
    /// The HTTP status of the last poll (none: no answer).
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    /// Items this feed brought that the state had not seen in it before.
    pub items_seen: u64,
    /// In the config (as the last daemon or `fetch` read it).
    pub active: bool,
}

/// What one poll leaves of a feed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeedPoll {
    pub key: String,
    pub url: String,
    /// The feed's title, when this poll read one.
    pub title: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub next_poll_ms: i64,
    pub failures: u32,
    pub polled_ms: i64,
    /// The poll succeeded (read, or not modified).
    pub ok: bool,
    pub status: Option<u16>,
    pub error: Option<String>,
}

impl State {
    /// Every feed the state knows (none in a state older than feeds).
    pub fn feeds(&self) -> Result<Vec<FeedRow>, StateError> {
        if !self.has_table("feeds")? {
            return Ok(Vec::new());
        }
        self.conn
            .prepare(
                "SELECT key, url, title, etag, last_modified, next_poll_ms, failures,
                     last_poll_ms, last_ok_ms, last_status, last_error, items_seen, active
                 FROM feeds ORDER BY coalesce(title, key), key",
            )
            .and_then(|mut st| {
                st.query_map([], |r| {
                    Ok(FeedRow {
                        key: r.get(0)?,
                        url: r.get(1)?,
                        title: r.get(2)?,
                        etag: r.get(3)?,
                        last_modified: r.get(4)?,
                        next_poll_ms: r.get(5)?,
                        failures: r.get::<_, i64>(6)?.clamp(0, u32::MAX as i64) as u32,
                        last_poll_ms: r.get(7)?,
                        last_ok_ms: r.get(8)?,
                        last_status: r.get::<_, Option<i64>>(9)?.map(|s| s as u16),
                        last_error: r.get(10)?,
                        items_seen: r.get::<_, i64>(11)?.max(0) as u64,
                        active: r.get(12)?,
                    })
                })?
                .collect()
            })
            .map_err(|e| self.error(e))
    }

    /// Makes the state's feeds those of the config, `(key, url)` each: new ones are added
    /// (never polled), those that left the config are kept (their items stay seen, should they
    /// come back) but no longer active.
    pub fn sync_feeds(&mut self, feeds: &[(String, String)]) -> Result<(), StateError> {
        self.batch(|s| {
            let e = |e| s.error(e);
            s.conn
                .execute("UPDATE feeds SET active = 0", [])
                .map_err(e)?;
            for (key, url) in feeds {
                s.conn
                    .prepare_cached(
                        "INSERT INTO feeds (key, url) VALUES (?1, ?2)
                         ON CONFLICT(key) DO UPDATE SET active = 1",
                    )
                    .and_then(|mut st| st.execute(params![key, url]))
                    .map_err(e)?;
            }
            Ok(())
        })
    }

    /// Records what a poll of a feed came to.
    pub fn record_poll(&self, p: &FeedPoll) -> Result<(), StateError> {
        let error = p.error.as_deref().map(bounded);
        self.conn
            .prepare_cached(
                "INSERT INTO feeds (key, url, title, etag, last_modified, next_poll_ms, failures,
                     last_poll_ms, last_ok_ms, last_status, last_error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, CASE WHEN ?9 THEN ?8 END, ?10, ?11)
                 ON CONFLICT(key) DO UPDATE SET url = ?2, title = coalesce(?3, title),
                     etag = ?4, last_modified = ?5, next_poll_ms = ?6, failures = ?7,
                     last_poll_ms = ?8, last_ok_ms = CASE WHEN ?9 THEN ?8 ELSE last_ok_ms END,
                     last_status = ?10, last_error = ?11, active = 1",
            )
            .and_then(|mut st| {
                st.execute(params![
                    p.key,
                    p.url,
                    p.title,
                    p.etag,
                    p.last_modified,
                    p.next_poll_ms,
                    p.failures,
                    p.polled_ms,
                    p.ok,
                    p.status,
                    error,
                ])
            })
            .map(drop)
            .map_err(|e| self.error(e))
    }

    /// Whether an item of this content (its SHA-256) was seen in any feed.
    pub fn item_seen(&self, sha256: &str) -> Result<bool, StateError> {
        self.conn
            .prepare_cached("SELECT 1 FROM feed_items WHERE sha256 = ?1 LIMIT 1")
            .and_then(|mut st| st.query_row([sha256], |_| Ok(())).optional())
            .map(|found| found.is_some())
            .map_err(|e| self.error(e))
    }

    /// Records the items `feed` holds now (their SHA-256s), at `now_ms`; forgets its items
    /// not seen for [`ITEMS_KEPT`]. Returns how many it had not held before.
    pub fn record_items(
        &self,
        feed: &str,
        items: &[String],
        now_ms: i64,
    ) -> Result<usize, StateError> {
        let e = |e| self.error(e);
        let mut new = 0;
        for sha in items {
            let held: Option<i64> = self
                .conn
                .prepare_cached("SELECT 1 FROM feed_items WHERE sha256 = ?1 AND feed = ?2")
                .and_then(|mut st| st.query_row([sha, feed], |r| r.get(0)).optional())
                .map_err(e)?;
            let sql = if held.is_some() {
                "UPDATE feed_items SET seen_ms = ?3 WHERE sha256 = ?1 AND feed = ?2"
            } else {
                new += 1;
                "INSERT INTO feed_items (sha256, feed, seen_ms) VALUES (?1, ?2, ?3)"
            };
            self.conn
                .prepare_cached(sql)
                .and_then(|mut st| st.execute(params![sha, feed, now_ms]))
                .map_err(e)?;
        }
        self.conn
            .prepare_cached("DELETE FROM feed_items WHERE feed = ?1 AND seen_ms < ?2")
            .and_then(|mut st| st.execute(params![feed, now_ms - ITEMS_KEPT]))
            .map_err(e)?;
        if new > 0 {
            self.conn
                .prepare_cached("UPDATE feeds SET items_seen = items_seen + ?2 WHERE key = ?1")
                .and_then(|mut st| st.execute(params![feed, new as i64]))
                .map_err(e)?;
        }
        Ok(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_and_items_are_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = State::open(&dir.path().join("s.db")).unwrap();
        state
            .sync_feeds(&[("http://a/f".into(), "http://a/f".into())])
            .unwrap();
        let poll = FeedPoll {
            key: "http://a/f".into(),
            url: "http://b/f".into(),
            title: Some("A".into()),
            etag: Some("\"1\"".into()),
            next_poll_ms: 5,
            polled_ms: 3,
            ok: true,
            status: Some(200),
            ..FeedPoll::default()
        };
        state.record_poll(&poll).unwrap();
        let items = ["x".to_string(), "y".to_string()];
        assert_eq!(state.record_items("http://a/f", &items, 10).unwrap(), 2);
        assert_eq!(state.record_items("http://a/f", &items, 11).unwrap(), 0);
        assert!(state.item_seen("x").unwrap());
        assert!(!state.item_seen("z").unwrap());
        // A failure keeps the title and when it last succeeded.
        let failed = FeedPoll {
            title: None,
            failures: 1,
            polled_ms: 20,
            ok: false,
            status: Some(500),
            error: Some("HTTP 500".into()),
            ..poll.clone()
        };
        state.record_poll(&failed).unwrap();
        let rows = state.feeds().unwrap();
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(
            (r.url.as_str(), r.title.as_deref(), r.failures, r.items_seen),
            ("http://b/f", Some("A"), 1, 2)
        );
        assert_eq!(
            (r.last_poll_ms, r.last_ok_ms, r.last_status),
            (Some(20), Some(3), Some(500))
        );
        assert!(r.active);
        state.sync_feeds(&[]).unwrap();
        assert!(!state.feeds().unwrap()[0].active, "left the config");
        // Items gone from the feed for long are forgotten.
        state
            .record_items("http://a/f", &["y".to_string()], 11 + ITEMS_KEPT + 1)
            .unwrap();
        assert!(!state.item_seen("x").unwrap());
        assert!(state.item_seen("y").unwrap());
    }
}
