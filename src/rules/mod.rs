//! Rules: loading, compiling, and evaluating them on articles.
//!
//! A [`Ruleset`] is the compiled, immutable form of a rules folder, in the manner of YARA-X's
//! `Rules`: built once, shared by reference across threads (it is `Send + Sync`), and cheap to
//! evaluate. Per article, the text is folded once, the prefilter (`prefilter.rs`) finds every
//! rule's literal terms in one pass and picks the rules that may do something there, and only those run their
//! precompiled AST, their queries answered from that pass. A rule that fails to compile is left
//! out and reported as a [`Diagnostic`]; it never stops the others from loading. A rule that
//! fails at run time is reported as a [`RuleError`] in the [`Evaluation`]; the other rules still
//! run on that article.
//!
//! This module knows articles and alerts, not files of articles, state or outputs.

mod api;
mod explain;
mod loader;
mod prefilter;
mod sandbox;

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rayon::prelude::*;
use rhai::{AST, Engine, EvalAltResult, Position, Scope};

use crate::Error;
use crate::alert::{Alert, AlertArticle, Match, now_rfc3339};
use crate::article::Article;
use crate::text::{self, Document};

pub use explain::Explanation;
pub use prefilter::ENV as PREFILTER_ENV;
pub use sandbox::Limits;
pub use sandbox::write_definitions;

/// Bytes of context either side of a match in an alert's snippet.
const SNIPPET_CONTEXT: usize = 80;

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

/// A problem found while loading a rule: `FILE:LINE:COL: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The rule file (or the rule name, for rules compiled from memory).
    pub path: PathBuf,
    /// 1-based line and column (in characters), when the problem has a position.
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl Diagnostic {
    fn at(path: &Path, pos: Position, message: String) -> Diagnostic {
        Diagnostic {
            path: path.to_path_buf(),
            line: pos.line(),
            column: pos.position().or(pos.line().map(|_| 1)),
            message,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}:{}", self.column.unwrap_or(1))?;
        }
        write!(f, ": {}", self.message)
    }
}

/// One compiled rule.
pub struct Rule {
    name: Arc<str>,
    path: PathBuf,
    description: String,
    ast: AST,
    /// What the rule needs from an article to do anything (for the prefilter).
    needs: prefilter::Needs,
}

impl Rule {
    /// The rule's name: its path under the rules folder without `.rhai`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The rule's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The rule's leading `//!` lines.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Literal terms of the rule that have no letters or digits, so can never match.
    pub fn unmatchable_terms(&self) -> Vec<&str> {
        self.needs
            .terms
            .iter()
            .filter(|t| text::Term::parse(t).is_empty())
            .map(|t| t.as_str())
            .collect()
    }

    /// Whether the analysis proves the rule can never do anything (raise an alert, print, …).
    pub fn never_fires(&self) -> bool {
        matches!(self.needs.effect, prefilter::Cond::Const(false))
    }
}

/// A rule that failed while evaluating an article: a runtime error or an exhausted budget.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError {
    pub rule: String,
    /// Where in the rule it failed.
    pub at: Diagnostic,
    /// Whether the rule was stopped by a limit (operations, time, size, depth).
    pub limit: bool,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule {}: {}", self.rule, self.at)
    }
}

/// What evaluating rules on one article produced.
#[derive(Debug, Default)]
pub struct Evaluation {
    /// Alerts, in rule order, then in the order each rule raised them.
    pub alerts: Vec<Alert>,
    /// Rules that failed on this article.
    pub errors: Vec<RuleError>,
    /// Notes worth a log line (e.g. alerts dropped over the per-rule cap).
    pub notes: Vec<String>,
}

/// A compiled rules folder.
///
/// Every constructor also builds the prefilter, which finds the rules that can do something on
/// an article without running the others, unless the environment variable
/// `NEWSWATCH_PREFILTER` ([`PREFILTER_ENV`]) is `off`; [`Ruleset::with_prefilter`] decides
/// explicitly. The prefilter never changes what [`Ruleset::evaluate`] returns, only how fast.
pub struct Ruleset {
    engine: Engine,
    limits: Limits,
    rules: Vec<Arc<Rule>>,
    diagnostics: Vec<Diagnostic>,
    prefilter: Option<prefilter::Prefilter>,
}

impl Ruleset {
    /// Compiles every `*.rhai` under `dir` with the default [`Limits`].
    ///
    /// Fails only if `dir` is missing; rules that do not compile are in
    /// [`diagnostics`](Ruleset::diagnostics).
    pub fn load(dir: impl AsRef<Path>) -> Result<Ruleset, Error> {
        Ruleset::load_with(dir, Limits::default())
    }

