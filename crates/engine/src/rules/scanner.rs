//! The per-thread half of evaluation: a [`Scanner`] runs a shared [`Ruleset`] on articles.
//!
//! A scanner owns what one evaluation needs and nothing outlives it: a Rhai engine whose hooks
//! (the deadline check, `print`, `alert()`) write into the scanner's own frame, the scope the
//! `article` is pushed into, the patterns `matches()` compiled, and the options of the next
//! evaluation (limits, where `print` goes). Making one costs a few microseconds — Rhai's
//! standard library is built once per rule set and shared — so keep one per thread and reuse it.

use std::ops::Range;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use rhai::{Engine, Scope};

use super::{Evaluation, Limits, RuleError, Ruleset, api, sandbox};
use crate::Error;
use crate::alert::{Alert, AlertArticle, Match, StoryGrouping};
use crate::article::Article;
use crate::story::Fingerprint;
use crate::text::{self, Document, Hits};
use crate::time::rfc3339;

/// Bytes of context either side of a match in an alert's snippet.
const SNIPPET_CONTEXT: usize = 80;

/// The largest article text (title, a blank line, body) the engine indexes: word and byte
/// offsets are 32-bit.
pub const MAX_TEXT_SIZE: u64 = u32::MAX as u64;

/// Evaluates a [`Ruleset`] on articles, one at a time, on one thread.
///
/// ```
/// use std::time::SystemTime;
/// use newswatch_engine::{Article, Limits, Ruleset};
///
/// let rules = Ruleset::from_sources(
///     [("h200", r#"print("looking"); if article.mentions("H200") { alert("H200"); }"#)],
///     Limits::default(),
/// );
/// let mut scanner = rules.scanner();
/// scanner.on_print(|rule, text| eprintln!("{rule}: {text}"));
/// for title in ["The H200 ships", "Nothing here"] {
///     let eval = scanner.scan(&Article::new(title, ""), SystemTime::now()).unwrap();
///     println!("{title}: {} alerts", eval.alerts.len());
/// }
/// ```
pub struct Scanner<'r> {
    rules: &'r Ruleset,
    engine: Engine,
    frame: api::FrameRef,
    scope: Scope<'static>,
    limits: Limits,
}

/// Which rules an evaluation runs.
enum Plan {
    /// The prefilter's candidates (every rule when it is off).
    Candidates,
    /// This one rule, whatever the prefilter says, with every call traced.
    Explain(usize),
}

impl<'r> Scanner<'r> {
    /// A scanner of `rules`, under the rule set's limits and logging `print` through `tracing`.
    pub fn new(rules: &'r Ruleset) -> Scanner<'r> {
        let frame = api::FrameRef::new();
        Scanner {
            engine: sandbox::engine(&rules.limits, &rules.std, &rules.lists, &frame),
            frame,
            scope: Scope::new(),
            limits: rules.limits.clone(),
            rules,
        }
    }

    /// The rule set this scanner evaluates.
    pub fn rules(&self) -> &'r Ruleset {
        self.rules
    }

    /// Runs the following evaluations under `limits` instead of the rule set's. (Limits that
    /// differ from the rule set's run every rule: the prefilter's proofs assume its limits.)
    pub fn set_limits(&mut self, limits: Limits) -> &mut Self {
        sandbox::apply(&mut self.engine, &limits);
        self.limits = limits;
        self
    }

    /// Sends what rules `print` and `debug` to `print(rule, text)` (by default: the log, at
    /// `info`, target `newswatch::rule`).
    pub fn on_print(&mut self, print: impl Fn(&str, &str) + Send + Sync + 'static) -> &mut Self {
        sandbox::on_print(&mut self.engine, &self.frame, Arc::new(print));
        self
    }

    /// Evaluates every rule on `article` — in effect: rules that the prefilter shows can do
    /// nothing on it are not run at all — and stamps the alerts with the time `at`.
    ///
    /// Fails only for an article over [`MAX_TEXT_SIZE`]; rules that fail are reported in the
    /// [`Evaluation`]. Rules run on the calling thread, which needs [`STACK_SIZE`](crate::STACK_SIZE).
    pub fn scan(&mut self, article: &Article, at: SystemTime) -> Result<Evaluation, Error> {
        self.run(article, at, Plan::Candidates)
    }

    /// Runs the rule named `rule` on `article` whatever the prefilter says, and records every
    /// API call it makes: the answer to "why didn't my rule fire?".
    ///
    /// ```
    /// use std::time::SystemTime;
    /// use newswatch_engine::{Article, Error, Limits, Ruleset};
    ///
    /// let rules = Ruleset::from_sources(
    ///     [("h200", r#"if article.mentions_all(["DeepSeek", "H200"]) { alert("both"); }"#)],
    ///     Limits::default(),
    /// );
    /// let mut scanner = rules.scanner();
    /// let e = scanner.explain("h200", &Article::new("The H200", ""), SystemTime::now()).unwrap();
    /// assert_eq!(e.calls, [r#"mentions_all(["DeepSeek", "H200"]) → false; missing: "DeepSeek""#]);
    /// assert_eq!(e.prefilter_runs, Some(false));
    ///
    /// let none = scanner.explain("h100", &Article::new("", ""), SystemTime::now());
    /// assert!(matches!(none, Err(Error::NoSuchRule { .. })));
    /// ```
    pub fn explain(
        &mut self,
        rule: &str,
        article: &Article,
        at: SystemTime,
    ) -> Result<super::Explanation, Error> {
        let index = self
            .rules
            .rules
            .iter()
            .position(|r| r.name() == rule)
            .ok_or_else(|| {
                let rule = rule.to_string();
                if self.rules.off.iter().any(|r| r.name() == rule) {
                    Error::RuleDisabled { rule }
                } else {
                    Error::NoSuchRule { rule }
                }
            })?;
        let prefilter_skips = self.rules.skip_reason(index, article);
        let prefilter_runs = self
            .rules
            .has_prefilter()
            .then_some(prefilter_skips.is_none());
        self.frame.lock().trace = Some(Vec::new());
        let eval = self.run(article, at, Plan::Explain(index));
        let calls = self.frame.lock().trace.take().unwrap_or_default();
        let eval = eval?;
        Ok(super::Explanation {
            prefilter_runs,
            prefilter_skips,
            calls,
            alerts: eval.alerts,
            errors: eval.errors,
            notes: eval.notes,
        })
    }

