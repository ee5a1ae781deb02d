//! Recording alerts: deduplication by id, silences, throttling, and queueing deliveries in the
//! outbox — all in one statement sequence, so an alert is never recorded without its deliveries.

use std::time::Duration;

use rusqlite::{OptionalExtension, params};

use super::{Silences, State, StateError, now_ms};
use newswatch_engine::alert::Alert;

/// `throttle:` — at most one delivered alert per rule (or per rule and field value) per window.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Throttle {
    pub window: Duration,
    /// Throttle per value of this alert field (`fields.NAME`), not per rule only.
    pub field: Option<String>,
}

impl Throttle {
    /// The group an alert is throttled in, if throttling is on.
    fn group(&self, alert: &Alert) -> Option<String> {
        if self.window.is_zero() {
            return None;
        }
        Some(match &self.field {
            Some(f) => format!(
                "{}\u{0}{}",
                alert.rule,
                alert
                    .fields
                    .get(f)
                    .map(|v| v.to_string())
                    .unwrap_or_default()
            ),
            None => alert.rule.clone(),
        })
    }
}

/// A recorded alert, as `newswatch alerts` shows it.
#[derive(Clone, Debug)]
pub struct History {
    pub alert: Alert,
    /// Throttling kept it from being delivered.
    pub suppressed: bool,
    /// How many later alerts of its throttle group it suppressed.
    pub suppressed_count: u64,
    /// The silence that kept it from being delivered.
    pub silenced_by: Option<i64>,
    /// The first alert of its rule on its story, when it is a later copy (not delivered).
    pub duplicate_of: Option<String>,
}

/// What recording an alert did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// The id was recorded before: nothing to deliver.
    Duplicate,
    /// Recorded, but a silence (this id) matched it: counted on the silence, never delivered.
    Silenced(i64),
    /// Recorded, but inside its throttle window: counted on the alert that opened the window,
    /// not delivered.
    Suppressed,
    /// Recorded as a later copy of a story its rule already alerted on within the stories
    /// window: `duplicate_of` this id (the first alert), not delivered.
    SameStory(String),
    /// Recorded and queued for the outputs given.
    New,
}

/// What became of an alert when it was recorded (all unset: delivered).
#[derive(Default)]
struct Disposition<'a> {
    /// The first alert of its rule on its story: a copy, not delivered.
    duplicate_of: Option<&'a str>,
    /// The silence that muted it.
    silenced_by: Option<i64>,
    /// Throttled: another alert of its group leads the window.
    suppressed: bool,
    throttle_group: Option<&'a str>,
}

/// The first alert of a rule on a story within the window: the one its copies point to.
pub(super) const FIRST_OF_STORY: &str = "SELECT id FROM alerts
    WHERE rule = ?1 AND story = ?2 AND duplicate_of IS NULL AND time >= ?3
    ORDER BY time, rowid LIMIT 1";

impl State {
    /// Records `alert` and queues it for each of `outputs`, unless its id is already recorded,
    /// one of `silences` matches it (checked first) or `throttle` suppresses it. All or nothing: an alert recorded is queued too, also when
    /// the process dies halfway (a recorded alert is never offered again). Inside a
    /// [`batch`](State::batch) the batch's transaction gives that, so an error here must end
    /// the batch (`?`); alone, a savepoint does.
    pub fn record_alert(
        &self,
        alert: &Alert,
        throttle: &Throttle,
        silences: &Silences,
        outputs: &[&str],
    ) -> Result<Recorded, StateError> {
        let e = |e| self.error(e);
        // Inside a `batch`, the transaction is all or nothing already (an error ends it).
        if !self.conn.is_autocommit() {
            return self.record_alert_in_savepoint(alert, throttle, silences, outputs);
        }
        let run = |sql: &str| {
            self.conn
                .prepare_cached(sql)
                .and_then(|mut st| st.execute([]))
                .map(drop)
        };
        run("SAVEPOINT record_alert").map_err(e)?;
        let recorded = self.record_alert_in_savepoint(alert, throttle, silences, outputs);
        if recorded.is_err() {
            self.forget_story_index();
            run("ROLLBACK TO record_alert").map_err(e)?;
        }
        run("RELEASE record_alert").map_err(e)?;
        recorded
    }

