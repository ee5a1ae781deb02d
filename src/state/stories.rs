//! The index of recent stories: which story an article that raised alerts belongs to.
//!
//! Each article that raises an alert is looked up here by its [`Fingerprint`] (computed by
//! the engine): an earlier article with the same canonical URL, feed guid or content, or whose
//! text is similar enough ([`Fingerprint::same_story`]), gives it its story; otherwise it
//! starts one, named by its own id. The article is then added (unless its very content is
//! there already). Only articles seen within `stories.window` count, and older rows are
//! deleted: the index holds the stories of one window, never the whole history.
//!
//! The rows live in the `stories` table (about 330 bytes each: the 256-byte signature, the
//! story id, the hash, the keys); lookups go through an in-memory index of their bands and
//! exact keys, loaded on first use and brought up to date from the table when another
//! connection has committed since (`PRAGMA data_version` says so: a `scan --state` beside a
//! daemon), with one indexed query for the rows added since. The alerts of one article share
//! one lookup. A lookup and its insert cost a few microseconds, whatever the number of
//! stories in the window.

use std::cell::RefCell;
use std::time::Duration;

use rusqlite::params;
use rustc_hash::FxHashMap;

use super::{State, StateError};
use newswatch_engine::story::Fingerprint;

/// The default of `stories.window`.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(7 * 86_400);

/// How often, at most, rows older than the window are deleted.
const PRUNE_EVERY_MS: i64 = 10 * 60 * 1000;

/// Story grouping of one open state: its window, and the in-memory index once loaded.
pub(crate) struct Stories {
    /// `stories.window`: zero turns grouping off.
    window: Duration,
    index: RefCell<Option<Index>>,
}

impl Default for Stories {
    fn default() -> Stories {
        Stories {
            window: DEFAULT_WINDOW,
            index: RefCell::new(None),
        }
    }
}

/// The `stories` rows of the window, indexed by band and exact key.
#[derive(Default)]
struct Index {
    /// The last row read from the table.
    last_seq: i64,
    pruned_ms: i64,
    entries: FxHashMap<i64, Entry>,
    bands: FxHashMap<u64, Vec<i64>>,
    keys: FxHashMap<u64, Vec<i64>>,
    /// `PRAGMA data_version` when the table was last read: it changes only when another
    /// connection commits, so while it stays the same there is nothing new to read.
    data_version: Option<i64>,
    /// The fingerprint last looked up (its address, as the alerts of one article share it,
    /// and its content) and its story: the alerts of one article are recorded one after
    /// another, and all but the first find their story here.
    last: Option<(usize, String, String)>,
}

struct Entry {
    story: String,
    seen_ms: i64,
    fingerprint: Fingerprint,
}

impl Index {
    fn add(&mut self, seq: i64, entry: Entry) {
        for band in entry.fingerprint.bands() {
            self.bands.entry(band).or_default().push(seq);
        }
        for key in entry.fingerprint.exact_keys() {
            self.keys.entry(key).or_default().push(seq);
        }
        self.last_seq = self.last_seq.max(seq);
        self.entries.insert(seq, entry);
    }

    /// Forgets entries seen before `since_ms`.
    fn prune(&mut self, since_ms: i64) {
        self.entries.retain(|_, e| e.seen_ms >= since_ms);
        let entries = &self.entries;
        for map in [&mut self.bands, &mut self.keys] {
            map.retain(|_, seqs| {
                seqs.retain(|s| entries.contains_key(s));
                !seqs.is_empty()
            });
        }
    }

    /// The story of the entry `fingerprint` is a copy of, if any, and whether one has its very
    /// content: an exact key first, else the most similar text.
    fn find(&self, fingerprint: &Fingerprint, since_ms: i64) -> (Option<&str>, bool) {
        let alive = |seq: &i64| self.entries.get(seq).filter(|e| e.seen_ms >= since_ms);
        let mut same_content = false;
        let mut exact: Option<&Entry> = None;
        for key in fingerprint.exact_keys() {
            for entry in self.keys.get(&key).into_iter().flatten().filter_map(alive) {
                let f = &entry.fingerprint;
                same_content |= f.sha256() == fingerprint.sha256();
                let equal = f.sha256() == fingerprint.sha256()
                    || (f.url().is_some() && f.url() == fingerprint.url())
                    || (f.guid().is_some() && f.guid() == fingerprint.guid());
                if equal && exact.is_none_or(|e| entry.seen_ms < e.seen_ms) {
                    exact = Some(entry);
                }
            }
        }
        if let Some(entry) = exact {
            return (Some(&entry.story), same_content);
        }
        let mut best: Option<(f64, &Entry)> = None;
        for band in fingerprint.bands() {
            for entry in self
                .bands
                .get(&band)
                .into_iter()
                .flatten()
                .filter_map(alive)
            {
                let s = entry.fingerprint.similarity(fingerprint);
                if s >= newswatch_engine::story::SAME_STORY
                    && best.is_none_or(|(b, e)| s > b || (s == b && entry.seen_ms < e.seen_ms))
                {
                    best = Some((s, entry));
                }
            }
        }
        (best.map(|(_, e)| e.story.as_str()), false)
    }
}