    fn run(&mut self, article: &Article, at: SystemTime, plan: Plan) -> Result<Evaluation, Error> {
        let size = (article.title.len() + 2 + article.body.len()) as u64;
        if size > MAX_TEXT_SIZE {
            return Err(Error::ArticleTooLarge {
                article: article
                    .path
                    .clone()
                    .unwrap_or_else(|| article.title.clone()),
                size,
                limit: MAX_TEXT_SIZE,
            });
        }
        let rules = self.rules;
        let doc = Document::new(&article.title, &article.body);
        let (selected, hits): (Vec<usize>, Option<Hits>) = match (&plan, &rules.prefilter) {
            (Plan::Explain(i), _) => (vec![*i], None),
            (Plan::Candidates, Some(p)) => {
                let hits = p.terms().find(&doc);
                let selected = if self.limits == rules.limits {
                    p.select(&doc, &hits)
                } else {
                    (0..rules.rules.len()).collect()
                };
                (selected, Some(hits))
            }
            (Plan::Candidates, None) => ((0..rules.rules.len()).collect(), None),
        };
        let mut out = Evaluation::default();
        if selected.is_empty() {
            return Ok(out);
        }
        let terms = hits
            .is_some()
            .then(|| rules.prefilter.as_ref().map(|p| p.terms().clone()))
            .flatten();
        let prepared = Arc::new(api::Prepared::new(article, doc, hits, terms));
        let article_ref = api::ArticleRef(prepared.clone(), self.frame.clone());
        // The alerts' time, the article's hash and its story fingerprint, computed for the
        // first alert: an article that raises none costs none of them.
        let stamp: OnceLock<(String, String, Arc<Fingerprint>)> = OnceLock::new();
        let mut snippets = Snippets::default();
        self.scope.clear();
        self.scope.push("article", article_ref.clone());
        for rule in selected.into_iter().map(|i| &rules.rules[i]) {
            // What a rule declares or assigns must not reach the next one.
            self.scope.rewind(1);
            if !self
                .scope
                .get("article")
                .is_some_and(|a| a.is::<api::ArticleRef>())
            {
                self.scope.set_value("article", article_ref.clone());
            }
            self.frame.lock().begin(
                rule.name.clone(),
                crate::deadline(self.limits.timeout),
                self.limits.max_alerts_per_rule,
            );
            self.frame.begin_memory(self.limits.max_memory);
            let result = self.engine.run_ast_with_scope(&mut self.scope, &rule.ast);
            let (raised, dropped) = {
                let mut frame = self.frame.lock();
                (std::mem::take(&mut frame.alerts), frame.dropped)
            };
            if let Err(e) = result {
                out.errors.push(RuleError::new(rule, &self.limits, *e));
            }
            if dropped > 0 {
                out.notes.push(format!(
                    "rule {} raised {} more alerts than the limit of {} per article; they were dropped",
                    rule.name, dropped, self.limits.max_alerts_per_rule
                ));
            }
            // Ids hash the rule's name: only this rule's alerts can repeat one.
            let first_of_rule = out.alerts.len();
            for raised in raised {
                let (time, sha256, fingerprint) = stamp.get_or_init(|| {
                    let fingerprint = Fingerprint::of(article);
                    (
                        rfc3339(at),
                        fingerprint.sha256().to_string(),
                        Arc::new(fingerprint),
                    )
                });
                let key = raised.key.as_deref().unwrap_or(sha256);
                let id = Alert::id_for(&rule.name, key);
                if out.alerts[first_of_rule..].iter().any(|a| a.id == id) {
                    continue;
                }
                out.alerts.push(Alert {
                    id,
                    time: time.clone(),
                    rule: rule.name.to_string(),
                    severity: raised.severity,
                    message: raised.message,
                    tags: raised.tags,
                    fields: raised.fields,
                    article: AlertArticle {
                        path: article.path.clone(),
                        title: article.title.clone(),
                        url: article.url.clone(),
                        source: article.source.clone(),
                        sha256: sha256.clone(),
                    },
                    matches: raised
                        .found
                        .into_iter()
                        .map(|f| Match {
                            snippet: snippets.get(prepared.doc.text(), f.span),
                            term: f.term,
                        })
                        .collect(),
                    story: fingerprint.id(),
                    grouping: Some(StoryGrouping::new(
                        fingerprint.clone(),
                        rule.once_per_story(),
                    )),
                });
            }
        }
        // The article is not kept past its evaluation.
        self.scope.clear();
        Ok(out)
    }
}

/// The snippets of one article's alerts: rules that alert on one article often found the same
/// terms there.
#[derive(Default)]
struct Snippets(Vec<(Range<usize>, String)>);

impl Snippets {
    fn get(&mut self, text: &str, span: Range<usize>) -> String {
        if let Some((_, s)) = self.0.iter().find(|(at, _)| *at == span) {
            return s.clone();
        }
        let s = text::snippet(text, span.clone(), SNIPPET_CONTEXT);
        self.0.push((span, s.clone()));
        s
    }
}
