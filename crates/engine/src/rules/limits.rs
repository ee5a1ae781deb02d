//! The budgets a rule runs under, defined once.
//!
//! Each limit is one line of the [`limits!`] table below: its field, type, default, its key in
//! the program's YAML config (`limits: { rule_timeout: 250ms }`), the kind of quantity it is,
//! and its documentation. From that one line come the [`Limits`] field, its default, the
//! [`Limits::TABLE`] entry that a config reader iterates over, and the check that it is usable
//! ([`Limits::problems`]). Nothing else spells a limit out.

use std::fmt;
use std::time::Duration;

/// What kind of quantity a limit is, which says how the config writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitKind {
    /// A number of things (operations, elements, levels).
    Count,
    /// A number of bytes (`32MiB` in the config).
    Bytes,
    /// A span of time (`250ms` in the config).
    Time,
}

/// The value of one limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitValue {
    /// A count or a size in bytes.
    Number(u64),
    /// A span of time.
    Time(Duration),
}

impl LimitValue {
    fn is_zero(self) -> bool {
        match self {
            LimitValue::Number(n) => n == 0,
            LimitValue::Time(d) => d.is_zero(),
        }
    }
}

impl fmt::Display for LimitValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitValue::Number(n) => write!(f, "{n}"),
            LimitValue::Time(d) if d.subsec_nanos() == 0 => write!(f, "{}s", d.as_secs()),
            LimitValue::Time(d) => write!(f, "{}ms", d.as_millis()),
        }
    }
}

/// One limit of [`Limits`], as a config reader sees it.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct LimitSpec {
    /// Its key under `limits:` in the program's config.
    pub key: &'static str,
    /// The kind of quantity.
    pub kind: LimitKind,
    /// What it bounds, in a sentence.
    pub doc: &'static str,
    get: fn(&Limits) -> LimitValue,
    set: fn(&mut Limits, LimitValue) -> bool,
}

impl LimitSpec {
    /// Its value in `limits`.
    pub fn get(&self, limits: &Limits) -> LimitValue {
        (self.get)(limits)
    }

    /// Sets it in `limits`; `false` if `value` is not of its kind or does not fit.
    pub fn set(&self, limits: &mut Limits, value: LimitValue) -> bool {
        (self.set)(limits, value)
    }

    /// Its default.
    pub fn default_value(&self) -> LimitValue {
        self.get(&Limits::default())
    }
}

/// A limit set to a value the engine cannot run with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
#[non_exhaustive]
pub struct LimitProblem {
    /// The limit's config key.
    pub key: &'static str,
    /// What is wrong and what to do.
    pub message: String,
}

/// How a field's type reads and writes a [`LimitValue`].
trait Field: Sized + Copy {
    fn value(self) -> LimitValue;
    fn from_value(v: LimitValue) -> Option<Self>;
}

impl Field for u64 {
    fn value(self) -> LimitValue {
        LimitValue::Number(self)
    }
    fn from_value(v: LimitValue) -> Option<u64> {
        match v {
            LimitValue::Number(n) => Some(n),
            LimitValue::Time(_) => None,
        }
    }
}

impl Field for usize {
    fn value(self) -> LimitValue {
        LimitValue::Number(self as u64)
    }
    fn from_value(v: LimitValue) -> Option<usize> {
        u64::from_value(v).and_then(|n| usize::try_from(n).ok())
    }
}

impl Field for Duration {
    fn value(self) -> LimitValue {
        LimitValue::Time(self)
    }
    fn from_value(v: LimitValue) -> Option<Duration> {
        match v {
            LimitValue::Time(d) => Some(d),
            LimitValue::Number(_) => None,
        }
    }
}

