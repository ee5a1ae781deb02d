//! Alerts: what rules raise and what outputs deliver.
//!
//! The JSON form is fixed by DESIGN.md: every field is always present, `url` is `null` when
//! unknown. An alert's `id` is a hash of the rule name and the dedup key (by default the
//! article's content hash), so the same finding gets the same id in every run and on every
//! machine.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// How serious an alert is, from `info` to `critical`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// For the record.
    Info,
    /// Worth a look some day.
    Low,
    /// The default.
    #[default]
    Medium,
    /// Worth a look today.
    High,
    /// Worth a look now.
    Critical,
}

impl Severity {
    /// Every severity, from the least to the most serious.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The severity's name as rules and the alert JSON write it (`"high"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A severity name that is none of the five.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid severity {0:?}: expected info, low, medium, high or critical")]
pub struct UnknownSeverity(pub String);

impl FromStr for Severity {
    type Err = UnknownSeverity;

    fn from_str(s: &str) -> Result<Severity, UnknownSeverity> {
        Severity::ALL
            .into_iter()
            .find(|sev| sev.as_str() == s)
            .ok_or_else(|| UnknownSeverity(s.to_string()))
    }
}

/// The article an alert is about, as recorded in the alert.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AlertArticle {
    /// The file, as given to `scan` or below a watched folder as configured (`inbox/a.txt`);
    /// `None` for an article from stdin or built in memory.
    pub path: Option<String>,
    /// The article's title.
    pub title: String,
    /// The article's own URL (a feed item's link, a page's canonical URL), if it has one.
    pub url: Option<String>,
    /// Where it came from: the watched or scanned folder's name, or a feed's title.
    pub source: Option<String>,
    /// SHA-256 of the article's title and body, hex: the default dedup key.
    pub sha256: String,
}

/// A term a rule found, with a snippet around its first occurrence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Match {
    /// The term as the rule wrote it (`"H200"`, `"export licen*"`).
    pub term: String,
    /// A few words of the article's text around the term's first occurrence.
    pub snippet: String,
}

/// One alert, as delivered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Alert {
    /// Stable: the first 128 bits of SHA-256 of the rule's name and the alert's key (the
    /// article's `sha256` unless the rule gave a `key`), hex. The same alert raised again —
    /// the article saved twice, scanned tomorrow — has the same id.
    pub id: String,
    /// When the alert was raised, RFC 3339 UTC.
    pub time: String,
    /// The rule's name: its path under the rules folder without `.rhai`.
    pub rule: String,
    /// How serious the rule says it is.
    pub severity: Severity,
    /// The rule's message.
    pub message: String,
    /// The rule's tags.
    pub tags: Vec<String>,
    /// What the rule put in `fields`, as JSON.
    pub fields: Map<String, Value>,
    /// The article the alert is about.
    pub article: AlertArticle,
    /// The terms the rule's calls found, in the order it asked for them.
    pub matches: Vec<Match>,
    /// The story the article belongs to (16 hex digits): copies of one story — another
    /// headline, a cut lead, the text in another page — share it where alerts are recorded
    /// (the state keeps the id of the first copy seen); alone, an article's own
    /// ([`Fingerprint::id`](crate::story::Fingerprint::id)). Empty in alerts recorded before
    /// stories.
    #[serde(default)]
    pub story: String,
    /// What the state groups copies of one story by (not part of the JSON): `None` on alerts
    /// read back from JSON.
    #[serde(skip)]
    pub grouping: Option<StoryGrouping>,
}

/// How an alert takes part in story grouping where alerts are recorded.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct StoryGrouping {
    /// The article's fingerprint, shared by the alerts of one article.
    pub fingerprint: std::sync::Arc<crate::story::Fingerprint>,
    /// Whether the rule alerts once per story (the default) rather than for every copy
    /// (`//! stories: off`).
    pub once_per_story: bool,
}

impl StoryGrouping {
    /// Grouping by `fingerprint`, once per story or for every copy.
    pub fn new(
        fingerprint: std::sync::Arc<crate::story::Fingerprint>,
        once_per_story: bool,
    ) -> StoryGrouping {
        StoryGrouping {
            fingerprint,
            once_per_story,
        }
    }
}

impl Alert {
    /// The stable id of an alert of `rule` with dedup key `key`.
    ///
    /// ```
    /// use newswatch_engine::Alert;
    ///
    /// let id = Alert::id_for("deepseek_h200", "an article's sha256");
    /// assert_eq!(id, Alert::id_for("deepseek_h200", "an article's sha256"));
    /// assert_ne!(id, Alert::id_for("other_rule", "an article's sha256"));
    /// assert_eq!(id.len(), 32);
    /// ```
    pub fn id_for(rule: &str, key: &str) -> String {
        let mut h = Sha256::new();
        h.update(rule.as_bytes());
        h.update([0]);
        h.update(key.as_bytes());
        let digest = h.finalize();
        // Called for every alert: hex by table, not one `format!` per byte.
        const HEX: &[u8; 16] = b"0123456789abcdef";
        digest[..16]
            .iter()
            .flat_map(|b| {
                [
                    HEX[(b >> 4) as usize] as char,
                    HEX[(b & 15) as usize] as char,
                ]
            })
            .collect()
    }

    /// The alert as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("alerts always serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_depend_on_rule_and_key() {
        assert_eq!(Alert::id_for("r", "k"), Alert::id_for("r", "k"));
        assert_ne!(Alert::id_for("r", "k"), Alert::id_for("r2", "k"));
        assert_ne!(Alert::id_for("ab", "c"), Alert::id_for("a", "bc"));
        assert_eq!(Alert::id_for("r", "k").len(), 32);
    }

    #[test]
    fn severities_parse_and_order() {
        assert_eq!("high".parse::<Severity>(), Ok(Severity::High));
        assert!("urgent".parse::<Severity>().is_err());
        assert!(Severity::Critical > Severity::Info);
    }
}
