//! The state store: a SQLite file recording the files evaluated, the alerts raised (so an alert
//! id is delivered once) and the outbox of deliveries still to make.
//!
//! `scan --state` and the daemon share it. The database runs in WAL mode with
//! `synchronous=NORMAL`, which survives a crash of the process. Its schema is versioned with
//! `PRAGMA user_version` and migrated forward on open; a file that is not a newswatch database
//! is refused with an error naming it, never replaced.

use std::path::{Path, PathBuf};

mod alerts;
mod outbox;

use rusqlite::{Connection, OptionalExtension, params};

pub use alerts::{Recorded, Throttle};
pub(crate) use outbox::now_ms;
pub use outbox::{Delivery, DeliveryStatus, OutputIdentity, Queue};

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
];

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
        let mut state = State {
            conn,
            path: path.to_path_buf(),
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
    pub fn file(&self, path: &str) -> Result<Option<FileRecord>, StateError> {
        self.conn
            .prepare_cached("SELECT size, mtime_ns, sha256 FROM files WHERE path = ?1")
            .and_then(|mut st| {
                st.query_row([path], |r| {
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
    pub fn record_file(&self, path: &str, record: &FileRecord) -> Result<(), StateError> {
        self.conn
            .prepare_cached(
                "INSERT INTO files (path, size, mtime_ns, sha256) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(path) DO UPDATE SET size = ?2, mtime_ns = ?3, sha256 = ?4",
            )
            .and_then(|mut st| {
                st.execute(params![
                    path,
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
    pub fn forget_file(&self, path: &str) -> Result<(), StateError> {
        self.conn
            .prepare_cached("DELETE FROM files WHERE path = ?1")
            .and_then(|mut st| st.execute([path]))
            .map(drop)
            .map_err(|e| self.error(e))
    }

    /// Forgets the files that are no longer where they were recorded (deleted while the
    /// daemon was stopped); returns how many.
    pub fn forget_missing_files(&mut self) -> Result<usize, StateError> {
        let paths: Vec<String> = self
            .conn
            .prepare("SELECT path FROM files")
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
            .map_err(|e| self.error(e))?;
        let missing: Vec<&String> = paths
            .iter()
            .filter(|p| !Path::new(p.as_str()).exists())
            .collect();
        self.batch(|s| missing.iter().try_for_each(|p| s.forget_file(p)))?;
        Ok(missing.len())
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
                self.conn
                    .execute_batch("COMMIT")
                    .map_err(|e| self.error(e))?;
                Ok(r)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }
}