macro_rules! limits {
    ($(
        $(#[doc = $doc:literal])+
        $field:ident: $ty:ty = $default:expr, $key:literal, $kind:ident;
    )+) => {
        /// Budgets for one evaluation of one rule on one article.
        ///
        /// Build one from [`Limits::default`] and set the fields to change. Zero is never a
        /// usable value ([`Limits::problems`]): Rhai reads it as "unlimited".
        ///
        /// ```
        /// use std::time::Duration;
        /// use newswatch_engine::rules::{LimitValue, Limits};
        ///
        /// let mut limits = Limits::default();
        /// limits.timeout = Duration::from_millis(50);
        /// // A config reader goes through the table, by key.
        /// let spec = Limits::spec("rule_max_operations").unwrap();
        /// assert!(spec.set(&mut limits, LimitValue::Number(0)));
        /// assert_eq!(limits.problems()[0].key, "rule_max_operations");
        /// ```
        #[derive(Clone, Debug, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct Limits {
            $( $(#[doc = $doc])+ pub $field: $ty, )+
        }

        impl Default for Limits {
            fn default() -> Limits {
                Limits { $( $field: $default, )+ }
            }
        }

        impl Limits {
            /// Every limit, in the order the config documents them.
            pub const TABLE: &'static [LimitSpec] = &[$(
                LimitSpec {
                    key: $key,
                    kind: LimitKind::$kind,
                    doc: concat!($($doc),+),
                    get: |l| Field::value(l.$field),
                    set: |l, v| match Field::from_value(v) {
                        Some(x) => {
                            l.$field = x;
                            true
                        }
                        None => false,
                    },
                },
            )+];
        }
    };
}

limits! {
    /// Rhai operations per evaluation (a two-term rule needs about 10).
    max_operations: u64 = 1_000_000, "rule_max_operations", Count;
    /// Wall time per evaluation.
    timeout: Duration = Duration::from_millis(250), "rule_timeout", Time;
    /// Largest string a rule may build, in bytes. It also bounds `article.body`, so it must
    /// exceed the largest body (twice the largest file, as Latin-1 can double in UTF-8).
    max_string_size: usize = 32 << 20, "rule_max_string_size", Bytes;
    /// Largest array a rule may build.
    max_array_size: usize = 100_000, "rule_max_array_size", Count;
    /// Largest map (object) a rule may build.
    max_map_size: usize = 10_000, "rule_max_map_size", Count;
    /// Depth of nested function calls (recursion).
    max_call_depth: usize = 32, "rule_max_call_depth", Count;
    /// Depth of nested expressions, checked when a rule compiles.
    max_expr_depth: usize = 128, "rule_max_expr_depth", Count;
    /// Alerts one rule may raise on one article; more are dropped with a logged note.
    max_alerts_per_rule: usize = 100, "rule_max_alerts", Count;
    /// Memory an evaluation may allocate beyond what it started with, in bytes (metered only
    /// where [`MeteredAlloc`](crate::memory::MeteredAlloc) is the global allocator).
    max_memory: usize = 256 << 20, "rule_max_memory", Bytes;
}

impl Limits {
    /// The limit whose config key is `key`.
    pub fn spec(key: &str) -> Option<&'static LimitSpec> {
        Limits::TABLE.iter().find(|s| s.key == key)
    }

    /// What makes these limits unusable, one problem per limit: zero, which Rhai reads as
    /// "unlimited" and which stops every rule otherwise — never what is meant.
    pub fn problems(&self) -> Vec<LimitProblem> {
        Limits::TABLE
            .iter()
            .filter(|spec| spec.get(self).is_zero())
            .map(|spec| LimitProblem {
                key: spec.key,
                message: format!(
                    "must be more than 0; leave the key out for the default ({})",
                    spec.default_value()
                ),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_limit_reads_and_writes_through_the_table() {
        let mut limits = Limits::default();
        for spec in Limits::TABLE {
            let (v, wrong_kind) = match spec.kind {
                LimitKind::Time => (
                    LimitValue::Time(Duration::from_secs(7)),
                    LimitValue::Number(7),
                ),
                _ => (
                    LimitValue::Number(7),
                    LimitValue::Time(Duration::from_secs(7)),
                ),
            };
            assert!(!spec.set(&mut limits, wrong_kind), "{}", spec.key);
            assert!(spec.set(&mut limits, v), "{}", spec.key);
            assert_eq!(spec.get(&limits), v);
        }
        assert_eq!(limits.timeout, Duration::from_secs(7));
        assert_eq!(limits.max_alerts_per_rule, 7);
    }

    #[test]
    fn zero_is_a_problem_named_by_its_key() {
        assert!(Limits::default().problems().is_empty());
        let limits = Limits {
            timeout: Duration::ZERO,
            max_map_size: 0,
            ..Limits::default()
        };
        let keys: Vec<_> = limits.problems().iter().map(|p| p.key).collect();
        assert_eq!(keys, ["rule_timeout", "rule_max_map_size"]);
        assert!(limits.problems()[0].message.contains("(250ms)"));
    }
}
