//! The outbox: deliveries still to make, one row per (alert, output), in the order alerts were
//! raised. Rows stay until delivered (or given up on), so deliveries survive restarts.

use rusqlite::{OptionalExtension, params};

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

/// Where one delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    /// Given up after retrying for the configured time.
    Failed,
}

/// One output's delivery of one alert, for `newswatch alerts`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub output: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// Now, in milliseconds since the epoch: how the outbox keeps time.
pub(crate) fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

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
            .prepare_cached(
                "SELECT seq, alert_id, attempts, first_try_ms, next_try_ms FROM outbox
                 WHERE output = ?1 AND status = 'pending' ORDER BY seq LIMIT 1",
            )
            .and_then(|mut st| {
                st.query_row([output], |r| {
                    Ok(Queued {
                        seq: r.get(0)?,
                        alert_id: r.get(1)?,
                        attempts: r.get::<_, i64>(2)? as u32,
                        first_try_ms: r.get(3)?,
                        next_try_ms: r.get(4)?,
                    })
                })
                .optional()
            })
            .map_err(|e| self.error(e))
    }

    /// The outputs with deliveries still pending, and how many each.
    pub fn pending_outputs(&self) -> Result<Vec<(String, u64)>, StateError> {
        self.conn
            .prepare("SELECT output, count(*) FROM outbox WHERE status = 'pending' GROUP BY output")
            .and_then(|mut st| {
                st.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
                    .collect()
            })
            .map_err(|e| self.error(e))
    }

    /// Marks a delivery done.
    pub fn delivered(&self, seq: i64) -> Result<(), StateError> {
        self.finish(seq, "delivered", None)
    }

    /// Marks a delivery given up, with the last error.
    pub fn given_up(&self, seq: i64, error: &str) -> Result<(), StateError> {
        self.finish(seq, "failed", Some(error))
    }

    fn finish(&self, seq: i64, status: &str, error: Option<&str>) -> Result<(), StateError> {
        self.conn
            .execute(
                "UPDATE outbox SET status = ?2, done_ms = ?3, attempts = attempts + 1,
                     first_try_ms = coalesce(first_try_ms, ?3), last_error = coalesce(?4, last_error)
                 WHERE seq = ?1",
                params![seq, status, now_ms(), error],
            )
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
                params![seq, error, next_try_ms, now_ms()],
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
                "SELECT output, status, attempts, last_error FROM outbox WHERE alert_id = ?1 ORDER BY seq",
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
