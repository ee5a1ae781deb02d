//! The daemon's heartbeat: one row in the state, rewritten at most once a second, saying who
//! runs (pid, start, version), with which rules, and what it has done since it started. It is
//! what `newswatch status` reads of a daemon, running or dead; whether one runs is the lock's
//! to say (`lock`), not the heartbeat's age.

use std::path::{Path, PathBuf};

use rusqlite::{OptionalExtension, params};

use super::{State, StateError, path_key};

/// Schema migration 7: the heartbeat table, a single row (`id` 1).
pub(super) const MIGRATION: &str = "CREATE TABLE heartbeat (
         id INTEGER PRIMARY KEY CHECK (id = 1),
         time_ms INTEGER NOT NULL,
         pid INTEGER NOT NULL,
         started_ms INTEGER NOT NULL,
         version TEXT NOT NULL,
         rules_loaded INTEGER NOT NULL,
         rules_broken TEXT NOT NULL DEFAULT '[]',
         articles_evaluated INTEGER NOT NULL DEFAULT 0,
         articles_skipped INTEGER NOT NULL DEFAULT 0,
         alerts_raised INTEGER NOT NULL DEFAULT 0,
         last_article_path BLOB,
         last_article_ms INTEGER
     );";

/// What the daemon says of itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Heartbeat {
    /// When it was written (Unix ms).
    pub time_ms: i64,
    pub pid: u32,
    /// When the daemon started (Unix ms).
    pub started_ms: i64,
    pub version: String,
    /// Rules in force (a broken rule keeps its last good version, and is counted here then).
    pub rules_loaded: u64,
    /// Names of the rules that do not compile now.
    pub rules_broken: Vec<String>,
    pub counters: Counters,
    /// The last file evaluated: its path as shown, and when (Unix ms).
    pub last_article: Option<(PathBuf, i64)>,
}

/// What the daemon did since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Files whose articles were evaluated.
    pub articles_evaluated: u64,
    /// Files looked at and not evaluated: already seen, `startup: skip`, unreadable, not an
    /// article (binary, too large, malformed).
    pub articles_skipped: u64,
    /// Alerts recorded (throttled ones included; repeats of a recorded id not).
    pub alerts_raised: u64,
}

impl State {
    /// Writes the heartbeat (replacing the one before).
    pub fn write_heartbeat(&self, hb: &Heartbeat) -> Result<(), StateError> {
        let broken = serde_json::to_string(&hb.rules_broken).unwrap_or_else(|_| "[]".into());
        let (last_path, last_ms) = match &hb.last_article {
            Some((path, ms)) => (Some(path_key(path)), Some(*ms)),
            None => (None, None),
        };
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO heartbeat (id, time_ms, pid, started_ms, version,
                     rules_loaded, rules_broken, articles_evaluated, articles_skipped,
                     alerts_raised, last_article_path, last_article_ms)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    hb.time_ms,
                    hb.pid,
                    hb.started_ms,
                    hb.version,
                    hb.rules_loaded as i64,
                    broken,
                    hb.counters.articles_evaluated as i64,
                    hb.counters.articles_skipped as i64,
                    hb.counters.alerts_raised as i64,
                    last_path,
                    last_ms,
                ])
            })
            .map(drop)
            .map_err(|e| self.error(e))
    }

    /// The last heartbeat written, if a daemon ever wrote one (and the state has the table).
    pub fn heartbeat(&self) -> Result<Option<Heartbeat>, StateError> {
        if !self.has_table("heartbeat")? {
            return Ok(None);
        }
        self.conn
            .query_row(
                "SELECT time_ms, pid, started_ms, version, rules_loaded, rules_broken,
                     articles_evaluated, articles_skipped, alerts_raised,
                     last_article_path, last_article_ms
                 FROM heartbeat WHERE id = 1",
                [],
                |r| {
                    let broken: String = r.get(5)?;
                    let path: Option<Vec<u8>> = r.get(9)?;
                    let at: Option<i64> = r.get(10)?;
                    Ok(Heartbeat {
                        time_ms: r.get(0)?,
                        pid: r.get(1)?,
                        started_ms: r.get(2)?,
                        version: r.get(3)?,
                        rules_loaded: r.get::<_, i64>(4)? as u64,
                        rules_broken: serde_json::from_str(&broken).unwrap_or_default(),
                        counters: Counters {
                            articles_evaluated: r.get::<_, i64>(6)? as u64,
                            articles_skipped: r.get::<_, i64>(7)? as u64,
                            alerts_raised: r.get::<_, i64>(8)? as u64,
                        },
                        last_article: path.zip(at).map(|(p, at)| (path_of(p), at)),
                    })
                },
            )
            .optional()
            .map_err(|e| self.error(e))
    }

    /// Whether the state has the table `name` (an older schema, or one another version adds).
    pub(crate) fn has_table(&self, name: &str) -> Result<bool, StateError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [name],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| self.error(e))
    }
}

fn path_of(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(bytes))
}

/// The names of broken rules from the rule set's diagnostics: each file's path under the
/// rules folder without `.rhai`, as rules are named.
pub fn broken_rule_names(
    rules_dir: &Path,
    diagnostics: &[newswatch_engine::Diagnostic],
) -> Vec<String> {
    let mut names: Vec<String> = diagnostics
        .iter()
        .map(|d| {
            let rel = d.path.strip_prefix(rules_dir).unwrap_or(&d.path);
            rel.with_extension("").to_string_lossy().into_owned()
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heartbeat_is_one_row_read_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(&dir.path().join("s.db")).unwrap();
        assert_eq!(state.heartbeat().unwrap(), None);
        let mut hb = Heartbeat {
            time_ms: 5,
            pid: 42,
            started_ms: 1,
            version: "0.1.0".into(),
            rules_loaded: 3,
            rules_broken: vec!["chips/h200".into()],
            counters: Counters {
                articles_evaluated: 7,
                articles_skipped: 2,
                alerts_raised: 4,
            },
            last_article: Some(("inbox/a.txt".into(), 4)),
        };
        state.write_heartbeat(&hb).unwrap();
        hb.time_ms = 6;
        state.write_heartbeat(&hb).unwrap();
        assert_eq!(state.heartbeat().unwrap(), Some(hb));
    }
}