    fn record_alert_in_savepoint(
        &self,
        alert: &Alert,
        throttle: &Throttle,
        silences: &Silences,
        outputs: &[&str],
    ) -> Result<Recorded, StateError> {
        let e = |e| self.error(e);
        let known: Option<i64> = self
            .conn
            .prepare_cached("SELECT 1 FROM alerts WHERE id = ?1")
            .and_then(|mut st| st.query_row([&alert.id], |r| r.get(0)).optional())
            .map_err(e)?;
        if known.is_some() {
            return Ok(Recorded::Duplicate);
        }
        // The story first: a copy of a story its rule alerted on is a duplicate, whatever
        // silences and throttling would say (the first alert had its say).
        let (alert, first) = self.group(alert)?;
        let alert = alert.as_ref();
        if let Some(first) = first {
            self.insert_alert(
                alert,
                Disposition {
                    duplicate_of: Some(&first),
                    ..Disposition::default()
                },
            )?;
            return Ok(Recorded::SameStory(first));
        }
        // Before throttling: a silenced alert neither opens a throttle window (it has no
        // group) nor is queued.
        if let Some(silence) = silences.matching(alert, now_ms()) {
            self.insert_alert(
                alert,
                Disposition {
                    silenced_by: Some(silence),
                    ..Disposition::default()
                },
            )?;
            self.count_silenced(silence)?;
            return Ok(Recorded::Silenced(silence));
        }
        let group = throttle.group(alert);
        let leader: Option<String> = match &group {
            Some(g) => {
                let since = crate::time::rfc3339_ago(throttle.window);
                self.conn
                    .prepare_cached(
                        "SELECT id FROM alerts WHERE throttle_group = ?1 AND suppressed = 0 AND time >= ?2
                         ORDER BY time DESC LIMIT 1",
                    )
                    .and_then(|mut st| st.query_row(params![g, since], |r| r.get(0)).optional())
                    .map_err(e)?
            }
            None => None,
        };
        self.insert_alert(
            alert,
            Disposition {
                suppressed: leader.is_some(),
                throttle_group: group.as_deref(),
                ..Disposition::default()
            },
        )?;
        if let Some(leader) = leader {
            self.conn
                .prepare_cached(
                    "UPDATE alerts SET suppressed_count = suppressed_count + 1 WHERE id = ?1",
                )
                .and_then(|mut st| st.execute([leader]))
                .map_err(e)?;
            return Ok(Recorded::Suppressed);
        }
        for output in outputs {
            self.queue(&alert.id, output)?;
        }
        Ok(Recorded::New)
    }

