//! Silences: an operator's "not now" for matching alerts, kept in the state so that the daemon,
//! `scan --state` and `newswatch alerts` see the same ones.
//!
//! A silence matches an alert when every condition it has holds — one of its rule globs
//! matches the rule's name, the alert carries one of its tags, the alert is at least its
//! severity — as an output's filter does. It is applied once an alert is new (not a repeat of
//! an id) and before throttling: the alert is recorded with `silenced_by` and counted on the
//! silence, and never queued, so it is not delivered even after the silence ends.
//!
//! Silences are read into a [`Silences`] set, compiled once: the daemon reloads it only when
//! the state's revision counter says an operator changed something.

use std::time::Duration;

use globset::{Glob, GlobSet, GlobSetBuilder};
use rusqlite::{OptionalExtension, params};

use super::{State, StateError, now_ms};
use newswatch_engine::alert::{Alert, Severity};

/// The longest a silence may last: a mute forgotten for longer is an outage nobody noticed.
pub const MAX_SILENCE: Duration = Duration::from_secs(30 * 86_400);

/// Why a silence cannot be added or expired.
#[derive(Debug, thiserror::Error)]
pub enum SilenceError {
    #[error("invalid rule glob {pattern:?}: {message}")]
    Glob { pattern: String, message: String },
    #[error(
        "a silence needs at least one of --rule, --tag or --min-severity (to mute every alert, say --rule '*')"
    )]
    NoMatcher,
    #[error("a silence needs a --comment saying why (it is shown by `silence list`)")]
    NoComment,
    #[error("a silence lasts more than 0s and at most 30d, not {0:?}")]
    Length(Duration),
    #[error("no silence {0} (`newswatch silence list` shows them)")]
    Unknown(i64),
    #[error(transparent)]
    State(#[from] StateError),
}

/// What `newswatch silence add` asks for.
#[derive(Clone, Debug)]
pub struct NewSilence {
    /// Rule-name globs, any of which matches (none: any rule).
    pub rules: Vec<String>,
    /// Tags, any of which the alert carries (none: any alert).
    pub tags: Vec<String>,
    pub min_severity: Option<Severity>,
    /// From now.
    pub duration: Duration,
    pub comment: String,
}

/// A silence as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Silence {
    pub id: i64,
    /// When it was added, and started (Unix ms).
    pub created_ms: i64,
    /// When it ends, or ended (Unix ms): at its end as given, or when it was expired.
    pub ends_ms: i64,
    pub rules: Vec<String>,
    pub tags: Vec<String>,
    pub min_severity: Option<Severity>,
    pub comment: String,
    /// How many alerts it silenced.
    pub matched: u64,
    /// When `newswatch silence expire` ended it early, if it did.
    pub expired_ms: Option<i64>,
}

impl Silence {
    pub fn active_at(&self, now_ms: i64) -> bool {
        self.created_ms <= now_ms && now_ms < self.ends_ms
    }
}

/// A rule glob, compiled as output filters compile theirs.
fn glob(pattern: &str) -> Result<Glob, SilenceError> {
    Glob::new(pattern).map_err(|e| SilenceError::Glob {
        pattern: pattern.to_string(),
        message: e.kind().to_string(),
    })
}

/// The rule globs of a silence as one set; none is any rule.
fn rule_set(rules: &[String]) -> Result<Option<GlobSet>, String> {
    if rules.is_empty() {
        return Ok(None);
    }
    let mut set = GlobSetBuilder::new();
    for rule in rules {
        set.add(glob(rule).map_err(|e| e.to_string())?);
    }
    set.build().map(Some).map_err(|e| e.to_string())
}

/// The silences in force, compiled for matching alerts.
#[derive(Debug, Default)]
pub struct Silences {
    silences: Vec<(Silence, Option<GlobSet>)>,
}

impl Silences {
    /// Compiles `silences`; one whose globs do not compile (written by hand into the state) is
    /// left out, and said so.
    fn compile(silences: Vec<Silence>) -> Silences {
        let mut compiled = Vec::new();
        for silence in silences {
            match rule_set(&silence.rules) {
                Ok(rules) => compiled.push((silence, rules)),
                Err(e) => tracing::warn!("silence {} is not applied: {e}", silence.id),
            }
        }
        Silences { silences: compiled }
    }

