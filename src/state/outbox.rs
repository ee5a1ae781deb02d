//! The outbox: deliveries still to make, one row per (alert, output), in the order alerts were
//! raised. Rows stay, so deliveries survive restarts: `pending` until delivered, or `failed`
//! for good — at once when the output said the delivery can never succeed, or once retries
//! ran out — with the error kept (bounded: [`super::ERROR_KEPT`]).
//!
//! An output's rows are keyed by its stable key (a hash of its configuration: `config::identity`); the `outputs`
//! table keeps beside each key the name it was last configured with, for `newswatch alerts`
//! and for saying which queues no output of the config will deliver.

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

use super::{State, StateError};

/// The delivery at the head of an output's queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queued {
    pub seq: i64,
    pub alert_id: String,
    pub attempts: u32,
    /// When the first attempt was made (Unix ms), if one was.
    pub first_try_ms: Option<i64>,
    /// Not before this time (Unix ms).
    pub next_try_ms: i64,
}

impl Queued {
    /// A row of `seq, alert_id, attempts, first_try_ms, next_try_ms`.
    pub(super) fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Queued> {
        Ok(Queued {
            seq: r.get(0)?,
            alert_id: r.get(1)?,
            attempts: r.get::<_, i64>(2)? as u32,
            first_try_ms: r.get(3)?,
            next_try_ms: r.get(4)?,
        })
    }
}

/// Where one delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    /// For good: the output refused it as it is (a permanent failure), or retries ran out.
    Failed,
}

/// One output's delivery of one alert, for `newswatch alerts`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The output's name (its last, if the config no longer has it).
    pub output: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// An output's queue with deliveries pending.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queue {
    pub key: String,
    /// The output's name when it was last configured.
    pub name: String,
    pub pending: u64,
}

/// An output of the config, for [`State::adopt_outputs`].
#[derive(Clone, Copy, Debug)]
pub struct OutputIdentity<'a> {
    /// Its stable key.
    pub key: &'a str,
    /// The key a newswatch before stable keys gave it: its name then, `#N` after a repeat.
    pub legacy_key: &'a str,
    /// Its name now.
    pub name: &'a str,
}

/// What [`State::adopt_outputs`] did with queues of before stable keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Adopted {
    /// Carried over to an output of the config: its name, and how many rows (of any status).
    pub carried: Vec<(String, u64)>,
    /// Not carried over, though an output's legacy key is theirs: more of them wait than the
    /// config has outputs of that name, so one of those was removed and which cannot be told.
    pub ambiguous: Vec<String>,
}

/// A legacy key without the `#N` that told repeats apart.
fn legacy_base(key: &str) -> &str {
    match key.rsplit_once(" #") {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => key,
    }
}

/// Now, in milliseconds since the epoch: how the outbox keeps time.
pub(crate) fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// The oldest pending delivery of an output.
pub(super) const NEXT_DELIVERY: &str = "SELECT seq, alert_id, attempts, first_try_ms, next_try_ms
    FROM outbox WHERE output = ?1 AND status = 'pending' ORDER BY seq LIMIT 1";

impl State {
    /// Queues `alert_id` for `output` (once).
    pub(super) fn queue(&self, alert_id: &str, output: &str) -> Result<(), StateError> {
        self.conn
            .prepare_cached("INSERT OR IGNORE INTO outbox (alert_id, output) VALUES (?1, ?2)")
            .and_then(|mut st| st.execute(params![alert_id, output]))
            .map(drop)
            .map_err(|e| self.error(e))
    }

    /// The oldest pending delivery for `output`.
    pub fn next_delivery(&self, output: &str) -> Result<Option<Queued>, StateError> {
        self.conn
            .prepare_cached(NEXT_DELIVERY)
            .and_then(|mut st| st.query_row([output], Queued::from_row).optional())
            .map_err(|e| self.error(e))
    }

    /// How many deliveries wait in `output`'s queue (for the metrics).
    pub fn pending(&self, output: &str) -> Result<u64, StateError> {
        self.conn
            .prepare_cached("SELECT count(*) FROM outbox WHERE output = ?1 AND status = 'pending'")
            .and_then(|mut st| st.query_row([output], |r| r.get::<_, i64>(0)))
            .map(|n| n.max(0) as u64)
            .map_err(|e| self.error(e))
    }

