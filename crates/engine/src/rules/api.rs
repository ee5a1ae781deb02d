//! The API rules see: the `article` object and `alert()`.
//!
//! Rules get one `article` value per evaluation, an [`ArticleRef`]: a reference-counted handle to
//! the article prepared once (text tokenized into a [`Document`], the prefilter's [`Hits`],
//! fields as Rhai strings made on first use), so passing it to a thousand rules copies nothing.
//! Queries are answered in Rust and are bounded by the article's size, since Rhai does not count
//! operations inside native functions. A query for a literal term of the rule set is a lookup
//! in the hits; any other term is searched in the document's own index.
//!
//! What a rule does that outlives its run — alerts it raises, terms it found (for the alert's
//! `matches`), the deadline the progress hook checks, the calls `explain` traces — lives in the
//! [`Frame`] of the [`Scanner`](super::Scanner) running it. Each scanner registers these
//! functions on its own engine with a handle to its frame ([`register`]), so evaluations on
//! different threads share nothing, and nothing outlives the scanner.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use regex::Regex;
use rhai::{Array, Dynamic, Engine, EvalAltResult, INT, ImmutableString, Map, Position};
use serde_json::Value;

use crate::alert::Severity;
use crate::article::Article;
use crate::text::{Document, Hits, Occurrence, Term, TermSet};

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

/// An article prepared for rules: built once per article, shared by every rule.
pub(crate) struct Prepared {
    pub doc: Document,
    /// The rule set's literal terms in this article, and the set that names them (both absent
    /// when the prefilter is off).
    hits: Option<(Hits, Arc<TermSet>)>,
    title: OnceLock<ImmutableString>,
    body: OnceLock<ImmutableString>,
    text: OnceLock<ImmutableString>,
    url: Dynamic,
    published: Dynamic,
    source: Dynamic,
    path: Dynamic,
    /// The article's language as given, else detected when a rule first asks.
    given_lang: Option<String>,
    lang: OnceLock<Dynamic>,
    meta: Dynamic,
}

impl Prepared {
    pub fn new(
        article: &Article,
        doc: Document,
        hits: Option<Hits>,
        terms: Option<Arc<TermSet>>,
    ) -> Prepared {
        let opt = |v: &Option<String>| {
            v.as_deref()
                .map_or(Dynamic::UNIT, |s| Dynamic::from(s.to_string()))
        };
        Prepared {
            hits: hits.zip(terms),
            title: OnceLock::new(),
            body: OnceLock::new(),
            text: OnceLock::new(),
            url: opt(&article.url),
            published: opt(&article.published),
            source: opt(&article.source),
            path: opt(&article.path),
            given_lang: article.lang.clone(),
            lang: OnceLock::new(),
            meta: Dynamic::from_map(
                article
                    .meta
                    .iter()
                    .map(|(k, v)| (k.as_str().into(), json_to_dynamic(v)))
                    .collect(),
            ),
            doc,
        }
    }

    /// Every occurrence of `term`: from the hits when the rule set knows it, else searched.
    fn occurrences(&self, term: &str) -> Cow<'_, [Occurrence]> {
        if let Some((hits, terms)) = &self.hits
            && let Some(id) = terms.id(term)
        {
            return Cow::Borrowed(hits.occurrences(id));
        }
        Cow::Owned(self.doc.occurrences(&Term::parse(term)))
    }
}

/// The `article` value in a rule's scope: the article, and the frame of the scanner that
/// evaluates it, where queries record what they found.
#[derive(Clone)]
pub(crate) struct ArticleRef(pub Arc<Prepared>, pub FrameRef);

impl ArticleRef {
    /// An empty article, where only the type matters (definition files).
    pub(crate) fn placeholder() -> ArticleRef {
        let article = Article::default();
        let doc = Document::new("", "");
        ArticleRef(
            Arc::new(Prepared::new(&article, doc, None, None)),
            FrameRef::new(),
        )
    }

    fn note(&self, call: impl FnOnce() -> String) {
        self.1.lock().note(call);
    }