impl State {
    /// Groups copies of a story over `window` (`stories.window`); zero turns grouping off:
    /// every alert is then of its article's own story, and none is a duplicate.
    pub fn set_story_window(&mut self, window: Duration) {
        self.stories.window = window;
    }

    /// The window stories are grouped over; zero when grouping is off.
    pub fn story_window(&self) -> Duration {
        self.stories.window
    }

    /// The story `fingerprint` belongs to — a recent copy's, else its own id — with the
    /// article added to the index. In the caller's transaction.
    pub(super) fn story_of(
        &self,
        fingerprint: &Fingerprint,
        now_ms: i64,
    ) -> Result<String, StateError> {
        let e = |e| self.error(e);
        let since_ms = now_ms - self.stories.window.as_millis().min(i64::MAX as u128) as i64;
        let mut slot = self.stories.index.borrow_mut();
        let index = slot.get_or_insert_with(Index::default);
        if now_ms - index.pruned_ms >= PRUNE_EVERY_MS {
            self.conn
                .prepare_cached("DELETE FROM stories WHERE seen_ms < ?1")
                .and_then(|mut st| st.execute([since_ms]))
                .map_err(e)?;
            index.prune(since_ms);
            index.pruned_ms = now_ms;
        }
        let address = std::ptr::from_ref(fingerprint) as usize;
        if let Some((at, sha256, story)) = &index.last
            && *at == address
            && sha256 == fingerprint.sha256()
        {
            return Ok(story.clone());
        }
        let version = self
            .conn
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut st| st.query_row([], |r| r.get::<_, i64>(0)))
            .map_err(e)?;
        if index.data_version != Some(version) {
            self.load_stories(index, since_ms)?;
            index.data_version = Some(version);
        }
        let (found, same_content) = index.find(fingerprint, since_ms);
        let story = found.map_or_else(|| fingerprint.id(), str::to_string);
        if !same_content {
            self.conn
                .prepare_cached(
                    "INSERT INTO stories (story, seen_ms, sha256, url, guid, signature)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .and_then(|mut st| {
                    st.execute(params![
                        story,
                        now_ms,
                        fingerprint.sha256(),
                        fingerprint.url(),
                        fingerprint.guid(),
                        fingerprint.signature_bytes()
                    ])
                })
                .map_err(e)?;
            let seq = self.conn.last_insert_rowid();
            let entry = Entry {
                story: story.clone(),
                seen_ms: now_ms,
                fingerprint: fingerprint.clone(),
            };
            index.add(seq, entry);
        }
        index.last = Some((address, fingerprint.sha256().to_string(), story.clone()));
        Ok(story)
    }

    /// Reads the rows of the window added since the index last looked (by any process).
    fn load_stories(&self, index: &mut Index, since_ms: i64) -> Result<(), StateError> {
        let e = |e| self.error(e);
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT seq, story, seen_ms, sha256, url, guid, signature FROM stories
                 WHERE seq > ?1 AND seen_ms >= ?2 ORDER BY seq",
            )
            .map_err(e)?;
        let mut rows = st.query(params![index.last_seq, since_ms]).map_err(e)?;
        while let Some(r) = rows.next().map_err(e)? {
            let seq: i64 = r.get(0).map_err(e)?;
            let signature: Vec<u8> = r.get(6).map_err(e)?;
            let fingerprint = Fingerprint::from_parts(
                &signature,
                r.get(4).map_err(e)?,
                r.get(5).map_err(e)?,
                r.get(3).map_err(e)?,
            );
            index.last_seq = index.last_seq.max(seq);
            if let Some(fingerprint) = fingerprint {
                let entry = Entry {
                    story: r.get(1).map_err(e)?,
                    seen_ms: r.get(2).map_err(e)?,
                    fingerprint,
                };
                index.add(seq, entry);
            }
        }
        Ok(())
    }

    /// Drops the in-memory index: a transaction that added rows was rolled back, so it may hold
    /// stories the table does not. The next lookup loads it again.
    pub(super) fn forget_story_index(&self) {
        self.stories.index.borrow_mut().take();
    }

    /// How many stories the index holds, and the bytes their rows take in the table.
    #[cfg(test)]
    fn story_rows(&self) -> Result<(u64, u64), StateError> {
        self.conn
            .query_row(
                "SELECT count(*), coalesce(sum(length(story) + length(sha256) + coalesce(length(url), 0)
                     + coalesce(length(guid), 0) + length(signature) + 16), 0) FROM stories",
                [],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
            )
            .map_err(|e| self.error(e))
    }
}