    /// Inserts `alert` with what became of it: one statement for every way an alert is kept.
    fn insert_alert(&self, alert: &Alert, d: Disposition<'_>) -> Result<(), StateError> {
        self.conn
            .prepare_cached(
                "INSERT INTO alerts (id, time, rule, severity, json, story,
                     duplicate_of, silenced_by, suppressed, throttle_group)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    alert.id,
                    alert.time,
                    alert.rule,
                    alert.severity.as_str(),
                    alert.to_json(),
                    alert.story,
                    d.duplicate_of,
                    d.silenced_by,
                    d.suppressed,
                    d.throttle_group
                ])
            })
            .map(drop)
            .map_err(|e| self.error(e))
    }

    /// `alert` with the story the index gives its article (a recent copy's), and the first
    /// alert of its rule on that story within the window if it has one and the rule alerts once
    /// per story. Alerts without a fingerprint (read back from JSON), and every alert while
    /// grouping is off, keep their story and are no copy.
    fn group<'a>(
        &self,
        alert: &'a Alert,
    ) -> Result<(std::borrow::Cow<'a, Alert>, Option<String>), StateError> {
        let window = self.story_window();
        let Some(grouping) = alert.grouping.as_ref().filter(|_| !window.is_zero()) else {
            return Ok((std::borrow::Cow::Borrowed(alert), None));
        };
        let story = self.story_of(&grouping.fingerprint, now_ms())?;
        let alert = if story == alert.story {
            std::borrow::Cow::Borrowed(alert)
        } else {
            let mut copy = alert.clone();
            copy.story = story;
            std::borrow::Cow::Owned(copy)
        };
        if !grouping.once_per_story {
            return Ok((alert, None));
        }
        let since = crate::time::rfc3339_ago(window);
        let first = self
            .conn
            .prepare_cached(FIRST_OF_STORY)
            .and_then(|mut st| {
                st.query_row(params![alert.rule, alert.story, since], |r| r.get(0))
                    .optional()
            })
            .map_err(|e| self.error(e))?;
        Ok((alert, first))
    }

    /// The recorded alert with this id.
    pub fn alert(&self, id: &str) -> Result<Option<Alert>, StateError> {
        let json: Option<String> = self
            .conn
            .prepare_cached("SELECT json FROM alerts WHERE id = ?1")
            .and_then(|mut st| st.query_row([id], |r| r.get(0)).optional())
            .map_err(|e| self.error(e))?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    /// Recorded alerts, oldest first: those raised at or after `since` (RFC 3339), of `rule`,
    /// each with what kept it from being delivered, if anything.
    pub fn alerts(
        &self,
        since: Option<&str>,
        rule: Option<&str>,
    ) -> Result<Vec<History>, StateError> {
        let e = |e| self.error(e);
        let mut st = self
            .conn
            .prepare(
                "SELECT json, suppressed, suppressed_count, silenced_by, duplicate_of FROM alerts
                 WHERE (?1 IS NULL OR time >= ?1) AND (?2 IS NULL OR rule = ?2)
                 ORDER BY time, rowid",
            )
            .map_err(e)?;
        let rows = st
            .query_map(params![since, rule], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })
            .map_err(e)?;
        let mut alerts = Vec::new();
        for row in rows {
            let (json, suppressed, count, silenced_by, duplicate_of) = row.map_err(e)?;
            match serde_json::from_str(&json) {
                Ok(alert) => alerts.push(History {
                    alert,
                    suppressed,
                    suppressed_count: count as u64,
                    silenced_by,
                    duplicate_of,
                }),
                Err(err) => tracing::warn!(
                    "state {}: skipping an unreadable alert: {err}",
                    self.path.display()
                ),
            }
        }
        Ok(alerts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(id: &str, rule: &str, chip: &str) -> Alert {
        serde_json::from_value(serde_json::json!({
            "id": id,
            "time": newswatch_engine::time::rfc3339(std::time::SystemTime::now()),
            "rule": rule,
            "severity": "high",
            "message": "m",
            "tags": [],
            "fields": { "chip": chip },
            "article": { "path": null, "title": "t", "url": null, "source": null, "sha256": "0" },
            "matches": [],
        }))
        .expect("an alert")
    }

    #[test]
    fn an_alert_is_recorded_and_queued_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = State::open(&dir.path().join("s.db")).unwrap();
        // The queueing fails halfway, as a crash between the two writes would leave it.
        state
            .conn
            .execute_batch(
                "CREATE TRIGGER fail BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
            )
            .unwrap();
        let off = Throttle::default();
        let none = Silences::default();
        assert!(
            state
                .record_alert(&alert("1", "r", "x"), &off, &none, &["out"])
                .is_err()
        );
        assert!(
            state.alert("1").unwrap().is_none(),
            "recorded but never queued"
        );
        // Inside a batch, the error ends the batch and nothing of it is kept.
        let in_batch = state.batch(|s| {
            s.record_alert(&alert("3", "r", "x"), &off, &none, &[])?;
            s.record_alert(&alert("2", "r", "x"), &off, &none, &["out"])
        });
        assert!(in_batch.is_err());
        assert!(state.alert("2").unwrap().is_none());
        assert!(state.alert("3").unwrap().is_none());
        state.conn.execute_batch("DROP TRIGGER fail").unwrap();
        assert_eq!(
            state
                .record_alert(&alert("1", "r", "x"), &off, &none, &["out"])
                .unwrap(),
            Recorded::New
        );
    }

    #[test]
    fn throttle_groups_by_rule_or_by_rule_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(&dir.path().join("s.db")).unwrap();
        let none = Silences::default();
        let per_chip = Throttle {
            window: Duration::from_secs(600),
            field: Some("chip".into()),
        };
        let record = |id, rule, chip| {
            state
                .record_alert(&alert(id, rule, chip), &per_chip, &none, &["out"])
                .unwrap()
        };
        assert_eq!(record("1", "r", "H200"), Recorded::New);
        assert_eq!(record("2", "r", "H200"), Recorded::Suppressed);
        assert_eq!(record("3", "r", "H20"), Recorded::New, "another chip");
        assert_eq!(record("4", "other", "H200"), Recorded::New, "another rule");
        assert_eq!(record("1", "r", "H200"), Recorded::Duplicate);
        let off = Throttle::default();
        assert_eq!(
            state
                .record_alert(&alert("5", "r", "H200"), &off, &none, &["out"])
                .unwrap(),
            Recorded::New
        );
        let queued = state.next_delivery("out").unwrap().unwrap();
        assert_eq!(queued.alert_id, "1", "the outbox is in raise order");
        let counts: Vec<_> = state
            .alerts(None, Some("r"))
            .unwrap()
            .into_iter()
            .map(|h| (h.alert.id, h.suppressed, h.suppressed_count))
            .collect();
        assert_eq!(counts[0], ("1".to_string(), false, 1));
        assert_eq!(counts[1], ("2".to_string(), true, 0));
    }

    #[test]
    fn a_silenced_alert_is_recorded_counted_and_never_queued_nor_throttling() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(&dir.path().join("s.db")).unwrap();
        let silence = state
            .add_silence(&crate::state::NewSilence {
                rules: vec!["r".into()],
                tags: Vec::new(),
                min_severity: None,
                duration: Duration::from_secs(3600),
                comment: "quiet".into(),
            })
            .unwrap();
        let silences = state.active_silences().unwrap();
        let throttle = Throttle {
            window: Duration::from_secs(600),
            field: None,
        };
        let record = |id, rule, silences: &Silences| {
            state
                .record_alert(&alert(id, rule, "x"), &throttle, silences, &["out"])
                .unwrap()
        };
        assert_eq!(record("1", "r", &silences), Recorded::Silenced(silence.id));
        assert_eq!(record("1", "r", &silences), Recorded::Duplicate);
        assert_eq!(record("2", "other", &silences), Recorded::New);
        assert_eq!(state.next_delivery("out").unwrap().unwrap().alert_id, "2");
        assert_eq!(state.silence(silence.id).unwrap().matched, 1);
        // Once the silence is gone, the rule's next alert is the first of its window.
        assert_eq!(record("3", "r", &Silences::default()), Recorded::New);
        let history = state.alerts(None, Some("r")).unwrap();
        assert_eq!(history[0].silenced_by, Some(silence.id));
        assert_eq!(history[1].silenced_by, None);
        assert!(!history[1].suppressed);
    }
}
