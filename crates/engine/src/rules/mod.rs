//! Rules: loading, compiling, and evaluating them on articles.
//!
//! In the manner of YARA-X's `Rules` and `Scanner`: a [`Ruleset`] is the compiled, immutable
//! form of a rules folder, built once and shared by reference across threads (it is
//! `Send + Sync`); a [`Scanner`] is the cheap per-thread value that evaluates it on articles
//! and holds what one evaluation needs (the Rhai engine's hooks, the scope, compiled patterns,
//! the options of the evaluation). Per article, the text is folded once, the prefilter
//! (`prefilter.rs`) finds every rule's literal terms in one pass and picks the rules that may
//! do something there, and only those run their precompiled AST, their queries answered from
//! that pass. A rule that fails to compile is left
//! out and reported as a [`Diagnostic`]; it never stops the others from loading. A rule that
//! fails at run time is reported as a [`RuleError`] in the [`Evaluation`]; the other rules still
//! run on that article.
//!
//! This module knows articles and alerts, not files of articles, state or outputs.

mod api;
mod explain;
mod limits;
mod lint;
mod lists;
mod loader;
mod prefilter;
mod sandbox;
mod scanner;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use rayon::prelude::*;
use rhai::{AST, Engine, Position, Scope};

use crate::Error;
use crate::alert::Alert;
use crate::article::Article;
use crate::text;

pub use explain::Explanation;
pub use limits::{LimitKind, LimitProblem, LimitSpec, LimitValue, Limits};
pub use sandbox::write_definitions;
pub use scanner::MAX_TEXT_SIZE;
pub use scanner::Scanner;

/// A problem found while loading a rule: `FILE:LINE:COL: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diagnostic {
    /// The rule file (or the rule name, for rules compiled from memory).
    pub path: PathBuf,
    /// 1-based line, when the problem has a position.
    pub line: Option<usize>,
    /// 1-based column, in characters, when the problem has a position.
    pub column: Option<usize>,
    /// What is wrong, said for the rule's author.
    pub message: String,
}

impl Diagnostic {
    /// A problem with the rule file `path`, at `line` and `column` (1-based, in characters)
    /// when it has a position.
    pub fn new(
        path: impl Into<PathBuf>,
        position: Option<(usize, usize)>,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            path: path.into(),
            line: position.map(|(line, _)| line),
            column: position.map(|(_, column)| column),
            message: message.into(),
        }
    }

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
    /// See [`Rule::once_per_story`]; read from the description once.
    once_per_story: bool,
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

    /// The literal terms the rule looks for (those the prefilter knows), sorted.
    pub fn terms(&self) -> Vec<&str> {
        let mut terms: Vec<&str> = self.needs.terms.iter().map(|t| t.as_str()).collect();
        terms.sort_unstable();
        terms.dedup();
        terms
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

    /// Whether the rule's `//!` block switches it off (a line `disabled`).
    pub fn disabled_in_source(&self) -> bool {
        self.description
            .lines()
            .any(|l| l.trim().eq_ignore_ascii_case("disabled"))
    }

    /// Whether the rule alerts once per story (the default) or for every copy of one: a line
    /// `stories: off` in its `//!` block says every copy (`stories: on` is the default said).
    pub fn once_per_story(&self) -> bool {
        self.once_per_story
    }

    /// Whether the analysis proves the rule can never do anything (raise an alert, print, …).
    pub fn never_fires(&self) -> bool {
        matches!(self.needs.effect, prefilter::Cond::Const(false))
    }
}

/// A rule that failed while evaluating an article: a runtime error or an exhausted budget.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuleError {
    /// The rule's name.
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
#[non_exhaustive]
pub struct Evaluation {
    /// Alerts, in rule order, then in the order each rule raised them.
    pub alerts: Vec<Alert>,
    /// Rules that failed on this article.
    pub errors: Vec<RuleError>,
    /// Notes worth a log line (e.g. alerts dropped over the per-rule cap).
    pub notes: Vec<String>,
}

/// How a [`Ruleset`] is built: the limits its rules run under, and whether the prefilter is on.
/// A [`Limits`] converts into the options with the prefilter on.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RulesetOptions {
    /// The budgets of each evaluation of each rule.
    pub limits: Limits,
    /// Whether to build the prefilter (on by default). Off, every rule runs on every article:
    /// slower, with the same results — the reference the prefilter is tested against.
    pub prefilter: bool,
    /// Globs over rule names (`chips/*`) of rules switched off: compiled and listed, never
    /// evaluated. A rule is also off when its `//!` block has a line `disabled`.
    pub disabled: Vec<String>,
}

impl Default for RulesetOptions {
    fn default() -> RulesetOptions {
        RulesetOptions::from(Limits::default())
    }
}

