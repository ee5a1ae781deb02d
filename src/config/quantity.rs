//! Durations (`250ms`, `10m`, `7d`) and sizes (`16MiB`, `512KB`) as the config writes them.
//!
//! The serde helpers read the value with a visitor, so that a bad value is reported by the YAML
//! parser at the value itself, with its full key path (`limits.rule_timeout`), also inside flow
//! mappings like `limits: { rule_timeout: banana }`.

use std::fmt;
use std::time::Duration;

use serde::Deserializer;
use serde::de::{Error, Visitor};

/// Splits `12.5 unit` into the number and the unit.
fn quantity<'a>(s: &'a str, what: &str, examples: &str) -> Result<(f64, &'a str), String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n = num
        .parse()
        .map_err(|_| format!("invalid {what} {s:?}: expected e.g. {examples}"))?;
    Ok((n, unit.trim()))
}

/// Parses `250ms`, `10s`, `5m`, `2h`, `7d`. A number without a unit is refused: `250` could
/// mean milliseconds (a rule timeout) or seconds, and guessing wrong is silent.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (n, unit) = quantity(s, "duration", "250ms, 10s, 5m, 2h, 7d")?;
    let secs = match unit {
        "" => return Err(no_unit(s.trim())),
        "ms" => n / 1000.0,
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        other => {
            return Err(format!(
                "invalid duration unit {other:?} in {s:?}: use ms, s, m, h or d"
            ));
        }
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("duration {s:?} is too long"))
}

/// Parses `16MiB`, `512KB`, `1GiB`, `1000` (bytes).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let (n, unit) = quantity(s, "size", "16MiB, 512KB, 1000")?;
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "kib" | "k" => 1 << 10,
        "mb" => 1000 * 1000,
        "mib" | "m" => 1 << 20,
        "gb" => 1000 * 1000 * 1000,
        "gib" | "g" => 1 << 30,
        other => {
            return Err(format!(
                "invalid size unit {other:?} in {s:?}: use B, KiB, MiB, GiB, KB, MB or GB"
            ));
        }
    };
    Ok((n * mult as f64) as u64)
}

/// What to say of a duration written without a unit.
fn no_unit(n: impl fmt::Display) -> String {
    format!("the duration {n} has no unit: write {n}ms or {n}s (or m, h, d)")
}

/// Reads a duration: a string like `250ms`; a bare number is refused ([`no_unit`]).
struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a duration such as 250ms, 10s, 5m, 2h or 7d")
    }

    fn visit_u64<E: Error>(self, n: u64) -> Result<Duration, E> {
        Err(E::custom(no_unit(n)))
    }

    fn visit_i64<E: Error>(self, n: i64) -> Result<Duration, E> {
        Err(E::custom(no_unit(n)))
    }

    fn visit_f64<E: Error>(self, f: f64) -> Result<Duration, E> {
        Err(E::custom(no_unit(f)))
    }

    fn visit_str<E: Error>(self, s: &str) -> Result<Duration, E> {
        parse_duration(s).map_err(E::custom)
    }
}

/// Reads a size: a whole number of bytes or a string like `16MiB`.
struct SizeVisitor;

impl Visitor<'_> for SizeVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a size such as 16MiB, 512KB or 1000")
    }

    fn visit_u64<E: Error>(self, n: u64) -> Result<u64, E> {
        Ok(n)
    }

    fn visit_i64<E: Error>(self, n: i64) -> Result<u64, E> {
        u64::try_from(n).map_err(|_| E::custom(format!("invalid size {n}: it cannot be negative")))
    }

    fn visit_f64<E: Error>(self, f: f64) -> Result<u64, E> {
        Err(E::custom(format!(
            "invalid size {f}: use whole bytes or a unit"
        )))
    }

    fn visit_str<E: Error>(self, s: &str) -> Result<u64, E> {
        parse_size(s).map_err(E::custom)
    }
}

/// A duration read by [`duration`].
pub(super) struct Time(pub Duration);

impl<'de> serde::Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Time, D::Error> {
        duration(d).map(Time)
    }
}

/// A size read by [`size`].
pub(super) struct Size(pub u64);

impl<'de> serde::Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Size, D::Error> {
        size(d).map(Size)
    }
}

pub(super) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_any(DurationVisitor)
}

pub(super) fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

pub(super) fn opt_size<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    size(d).map(Some)
}

pub(super) fn size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    d.deserialize_any(SizeVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("512KB"), Ok(512_000));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert!(parse_size("12 parsecs").is_err());
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("1e400").is_err());
        // A bare number could be seconds or milliseconds: refused, with both spellings.
        let e = parse_duration("250").unwrap_err();
        assert!(e.contains("write 250ms or 250s"), "{e}");
    }
}