    /// Fails once the rule's time is up. Rhai checks the deadline between operations only;
    /// every query calls this first (and inside its loops), so no call runs on past it.
    fn check(&self) -> RhaiResult<()> {
        if self.1.deadline_passed() {
            return Err(
                EvalAltResult::ErrorTerminated(Dynamic::from("timeout"), Position::NONE).into(),
            );
        }
        Ok(())
    }

    /// Looks up each of `list` (all of them, so that `matches` lists every one present) and
    /// returns the missing ones, checking the deadline as it goes.
    fn missing<'l>(&self, list: &'l [ImmutableString]) -> RhaiResult<Vec<&'l ImmutableString>> {
        let mut missing = Vec::new();
        for (i, term) in list.iter().enumerate() {
            if i % 64 == 63 {
                self.check()?;
            }
            if !self.find(term, false) {
                missing.push(term);
            }
        }
        Ok(missing)
    }
}

/// A term a rule's call found, and where.
#[derive(Clone, Debug)]
pub(crate) struct Found {
    pub term: String,
    pub span: Range<usize>,
}

/// An alert as the rule raised it, before it is tied to its article.
#[derive(Debug)]
pub(crate) struct Raised {
    pub severity: Severity,
    pub message: String,
    pub tags: Vec<String>,
    pub key: Option<String>,
    pub fields: serde_json::Map<String, Value>,
    /// Terms found by the rule up to the `alert()` call.
    pub found: Vec<Found>,
}

/// What one evaluation of one rule accumulates, and what the scanner running it keeps
/// between evaluations (the trace switch, compiled patterns).
pub(crate) struct Frame {
    pub rule: Arc<str>,
    pub deadline: Instant,
    pub max_alerts: usize,
    pub alerts: Vec<Raised>,
    /// Alerts dropped over `max_alerts`.
    pub dropped: usize,
    pub found: Vec<Found>,
    /// The calls rules made, while `explain` asks for them.
    pub trace: Option<Vec<String>>,
    /// Bytes the rule has printed on this article.
    printed: usize,
    regexes: Regexes,
}

impl Frame {
    /// Starts the evaluation of `rule`, dropping what the previous one left.
    pub fn begin(&mut self, rule: Arc<str>, deadline: Instant, max_alerts: usize) {
        self.rule = rule;
        self.deadline = deadline;
        self.max_alerts = max_alerts;
        self.alerts.clear();
        self.dropped = 0;
        self.found.clear();
        self.printed = 0;
    }

    /// How much of a `print` of `len` bytes the running rule may still write: all of it, a
    /// prefix (the budget runs out here), or nothing (it ran out before).
    pub fn print_allowance(&mut self, len: usize) -> PrintAllowance {
        let left = MAX_PRINT_BYTES.saturating_sub(self.printed);
        if left == 0 {
            return PrintAllowance::Nothing;
        }
        self.printed = self.printed.saturating_add(len.max(1));
        if len <= left {
            PrintAllowance::All
        } else {
            self.printed = MAX_PRINT_BYTES;
            PrintAllowance::Prefix(left)
        }
    }

    /// Records one call, built only while tracing.
    fn note(&mut self, call: impl FnOnce() -> String) {
        if let Some(t) = &mut self.trace {
            t.push(call());
        }
    }

    fn record(&mut self, term: &str, span: impl FnOnce() -> Range<usize>) {
        if !self.found.iter().any(|x| x.term == term) {
            self.found.push(Found {
                term: term.to_string(),
                span: span(),
            });
        }
    }
}

/// What one rule may `print` and `debug` on one article, in bytes: enough to debug a rule,
/// not enough for a rule printing every article's body to fill a disk with logs.
pub(crate) const MAX_PRINT_BYTES: usize = 16 << 10;

/// See [`Frame::print_allowance`].
pub(crate) enum PrintAllowance {
    All,
    Prefix(usize),
    Nothing,
}