    /// The id of the first silence in force at `now_ms` that matches `alert`.
    pub fn matching(&self, alert: &Alert, now_ms: i64) -> Option<i64> {
        self.silences
            .iter()
            .find(|(s, rules)| {
                s.active_at(now_ms)
                    && s.min_severity.is_none_or(|min| alert.severity >= min)
                    && rules.as_ref().is_none_or(|g| g.is_match(&alert.rule))
                    && (s.tags.is_empty() || alert.tags.iter().any(|t| s.tags.contains(t)))
            })
            .map(|(s, _)| s.id)
    }
}

impl NewSilence {
    /// What is wrong with it, if anything: no comment, no matcher, a bad glob, a length out of
    /// bounds.
    fn check(&self) -> Result<(), SilenceError> {
        if self.comment.trim().is_empty() {
            return Err(SilenceError::NoComment);
        }
        if self.rules.is_empty() && self.tags.is_empty() && self.min_severity.is_none() {
            return Err(SilenceError::NoMatcher);
        }
        if self.duration.is_zero() || self.duration > MAX_SILENCE {
            return Err(SilenceError::Length(self.duration));
        }
        self.rules.iter().try_for_each(|r| glob(r).map(drop))
    }
}

const COLUMNS: &str =
    "id, created_ms, ends_ms, rules, tags, min_severity, comment, matched, expired_ms";

fn silence_of(r: &rusqlite::Row) -> rusqlite::Result<Silence> {
    let list = |i: usize| -> rusqlite::Result<Vec<String>> {
        Ok(serde_json::from_str(&r.get::<_, String>(i)?).unwrap_or_default())
    };
    Ok(Silence {
        id: r.get(0)?,
        created_ms: r.get(1)?,
        ends_ms: r.get(2)?,
        rules: list(3)?,
        tags: list(4)?,
        min_severity: r.get::<_, Option<String>>(5)?.and_then(|s| s.parse().ok()),
        comment: r.get(6)?,
        matched: r.get::<_, i64>(7)? as u64,
        expired_ms: r.get(8)?,
    })
}