    /// The queues with deliveries still pending, and how many each.
    pub fn pending_outputs(&self) -> Result<Vec<Queue>, StateError> {
        self.conn
            .prepare(
                "SELECT b.output, coalesce(o.name, b.output), count(*)
                 FROM outbox b LEFT JOIN outputs o ON o.key = b.output
                 WHERE b.status = 'pending' GROUP BY b.output ORDER BY min(b.seq)",
            )
            .and_then(|mut st| {
                st.query_map([], |r| {
                    Ok(Queue {
                        key: r.get(0)?,
                        name: r.get(1)?,
                        pending: r.get::<_, i64>(2)? as u64,
                    })
                })?
                .collect()
            })
            .map_err(|e| self.error(e))
    }

    /// Records the outputs of the config: each key's name, for listing. The first time (after
    /// an upgrade), the queues an older newswatch kept under outputs' names are carried over to
    /// their stable keys: the rows of each output's legacy key become its own, unless more
    /// queues of that name wait than the config has outputs of that name (one was removed,
    /// and handing its alerts to another endpoint is what keys are for avoiding). Queues no
    /// output claims stay, under their old name, as queues of outputs the config no longer
    /// has. One transaction; with no outputs given, queues are left for a config that has
    /// some.
    pub fn adopt_outputs(&self, outputs: &[OutputIdentity]) -> Result<Adopted, StateError> {
        let e = |e| self.error(e);
        let tx =
            Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate).map_err(e)?;
        let mut adopted = Adopted::default();
        // Legacy keys, with how many deliveries each still has to make.
        let legacy: Vec<(String, u64)> = tx
            .prepare(
                "SELECT o.key, (SELECT count(*) FROM outbox b WHERE b.output = o.key AND b.status = 'pending')
                 FROM outputs o WHERE o.legacy = 1",
            )
            .and_then(|mut st| {
                st.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
                    .collect()
            })
            .map_err(e)?;
        if !legacy.is_empty() && !outputs.is_empty() {
            for output in outputs {
                if !legacy.iter().any(|(k, _)| k == output.legacy_key) {
                    continue;
                }
                let base = legacy_base(output.legacy_key);
                let waiting = legacy
                    .iter()
                    .filter(|(k, pending)| *pending > 0 && legacy_base(k) == base)
                    .count();
                let configured = outputs
                    .iter()
                    .filter(|o| legacy_base(o.legacy_key) == base)
                    .count();
                if waiting > configured {
                    adopted.ambiguous.push(output.legacy_key.to_string());
                    continue;
                }
                // A row the output already has (the same alert) stays behind, orphaned.
                let moved = tx
                    .execute(
                        "UPDATE OR IGNORE outbox SET output = ?1 WHERE output = ?2",
                        params![output.key, output.legacy_key],
                    )
                    .map_err(e)?;
                tx.execute(
                    "DELETE FROM outputs WHERE key = ?1
                     AND NOT EXISTS (SELECT 1 FROM outbox WHERE output = ?1)",
                    [output.legacy_key],
                )
                .map_err(e)?;
                adopted
                    .carried
                    .push((output.name.to_string(), moved as u64));
            }
            tx.execute("UPDATE outputs SET legacy = 0 WHERE legacy = 1", [])
                .map_err(e)?;
        }
        for output in outputs {
            tx.execute(
                "INSERT INTO outputs (key, name) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET name = ?2, legacy = 0",
                params![output.key, output.name],
            )
            .map_err(e)?;
        }
        tx.commit().map_err(e)?;
        Ok(adopted)
    }

    /// Marks a delivery done.
    pub fn delivered(&self, seq: i64) -> Result<(), StateError> {
        self.finish(seq, "delivered", None)
    }

    /// Marks a delivery failed for good, with its error (bounded).
    pub fn failed(&self, seq: i64, error: &str) -> Result<(), StateError> {
        self.finish(seq, "failed", Some(&super::bounded(error)))
    }

    fn finish(&self, seq: i64, status: &str, error: Option<&str>) -> Result<(), StateError> {
        self.conn
            .prepare_cached(
                "UPDATE outbox SET status = ?2, done_ms = ?3, attempts = attempts + 1,
                     first_try_ms = coalesce(first_try_ms, ?3), last_error = coalesce(?4, last_error)
                 WHERE seq = ?1",
            )
            .and_then(|mut st| st.execute(params![seq, status, now_ms(), error]))
            .map(drop)
            .map_err(|e| self.error(e))
    }

    /// Records a failed attempt; the next is not before `next_try_ms`.
    pub fn retry_later(&self, seq: i64, error: &str, next_try_ms: i64) -> Result<(), StateError> {
        self.conn
            .execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_try_ms = ?3,
                     first_try_ms = coalesce(first_try_ms, ?4)
                 WHERE seq = ?1",
                params![seq, super::bounded(error), next_try_ms, now_ms()],
            )
            .map(drop)
            .map_err(|e| self.error(e))
    }

    /// Every delivery of `alert_id`, by output.
    pub fn deliveries(&self, alert_id: &str) -> Result<Vec<Delivery>, StateError> {
        let e = |e| self.error(e);
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT coalesce(o.name, b.output), b.status, b.attempts, b.last_error, b.seq
                 FROM outbox b LEFT JOIN outputs o ON o.key = b.output
                 WHERE b.alert_id = ?1
                 UNION ALL
                 SELECT coalesce(o.name, b.output) || ' (digest)', b.status, b.attempts,
                     b.last_error, b.seq
                 FROM digests d JOIN outbox b ON b.seq = d.seq
                 LEFT JOIN outputs o ON o.key = b.output
                 WHERE EXISTS (SELECT 1 FROM json_each(d.alerts) WHERE value = ?1)
                 ORDER BY 5",
            )
            .map_err(e)?;
        let rows = st
            .query_map([alert_id], |r| {
                let status = match r.get::<_, String>(1)?.as_str() {
                    "delivered" => DeliveryStatus::Delivered,
                    "failed" => DeliveryStatus::Failed,
                    _ => DeliveryStatus::Pending,
                };
                Ok(Delivery {
                    output: r.get(0)?,
                    status,
                    attempts: r.get::<_, i64>(2)? as u32,
                    last_error: r.get(3)?,
                })
            })
            .map_err(e)?;
        rows.collect::<Result<_, _>>().map_err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state as a newswatch before stable keys left it (schema 3): queues keyed by output
    /// names, with these `(alert, output, status)` rows.
    fn old_state(path: &std::path::Path, rows: &[(&str, &str, &str)]) {
        let conn = rusqlite::Connection::open(path).unwrap();
        for migration in &super::super::MIGRATIONS[..3] {
            conn.execute_batch(migration).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
        for (alert, output, status) in rows {
            conn.execute(
                "INSERT OR IGNORE INTO alerts (id, time, rule, severity, json) VALUES (?1, '2026-01-01T00:00:00Z', 'r', 'high', '{}')",
                [alert],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO outbox (alert_id, output, status) VALUES (?1, ?2, ?3)",
                [alert, output, status],
            )
            .unwrap();
        }
    }

    fn identity<'a>(key: &'a str, legacy_key: &'a str, name: &'a str) -> OutputIdentity<'a> {
        OutputIdentity {
            key,
            legacy_key,
            name,
        }
    }

    fn queue(state: &State, key: &str) -> Vec<String> {
        state
            .conn
            .prepare("SELECT alert_id FROM outbox WHERE output = ?1 ORDER BY seq")
            .unwrap()
            .query_map([key], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn names(queues: Vec<Queue>) -> Vec<(String, u64)> {
        queues.into_iter().map(|q| (q.name, q.pending)).collect()
    }

    #[test]
    fn queues_keyed_by_names_are_carried_over_to_stable_keys_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let (a, b) = ("webhook http://h/hook", "webhook http://h/hook #1");
        old_state(
            &path,
            &[
                ("0", a, "delivered"),
                ("1", a, "pending"),
                ("2", b, "pending"),
                ("3", "file gone.jsonl", "pending"),
                ("4", a, "pending"),
            ],
        );
        let state = State::open(&path).unwrap();
        let version: i64 = state
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, super::super::MIGRATIONS.len() as i64);
        // Before a config claims them, queues are shown by their old key, their name then.
        assert_eq!(state.deliveries("1").unwrap()[0].output, a);
        let config = [
            identity("webhook:aaaa", a, "hook a"),
            identity("webhook:bbbb", b, "hook b"),
        ];
        let adopted = state.adopt_outputs(&config).unwrap();
        assert_eq!(
            adopted.carried,
            [("hook a".to_string(), 3), ("hook b".to_string(), 1)]
        );
        assert!(adopted.ambiguous.is_empty());
        assert_eq!(queue(&state, "webhook:aaaa"), ["0", "1", "4"], "in order");
        assert_eq!(queue(&state, "webhook:bbbb"), ["2"]);
        assert!(queue(&state, a).is_empty() && queue(&state, b).is_empty());
        assert_eq!(
            state
                .next_delivery("webhook:aaaa")
                .unwrap()
                .unwrap()
                .alert_id,
            "1"
        );
        assert_eq!(state.deliveries("0").unwrap()[0].output, "hook a");
        assert_eq!(
            names(state.pending_outputs().unwrap()),
            [
                ("hook a".to_string(), 2),
                ("hook b".to_string(), 1),
                ("file gone.jsonl".to_string(), 1)
            ],
            "a queue no output claims stays, under its old name"
        );

        // Once: opening again, or an output named as the orphan was, claims nothing more.
        drop(state);
        let state = State::open(&path).unwrap();
        let again = [
            identity("webhook:aaaa", a, "hook a"),
            identity("file:cccc", "file gone.jsonl", "file gone.jsonl"),
        ];
        assert_eq!(state.adopt_outputs(&again).unwrap(), Adopted::default());
        assert_eq!(queue(&state, "file gone.jsonl"), ["3"]);
        assert!(queue(&state, "file:cccc").is_empty());
        assert_eq!(queue(&state, "webhook:aaaa"), ["0", "1", "4"]);
    }

    #[test]
    fn a_queue_of_an_output_removed_at_the_upgrade_goes_to_no_other() {
        // Two webhooks named alike (tokens in their queries); the first is gone from the
        // config, so the second's old key is now the first's: which queue is whose cannot be
        // told, and neither is handed over.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let (a, b) = ("webhook http://h/hook…", "webhook http://h/hook… #1");
        old_state(&path, &[("1", a, "pending"), ("2", b, "pending")]);
        let state = State::open(&path).unwrap();
        let adopted = state
            .adopt_outputs(&[identity("webhook:bbbb", a, a)])
            .unwrap();
        assert!(adopted.carried.is_empty());
        assert_eq!(adopted.ambiguous, [a]);
        assert!(queue(&state, "webhook:bbbb").is_empty());
        assert_eq!(
            names(state.pending_outputs().unwrap()),
            [(a.to_string(), 1), (b.to_string(), 1)]
        );
    }

    #[test]
    fn without_outputs_old_queues_wait_for_a_config_that_has_some() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        old_state(&path, &[("1", "stdout", "pending")]);
        let state = State::open(&path).unwrap();
        assert_eq!(state.adopt_outputs(&[]).unwrap(), Adopted::default());
        let adopted = state
            .adopt_outputs(&[identity("stdout:ssss", "stdout", "stdout")])
            .unwrap();
        assert_eq!(adopted.carried, [("stdout".to_string(), 1)]);
        assert_eq!(queue(&state, "stdout:ssss"), ["1"]);
    }

    #[test]
    fn carrying_over_is_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        old_state(&path, &[("1", "stdout", "pending")]);
        let state = State::open(&path).unwrap();
        state
            .conn
            .execute_batch(
                "CREATE TRIGGER fail BEFORE INSERT ON outputs BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
            )
            .unwrap();
        let config = [identity("stdout:ssss", "stdout", "stdout")];
        assert!(state.adopt_outputs(&config).is_err());
        assert_eq!(queue(&state, "stdout"), ["1"], "rolled back");
        state.conn.execute_batch("DROP TRIGGER fail").unwrap();
        assert_eq!(state.adopt_outputs(&config).unwrap().carried.len(), 1);
        assert_eq!(queue(&state, "stdout:ssss"), ["1"]);
    }

    #[test]
    fn legacy_keys_lose_only_a_repeat_suffix() {
        assert_eq!(legacy_base("webhook http://h/ #3"), "webhook http://h/");
        assert_eq!(legacy_base("webhook http://h/"), "webhook http://h/");
        assert_eq!(legacy_base("command echo #"), "command echo #");
        assert_eq!(legacy_base("command echo #x"), "command echo #x");
    }
}