/// A scanner's frame, shared by the functions registered on its engine.
#[derive(Clone)]
pub(crate) struct FrameRef {
    frame: Arc<Mutex<Frame>>,
    /// The running thread's allocation count (`memory::thread_allocated`) past which the
    /// rule is stopped: read by the progress hook at every operation, so kept out of the lock.
    memory_stop: Arc<AtomicI64>,
}

impl FrameRef {
    pub fn new() -> FrameRef {
        let frame = Arc::new(Mutex::new(Frame {
            rule: Arc::from("?"),
            deadline: Instant::now(),
            max_alerts: 0,
            alerts: Vec::new(),
            dropped: 0,
            found: Vec::new(),
            trace: None,
            printed: 0,
            regexes: Regexes::default(),
        }));
        FrameRef {
            frame,
            memory_stop: Arc::new(AtomicI64::new(i64::MAX)),
        }
    }

    /// Gives the evaluation starting on this thread `budget` bytes to allocate.
    pub fn begin_memory(&self, budget: usize) {
        let stop = crate::memory::thread_allocated().saturating_add(budget as i64);
        self.memory_stop.store(stop, Ordering::Relaxed);
    }

    /// Whether the running evaluation has allocated more than its budget.
    pub fn memory_spent(&self) -> bool {
        crate::memory::thread_allocated() > self.memory_stop.load(Ordering::Relaxed)
    }

    /// The frame. A panic inside a rule's call poisons nothing that matters: the next
    /// evaluation starts the frame over.
    pub fn lock(&self) -> MutexGuard<'_, Frame> {
        self.frame
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn deadline_passed(&self) -> bool {
        Instant::now() >= self.lock().deadline
    }

    /// The name of the rule running, for log lines.
    pub fn current_rule(&self) -> Arc<str> {
        self.lock().rule.clone()
    }
}

impl ArticleRef {
    fn doc(&self) -> &Document {
        &self.0.doc
    }

    fn find(&self, term: &str, title_only: bool) -> bool {
        let doc = self.doc();
        let first = self
            .0
            .occurrences(term)
            .iter()
            .find(|o| !title_only || doc.in_title(o.last))
            .copied();
        if let Some(occ) = first {
            self.1.lock().record(term, || doc.span(occ));
        }
        first.is_some()
    }

    fn near(&self, a: &str, b: &str, n: u32) -> bool {
        let (xs, ys) = (self.0.occurrences(a), self.0.occurrences(b));
        self.pair(a, b, self.doc().near_in(&xs, &ys, n))
    }

    /// For a trace: how far apart `a` and `b` are at their closest.
    fn closest(&self, a: &str, b: &str) -> String {
        let (xs, ys) = (self.0.occurrences(a), self.0.occurrences(b));
        match self.doc().closest_in(&xs, &ys) {
            Some(1) => " (closest: 1 word between them)".into(),
            Some(d) => format!(" (closest: {d} words between them)"),
            None if xs.is_empty() || ys.is_empty() => {
                let gone = if xs.is_empty() { a } else { b };
                format!(" ({gone:?} is not in the article)")
            }
            None => " (never in the same part: one in the title, one in the body)".into(),
        }
    }

    fn same_sentence(&self, a: &str, b: &str) -> bool {
        let (xs, ys) = (self.0.occurrences(a), self.0.occurrences(b));
        self.pair(a, b, self.doc().same_sentence_in(&xs, &ys))
    }

    fn pair(&self, a: &str, b: &str, hit: Option<(Occurrence, Occurrence)>) -> bool {
        if let Some((x, y)) = hit {
            let mut frame = self.1.lock();
            frame.record(a, || self.doc().span(x));
            frame.record(b, || self.doc().span(y));
        }
        hit.is_some()
    }
}

/// A list of terms for a trace line: a long one (a term list) by its first terms and count.
fn shown(list: &[ImmutableString]) -> String {
    const SHOWN: usize = 12;
    if list.len() <= SHOWN {
        return format!("{list:?}");
    }
    let first: Vec<String> = list[..SHOWN].iter().map(|t| format!("{t:?}")).collect();
    format!("[{}, … {} terms in all]", first.join(", "), list.len())
}