impl State {
    /// Records a silence, in force from now; a running daemon applies it within a second.
    pub fn add_silence(&self, new: &NewSilence) -> Result<Silence, SilenceError> {
        new.check()?;
        let now = now_ms();
        let ends = now.saturating_add(new.duration.as_millis() as i64);
        let e = |e| self.error(e);
        let tx = self.conn.unchecked_transaction().map_err(e)?;
        tx.execute(
            "INSERT INTO silences (created_ms, ends_ms, rules, tags, min_severity, comment)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                now,
                ends,
                serde_json::to_string(&new.rules).expect("strings serialize"),
                serde_json::to_string(&new.tags).expect("strings serialize"),
                new.min_severity.map(Severity::as_str),
                new.comment.trim(),
            ],
        )
        .map_err(e)?;
        let id = tx.last_insert_rowid();
        State::bump_revision(&tx).map_err(e)?;
        tx.commit().map_err(e)?;
        self.silence(id)
    }

    /// The silence `id`.
    pub fn silence(&self, id: i64) -> Result<Silence, SilenceError> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM silences WHERE id = ?1"),
                [id],
                silence_of,
            )
            .optional()
            .map_err(|e| self.error(e))?
            .ok_or(SilenceError::Unknown(id))
    }

    /// Every silence, oldest first; with `ended`, those that ended too.
    pub fn silences(&self, ended: bool) -> Result<Vec<Silence>, StateError> {
        self.conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM silences WHERE ?1 OR ends_ms > ?2 ORDER BY id"
            ))
            .and_then(|mut st| {
                st.query_map(params![ended, now_ms()], silence_of)?
                    .collect()
            })
            .map_err(|e| self.error(e))
    }

    /// The silences in force now or later, compiled.
    pub fn active_silences(&self) -> Result<Silences, StateError> {
        Ok(Silences::compile(self.silences(false)?))
    }

    /// Ends the silence `id` now (one that already ended is left as it is); returns it, and
    /// whether it was in force.
    pub fn expire_silence(&self, id: i64) -> Result<(Silence, bool), SilenceError> {
        let silence = self.silence(id)?;
        let now = now_ms();
        if silence.ends_ms <= now {
            return Ok((silence, false));
        }
        let e = |e| self.error(e);
        let tx = self.conn.unchecked_transaction().map_err(e)?;
        tx.execute(
            "UPDATE silences SET ends_ms = ?2, expired_ms = ?2 WHERE id = ?1",
            params![id, now],
        )
        .map_err(e)?;
        State::bump_revision(&tx).map_err(e)?;
        tx.commit().map_err(e)?;
        Ok((self.silence(id)?, true))
    }

    /// Counts one more alert silenced by `id`.
    pub(super) fn count_silenced(&self, id: i64) -> Result<(), StateError> {
        self.conn
            .prepare_cached("UPDATE silences SET matched = matched + 1 WHERE id = ?1")
            .and_then(|mut st| st.execute([id]))
            .map(drop)
            .map_err(|e| self.error(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(rule: &str, severity: &str, tags: &[&str]) -> Alert {
        serde_json::from_value(serde_json::json!({
            "id": "1", "time": "2026-01-01T00:00:00Z", "rule": rule, "severity": severity,
            "message": "m", "tags": tags, "fields": {},
            "article": { "path": null, "title": "t", "url": null, "source": null, "sha256": "0" },
            "matches": [],
        }))
        .expect("an alert")
    }

    fn new(rules: &[&str], tags: &[&str], min: Option<Severity>) -> NewSilence {
        NewSilence {
            rules: rules.iter().map(|s| s.to_string()).collect(),
            tags: tags.iter().map(|s| s.to_string()).collect(),
            min_severity: min,
            duration: Duration::from_secs(3600),
            comment: "why".into(),
        }
    }

    #[test]
    fn every_condition_of_a_silence_must_hold() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(&dir.path().join("s.db")).unwrap();
        let before = state.revision().unwrap();
        let chips = state
            .add_silence(&new(&["chips/*"], &["china"], Some(Severity::High)))
            .unwrap();
        assert_eq!(state.revision().unwrap(), before + 1);
        let set = state.active_silences().unwrap();
        let now = now_ms();
        assert_eq!(
            set.matching(&alert("chips/h200", "critical", &["china", "x"]), now),
            Some(chips.id)
        );
        for other in [
            alert("funding", "critical", &["china"]),
            alert("chips/h200", "low", &["china"]),
            alert("chips/h200", "high", &["us"]),
        ] {
            assert_eq!(set.matching(&other, now), None, "{other:?}");
        }
        // Expired: no longer in force, listed only with the ended ones.
        let (expired, was_active) = state.expire_silence(chips.id).unwrap();
        assert!(was_active && expired.expired_ms.is_some());
        let now = now_ms();
        let set = state.active_silences().unwrap();
        assert_eq!(
            set.matching(&alert("chips/h200", "critical", &["china"]), now),
            None
        );
        assert!(state.silences(false).unwrap().is_empty());
        assert_eq!(state.silences(true).unwrap().len(), 1);
        assert!(!state.expire_silence(chips.id).unwrap().1);
        assert!(matches!(
            state.expire_silence(99),
            Err(SilenceError::Unknown(99))
        ));
    }

    #[test]
    fn a_silence_needs_a_comment_a_matcher_and_a_bounded_length() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(&dir.path().join("s.db")).unwrap();
        let mut s = new(&[], &[], None);
        assert!(matches!(
            state.add_silence(&s),
            Err(SilenceError::NoMatcher)
        ));
        s.rules = vec!["[".into()];
        assert!(matches!(
            state.add_silence(&s),
            Err(SilenceError::Glob { .. })
        ));
        s.rules = vec!["*".into()];
        s.comment = " ".into();
        assert!(matches!(
            state.add_silence(&s),
            Err(SilenceError::NoComment)
        ));
        s.comment = "all".into();
        s.duration = MAX_SILENCE + Duration::from_secs(1);
        assert!(matches!(
            state.add_silence(&s),
            Err(SilenceError::Length(_))
        ));
        s.duration = MAX_SILENCE;
        assert!(state.add_silence(&s).is_ok());
    }
}
