//! `explain`: one rule on one article, with every API call it made — the answer to "why
//! didn't my rule fire?".
//!
//! The rule runs in a rule set of its own with the prefilter off, so it always runs and its
//! trace is complete; whether the real rule set's prefilter would have skipped it on this
//! article is reported beside.

use std::sync::Arc;

use super::{Ruleset, api, sandbox};
use crate::alert::Alert;
use crate::article::Article;
use crate::rules::RuleError;

/// What one rule did on one article.
#[derive(Debug)]
pub struct Explanation {
    /// Whether the prefilter lets the rule run on this article (`None`: the prefilter is off).
    pub prefilter_runs: Option<bool>,
    /// Each API call, with its arguments and result, in order.
    pub calls: Vec<String>,
    pub alerts: Vec<Alert>,
    pub errors: Vec<RuleError>,
    pub notes: Vec<String>,
}

impl Ruleset {
    /// Runs the rule named `rule` on `article` and records what it did; `None` if there is no
    /// such rule.
    pub fn explain(&self, rule: &str, article: &Article) -> Option<Explanation> {
        let found = self.rules.iter().find(|r| r.name() == rule)?;
        let prefilter_runs = self
            .has_prefilter()
            .then(|| self.candidates(article).iter().any(|r| r.name() == rule));
        let alone = Ruleset {
            engine: sandbox::engine(&self.limits),
            limits: self.limits.clone(),
            rules: vec![Arc::clone(found)],
            diagnostics: Vec::new(),
            prefilter: None,
        };
        api::start_trace();
        let eval = alone.evaluate(article);
        let calls = api::take_trace();
        Some(Explanation {
            prefilter_runs,
            calls,
            alerts: eval.alerts,
            errors: eval.errors,
            notes: eval.notes,
        })
    }
}