/// `; missing: "a", "b"` for a trace line, or nothing.
fn missing_note(missing: &[&ImmutableString]) -> String {
    if missing.is_empty() {
        return String::new();
    }
    let list: Vec<_> = missing.iter().take(12).map(|t| format!("{t:?}")).collect();
    let more = match missing.len() {
        n if n > 12 => format!(" and {} more", n - 12),
        _ => String::new(),
    };
    format!("; missing: {}{more}", list.join(", "))
}

fn terms(list: &Array, function: &str) -> RhaiResult<Vec<ImmutableString>> {
    list.iter()
        .map(|t| {
            t.clone().into_immutable_string().map_err(|ty| {
                format!("{function}() takes an array of strings, but one element is {ty}").into()
            })
        })
        .collect()
}

/// Patterns of `matches()` a scanner has compiled, or why they do not compile, least
/// recently used first. Bounded in number and in pattern bytes: a rule that builds a pattern
/// from each article's text cannot grow it (each compiled pattern holds up to 3 MiB).
#[derive(Default)]
struct Regexes {
    entries: Vec<(String, Compiled)>,
    bytes: usize,
}

/// A compiled pattern, or why it does not compile.
type Compiled = Result<Arc<Regex>, String>;

/// Patterns kept per scanner, and their total length.
const MAX_REGEXES: usize = 32;
const MAX_REGEX_BYTES: usize = 64 << 10;

impl Regexes {
    fn get(&mut self, pattern: &str) -> Compiled {
        if let Some(i) = self.entries.iter().position(|(p, _)| p == pattern) {
            let hit = self.entries.remove(i);
            let compiled = hit.1.clone();
            self.entries.push(hit);
            return compiled;
        }
        let compiled = regex(pattern);
        if pattern.len() <= MAX_REGEX_BYTES {
            while self.entries.len() >= MAX_REGEXES
                || (!self.entries.is_empty() && self.bytes + pattern.len() > MAX_REGEX_BYTES)
            {
                let (old, _) = self.entries.remove(0);
                self.bytes -= old.len();
            }
            self.bytes += pattern.len();
            self.entries.push((pattern.to_string(), compiled.clone()));
        }
        compiled
    }
}

/// Compiles `pattern`. Regexes are linear-time and size-capped, so a hostile pattern cannot
/// stall a rule outside its operation budget.
pub(crate) fn regex(pattern: &str) -> Compiled {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .dfa_size_limit(2 << 20)
        .build()
        .map(Arc::new)
        .map_err(|e| {
            // A syntax error is a drawing of the pattern with a caret, then the reason: the
            // reason is what fits on a rule error's line.
            let reason = match &e {
                regex::Error::Syntax(text) => text.lines().last().unwrap_or(text).to_string(),
                other => other.to_string(),
            };
            format!(
                "invalid regex {pattern:?}: {}",
                reason.trim_start_matches("error: ")
            )
        })
}