/// Schema step: the stories table, the story and `duplicate_of` of each alert, and digests.
pub(super) const MIGRATION: &str = "
    CREATE TABLE IF NOT EXISTS stories (
        seq INTEGER PRIMARY KEY,
        story TEXT NOT NULL,
        seen_ms INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        url TEXT,
        guid TEXT,
        signature BLOB NOT NULL
    );
    CREATE INDEX IF NOT EXISTS stories_by_time ON stories(seen_ms);
    ALTER TABLE alerts ADD COLUMN story TEXT;
    ALTER TABLE alerts ADD COLUMN duplicate_of TEXT;
    CREATE INDEX IF NOT EXISTS alerts_by_story ON alerts(rule, story, time)
        WHERE duplicate_of IS NULL;
    CREATE INDEX IF NOT EXISTS alerts_by_first ON alerts(duplicate_of)
        WHERE duplicate_of IS NOT NULL;
    CREATE TABLE IF NOT EXISTS digests (
        seq INTEGER PRIMARY KEY,
        output TEXT NOT NULL,
        from_ms INTEGER NOT NULL,
        to_ms INTEGER NOT NULL,
        alerts TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS digests_by_output ON digests(output, to_ms);";

#[cfg(test)]
mod tests {
    use super::*;
    use newswatch_engine::Article;

    /// `n` articles of about 300 words drawn from a vocabulary of 5,000 made-up words: each
    /// its own story.
    fn articles(n: usize) -> Vec<Article> {
        let mut x: u64 = 7;
        let mut word = move || {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            format!("w{}", (x >> 33) % 5000)
        };
        (0..n)
            .map(|i| {
                let body: Vec<String> = (0..300).map(|_| word()).collect();
                Article::new(format!("story {i}"), body.join(" "))
            })
            .collect()
    }

    #[test]
    fn copies_join_the_first_story_and_others_start_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = State::open(&dir.path().join("s.db")).unwrap();
        let arts = articles(3);
        let fp = |a: &Article| Fingerprint::of(a);
        let first = state.story_of(&fp(&arts[0]), 1_000).unwrap();
        assert_eq!(first, fp(&arts[0]).id());
        let mut copy = arts[0].clone();
        copy.title = "another headline".into();
        copy.body.push_str(" and a footer added by the site");
        assert_eq!(state.story_of(&fp(&copy), 2_000).unwrap(), first);
        assert_ne!(state.story_of(&fp(&arts[1]), 3_000).unwrap(), first);
        // Seen again within the window: the same; the index is read back by another process.
        let other = State::open(&dir.path().join("s.db")).unwrap();
        assert_eq!(other.story_of(&fp(&copy), 4_000).unwrap(), first);
        // Past the window, a copy starts a story of its own.
        state.set_story_window(Duration::from_secs(1));
        assert_eq!(
            state.story_of(&fp(&copy), 4_000 + PRUNE_EVERY_MS).unwrap(),
            fp(&copy).id()
        );
        let (rows, _) = state.story_rows().unwrap();
        assert_eq!(rows, 1, "rows out of the window are deleted");
    }

    #[test]
    fn stories_another_process_adds_are_seen_and_one_articles_alerts_share_one_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(&dir.path().join("s.db")).unwrap();
        let arts = articles(2);
        let first = Fingerprint::of(&arts[0]);
        state.story_of(&first, 1_000).unwrap();
        // Another connection (a `scan --state` beside the daemon) starts a story the daemon's
        // index, already loaded, has not read.
        let other = State::open(&dir.path().join("s.db")).unwrap();
        let theirs = other.story_of(&Fingerprint::of(&arts[1]), 2_000).unwrap();
        let mut copy = arts[1].clone();
        copy.title = "another headline".into();
        assert_eq!(
            state.story_of(&Fingerprint::of(&copy), 3_000).unwrap(),
            theirs
        );
        // The alerts of one article: the second lookup neither reads nor adds a row.
        let copy_fp = Fingerprint::of(&copy);
        let (rows, _) = state.story_rows().unwrap();
        let story = state.story_of(&copy_fp, 4_000).unwrap();
        assert_eq!(state.story_of(&copy_fp, 4_001).unwrap(), story);
        assert_eq!(state.story_rows().unwrap().0, rows);
    }

    /// The cost of the index: `cargo test --release --bin newswatch -- --ignored story_costs
    /// --nocapture`.
    #[test]
    #[ignore]
    fn story_costs() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = State::open(&dir.path().join("s.db")).unwrap();
        let arts = articles(10_000);
        let start = std::time::Instant::now();
        let fps: Vec<Fingerprint> = arts.iter().map(Fingerprint::of).collect();
        let fingerprint = start.elapsed();
        let start = std::time::Instant::now();
        state
            .batch(|s| {
                for (i, f) in fps.iter().enumerate() {
                    s.story_of(f, 1_000 + i as i64)?;
                }
                Ok(())
            })
            .unwrap();
        let index = start.elapsed();
        let (rows, bytes) = state.story_rows().unwrap();
        let n = arts.len() as f64;
        println!(
            "fingerprint {:.1} µs/article, index lookup+insert {:.1} µs/article, {} bytes/story in the table ({rows} stories)",
            fingerprint.as_secs_f64() * 1e6 / n,
            index.as_secs_f64() * 1e6 / n,
            bytes / rows.max(1)
        );
    }
}