    /// Compiles every `*.rhai` under `dir` with the given limits.
    pub fn load_with(dir: impl AsRef<Path>, limits: Limits) -> Result<Ruleset, Error> {
        Ok(Ruleset::load_keeping(dir.as_ref(), limits, None)?.finish())
    }

    /// Recompiles `dir` for a running daemon: new rule files are added, deleted ones dropped,
    /// changed ones recompiled — and a rule that no longer compiles (or cannot be read) keeps
    /// its last good version from `self`, while its problem is reported in
    /// [`diagnostics`](Ruleset::diagnostics). The prefilter stays on or off as in `self`.
    pub fn reload(&self, dir: impl AsRef<Path>) -> Result<Ruleset, Error> {
        self.reload_with(dir, self.limits.clone())
    }

    /// [`Ruleset::reload`] under new limits (a config re-read).
    pub fn reload_with(&self, dir: impl AsRef<Path>, limits: Limits) -> Result<Ruleset, Error> {
        let set = Ruleset::load_keeping(dir.as_ref(), limits, Some(self))?;
        Ok(set.with_prefilter(self.has_prefilter()))
    }

    fn load_keeping(
        dir: &Path,
        limits: Limits,
        previous: Option<&Ruleset>,
    ) -> Result<Ruleset, Error> {
        let mut set = Ruleset::empty(limits);
        let files = loader::find(dir)?;
        let compiled: Vec<_> = files
            .par_iter()
            .map(|file| match &file.source {
                Ok(source) => set.compile(&file.name, &file.path, source),
                Err(e) => Err(Diagnostic {
                    path: file.path.clone(),
                    line: None,
                    column: None,
                    message: format!("cannot read rule: {e}"),
                }),
            })
            .collect();
        for (file, compiled) in files.iter().zip(compiled) {
            match compiled {
                Ok(rule) => set.rules.push(Arc::new(rule)),
                Err(problem) => {
                    set.diagnostics.push(problem);
                    let last_good =
                        previous.and_then(|p| p.rules.iter().find(|r| *r.name == file.name));
                    set.rules.extend(last_good.cloned());
                }
            }
        }
        Ok(set)
    }