impl From<Limits> for RulesetOptions {
    fn from(limits: Limits) -> RulesetOptions {
        RulesetOptions {
            limits,
            prefilter: true,
            disabled: Vec::new(),
        }
    }
}

impl RulesetOptions {
    /// These options with the prefilter on or off.
    pub fn prefilter(mut self, on: bool) -> RulesetOptions {
        self.prefilter = on;
        self
    }

    /// These options with the rules whose names match one of `globs` switched off.
    pub fn disabled(
        mut self,
        globs: impl IntoIterator<Item = impl Into<String>>,
    ) -> RulesetOptions {
        self.disabled = globs.into_iter().map(Into::into).collect();
        self
    }
}

/// A compiled rules folder: immutable, `Send + Sync`, shared by the [`Scanner`]s that
/// evaluate it.
///
/// Every constructor also builds the prefilter, which finds the rules that can do something on
/// an article without running the others; [`Ruleset::with_prefilter`] turns it off. The
/// prefilter never changes what an evaluation returns, only how fast.
pub struct Ruleset {
    /// Compiles rules; never runs them (each scanner has its engine).
    compiler: Engine,
    /// The table of what `compiler` has registered, for the static pass.
    api: lint::Api,
    /// Rhai's standard library, shared by the scanners' engines.
    std: rhai::Shared<rhai::Module>,
    limits: Limits,
    /// The globs of [`RulesetOptions::disabled`], kept for reloads.
    disabled_globs: Vec<String>,
    /// Rules switched off, compiled but never evaluated, sorted by name.
    off: Vec<Arc<Rule>>,
    /// The term lists of the rules folder, shared by every rule and scanner.
    lists: Arc<lists::Lists>,
    rules: Vec<Arc<Rule>>,
    diagnostics: Vec<Diagnostic>,
    prefilter: Option<prefilter::Prefilter>,
}

impl Ruleset {
    /// Compiles every `*.rhai` under `dir` with the default [`Limits`].
    ///
    /// Fails only if `dir` is missing; rules that do not compile are in
    /// [`diagnostics`](Ruleset::diagnostics).
    ///
    /// ```
    /// use newswatch_engine::{Error, Ruleset};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::create_dir(dir.path().join("chips")).unwrap();
    /// std::fs::write(dir.path().join("chips/h200.rhai"), "//! The H200.\nif article.mentions(\"H200\") { alert(\"H200\"); }").unwrap();
    /// std::fs::write(dir.path().join("broken.rhai"), "alert(").unwrap();
    ///
    /// let rules = Ruleset::load(dir.path()).unwrap();
    /// assert_eq!(rules.rules()[0].name(), "chips/h200");
    /// assert_eq!(rules.rules()[0].description(), "The H200.");
    /// // The broken rule is left out, and said with its position.
    /// assert!(rules.diagnostics()[0].to_string().contains("broken.rhai:1:"));
    ///
    /// assert!(matches!(Ruleset::load(dir.path().join("nope")), Err(Error::NoRules { .. })));
    /// ```
    pub fn load(dir: impl AsRef<Path>) -> Result<Ruleset, Error> {
        Ruleset::load_with(dir, RulesetOptions::default())
    }

    /// Compiles every `*.rhai` under `dir` with the given [`Limits`] or [`RulesetOptions`].
    pub fn load_with(
        dir: impl AsRef<Path>,
        options: impl Into<RulesetOptions>,
    ) -> Result<Ruleset, Error> {
        let options = options.into();
        let prefilter = options.prefilter;
        let set = Ruleset::load_keeping(dir.as_ref(), options, None)?;
        Ok(set.with_prefilter(prefilter))
    }

    /// Recompiles `dir` for a running daemon: new rule files are added, deleted ones dropped,
    /// changed ones recompiled — and a rule that no longer compiles (or cannot be read) keeps
    /// its last good version from `self`, while its problem is reported in
    /// [`diagnostics`](Ruleset::diagnostics). The prefilter stays on or off as in `self`.
    pub fn reload(&self, dir: impl AsRef<Path>) -> Result<Ruleset, Error> {
        let options = RulesetOptions::from(self.limits.clone())
            .prefilter(self.has_prefilter())
            .disabled(self.disabled_globs.clone());
        self.reload_with(dir, options)
    }

    /// [`Ruleset::reload`] under new options (a config re-read).
    pub fn reload_with(
        &self,
        dir: impl AsRef<Path>,
        options: impl Into<RulesetOptions>,
    ) -> Result<Ruleset, Error> {
        let options = options.into();
        let prefilter = options.prefilter;
        let set = Ruleset::load_keeping(dir.as_ref(), options, Some(self))?;
        Ok(set.with_prefilter(prefilter))
    }

