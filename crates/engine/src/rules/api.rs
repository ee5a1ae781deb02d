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
use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use regex::Regex;
use rhai::{Array, Dynamic, Engine, EvalAltResult, INT, ImmutableString, Map};
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

/// A scanner's frame, shared by the functions registered on its engine.
#[derive(Clone)]
pub(crate) struct FrameRef(Arc<Mutex<Frame>>);

impl FrameRef {
    pub fn new() -> FrameRef {
        FrameRef(Arc::new(Mutex::new(Frame {
            rule: Arc::from("?"),
            deadline: Instant::now(),
            max_alerts: 0,
            alerts: Vec::new(),
            dropped: 0,
            found: Vec::new(),
            trace: None,
            regexes: Regexes::default(),
        })))
    }

    /// The frame. A panic inside a rule's call poisons nothing that matters: the next
    /// evaluation starts the frame over.
    pub fn lock(&self) -> MutexGuard<'_, Frame> {
        self.0
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

/// `; missing: "a", "b"` for a trace line, or nothing.
fn missing_note(missing: &[&ImmutableString]) -> String {
    if missing.is_empty() {
        return String::new();
    }
    let list: Vec<_> = missing.iter().map(|t| format!("{t:?}")).collect();
    format!("; missing: {}", list.join(", "))
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

/// Patterns of `matches()` a scanner has compiled, or why they do not compile. Bounded: a
/// rule that builds patterns from article text cannot grow it without end.
#[derive(Default)]
struct Regexes(HashMap<String, Compiled>);

/// A compiled pattern, or why it does not compile.
type Compiled = Result<Arc<Regex>, String>;

/// Patterns kept per scanner; past this, the cache starts over.
const MAX_REGEXES: usize = 1_000;

impl Regexes {
    fn get(&mut self, pattern: &str) -> Compiled {
        if let Some(found) = self.0.get(pattern) {
            return found.clone();
        }
        let compiled = regex(pattern);
        if self.0.len() >= MAX_REGEXES {
            self.0.clear();
        }
        self.0.insert(pattern.to_string(), compiled.clone());
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
        .map_err(|e| format!("invalid regex {pattern:?}: {e}"))
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
            let found = a.find(term, false);
            a.note(|| format!("mentions({term:?}) → {found}"));
            found
        })
        .register_fn("in_title", |a: &mut ArticleRef, term: &str| {
            let found = a.find(term, true);
            a.note(|| format!("in_title({term:?}) → {found}"));
            found
        })
        .register_fn("mentions_all", |a: &mut ArticleRef, list: Array| {
            // Every term is looked up, so `matches` lists all the ones present.
            let list = terms(&list, "mentions_all")?;
            let missing: Vec<_> = list.iter().filter(|t| !a.find(t, false)).collect();
            a.note(|| {
                format!(
                    "mentions_all({list:?}) → {}{}",
                    missing.is_empty(),
                    missing_note(&missing)
                )
            });
            Ok::<_, Box<EvalAltResult>>(missing.is_empty())
        })
        .register_fn("mentions_any", |a: &mut ArticleRef, list: Array| {
            let list = terms(&list, "mentions_any")?;
            let missing: Vec<_> = list.iter().filter(|t| !a.find(t, false)).collect();
            let found = missing.len() < list.len();
            a.note(|| format!("mentions_any({list:?}) → {found}{}", missing_note(&missing)));
            Ok::<_, Box<EvalAltResult>>(found)
        })
        .register_fn("count", |a: &mut ArticleRef, term: &str| {
            let occs = a.0.occurrences(term);
            if let Some(first) = occs.first() {
                a.1.lock().record(term, || a.doc().span(*first));
            }
            a.note(|| format!("count({term:?}) → {}", occs.len()));
            occs.len() as INT
        })
        .register_fn("near", |a: &mut ArticleRef, x: &str, y: &str, n: INT| {
            let n = u32::try_from(n)
                .map_err(|_| format!("near() needs a distance of 0 or more words, not {n}"))?;
            let found = a.near(x, y, n);
            a.note(|| format!("near({x:?}, {y:?}, {n}) → {found}"));
            Ok::<_, Box<EvalAltResult>>(found)
        })
        .register_fn("same_sentence", |a: &mut ArticleRef, x: &str, y: &str| {
            let found = a.same_sentence(x, y);
            a.note(|| format!("same_sentence({x:?}, {y:?}) → {found}"));
            found
        })
        .register_fn("matches", |a: &mut ArticleRef, pattern: &str| {
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
                raised
                    .fields
                    .insert(key.to_string(), dynamic_to_json(&value));
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

fn dynamic_to_json(v: &Dynamic) -> Value {
    if v.is_unit() {
        Value::Null
    } else if let Ok(b) = v.as_bool() {
        b.into()
    } else if let Ok(i) = v.as_int() {
        i.into()
    } else if let Ok(f) = v.as_float() {
        serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
    } else if let Some(items) = v.read_lock::<Array>() {
        items.iter().map(dynamic_to_json).collect()
    } else if let Some(map) = v.read_lock::<Map>() {
        Value::Object(
            map.iter()
                .map(|(k, v)| (k.to_string(), dynamic_to_json(v)))
                .collect(),
        )
    } else {
        Value::String(v.to_string())
    }
}
