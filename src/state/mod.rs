//! The state store: a SQLite file recording the files evaluated, the alerts raised (so an alert
//! id is delivered once), the outbox of deliveries still to make and the silences.
//!
//! `scan --state` and the daemon share it. The database runs in WAL mode with
//! `synchronous=NORMAL`, which survives a crash of the process. Its schema is versioned with
//! `PRAGMA user_version` and migrated forward on open; a file that is not a newswatch database
//! is refused with an error naming it, never replaced.

use std::path::{Path, PathBuf};

mod alerts;
mod digests;
mod feeds;
mod heartbeat;
pub mod lock;
mod mend;
mod outbox;
mod silences;
mod stories;
mod summary;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OptionalExtension, params};

pub use alerts::{History, Recorded, Throttle};
pub use digests::DIGEST_PREFIX;
pub use feeds::{FeedPoll, FeedRow};
pub use heartbeat::{Counters, Heartbeat, broken_rule_names};
pub use mend::QueuedDelivery;
pub(crate) use outbox::now_ms;
pub use outbox::{Delivery, DeliveryStatus, OutputIdentity, Queue};
pub use silences::{NewSilence, Silence, Silences};
pub use stories::DEFAULT_WINDOW as DEFAULT_STORY_WINDOW;
pub use summary::{OutputSummary, SilenceSummary};

/// Errors of the state store; each names the database file.
#[derive(Debug, thiserror::Error)]
#[error("state {}: {message}", path.display())]
pub struct StateError {
    pub path: PathBuf,
    pub message: String,
}

