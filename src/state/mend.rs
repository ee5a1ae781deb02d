//! Mending the outbox by hand (`newswatch outbox`): listing the deliveries still queued, putting
//! deliveries back to `pending` — in their own queue or another output's — and dropping them.
//!
//! A delivery is named by its `seq`: the outbox's row id, which also orders its queue. Each
//! edit is one transaction that also bumps the state's revision counter, so a running daemon
//! wakes its outputs within a second ([`State::revision`]). A delivery moved to another queue
//! keeps its `seq`, so it takes its place there by when its alert was raised.

use rusqlite::{OptionalExtension, params};

use super::{DeliveryStatus, State, StateError};

/// One delivery waiting in the outbox (pending) or kept there as failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedDelivery {
    /// What `outbox retry` and `outbox drop` take.
    pub seq: i64,
    pub alert_id: String,
    /// Of the alert (empty when the alert is missing from the state).
    pub rule: String,
    pub title: String,
    /// The key of its output's queue.
    pub output_key: String,
    /// Its output's name when last configured (its key if never named).
    pub output_name: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// Not tried again before this (Unix ms); for a pending delivery.
    pub next_try_ms: i64,
    pub last_error: Option<String>,
}

/// Why an edit of the outbox was refused; nothing was changed then.
#[derive(Debug, thiserror::Error)]
pub enum MendError {
    #[error("no queued delivery {}: `newswatch outbox list` shows their ids", ids(.0))]
    Unknown(Vec<i64>),
    #[error("already delivered: {}", ids(.0))]
    Delivered(Vec<i64>),
    #[error(transparent)]
    State(#[from] StateError),
}

fn ids(seqs: &[i64]) -> String {
    seqs.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What [`State::requeue`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mended {
    /// Deliveries changed.
    pub changed: usize,
    /// Deliveries not moved because the target queue already has their alert (queued,
    /// delivered or failed there): left as they were.
    pub already_there: Vec<i64>,
}

fn status_of(text: &str) -> DeliveryStatus {
    match text {
        "delivered" => DeliveryStatus::Delivered,
        "failed" => DeliveryStatus::Failed,
        _ => DeliveryStatus::Pending,
    }
}

impl State {
    /// The deliveries pending or failed, oldest first; only those of `status` if given.
    pub fn queued_deliveries(
        &self,
        status: Option<DeliveryStatus>,
    ) -> Result<Vec<QueuedDelivery>, StateError> {
        let status = status.map(|s| match s {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Delivered => "delivered",
        });
        self.conn
            .prepare(
                "SELECT b.seq, b.alert_id, coalesce(a.rule, ''),
                        coalesce(json_extract(a.json, '$.article.title'),
                            (SELECT 'digest of ' || json_array_length(d.alerts) || ' alerts from '
                                 || datetime(d.from_ms / 1000, 'unixepoch') || ' UTC'
                             FROM digests d WHERE d.seq = b.seq), ''),
                        b.output, coalesce(o.name, b.output), b.status, b.attempts,
                        b.next_try_ms, b.last_error
                 FROM outbox b
                 LEFT JOIN alerts a ON a.id = b.alert_id
                 LEFT JOIN outputs o ON o.key = b.output
                 WHERE b.status IN ('pending', 'failed') AND (?1 IS NULL OR b.status = ?1)
                 ORDER BY b.seq",
            )
            .and_then(|mut st| {
                st.query_map([status], |r| {
                    Ok(QueuedDelivery {
                        seq: r.get(0)?,
                        alert_id: r.get(1)?,
                        rule: r.get(2)?,
                        title: r.get(3)?,
                        output_key: r.get(4)?,
                        output_name: r.get(5)?,
                        status: status_of(&r.get::<_, String>(6)?),
                        attempts: r.get::<_, i64>(7)? as u32,
                        next_try_ms: r.get(8)?,
                        last_error: r.get(9)?,
                    })
                })?
                .collect()
            })
            .map_err(|e| self.error(e))
    }

    /// Puts the deliveries `seqs` back to pending, as new: no attempts, due now, no error —
    /// into the queue `to` (an output's key) if given. All or nothing: an unknown or delivered
    /// one refuses the whole edit.
    pub fn requeue(&self, seqs: &[i64], to: Option<&str>) -> Result<Mended, MendError> {
        self.mend(seqs, |tx, seq| {
            // A row whose alert the target queue already has stays where it is (the queue
            // holds each alert once).
            tx.execute(
                "UPDATE OR IGNORE outbox SET output = coalesce(?2, output), status = 'pending',
                     attempts = 0, first_try_ms = NULL, next_try_ms = 0, last_error = NULL,
                     done_ms = NULL
                 WHERE seq = ?1",
                params![seq, to],
            )
        })
    }

    /// Removes the deliveries `seqs` from the outbox; their alerts stay in the history. All or
    /// nothing, as [`State::requeue`].
    pub fn drop_deliveries(&self, seqs: &[i64]) -> Result<usize, MendError> {
        let mended = self.mend(seqs, |tx, seq| {
            tx.execute("DELETE FROM outbox WHERE seq = ?1", [seq])
        })?;
        Ok(mended.changed)
    }

    /// Checks that every one of `seqs` is queued (pending or failed), then applies `edit` to
    /// each, in one transaction that also counts the edit for a running daemon.
    fn mend(
        &self,
        seqs: &[i64],
        edit: impl Fn(&rusqlite::Transaction, i64) -> rusqlite::Result<usize>,
    ) -> Result<Mended, MendError> {
        let e = |e| self.error(e);
        let tx = self.conn.unchecked_transaction().map_err(e)?;
        let (mut unknown, mut delivered) = (Vec::new(), Vec::new());
        for &seq in seqs {
            let status: Option<String> = tx
                .query_row("SELECT status FROM outbox WHERE seq = ?1", [seq], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(e)?;
            match status.as_deref().map(status_of) {
                None => unknown.push(seq),
                Some(DeliveryStatus::Delivered) => delivered.push(seq),
                Some(_) => {}
            }
        }
        if !unknown.is_empty() {
            return Err(MendError::Unknown(unknown));
        }
        if !delivered.is_empty() {
            return Err(MendError::Delivered(delivered));
        }
        let mut mended = Mended::default();
        for &seq in seqs {
            match edit(&tx, seq).map_err(e)? {
                0 => mended.already_there.push(seq),
                _ => mended.changed += 1,
            }
        }
        State::bump_revision(&tx).map_err(e)?;
        tx.commit().map_err(e)?;
        Ok(mended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Silences, Throttle};

    fn alert(id: &str) -> newswatch_engine::Alert {
        serde_json::from_value(serde_json::json!({
            "id": id, "time": "2026-01-01T00:00:00Z", "rule": "r", "severity": "high",
            "message": "m", "tags": [], "fields": {},
            "article": { "path": null, "title": format!("title {id}"), "url": null, "source": null, "sha256": "0" },
            "matches": [],
        }))
        .expect("an alert")
    }

    #[test]
    fn deliveries_are_retried_moved_and_dropped_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(&dir.path().join("s.db")).unwrap();
        let (off, none) = (Throttle::default(), Silences::default());
        for id in ["a", "b", "c"] {
            state
                .record_alert(&alert(id), &off, &none, &["old"])
                .unwrap();
        }
        state.queue("c", "new").unwrap();
        let queued = state.queued_deliveries(None).unwrap();
        assert_eq!(queued.len(), 4);
        assert_eq!(queued[0].title, "title a");
        let (a, b, c) = (queued[0].seq, queued[1].seq, queued[2].seq);
        state.failed(a, "HTTP 400").unwrap();
        state.delivered(b).unwrap();
        let failed = state
            .queued_deliveries(Some(DeliveryStatus::Failed))
            .unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].last_error.as_deref(), Some("HTTP 400"));

        let before = state.revision().unwrap();
        assert!(matches!(
            state.requeue(&[a, b], None),
            Err(MendError::Delivered(d)) if d == [b]
        ));
        assert!(matches!(
            state.requeue(&[a, 999], None),
            Err(MendError::Unknown(u)) if u == [999]
        ));
        assert_eq!(state.revision().unwrap(), before, "nothing changed");
        assert_eq!(
            state.requeue(&[a, c], Some("new")).unwrap(),
            Mended {
                changed: 1,
                already_there: vec![c]
            }
        );
        assert_eq!(state.revision().unwrap(), before + 1);
        let head = state.next_delivery("new").unwrap().unwrap();
        assert_eq!((head.seq, head.attempts, head.next_try_ms), (a, 0, 0));
        assert_eq!(state.drop_deliveries(&[a]).unwrap(), 1);
        assert!(state.alert("a").unwrap().is_some(), "the alert stays");
        assert_eq!(state.next_delivery("new").unwrap().unwrap().alert_id, "c");
        assert_eq!(state.next_delivery("old").unwrap().unwrap().seq, c);
    }
}
