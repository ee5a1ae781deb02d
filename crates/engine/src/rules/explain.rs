//! `explain`: what one rule did on one article, call by call — the answer to "why didn't my
//! rule fire?". Made by [`Scanner::explain`](super::Scanner::explain), which runs the rule
//! whatever the prefilter says, so the trace is complete, and reports beside whether the
//! prefilter would have run it.

use super::RuleError;
use crate::alert::Alert;

/// What one rule did on one article.
#[derive(Debug)]
#[non_exhaustive]
pub struct Explanation {
    /// Whether the prefilter lets the rule run on this article (`None`: the prefilter is off).
    pub prefilter_runs: Option<bool>,
    /// Why the prefilter skips the rule, when it does: the check that rejected it (a term not
    /// in the article, two terms too far apart, a count).
    pub prefilter_skips: Option<String>,
    /// Each API call, with its arguments and result, in order.
    pub calls: Vec<String>,
    /// The alerts it raised.
    pub alerts: Vec<Alert>,
    /// How it failed, if it did.
    pub errors: Vec<RuleError>,
    /// Notes worth a log line (alerts dropped over the cap).
    pub notes: Vec<String>,
}
