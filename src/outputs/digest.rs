//! Digests: an output with `digest: { every: 1d, at: "08:00" }` receives one message per
//! period holding the period's alerts, instead of one per alert.
//!
//! Alerts are recorded and queued for the output as for any other (so they survive restarts
//! and crashes in the state); its thread does not deliver them one by one. Once a period has
//! ended, one transaction (`State::make_digests`) turns the alerts queued for it into one
//! outbox row — keyed by the output and the period's start, so a period gets one digest
//! whatever restarts and crashes happen around it — and the alerts' own rows are removed.
//! That row is then delivered like an alert: retried with backoff, `failed` for good, listed,
//! retried or dropped by `newswatch outbox`. A period without alerts sends nothing.
//!
//! Periods follow the local clock: `every` is a whole number of days (periods start at `at`
//! on days counted from 1970-01-01) or divides a day (`6h` at `08:00`: 02:00, 08:00, 14:00,
//! 20:00).

use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use newswatch_engine::alert::Alert;

/// One digest as delivered: its period and its alerts, grouped by rule and story.
#[derive(Clone, Debug)]
pub struct Digest {
    /// The period, RFC 3339 UTC: `[from, to)`.
    pub from: String,
    pub to: String,
    pub alerts: Vec<Alert>,
}

impl Digest {
    /// `{"digest": {"from", "to"}, "alerts": [...]}` on one line.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "digest": { "from": self.from, "to": self.to },
            "alerts": self.alerts,
        })
        .to_string()
    }

    /// A summary for a notification: a title and a few lines (desktop).
    pub fn summary(&self) -> (String, String) {
        let title = format!(
            "newswatch: {} alerts since {}",
            self.alerts.len(),
            self.from
        );
        let mut body: Vec<String> = self
            .alerts
            .iter()
            .take(5)
            .map(|a| format!("{}: {}", a.rule, a.article.title))
            .collect();
        if self.alerts.len() > 5 {
            body.push(format!("and {} more", self.alerts.len() - 5));
        }
        (title, body.join("\n"))
    }
}

const DAY_MS: i64 = 86_400_000;

/// When an output's digest periods start and end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    every_ms: i64,
    /// The offset of period starts from local midnight.
    at_ms: i64,
}

impl Schedule {
    /// The schedule of periods of `every` starting at the local time of day `at` (`HH:MM` or
    /// `HH:MM:SS`; midnight without), or what is wrong with it (prefixed `at:` when it is the
    /// time of day).
    pub fn new(every: Duration, at: Option<&str>) -> Result<Schedule, String> {
        let every_ms = i64::try_from(every.as_millis()).unwrap_or(i64::MAX);
        if every < Duration::from_secs(1) || every.subsec_millis() != 0 {
            return Err(format!(
                "{every:?} is not a period: give whole seconds at least, e.g. 1d, 6h, 15m"
            ));
        }
        if !(every_ms % DAY_MS == 0 || DAY_MS % every_ms == 0) {
            return Err(format!(
                "{every:?} neither divides a day nor is whole days: give e.g. 1d, 7d, 12h, 6h, 15m"
            ));
        }
        let at_ms = match at {
            None => 0,
            Some(at) => time_of_day(at).ok_or_else(|| {
                format!("at: {at:?} is not a time of day: write HH:MM (24 h), e.g. \"08:00\"")
            })?,
        };
        Ok(Schedule { every_ms, at_ms })
    }

    /// The period (Unix ms, `[from, to)`) that holds the instant `t_ms`, on the local clock.
    pub fn period(&self, t_ms: i64) -> (i64, i64) {
        let tz = TimeZone::system();
        let local = local_ms(&tz, t_ms);
        let (from, to) = if self.every_ms % DAY_MS == 0 {
            let start = local - self.at_ms;
            let day = start.div_euclid(DAY_MS);
            let days = self.every_ms / DAY_MS;
            let first = day - day.rem_euclid(days);
            let from = first * DAY_MS + self.at_ms;
            (from, from + self.every_ms)
        } else {
            let from = local - (local - self.at_ms).rem_euclid(self.every_ms);
            (from, from + self.every_ms)
        };
        (utc_ms(&tz, from), utc_ms(&tz, to))
    }
}

/// `HH:MM` or `HH:MM:SS` as milliseconds after midnight.
fn time_of_day(at: &str) -> Option<i64> {
    let parts: Vec<&str> = at.trim().split(':').collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.len() != 2) {
        return None;
    }
    let n: Vec<i64> = parts
        .iter()
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let (h, m, s) = (n[0], n[1], n.get(2).copied().unwrap_or(0));
    (h < 24 && m < 60 && s < 60).then_some(((h * 60 + m) * 60 + s) * 1000)
}

/// The instant `t_ms` as milliseconds of the local clock (as if local time were UTC).
fn local_ms(tz: &TimeZone, t_ms: i64) -> i64 {
    match Timestamp::from_millisecond(t_ms) {
        Ok(ts) => t_ms + i64::from(tz.to_offset(ts).seconds()) * 1000,
        Err(_) => t_ms,
    }
}

/// The instant at which the local clock reads `local` (see [`local_ms`]); in a gap or a fold
/// of a daylight-saving change, the earlier reading's.
fn utc_ms(tz: &TimeZone, local: i64) -> i64 {
    let Ok(as_utc) = Timestamp::from_millisecond(local) else {
        return local;
    };
    let civil = as_utc.to_zoned(TimeZone::UTC).datetime();
    tz.to_zoned(civil)
        .map(|z| z.timestamp().as_millisecond())
        .unwrap_or(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(every: &str, at: Option<&str>) -> Result<Schedule, String> {
        Schedule::new(duration(every), at)
    }

    /// `4s`, `6h`, `1d`, `500ms`: the few units these tests write (outputs do not read the
    /// config's syntax).
    fn duration(text: &str) -> std::time::Duration {
        let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap();
        let n: u64 = text[..digits].parse().unwrap();
        let ms = match &text[digits..] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            unit => panic!("unit {unit}"),
        };
        std::time::Duration::from_millis(n * ms)
    }

    #[test]
    fn periods_tile_time_and_hold_their_instant() {
        for (every, at) in [
            ("1d", Some("08:00")),
            ("6h", Some("08:30")),
            ("4s", None),
            ("7d", None),
        ] {
            let s = schedule(every, at).unwrap();
            let t = 1_780_000_123_456;
            let (from, to) = s.period(t);
            assert!(from <= t && t < to, "{every}");
            assert_eq!(
                s.period(to).0,
                to,
                "{every}: the next period starts where this ends"
            );
            assert_eq!(s.period(from), (from, to), "{every}");
        }
    }

    #[test]
    fn bad_schedules_say_why() {
        assert!(schedule("7h", None).unwrap_err().contains("divides a day"));
        assert!(
            schedule("1d", Some("25:00"))
                .unwrap_err()
                .starts_with("at:")
        );
        assert!(schedule("1d", Some("8")).is_err());
        assert!(schedule("500ms", None).is_err());
        assert_eq!(time_of_day("08:00"), Some(8 * 3_600_000));
        assert_eq!(time_of_day("23:59:59"), Some(86_399_000));
    }
}
