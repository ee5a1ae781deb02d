//! The state store: a SQLite file recording the alerts raised, so an alert id is delivered once.
//!
//! `scan --state` and the daemon share it. The database runs in WAL mode with
//! `synchronous=NORMAL`, which survives a crash of the process. Its schema is versioned with
//! `PRAGMA user_version` and migrated forward on open; a file that is not a newswatch database
//! is refused with an error naming it, never replaced.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use crate::alert::Alert;

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
        let conn = Connection::open(path).map_err(|e| fail(e.to_string()))?;
        let mut state = State {
            conn,
            path: path.to_path_buf(),
        };
        state.setup().map_err(|e| {
            fail(format!(
                "{e}: not a usable newswatch state database; move it aside or choose another --state file"
            ))
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

    fn error(&self, e: rusqlite::Error) -> StateError {
        StateError {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// Records `alert` unless its id is already recorded; returns whether it was new.
    pub fn record_alert(&self, alert: &Alert) -> Result<bool, StateError> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO alerts (id, time, rule, severity, json) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    alert.id,
                    alert.time,
                    alert.rule,
                    alert.severity.as_str(),
                    alert.to_json()
                ],
            )
            .map(|n| n == 1)
            .map_err(|e| self.error(e))
    }

    /// The recorded alert with this id.
    pub fn alert(&self, id: &str) -> Result<Option<Alert>, StateError> {
        let json: Option<String> = self
            .conn
            .query_row("SELECT json FROM alerts WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .map_err(|e| self.error(e))?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
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

    /// Recorded alerts, oldest first: those raised at or after `since` (RFC 3339), of `rule`.
    pub fn alerts(
        &self,
        since: Option<&str>,
        rule: Option<&str>,
    ) -> Result<Vec<Alert>, StateError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT json FROM alerts WHERE (?1 IS NULL OR time >= ?1) AND (?2 IS NULL OR rule = ?2)
                 ORDER BY time, rowid",
            )
            .map_err(|e| self.error(e))?;
        let rows = st
            .query_map(params![since, rule], |r| r.get::<_, String>(0))
            .map_err(|e| self.error(e))?;
        let mut alerts = Vec::new();
        for json in rows {
            let json = json.map_err(|e| self.error(e))?;
            match serde_json::from_str(&json) {
                Ok(alert) => alerts.push(alert),
                Err(e) => tracing::warn!(
                    "state {}: skipping an unreadable alert: {e}",
                    self.path.display()
                ),
            }
        }
        Ok(alerts)
    }

    /// Number of alerts recorded.
    pub fn alert_count(&self) -> Result<u64, StateError> {
        self.conn
            .query_row("SELECT count(*) FROM alerts", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| self.error(e))
    }
}
