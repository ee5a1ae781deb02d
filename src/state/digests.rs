//! Digests in the state: the alerts queued for a digest output become, once their period has
//! ended, one outbox row of their own (see `outbox::digest`).
//!
//! A digest's outbox row has the alert id `digest:FROM` (FROM: the period's start, Unix ms),
//! so the outbox's uniqueness of (output, alert id) is the idempotency key of a period: one
//! digest per output and period, whatever restarts happen. The `digests` table keeps its period
//! and its alerts (ids in digest order); the alerts' own rows leave the outbox in the same
//! transaction. A digest whose period is over is made at the first look after its end.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

use super::outbox::Queued;
use super::{State, StateError};
use newswatch_engine::alert::Alert;

/// What outbox rows of digests start their alert id with.
pub const DIGEST_PREFIX: &str = "digest:";

/// A digest as recorded: its period and its alerts, grouped by rule and story.
#[derive(Clone, Debug)]
pub struct RecordedDigest {
    /// The period, RFC 3339 UTC: `[from, to)`.
    pub from: String,
    pub to: String,
    pub alerts: Vec<Alert>,
}

impl State {
    /// Makes the digests of `output` whose periods have ended by `now_ms`, from the alerts
    /// queued for it: each pending alert row goes to the digest of the period of its alert's
    /// time — or, when that period already has its digest (an alert recorded just after the
    /// digest was made), of the first period after the last digest. `period(t)` gives the
    /// period holding `t`. One transaction; returns how many digests were made.
    pub fn make_digests(
        &self,
        output: &str,
        period: impl Fn(i64) -> (i64, i64),
        now_ms: i64,
    ) -> Result<usize, StateError> {
        let e = |e| self.error(e);
        let tx =
            Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate).map_err(e)?;
        let last_to: Option<i64> = tx
            .query_row(
                "SELECT max(to_ms) FROM digests WHERE output = ?1",
                [output],
                |r| r.get(0),
            )
            .map_err(e)?;
        let rows: Vec<(i64, String, String)> = tx
            .prepare(
                "SELECT b.seq, b.alert_id, coalesce(a.time, '') FROM outbox b
                 LEFT JOIN alerts a ON a.id = b.alert_id
                 WHERE b.output = ?1 AND b.status = 'pending' AND b.alert_id NOT LIKE 'digest:%'
                 ORDER BY b.seq",
            )
            .and_then(|mut st| {
                st.query_map([output], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .map_err(e)?;
        let mut due: BTreeMap<(i64, i64), Vec<(i64, String)>> = BTreeMap::new();
        for (seq, alert_id, time) in rows {
            let raised = time
                .parse::<jiff::Timestamp>()
                .map_or(now_ms, |t| t.as_millisecond());
            let (from, to) = period(raised.max(last_to.unwrap_or(i64::MIN)));
            if to <= now_ms {
                due.entry((from, to)).or_default().push((seq, alert_id));
            }
        }
        let mut made = 0;
        for ((from, to), members) in due {
            let inserted = tx
                .execute(
                    "INSERT OR IGNORE INTO outbox (alert_id, output) VALUES (?1, ?2)",
                    params![format!("{DIGEST_PREFIX}{from}"), output],
                )
                .map_err(e)?;
            if inserted == 0 {
                continue; // made already: its alerts wait for the next period
            }
            let seq = tx.last_insert_rowid();
            let ids: Vec<&str> = members.iter().map(|(_, id)| id.as_str()).collect();
            tx.execute(
                "INSERT INTO digests (seq, output, from_ms, to_ms, alerts) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![seq, output, from, to, serde_json::to_string(&ids).expect("ids")],
            )
            .map_err(e)?;
            for (member, _) in &members {
                tx.execute("DELETE FROM outbox WHERE seq = ?1", [member])
                    .map_err(e)?;
            }
            made += 1;
        }
        tx.commit().map_err(e)?;
        Ok(made)
    }

    /// The oldest pending digest of `output`'s queue (its alert rows wait for their period).
    pub fn next_digest(&self, output: &str) -> Result<Option<Queued>, StateError> {
        self.conn
            .prepare_cached(
                "SELECT seq, alert_id, attempts, first_try_ms, next_try_ms FROM outbox
                 WHERE output = ?1 AND status = 'pending' AND alert_id LIKE 'digest:%'
                 ORDER BY seq LIMIT 1",
            )
            .and_then(|mut st| st.query_row([output], Queued::from_row).optional())
            .map_err(|e| self.error(e))
    }

    /// The digest of the outbox row `seq`: its period and its alerts (those still in the
    /// state), grouped by rule, then by story in the order stories first appear.
    pub fn digest(&self, seq: i64) -> Result<Option<RecordedDigest>, StateError> {
        let e = |e| self.error(e);
        let row: Option<(i64, i64, String)> = self
            .conn
            .query_row(
                "SELECT from_ms, to_ms, alerts FROM digests WHERE seq = ?1",
                [seq],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(e)?;
        let Some((from, to, ids)) = row else {
            return Ok(None);
        };
        let ids: Vec<String> = serde_json::from_str(&ids).unwrap_or_default();
        let mut alerts = Vec::with_capacity(ids.len());
        for id in &ids {
            alerts.extend(self.alert(id)?);
        }
        alerts.sort_by(|a, b| a.time.cmp(&b.time));
        let mut first_seen: Vec<(&str, &str)> = Vec::new();
        for a in &alerts {
            if !first_seen.contains(&(&a.rule, &a.story)) {
                first_seen.push((&a.rule, &a.story));
            }
        }
        let order = |a: &Alert| {
            let story = first_seen
                .iter()
                .position(|(r, s)| *r == a.rule && *s == a.story);
            (a.rule.clone(), story)
        };
        let mut keyed: Vec<_> = alerts.iter().map(|a| (order(a), a.clone())).collect();
        keyed.sort_by_key(|(key, _)| key.clone());
        Ok(Some(RecordedDigest {
            from: crate::time::rfc3339_ms(from),
            to: crate::time::rfc3339_ms(to),
            alerts: keyed.into_iter().map(|(_, a)| a).collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Silences, Throttle};

    fn alert(id: &str, rule: &str, time: &str) -> Alert {
        serde_json::from_value(serde_json::json!({
            "id": id, "time": time, "rule": rule, "severity": "high", "message": "m",
            "tags": [], "fields": {}, "story": format!("story-{id}"),
            "article": { "path": null, "title": id, "url": null, "source": null, "sha256": "0" },
            "matches": [],
        }))
        .expect("an alert")
    }

    /// Periods of an hour.
    fn hourly(t: i64) -> (i64, i64) {
        let from = t - t.rem_euclid(3_600_000);
        (from, from + 3_600_000)
    }

    #[test]
    fn one_digest_per_period_whatever_is_recorded_late() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(&dir.path().join("s.db")).unwrap();
        let (off, none) = (Throttle::default(), Silences::default());
        let record = |id, rule, time| {
            state
                .record_alert(&alert(id, rule, time), &off, &none, &["out"])
                .unwrap()
        };
        record("b1", "b", "2026-01-01T00:10:00Z");
        record("a1", "a", "2026-01-01T00:20:00Z");
        record("b2", "b", "2026-01-01T00:30:00Z");
        let at = |t: &str| t.parse::<jiff::Timestamp>().unwrap().as_millisecond();
        // Before the period ends: nothing; after: one digest, and only one however often asked.
        assert_eq!(
            state
                .make_digests("out", hourly, at("2026-01-01T00:59:00Z"))
                .unwrap(),
            0
        );
        assert_eq!(
            state
                .make_digests("out", hourly, at("2026-01-01T01:00:01Z"))
                .unwrap(),
            1
        );
        assert_eq!(
            state
                .make_digests("out", hourly, at("2026-01-01T01:00:02Z"))
                .unwrap(),
            0
        );
        let head = state.next_digest("out").unwrap().unwrap();
        assert!(head.alert_id.starts_with(DIGEST_PREFIX));
        let digest = state.digest(head.seq).unwrap().unwrap();
        assert_eq!(digest.from, "2026-01-01T00:00:00Z");
        assert_eq!(digest.to, "2026-01-01T01:00:00Z");
        let ids: Vec<&str> = digest.alerts.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["a1", "b1", "b2"], "by rule, then story, then time");
        assert_eq!(
            state.next_delivery("out").unwrap().unwrap().seq,
            head.seq,
            "alone queued"
        );
        state.delivered(head.seq).unwrap();
        assert_eq!(state.deliveries("b1").unwrap()[0].output, "out (digest)");
        // An alert of that period recorded after its digest goes into the next one.
        record("a2", "a", "2026-01-01T00:50:00Z");
        assert_eq!(
            state
                .make_digests("out", hourly, at("2026-01-01T01:30:00Z"))
                .unwrap(),
            0
        );
        assert_eq!(
            state
                .make_digests("out", hourly, at("2026-01-01T02:00:00Z"))
                .unwrap(),
            1
        );
        let next = state.next_digest("out").unwrap().unwrap();
        let digest = state.digest(next.seq).unwrap().unwrap();
        assert_eq!(digest.from, "2026-01-01T01:00:00Z");
        assert_eq!(digest.alerts.len(), 1);
    }
}