/// Registers the `Article` type, its fields and queries, and `alert()` writing into `frame`.
pub(super) fn register(engine: &mut Engine, frame: &FrameRef) {
    engine.register_type_with_name::<ArticleRef>("Article");
    engine
        .register_get("title", |a: &mut ArticleRef| {
            a.0.title.get_or_init(|| a.0.doc.title().into()).clone()
        })
        .register_get("body", |a: &mut ArticleRef| {
            a.0.body.get_or_init(|| a.0.doc.body().into()).clone()
        })
        .register_get("text", |a: &mut ArticleRef| {
            a.0.text.get_or_init(|| a.0.doc.text().into()).clone()
        })
        .register_get("url", |a: &mut ArticleRef| a.0.url.clone())
        .register_get("published", |a: &mut ArticleRef| a.0.published.clone())
        .register_get("source", |a: &mut ArticleRef| a.0.source.clone())
        .register_get("path", |a: &mut ArticleRef| a.0.path.clone())
        .register_get("lang", |a: &mut ArticleRef| {
            let p = &a.0;
            p.lang
                .get_or_init(|| {
                    p.given_lang
                        .clone()
                        .or_else(|| crate::article::detect_lang(p.doc.title(), p.doc.body()))
                        .map_or(Dynamic::UNIT, Dynamic::from)
                })
                .clone()
        })
        .register_get("meta", |a: &mut ArticleRef| a.0.meta.clone());

    engine
        .register_fn("mentions", |a: &mut ArticleRef, term: &str| {
            a.check()?;
            let found = a.find(term, false);
            a.note(|| format!("mentions({term:?}) → {found}"));
            Ok::<_, Box<EvalAltResult>>(found)
        })
        .register_fn("in_title", |a: &mut ArticleRef, term: &str| {
            a.check()?;
            let found = a.find(term, true);
            a.note(|| format!("in_title({term:?}) → {found}"));
            Ok::<_, Box<EvalAltResult>>(found)
        })
        .register_fn("mentions_all", |a: &mut ArticleRef, list: Array| {
            a.check()?;
            let list = terms(&list, "mentions_all")?;
            let missing = a.missing(&list)?;
            a.note(|| {
                format!(
                    "mentions_all({}) → {}{}",
                    shown(&list),
                    missing.is_empty(),
                    missing_note(&missing)
                )
            });
            Ok::<_, Box<EvalAltResult>>(missing.is_empty())
        })
        .register_fn("mentions_any", |a: &mut ArticleRef, list: Array| {
            a.check()?;
            let list = terms(&list, "mentions_any")?;
            let missing = a.missing(&list)?;
            let found = missing.len() < list.len();
            a.note(|| {
                let list = shown(&list);
                format!("mentions_any({list}) → {found}{}", missing_note(&missing))
            });
            Ok::<_, Box<EvalAltResult>>(found)
        })
        .register_fn("count", |a: &mut ArticleRef, term: &str| {
            a.check()?;
            let occs = a.0.occurrences(term);
            if let Some(first) = occs.first() {
                a.1.lock().record(term, || a.doc().span(*first));
            }
            a.note(|| format!("count({term:?}) → {}", occs.len()));
            Ok::<_, Box<EvalAltResult>>(occs.len() as INT)
        })
        .register_fn("near", |a: &mut ArticleRef, x: &str, y: &str, n: INT| {
            a.check()?;
            let n = u32::try_from(n)
                .map_err(|_| format!("near() needs a distance of 0 or more words, not {n}"))?;
            let found = a.near(x, y, n);
            a.note(|| {
                let why = if found {
                    String::new()
                } else {
                    a.closest(x, y)
                };
                format!("near({x:?}, {y:?}, {n}) → {found}{why}")
            });
            Ok::<_, Box<EvalAltResult>>(found)
        })
        .register_fn("same_sentence", |a: &mut ArticleRef, x: &str, y: &str| {
            a.check()?;
            let found = a.same_sentence(x, y);
            a.note(|| format!("same_sentence({x:?}, {y:?}) → {found}"));
            Ok::<_, Box<EvalAltResult>>(found)
        })
        .register_fn("matches", |a: &mut ArticleRef, pattern: &str| {
            a.check()?;
            let re = a.1.lock().regexes.get(pattern)?;
            let found = re.find(a.0.doc.text()).map(|m| m.range());
            let mut frame = a.1.lock();
            if let Some(span) = &found {
                frame.record(pattern, || span.clone());
            }
            frame.note(|| format!("matches({pattern:?}) → {}", found.is_some()));
            Ok::<_, Box<EvalAltResult>>(found.is_some())
        });

    let (f1, f2) = (frame.clone(), frame.clone());
    engine
        .register_fn("alert", move |message: &str| {
            let mut frame = f1.lock();
            frame.note(|| format!("alert({message:?})"));
            raise(
                &mut frame,
                Raised {
                    severity: Severity::default(),
                    message: message.to_string(),
                    tags: Vec::new(),
                    key: None,
                    fields: Default::default(),
                    found: Vec::new(),
                },
            )
        })
        .register_fn("alert", move |map: Map| {
            let mut frame = f2.lock();
            frame.note(|| format!("alert({map:?})"));
            raise(&mut frame, parse_alert(map)?)
        });
}