    fn load_keeping(
        dir: &Path,
        options: RulesetOptions,
        previous: Option<&Ruleset>,
    ) -> Result<Ruleset, Error> {
        let files = loader::find(dir)?;
        let (lists, list_problems) = lists::Lists::load(dir);
        let mut set = Ruleset::empty(options.limits, lists);
        set.diagnostics.extend(list_problems);
        let compiled: Vec<_> = files
            .par_iter()
            .map(|file| match &file.source {
                Ok(source) => set.compile(&file.name, &file.path, source),
                Err(e) => Err(vec![Diagnostic {
                    path: file.path.clone(),
                    line: None,
                    column: None,
                    message: format!("cannot read rule: {e}"),
                }]),
            })
            .collect();
        for (file, compiled) in files.iter().zip(compiled) {
            match compiled {
                Ok(rule) => set.rules.push(Arc::new(rule)),
                Err(problems) => {
                    set.diagnostics.extend(problems);
                    let last_good = previous.and_then(|p| {
                        (p.rules.iter().chain(&p.off)).find(|r| *r.name == file.name)
                    });
                    set.rules.extend(last_good.cloned());
                }
            }
        }
        set.switch_off(options.disabled)?;
        Ok(set)
    }

    /// Moves the rules that `globs` name, or whose description says `disabled`, to the rules
    /// switched off.
    fn switch_off(&mut self, globs: Vec<String>) -> Result<(), Error> {
        let mut builder = globset::GlobSetBuilder::new();
        for glob in &globs {
            let glob = globset::Glob::new(glob).map_err(|e| Error::BadGlob {
                glob: glob.clone(),
                message: e.kind().to_string(),
            })?;
            builder.add(glob);
        }
        let set = builder.build().map_err(|e| Error::BadGlob {
            glob: globs.join(", "),
            message: e.to_string(),
        })?;
        let (off, on) = std::mem::take(&mut self.rules)
            .into_iter()
            .partition(|r| r.disabled_in_source() || set.is_match(&*r.name));
        self.rules = on;
        self.off = off;
        self.disabled_globs = globs;
        Ok(())
    }

