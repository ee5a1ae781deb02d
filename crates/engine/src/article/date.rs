//! Publication times to one form: RFC 3339 in UTC, to the second (`2024-05-06T07:08:09Z`),
//! whatever the format wrote.
//!
//! DESIGN promises `published` in RFC 3339, and one form for every format lets rules compare
//! times as strings. Feeds (through feed-rs) already came in UTC; JSON fields, Markdown front
//! matter, HTML metadata and email headers carry whatever their writer chose, so [`normalize`]
//! reads the forms found in the wild: RFC 3339 / ISO 8601 with an offset, RFC 2822 (also with
//! a weekday that does not match the date), a date alone (midnight UTC) and a date and time
//! without an offset (taken as UTC).

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};

/// `value` as RFC 3339 in UTC, or `None` when it is not a time this reads.
pub(super) fn normalize(value: &str) -> Option<String> {
    let value = value.trim();
    let at = offset_time(value)
        .or_else(|| rfc2822(value))
        .or_else(|| civil(value))?;
    Some(crate::time::format_timestamp(at))
}

/// ISO 8601 / RFC 3339 with an offset, also with a space before the offset
/// (`2025-01-02 10:00 +02:00`) or a `UTC`/`GMT` suffix.
fn offset_time(value: &str) -> Option<Timestamp> {
    if let Ok(at) = value.parse() {
        return Some(at);
    }
    let (time, zone) = value.rsplit_once(' ')?;
    let zone = match zone {
        "UTC" | "GMT" | "Z" => "Z",
        z if z.starts_with(['+', '-']) => z,
        _ => return None,
    };
    format!("{time}{zone}").parse().ok()
}

/// RFC 2822 (`Tue, 01 Jul 2003 10:52:37 +0200`); a weekday that contradicts the date is a
/// common slip of feed and mail software, so the date is read without it then.
fn rfc2822(value: &str) -> Option<Timestamp> {
    let parse = |v: &str| jiff::fmt::rfc2822::parse(v).ok().map(|z| z.timestamp());
    parse(value).or_else(|| parse(value.split_once(',')?.1.trim_start()))
}

/// A date, or a date and time, without an offset: UTC. Anything after the date that could be
/// an offset or a time zone (`-05:00`, `+02`, `[Europe/Paris]`) is left to the parsers that
/// honour it, as jiff's civil parsers would silently ignore it.
fn civil(value: &str) -> Option<Timestamp> {
    let after_date = value.get(10..).unwrap_or("");
    if after_date.contains(['+', '-', '[']) {
        return None;
    }
    let time = match value.parse::<DateTime>() {
        Ok(time) => time,
        Err(_) => value
            .parse::<Date>()
            .ok()?
            .to_datetime(jiff::civil::Time::midnight()),
    };
    time.to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_becomes_rfc3339_utc() {
        let cases = [
            ("2024-05-06T07:08:09Z", "2024-05-06T07:08:09Z"),
            ("2024-05-06T07:08:09.250+02:00", "2024-05-06T05:08:09Z"),
            ("2024-05-06t07:08:09-0130", "2024-05-06T08:38:09Z"),
            ("Tue, 01 Jul 2003 10:52:37 +0200", "2003-07-01T08:52:37Z"),
            ("Wed, 01 Jul 2003 10:52:37 +0200", "2003-07-01T08:52:37Z"),
            ("1 Jul 2003 10:52 GMT", "2003-07-01T10:52:00Z"),
            ("Tue, 01 Jul 2003 10:52:37 EST", "2003-07-01T15:52:37Z"),
            ("2024-05-06", "2024-05-06T00:00:00Z"),
            (" 2025-01-02 10:00 ", "2025-01-02T10:00:00Z"),
            ("2025-01-02 10:00:30", "2025-01-02T10:00:30Z"),
            ("2025-01-02T10:00", "2025-01-02T10:00:00Z"),
            ("2025-01-02 10:00 +02:00", "2025-01-02T08:00:00Z"),
            ("2025-01-02 10:00:00 UTC", "2025-01-02T10:00:00Z"),
        ];
        for (value, expected) in cases {
            assert_eq!(normalize(value).as_deref(), Some(expected), "{value}");
        }
    }

    #[test]
    fn what_is_not_a_time_is_none() {
        for value in [
            "yesterday",
            "",
            "2024-13-01",
            "2024-05-06T07:08:09[Europe/Paris]",
            "2024-05-06 07:08 -5 hours",
        ] {
            assert_eq!(normalize(value), None, "{value}");
        }
    }
}