fn raise(f: &mut Frame, mut raised: Raised) -> RhaiResult<()> {
    if f.alerts.len() >= f.max_alerts {
        f.dropped += 1;
    } else {
        raised.found = f.found.clone();
        f.alerts.push(raised);
    }
    Ok(())
}

/// Reads the map form of `alert(#{...})`.
fn parse_alert(map: Map) -> RhaiResult<Raised> {
    let mut raised = Raised {
        severity: Severity::default(),
        message: String::new(),
        tags: Vec::new(),
        key: None,
        fields: Default::default(),
        found: Vec::new(),
    };
    let mut message = None;
    for (key, value) in map {
        match key.as_str() {
            "message" => message = Some(value.to_string()),
            "severity" => {
                let name = value
                    .into_immutable_string()
                    .map_err(|ty| format!("alert severity must be a string, not {ty}"))?;
                raised.severity = name.parse::<Severity>().map_err(|e| format!("alert {e}"))?;
            }
            "tags" => {
                let list = value
                    .into_array()
                    .map_err(|ty| format!("alert tags must be an array of strings, not {ty}"))?;
                raised.tags = list.into_iter().map(|t| t.to_string()).collect();
            }
            "key" => raised.key = Some(value.to_string()),
            _ => {
                let json = dynamic_to_json(&value, MAX_FIELD_DEPTH).ok_or_else(|| {
                    format!(
                        "alert field {key:?} nests deeper than {MAX_FIELD_DEPTH} levels of arrays and maps: flatten it"
                    )
                })?;
                raised.fields.insert(key.to_string(), json);
            }
        }
    }
    raised.message = message.ok_or("alert has no message: add `message: \"…\"` to the map")?;
    Ok(raised)
}

fn json_to_dynamic(v: &Value) -> Dynamic {
    match v {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64().unwrap_or(f64::NAN).into(),
        },
        Value::String(s) => s.as_str().into(),
        Value::Array(items) => Dynamic::from_array(items.iter().map(json_to_dynamic).collect()),
        Value::Object(map) => Dynamic::from_map(
            map.iter()
                .map(|(k, v)| (k.as_str().into(), json_to_dynamic(v)))
                .collect(),
        ),
    }
}

/// How deep arrays and maps may nest in an alert's fields: the alert JSON is read back from
/// the state store and by receivers, whose parsers stop at 128 levels.
pub(crate) const MAX_FIELD_DEPTH: usize = 32;

/// `v` as JSON, or `None` if it nests deeper than `depth` levels.
fn dynamic_to_json(v: &Dynamic, depth: usize) -> Option<Value> {
    let nested = |v: &Dynamic| dynamic_to_json(v, depth.checked_sub(1)?);
    Some(if v.is_unit() {
        Value::Null
    } else if let Ok(b) = v.as_bool() {
        b.into()
    } else if let Ok(i) = v.as_int() {
        i.into()
    } else if let Ok(f) = v.as_float() {
        serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
    } else if let Some(items) = v.read_lock::<Array>() {
        items.iter().map(nested).collect::<Option<_>>()?
    } else if let Some(map) = v.read_lock::<Map>() {
        Value::Object(
            map.iter()
                .map(|(k, v)| Some((k.to_string(), nested(v)?)))
                .collect::<Option<_>>()?,
        )
    } else {
        Value::String(v.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_cache_is_bounded_and_keeps_the_recent_ones() {
        let mut cache = Regexes::default();
        for i in 0..100 {
            cache.get(&format!("{i}{}", "a".repeat(4000))).unwrap();
            assert!(cache.entries.len() <= MAX_REGEXES);
            assert!(cache.bytes <= MAX_REGEX_BYTES);
        }
        assert!(cache.entries.last().unwrap().0.starts_with("99"));
        // A pattern over the byte bound is compiled, not kept.
        cache.get(&"b".repeat(MAX_REGEX_BYTES + 1)).unwrap_err();
        assert!(cache.bytes <= MAX_REGEX_BYTES);
    }
}