    /// Compiles rules given as `(name, source)` pairs, for rules that do not live in files.
    /// They are sorted by name like rules from a folder; of two with one name, the first wins.
    pub fn from_sources<'a>(
        sources: impl IntoIterator<Item = (&'a str, &'a str)>,
        limits: Limits,
    ) -> Ruleset {
        let mut sources: Vec<_> = sources.into_iter().collect();
        sources.sort_by_key(|(name, _)| *name);
        let mut set = Ruleset::empty(limits);
        let compiled: Vec<_> = sources
            .par_iter()
            .enumerate()
            .map(|(i, (name, source))| {
                if i > 0 && sources[i - 1].0 == *name {
                    return Err(Diagnostic {
                        path: PathBuf::from(name),
                        line: None,
                        column: None,
                        message: "a rule of this name was already given; this one is ignored"
                            .into(),
                    });
                }
                set.compile(name, Path::new(name), source)
            })
            .collect();
        for compiled in compiled {
            match compiled {
                Ok(rule) => set.rules.push(Arc::new(rule)),
                Err(problem) => set.diagnostics.push(problem),
            }
        }
        set.finish()
    }

    fn empty(limits: Limits) -> Ruleset {
        Ruleset {
            engine: sandbox::engine(&limits),
            limits,
            rules: Vec::new(),
            diagnostics: Vec::new(),
            prefilter: None,
        }
    }

    /// The last step of every constructor: the prefilter, unless the environment turns it off.
    fn finish(self) -> Ruleset {
        let on = prefilter::enabled_by_env();
        self.with_prefilter(on)
    }

    /// This rule set with the prefilter on or off. Off, every rule runs on every article and
    /// every query searches the article's own index: the reference that the prefilter's tests
    /// compare against, and a way to rule it out when something looks wrong.
    pub fn with_prefilter(mut self, on: bool) -> Ruleset {
        self.prefilter = on.then(|| {
            prefilter::Prefilter::build(self.rules.iter().map(|r| &r.needs), &self.limits)
        });
        self
    }

    /// Whether the prefilter is on.
    pub fn has_prefilter(&self) -> bool {
        self.prefilter.is_some()
    }

    /// Compiles one rule (in parallel with others: rules compile independently).
    fn compile(&self, name: &str, path: &Path, source: &str) -> Result<Rule, Diagnostic> {
        let mut scope = Scope::new();
        scope.push("article", ());
        match self.engine.compile_with_scope(&scope, source) {
            Ok(ast) if let Some(at) = sandbox::article_in_function(&ast) => Err(Diagnostic::at(
                path,
                at,
                "`article` is not visible inside a function or closure (they see only their \
                 parameters): pass it in, e.g. `|a, x| a.title` called as `f.call(article, x)`"
                    .into(),
            )),
            Ok(ast) => Ok(Rule {
                name: name.into(),
                path: path.to_path_buf(),
                description: loader::description(source),
                needs: prefilter::analyze(&ast),
                ast,
            }),
            Err(e) => Err(Diagnostic::at(path, e.1, e.0.to_string())),
        }
    }

    /// The rules that compiled, sorted by name.
    pub fn rules(&self) -> &[Arc<Rule>] {
        &self.rules
    }

    /// Problems found while loading: rules that did not compile or could not be read.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// The limits rules run under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The rules that [`evaluate`](Ruleset::evaluate) runs on `article`: those the prefilter
    /// lets through (all of them when it is off). The others could not do anything there.
    pub fn candidates(&self, article: &Article) -> Vec<&Arc<Rule>> {
        let doc = Document::new(&article.title, &article.body);
        match &self.prefilter {
            Some(p) => {
                let hits = p.terms().find(&doc);
                p.select(&doc, &hits)
                    .into_iter()
                    .map(|i| &self.rules[i])
                    .collect()
            }
            None => self.rules.iter().collect(),
        }
    }

    /// Runs every rule on `article` — in effect: rules that the prefilter shows can do nothing
    /// on it are not run at all.
    pub fn evaluate(&self, article: &Article) -> Evaluation {
        let doc = Document::new(&article.title, &article.body);
        let (selected, hits) = match &self.prefilter {
            Some(p) => {
                let hits = p.terms().find(&doc);
                (p.select(&doc, &hits), Some(hits))
            }
            None => ((0..self.rules.len()).collect(), None),
        };
        let mut out = Evaluation::default();
        if selected.is_empty() {
            return out;
        }
        let terms = self.prefilter.as_ref().map(|p| p.terms().clone());
        let prepared = Arc::new(api::Prepared::new(article, doc, hits, terms));
        let article_ref = api::ArticleRef(prepared.clone());
        // The alerts' time and the article's hash, computed for the first alert.
        let stamp: OnceLock<(String, String)> = OnceLock::new();
        let mut snippets = Snippets::default();
        let mut scope = Scope::new();
        scope.push("article", article_ref.clone());
        for rule in selected.into_iter().map(|i| &self.rules[i]) {
            // What a rule declares or assigns must not reach the next one.
            scope.rewind(1);
            if !scope
                .get("article")
                .is_some_and(|a| a.is::<api::ArticleRef>())
            {
                scope.set_value("article", article_ref.clone());
            }
            api::begin(
                rule.name.clone(),
                crate::deadline(self.limits.timeout),
                self.limits.max_alerts_per_rule,
            );
            let result = self.engine.run_ast_with_scope(&mut scope, &rule.ast);
            let frame = api::end();
            if let Err(e) = result {
                out.errors.push(self.runtime_error(rule, *e));
            }
            if frame.dropped > 0 {
                out.notes.push(format!(
                    "rule {} raised {} more alerts than the limit of {} per article; they were dropped",
                    rule.name, frame.dropped, self.limits.max_alerts_per_rule
                ));
            }
            // Ids hash the rule's name: only this rule's alerts can repeat one.
            let first_of_rule = out.alerts.len();
            for raised in frame.alerts {
                let (time, sha256) = stamp.get_or_init(|| (now_rfc3339(), article.sha256()));
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
                });
            }
        }
        out
    }

    fn runtime_error(&self, rule: &Rule, mut e: EvalAltResult) -> RuleError {
        let limits = &self.limits;
        let (limit, message) = match e.unwrap_inner() {
            EvalAltResult::ErrorTooManyOperations(_) => (
                true,
                format!(
                    "stopped after {} operations (limits.rule_max_operations)",
                    limits.max_operations
                ),
            ),
            EvalAltResult::ErrorTerminated(..) => (
                true,
                format!(
                    "stopped after running for {:?} (limits.rule_timeout)",
                    limits.timeout
                ),
            ),
            EvalAltResult::ErrorStackOverflow(_) => (
                true,
                format!(
                    "stopped: function calls nested deeper than {} levels",
                    limits.max_call_depth
                ),
            ),
            EvalAltResult::ErrorDataTooLarge(what, _) => {
                (true, format!("stopped: {what} over its size limit"))
            }
            _ => (false, String::new()),
        };
        let pos = e.take_position();
        let message = if limit { message } else { e.to_string() };
        RuleError {
            rule: rule.name.to_string(),
            at: Diagnostic::at(&rule.path, pos, message),
            limit,
        }
    }
}