    /// Compiles rules given as `(name, source)` pairs, for rules that do not live in files.
    /// They are sorted by name like rules from a folder; of two with one name, the first wins.
    ///
    /// ```
    /// use newswatch_engine::{Limits, Ruleset, RulesetOptions};
    ///
    /// let mut limits = Limits::default();
    /// limits.max_operations = 10_000;
    /// let rules = Ruleset::from_sources(
    ///     [("b", "alert(\"b\");"), ("a", "alert(\"a\");")],
    ///     RulesetOptions::from(limits).prefilter(false),
    /// );
    /// let names: Vec<_> = rules.rules().iter().map(|r| r.name()).collect();
    /// assert_eq!(names, ["a", "b"]);
    /// assert!(!rules.has_prefilter());
    /// ```
    pub fn from_sources<'a>(
        sources: impl IntoIterator<Item = (&'a str, &'a str)>,
        options: impl Into<RulesetOptions>,
    ) -> Ruleset {
        let options = options.into();
        let mut sources: Vec<_> = sources.into_iter().collect();
        sources.sort_by_key(|(name, _)| *name);
        let mut set = Ruleset::empty(options.limits, lists::Lists::default());
        let compiled: Vec<_> = sources
            .par_iter()
            .enumerate()
            .map(|(i, (name, source))| {
                if i > 0 && sources[i - 1].0 == *name {
                    return Err(vec![Diagnostic {
                        path: PathBuf::from(name),
                        line: None,
                        column: None,
                        message: "a rule of this name was already given; this one is ignored"
                            .into(),
                    }]);
                }
                set.compile(name, Path::new(name), source)
            })
            .collect();
        for compiled in compiled {
            match compiled {
                Ok(rule) => set.rules.push(Arc::new(rule)),
                Err(problems) => set.diagnostics.extend(problems),
            }
        }
        // A glob that does not parse switches nothing off; the program checks its globs first.
        let _ = set.switch_off(options.disabled);
        set.with_prefilter(options.prefilter)
    }

    fn empty(limits: Limits, lists: lists::Lists) -> Ruleset {
        let std = sandbox::standard_library();
        let lists = Arc::new(lists);
        let compiler = sandbox::engine(&limits, &std, &lists, &api::FrameRef::new());
        Ruleset {
            lists,
            api: lint::Api::of(&compiler),
            compiler,
            std,
            limits,
            disabled_globs: Vec::new(),
            off: Vec::new(),
            rules: Vec::new(),
            diagnostics: Vec::new(),
            prefilter: None,
        }
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

    /// This rule set with only the rules `keep` accepts (the others are dropped, not switched
    /// off): one rule, or a few, over an archive. The prefilter is rebuilt for them.
    pub fn retain(mut self, keep: impl Fn(&Rule) -> bool) -> Ruleset {
        let prefilter = self.has_prefilter();
        self.rules.retain(|r| keep(r));
        self.off.retain(|r| keep(r));
        self.with_prefilter(prefilter)
    }

    /// Whether the prefilter is on.
    pub fn has_prefilter(&self) -> bool {
        self.prefilter.is_some()
    }

    /// Compiles one rule (in parallel with others: rules compile independently).
    fn compile(&self, name: &str, path: &Path, source: &str) -> Result<Rule, Vec<Diagnostic>> {
        let mut scope = Scope::new();
        scope.push("article", ());
        match self.compiler.compile_with_scope(&scope, source) {
            Ok(ast) if let Some(at) = sandbox::article_in_function(&ast) => {
                Err(vec![Diagnostic::at(
                    path,
                    at,
                    "`article` is not visible inside a function or closure (they see only their \
                     parameters): pass it in, e.g. `|a, x| a.title` called as `f.call(article, x)`"
                        .into(),
                )])
            }
            Ok(ast)
                if let problems = lint::lint(&self.api, &self.lists, &ast, path)
                    && !problems.is_empty() =>
            {
                Err(problems)
            }
            Ok(ast) => Ok(Rule {
                name: name.into(),
                path: path.to_path_buf(),
                once_per_story: loader::once_per_story(&loader::description(source)),
                description: loader::description(source),
                needs: prefilter::analyze(&ast, &self.lists),
                ast,
            }),
            Err(e) => Err(vec![Diagnostic::at(path, e.1, e.0.to_string())]),
        }
    }

    /// The rules that compiled and are on, sorted by name: the ones evaluations run.
    pub fn rules(&self) -> &[Arc<Rule>] {
        &self.rules
    }

    /// The rules that compiled but are switched off ([`RulesetOptions::disabled`], or a
    /// `//! disabled` line), sorted by name.
    pub fn disabled_rules(&self) -> &[Arc<Rule>] {
        &self.off
    }

    /// Problems found while loading: rules that did not compile or could not be read.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// The limits rules run under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The rules that an evaluation runs on `article`: those the prefilter lets through (all
    /// of them when it is off). The others could not do anything there.
    pub fn candidates(&self, article: &Article) -> Vec<&Arc<Rule>> {
        let doc = text::Document::new(&article.title, &article.body);
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

    /// Why the prefilter skips the rule at `index` on `article`; `None` when it runs it (or
    /// is off).
    pub(crate) fn skip_reason(&self, index: usize, article: &Article) -> Option<String> {
        let p = self.prefilter.as_ref()?;
        let doc = text::Document::new(&article.title, &article.body);
        let hits = p.terms().find(&doc);
        p.skip_reason(index, &doc, &hits)
    }

    /// A scanner of this rule set, for one thread: see [`Scanner`].
    pub fn scanner(&self) -> Scanner<'_> {
        Scanner::new(self)
    }

    /// Evaluates every rule on `article`, stamping alerts with the time `at`: a shortcut for
    /// [`Scanner::scan`] on a scanner made for this one call. To evaluate many articles, keep a
    /// scanner per thread instead.
    ///
    /// ```
    /// use std::time::SystemTime;
    /// use newswatch_engine::{Article, Limits, Ruleset};
    ///
    /// let rules = Ruleset::from_sources([("h200", r#"if article.mentions("H200") { alert("H200"); }"#)], Limits::default());
    /// let eval = rules.evaluate(&Article::new("The H200", ""), SystemTime::now()).unwrap();
    /// assert_eq!(eval.alerts[0].message, "H200");
    /// ```
    pub fn evaluate(&self, article: &Article, at: SystemTime) -> Result<Evaluation, Error> {
        self.scanner().scan(article, at)
    }
}

impl RuleError {
    /// The error of `rule` that failed with `e` while running under `limits`.
    fn new(rule: &Rule, limits: &Limits, mut e: rhai::EvalAltResult) -> RuleError {
        use rhai::EvalAltResult;
        let (limit, message) = match e.unwrap_inner() {
            EvalAltResult::ErrorTooManyOperations(_) => (
                true,
                format!(
                    "stopped after {} operations (limits.rule_max_operations)",
                    limits.max_operations
                ),
            ),
            EvalAltResult::ErrorTerminated(token, _)
                if token.clone().into_string().ok().as_deref() == Some(sandbox::MEMORY_SPENT) =>
            {
                (
                    true,
                    format!(
                        "stopped: allocated more than {} MiB (limits.rule_max_memory)",
                        limits.max_memory >> 20
                    ),
                )
            }
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