/// Schema migrations, in order; the database's `user_version` counts those applied.
const MIGRATIONS: &[&str] = &[
    // 1: alerts, keyed by their stable id, with the whole alert as JSON.
    "CREATE TABLE alerts (
         id TEXT PRIMARY KEY,
         time TEXT NOT NULL,
         rule TEXT NOT NULL,
         severity TEXT NOT NULL,
         json TEXT NOT NULL
     );
     CREATE INDEX alerts_by_time ON alerts(time);
     CREATE INDEX alerts_by_rule ON alerts(rule, time);",
    // 2: files the daemon has evaluated, to catch up on changes after a restart.
    "CREATE TABLE files (
         path TEXT PRIMARY KEY,
         size INTEGER NOT NULL,
         mtime_ns INTEGER NOT NULL,
         sha256 TEXT NOT NULL
     );",
    // 3: throttling, and the outbox: one row per (alert, output) until delivered.
    "ALTER TABLE alerts ADD COLUMN suppressed INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE alerts ADD COLUMN suppressed_count INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE alerts ADD COLUMN throttle_group TEXT;
     CREATE INDEX alerts_by_group ON alerts(throttle_group, time);
     CREATE TABLE outbox (
         seq INTEGER PRIMARY KEY AUTOINCREMENT,
         alert_id TEXT NOT NULL,
         output TEXT NOT NULL,
         status TEXT NOT NULL DEFAULT 'pending',
         attempts INTEGER NOT NULL DEFAULT 0,
         first_try_ms INTEGER,
         next_try_ms INTEGER NOT NULL DEFAULT 0,
         last_error TEXT,
         done_ms INTEGER,
         UNIQUE (output, alert_id)
     );
     CREATE INDEX outbox_queue ON outbox(output, status, seq);",
    // 4: outputs by stable key, apart from their names (`outbox.output` was the name). Queues
    // of that time are marked legacy until an output of the config claims them, once
    // (`State::adopt_outputs`); meanwhile their key is their name.
    "CREATE TABLE outputs (
         key TEXT PRIMARY KEY,
         name TEXT NOT NULL,
         legacy INTEGER NOT NULL DEFAULT 0
     );
     INSERT INTO outputs (key, name, legacy) SELECT DISTINCT output, output, 1 FROM outbox;",
    // 5: a delivery is pending, delivered or failed (for good: kept with its error), nothing
    // else, and its error is bounded. SQLite adds no CHECK to a table: it is rebuilt, its
    // `seq`s (the queues' order) kept. Errors of before are cut to at most ~4 KiB.
    "CREATE TABLE outbox_v5 (
         seq INTEGER PRIMARY KEY AUTOINCREMENT,
         alert_id TEXT NOT NULL,
         output TEXT NOT NULL,
         status TEXT NOT NULL DEFAULT 'pending'
             CHECK (status IN ('pending', 'delivered', 'failed')),
         attempts INTEGER NOT NULL DEFAULT 0,
         first_try_ms INTEGER,
         next_try_ms INTEGER NOT NULL DEFAULT 0,
         last_error TEXT,
         done_ms INTEGER,
         UNIQUE (output, alert_id)
     );
     INSERT INTO outbox_v5
         SELECT seq, alert_id, output,
             CASE WHEN status IN ('pending', 'delivered', 'failed') THEN status ELSE 'pending' END,
             attempts, first_try_ms, next_try_ms,
             CASE WHEN length(CAST(last_error AS BLOB)) > 4096
                 THEN substr(last_error, 1, 1000) || '…' ELSE last_error END,
             done_ms
         FROM outbox;
     DROP TABLE outbox;
     ALTER TABLE outbox_v5 RENAME TO outbox;
     CREATE INDEX outbox_queue ON outbox(output, status, seq);",
    // 6: files keyed by their path's bytes as the OS has them, not by text: two names that
    // differ only in bytes that are not UTF-8 are two files. Paths of before were stored as
    // UTF-8 text (lossily), whose bytes are the same for every UTF-8 name; a lossy one names
    // no file any more and is forgotten at the next start (its file is read once again, and
    // its alerts are not repeated: their ids are recorded).
    "CREATE TABLE files_v6 (
         path BLOB PRIMARY KEY,
         size INTEGER NOT NULL,
         mtime_ns INTEGER NOT NULL,
         sha256 TEXT NOT NULL
     );
     INSERT OR IGNORE INTO files_v6 SELECT CAST(path AS BLOB), size, mtime_ns, sha256 FROM files;
     DROP TABLE files;
     ALTER TABLE files_v6 RENAME TO files;",
    // ---- 7: the daemon's heartbeat (one row: pid, start, version, rules, counters, last
    // article), for `newswatch status`. Its own step, kept apart: schema 8 (silences) comes
    // from another change and goes after it.
    heartbeat::MIGRATION,
    // 8: silences, an alert's `silenced_by`, and a revision counter that `newswatch silence`
    // and `newswatch outbox` bump with each change, so that a running daemon notices their
    // edits by reading one row ([`State::revision`]). Written to stand alone (`IF NOT EXISTS`):
    // it neither reads nor needs what step 7 creates.
    "CREATE TABLE IF NOT EXISTS silences (
         id INTEGER PRIMARY KEY AUTOINCREMENT,
         created_ms INTEGER NOT NULL,
         ends_ms INTEGER NOT NULL,
         rules TEXT NOT NULL DEFAULT '[]',
         tags TEXT NOT NULL DEFAULT '[]',
         min_severity TEXT,
         comment TEXT NOT NULL,
         matched INTEGER NOT NULL DEFAULT 0,
         expired_ms INTEGER
     );
     ALTER TABLE alerts ADD COLUMN silenced_by INTEGER;
     CREATE TABLE IF NOT EXISTS revisions (
         what TEXT PRIMARY KEY,
         n INTEGER NOT NULL
     );
     INSERT OR IGNORE INTO revisions (what, n) VALUES ('operator', 0);",
    // 9: stories (the index of recent articles' fingerprints), each alert's story and the
    // first alert it is a copy of (`duplicate_of`), and the digests made.
    stories::MIGRATION,
    // 10: feeds — one row per configured feed (validators, schedule, health), and the items
    // seen, by content. Stands alone, like 8.
    feeds::MIGRATION,
];

/// The most of an error kept with a delivery, in bytes: the start of a response body or of a
/// program's stderr says what is wrong; the rest is not worth a growing state.
pub const ERROR_KEPT: usize = 4096;

/// `error` cut to [`ERROR_KEPT`] bytes at a character boundary, `…` marking a cut.
pub(crate) fn bounded(error: &str) -> std::borrow::Cow<'_, str> {
    if error.len() <= ERROR_KEPT {
        return error.into();
    }
    let mut end = ERROR_KEPT - '…'.len_utf8();
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &error[..end]).into()
}

