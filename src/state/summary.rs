//! Reading a state without changing it, for `newswatch status`: a read-only connection that
//! never creates the file, never migrates it, and works while a daemon writes (WAL readers do
//! not block the writer) and after it died.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::{MIGRATIONS, State, StateError, now_ms};

/// One output's queue, by status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutputSummary {
    /// Its name when last configured (its key, for a queue of before names).
    pub name: String,
    pub delivered: u64,
    pub pending: u64,
    pub failed: u64,
    /// How long ago the oldest pending delivery's alert was raised (ms).
    pub oldest_pending_age_ms: Option<i64>,
}

/// An active silence, as `status` lists it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SilenceSummary {
    pub id: String,
    pub comment: String,
    /// When it ends (RFC 3339 or as stored).
    pub until: String,
}

impl State {
    /// Opens the state at `path` read-only: a missing file, or one of a newer schema than
    /// this newswatch knows, is an error; nothing is created or migrated.
    pub fn open_read_only(path: &Path) -> Result<State, StateError> {
        let fail = |message: String| StateError {
            path: path.to_path_buf(),
            message,
        };
        // SQLite would say only "unable to open database file": ask the file system why.
        std::fs::File::open(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| fail(e.to_string()))?;
        let state = State {
            conn,
            path: path.to_path_buf(),
            stories: Default::default(),
        };
        state
            .conn
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| state.error(e))?;
        let version: i64 = state
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| fail(format!("{e}: not a newswatch state")))?;
        if version == 0 {
            return Err(fail("not a newswatch state (no schema version)".into()));
        }
        if version as usize > MIGRATIONS.len() {
            return Err(fail(format!(
                "schema version {version} is newer than this newswatch knows ({})",
                MIGRATIONS.len()
            )));
        }
        Ok(state)
    }

    /// How many files the state knows and how many alerts it recorded.
    pub fn counts(&self) -> Result<(u64, u64), StateError> {
        self.conn
            .query_row(
                "SELECT (SELECT count(*) FROM files), (SELECT count(*) FROM alerts)",
                [],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
            )
            .map_err(|e| self.error(e))
    }

    /// Every output's queue (those the config no longer has included), by name.
    pub fn output_summaries(&self) -> Result<Vec<OutputSummary>, StateError> {
        let now = now_ms();
        self.conn
            .prepare(
                "SELECT coalesce(o.name, b.output),
                     sum(b.status = 'delivered'), sum(b.status = 'pending'), sum(b.status = 'failed'),
                     (SELECT a.time FROM outbox p JOIN alerts a ON a.id = p.alert_id
                      WHERE p.output = b.output AND p.status = 'pending' ORDER BY p.seq LIMIT 1)
                 FROM outbox b LEFT JOIN outputs o ON o.key = b.output
                 GROUP BY b.output ORDER BY 1",
            )
            .and_then(|mut st| {
                st.query_map([], |r| {
                    let oldest: Option<String> = r.get(4)?;
                    Ok(OutputSummary {
                        name: r.get(0)?,
                        delivered: r.get::<_, i64>(1)? as u64,
                        pending: r.get::<_, i64>(2)? as u64,
                        failed: r.get::<_, i64>(3)? as u64,
                        oldest_pending_age_ms: oldest
                            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                            .map(|t| (now - t.as_millisecond()).max(0)),
                    })
                })?
                .collect()
            })
            .map_err(|e| self.error(e))
    }

    /// The silences in force now, for `status` (none in a state older than silences).
    pub fn silence_summaries(&self) -> Result<Vec<SilenceSummary>, StateError> {
        if !self.has_table("silences")? {
            return Ok(Vec::new());
        }
        let summaries = self.silences(false)?.into_iter().map(|s| SilenceSummary {
            id: s.id.to_string(),
            comment: s.comment,
            until: jiff::Timestamp::from_millisecond(s.ends_ms)
                .map_or_else(|_| s.ends_ms.to_string(), |t| t.to_string()),
        });
        Ok(summaries.collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_state_is_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none.db");
        let e = State::open_read_only(&path).err().unwrap();
        assert!(e.to_string().contains("cannot read it"), "{e}");
        assert!(!path.exists());
    }

    #[test]
    fn outputs_are_counted_by_status() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        {
            let state = State::open(&path).unwrap();
            state
                .conn
                .execute_batch(
                    "INSERT INTO alerts (id, time, rule, severity, json)
                         VALUES ('a', '2020-01-01T00:00:00Z', 'r', 'high', '{}'),
                                ('b', '2020-01-02T00:00:00Z', 'r', 'high', '{}');
                     INSERT INTO outputs (key, name) VALUES ('k', 'file:out.jsonl');
                     INSERT INTO outbox (alert_id, output, status) VALUES ('a', 'k', 'failed'),
                         ('b', 'k', 'pending'), ('a', 'gone', 'delivered');",
                )
                .unwrap();
        }
        let state = State::open_read_only(&path).unwrap();
        assert_eq!(state.counts().unwrap(), (0, 2));
        let outputs = state.output_summaries().unwrap();
        assert_eq!(outputs.len(), 2);
        assert_eq!(
            (
                outputs[0].name.as_str(),
                outputs[0].delivered,
                outputs[0].pending
            ),
            ("file:out.jsonl", 0, 1)
        );
        assert_eq!(outputs[0].failed, 1);
        assert!(outputs[0].oldest_pending_age_ms.unwrap() > 86_400_000);
        assert_eq!(
            (outputs[1].name.as_str(), outputs[1].delivered),
            ("gone", 1)
        );
        assert_eq!(outputs[1].oldest_pending_age_ms, None);
        assert!(state.silence_summaries().unwrap().is_empty());
    }
}