/// A path as the bytes the OS has for it: how the `files` table keys files.
fn path_key(path: &Path) -> &[u8] {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes()
}

/// What the state remembers of a file it has evaluated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRecord {
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// SHA-256 (hex) of the file's bytes.
    pub sha256: String,
}

/// An open state store.
pub struct State {
    conn: Connection,
    path: PathBuf,
    /// Story grouping: its window and in-memory index.
    stories: stories::Stories,
}

impl State {
    /// Where the state lives when neither `--state` nor the config says:
    /// `$XDG_STATE_HOME/newswatch/state.db`, else `~/.local/state/newswatch/state.db`.
    pub fn default_path() -> PathBuf {
        let base = std::env::var_os("XDG_STATE_HOME")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/state")))
            .unwrap_or_else(|| PathBuf::from("."));
        base.join("newswatch/state.db")
    }

    /// Opens (or creates) the state file at `path`, migrating its schema if needed.
    pub fn open(path: &Path) -> Result<State, StateError> {
        let fail = |message: String| StateError {
            path: path.to_path_buf(),
            message,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| fail(format!("cannot create its folder: {e}")))?;
        }
        // SQLite would only say "unable to open database file": ask the file system why.
        if let Err(e) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
        {
            return Err(fail(format!(
                "cannot open it for writing ({e}): fix its permissions or choose another state file"
            )));
        }
        let conn = Connection::open(path).map_err(|e| fail(e.to_string()))?;
        // Every statement of the per-alert path is prepared once and kept: compiling SQL
        // took a quarter of the recording thread in a burst. The default keeps 16.
        conn.set_prepared_statement_cache_capacity(64);
        // Without the query planner's stability guarantee, SQLite (built with STAT4) compiles a
        // statement again whenever a value bound to it changes, if the value could change the
        // plan — which `ORDER BY … LIMIT 1` on an indexed column makes it think: a third of
        // the recording thread went to compiling the query for a story's first alert, and the
        // outbox's next-delivery query was compiled for every delivery. Our plans do not
        // depend on the values.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(|e| fail(e.to_string()))?;
        let mut state = State {
            conn,
            path: path.to_path_buf(),
            stories: Default::default(),
        };
        match state.foreign_tables() {
            Ok(tables) if !tables.is_empty() => {
                return Err(fail(format!(
                    "not a newswatch state: it is a SQLite database of something else (tables {}); \
                     it was left as it is: move it aside or choose another state file",
                    tables.join(", ")
                )));
            }
            _ => {}
        }
        state.setup().map_err(|e| {
            use rusqlite::ErrorCode::{CannotOpen, ReadOnly};
            match e.sqlite_error_code() {
                Some(CannotOpen | ReadOnly) => fail(format!(
                    "{e}: its journal (the -wal and -shm files) is written beside it, so its folder must be writable too"
                )),
                _ => fail(format!(
                    "{e}: not a usable newswatch state database; move it aside or choose another state file"
                )),
            }
        })?;
        Ok(state)
    }

    fn setup(&mut self) -> rusqlite::Result<()> {
        self.conn.busy_timeout(std::time::Duration::from_secs(5))?;
        self.conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))?;
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        let version = usize::try_from(version).unwrap_or(usize::MAX);
        if version > MIGRATIONS.len() {
            return Err(rusqlite::Error::InvalidParameterName(format!(
                "schema version {version} is newer than this newswatch knows ({})",
                MIGRATIONS.len()
            )));
        }
        for (i, migration) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(migration)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// The tables of a SQLite database of something else: one without a newswatch schema
    /// version (`user_version` 0) that already has tables. Read before anything is written to
    /// the file, so that such a file is refused as it is. Errors are left to `setup`.
    fn foreign_tables(&self) -> rusqlite::Result<Vec<String>> {
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version != 0 {
            return Ok(Vec::new());
        }
        self.conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name LIMIT 4")?
            .query_map([], |r| r.get(0))?
            .collect()
    }

    pub(crate) fn error(&self, e: rusqlite::Error) -> StateError {
        StateError {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// What is recorded of the file at `path`, if anything.
    pub fn file(&self, path: &Path) -> Result<Option<FileRecord>, StateError> {
        self.conn
            .prepare_cached("SELECT size, mtime_ns, sha256 FROM files WHERE path = ?1")
            .and_then(|mut st| {
                st.query_row([path_key(path)], |r| {
                    Ok(FileRecord {
                        size: r.get::<_, i64>(0)? as u64,
                        mtime_ns: r.get(1)?,
                        sha256: r.get(2)?,
                    })
                })
                .optional()
            })
            .map_err(|e| self.error(e))
    }

    /// Records that the file at `path` was evaluated as `record`.
    pub fn record_file(&self, path: &Path, record: &FileRecord) -> Result<(), StateError> {
        self.conn
            .prepare_cached(
                "INSERT INTO files (path, size, mtime_ns, sha256) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(path) DO UPDATE SET size = ?2, mtime_ns = ?3, sha256 = ?4",
            )
            .and_then(|mut st| {
                st.execute(params![
                    path_key(path),
                    record.size as i64,
                    record.mtime_ns,
                    record.sha256
                ])
            })
            .map(drop)
            .map_err(|e| self.error(e))
    }

    /// Forgets the file at `path` (it was deleted or moved away): the table holds the files
    /// that are there, not every file ever seen.
    pub fn forget_file(&self, path: &Path) -> Result<(), StateError> {
        self.conn
            .prepare_cached("DELETE FROM files WHERE path = ?1")
            .and_then(|mut st| st.execute([path_key(path)]))
            .map(drop)
            .map_err(|e| self.error(e))
    }

    /// Forgets the files that are no longer where they were recorded (deleted while the
    /// daemon was stopped); returns how many.
    pub fn forget_missing_files(&mut self) -> Result<usize, StateError> {
        use std::os::unix::ffi::OsStrExt;
        let paths: Vec<Vec<u8>> = self
            .conn
            .prepare("SELECT path FROM files")
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
            .map_err(|e| self.error(e))?;
        let missing: Vec<&Path> = paths
            .iter()
            .map(|p| Path::new(std::ffi::OsStr::from_bytes(p)))
            .filter(|p| !p.exists())
            .collect();
        self.batch(|s| missing.iter().try_for_each(|p| s.forget_file(p)))?;
        Ok(missing.len())
    }

    /// How many edits `newswatch silence` and `newswatch outbox` have made to this state: a
    /// running daemon reads this one row once a second, and reloads its silences and wakes its
    /// outputs only when it changed.
    pub fn revision(&self) -> Result<i64, StateError> {
        self.conn
            .prepare_cached("SELECT n FROM revisions WHERE what = 'operator'")
            .and_then(|mut st| st.query_row([], |r| r.get(0)).optional())
            .map(Option::unwrap_or_default)
            .map_err(|e| self.error(e))
    }

    /// Counts one more edit (see [`State::revision`]); in the transaction of the edit.
    fn bump_revision(conn: &Connection) -> rusqlite::Result<()> {
        conn.prepare_cached("UPDATE revisions SET n = n + 1 WHERE what = 'operator'")?
            .execute([])
            .map(drop)
    }

    /// Runs `f` in one transaction: many small writes, one commit.
    pub fn batch<R>(
        &mut self,
        f: impl FnOnce(&State) -> Result<R, StateError>,
    ) -> Result<R, StateError> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.error(e))?;
        match f(self) {
            Ok(r) => {
                if let Err(e) = self.conn.execute_batch("COMMIT") {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    self.forget_story_index();
                    return Err(self.error(e));
                }
                Ok(r)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                self.forget_story_index();
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hot_statements_are_compiled_once_whatever_their_values() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(&dir.path().join("s.db")).unwrap();
        for (sql, args) in [(alerts::FIRST_OF_STORY, 3), (outbox::NEXT_DELIVERY, 1)] {
            for i in 0..10 {
                let mut st = state.conn.prepare_cached(sql).unwrap();
                let values: Vec<String> = (0..args).map(|k| format!("{k}-{i}")).collect();
                let mut rows = st.query(rusqlite::params_from_iter(&values)).unwrap();
                while rows.next().unwrap().is_some() {}
                drop(rows);
                assert_eq!(
                    st.get_status(rusqlite::StatementStatus::RePrepare),
                    0,
                    "{sql}"
                );
            }
        }
    }
    use std::os::unix::ffi::OsStrExt;

    /// A state as newswatch left it at schema 4: files keyed by text, deliveries with an
    /// error of any length.
    fn state_of_schema_4(path: &Path, error: &str) {
        let conn = Connection::open(path).unwrap();
        for migration in &MIGRATIONS[..4] {
            conn.execute_batch(migration).unwrap();
        }
        conn.pragma_update(None, "user_version", 4).unwrap();
        conn.execute(
            "INSERT INTO files VALUES ('/in/a.txt', 1, 2, 'aa'), ('/in/b\u{FFFD}.txt', 3, 4, 'bb')",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO outbox (seq, alert_id, output, status, attempts, last_error)
             VALUES (7, 'x', 'k', 'failed', 9, ?1), (8, 'y', 'k', 'pending', 0, NULL)",
            [error],
        )
        .unwrap();
    }

    fn version(state: &State) -> i64 {
        state
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn files_are_keyed_by_their_bytes_and_text_keys_are_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        state_of_schema_4(&path, "boom");
        let state = State::open(&path).unwrap();
        assert_eq!(version(&state), MIGRATIONS.len() as i64);
        let a = state.file(Path::new("/in/a.txt")).unwrap().unwrap();
        assert_eq!((a.size, a.mtime_ns, a.sha256.as_str()), (1, 2, "aa"));

        // Two names that differ only in a byte that is not UTF-8: two records.
        let ff = Path::new(std::ffi::OsStr::from_bytes(b"/in/c\xff.txt"));
        let fe = Path::new(std::ffi::OsStr::from_bytes(b"/in/c\xfe.txt"));
        let record = |sha: &str| FileRecord {
            size: 5,
            mtime_ns: 6,
            sha256: sha.into(),
        };
        state.record_file(ff, &record("ff")).unwrap();
        assert_eq!(state.file(fe).unwrap(), None);
        state.record_file(fe, &record("fe")).unwrap();
        assert_eq!(state.file(ff).unwrap().unwrap().sha256, "ff");
        assert_eq!(state.file(fe).unwrap().unwrap().sha256, "fe");
        state.forget_file(ff).unwrap();
        assert_eq!(state.file(ff).unwrap(), None);
        assert!(state.file(fe).unwrap().is_some());
    }

    #[test]
    fn deliveries_are_pending_delivered_or_failed_with_a_bounded_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let huge = "e".repeat(100_000);
        state_of_schema_4(&path, &huge);
        let state = State::open(&path).unwrap();
        let (status, error): (String, String) = state
            .conn
            .query_row(
                "SELECT status, last_error FROM outbox WHERE seq = 7",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(status, "failed");
        assert!(
            error.len() <= ERROR_KEPT && error.ends_with('…'),
            "{}",
            error.len()
        );
        // The order of the queues is kept: new rows come after the old ones.
        state.queue("z", "k").unwrap();
        let seq: i64 = state
            .conn
            .query_row("SELECT seq FROM outbox WHERE alert_id = 'z'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert!(seq > 8, "{seq}");
        // Nothing but the three statuses.
        assert!(
            state
                .conn
                .execute("UPDATE outbox SET status = 'given_up' WHERE seq = 8", [])
                .is_err()
        );
        state.failed(8, &"é".repeat(10_000)).unwrap();
        let error: String = state
            .conn
            .query_row("SELECT last_error FROM outbox WHERE seq = 8", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert!(
            error.len() <= ERROR_KEPT && error.starts_with("éé"),
            "{}",
            error.len()
        );
    }

    #[test]
    fn a_migration_that_fails_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        state_of_schema_4(&path, "boom");
        {
            // Migration 6 cannot create its table: 5 is applied, 6 is not, in part or whole.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch("CREATE TABLE files_v6 (x)").unwrap();
        }
        assert!(State::open(&path).is_err());
        let conn = Connection::open(&path).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, 5);
        let kind: String = conn
            .query_row("SELECT typeof(path) FROM files LIMIT 1", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kind, "text", "the files table as it was");
    }

    #[test]
    fn errors_are_cut_at_a_character_boundary() {
        assert_eq!(bounded("short"), "short");
        let long = "€".repeat(ERROR_KEPT);
        let cut = bounded(&long);
        assert!(cut.len() <= ERROR_KEPT && cut.ends_with('…'));
    }
}
