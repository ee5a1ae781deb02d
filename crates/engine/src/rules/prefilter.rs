//! The rules prefilter: which rules can possibly do something on an article.
//!
//! Running a rule's Rhai code costs a microsecond or so per article, and most rules look for
//! terms that most articles do not contain. In the manner of YARA's atoms, the prefilter knows
//! what each rule needs from an article (a condition over its literal terms, derived from its
//! AST by [`needs`]), compiles every rule's literal terms into one [`TermSet`] automaton, and
//! for each article:
//!
//! 1. finds every term in one pass over the folded text ([`TermSet::find`]);
//! 2. collects the candidates: the rules *anchored* on a term that occurs (a rule that needs
//!    `x && (y || z)` is anchored on `x`; on `y` and `z` if it needs `y || z`), plus the few
//!    that need no term in particular (`!article.mentions("x")`, or rules it cannot analyze);
//! 3. evaluates each candidate's condition on the hits, and keeps the rules where it may hold.
//!
//! Only those rules run in Rhai, so the cost per article grows with the rules that match, not
//! with the rules loaded. The same [`Hits`] then answer the queries of the rules that run.
//!
//! Skipping must never change a result: not an alert, not a `matches` list, not an error. The
//! conditions are conservative by construction, and a rule also runs whenever the limits it
//! runs under could make even its skipped path fail (an operation budget smaller than that
//! path, say). [`RulesetOptions::prefilter`](super::RulesetOptions::prefilter) turns the
//! prefilter off: every rule then runs, and every query searches the document's own index — the reference the differential tests compare
//! the prefilter against.

mod cond;
mod needs;

use std::sync::Arc;
use std::time::Duration;

use rhai::INT;

use super::Limits;
use crate::text::{Document, Hits, TermId, TermSet};

pub(crate) use cond::Cond;
pub(crate) use needs::{Needs, analyze};

/// Whether a rule runs on an article.
#[derive(Debug)]
enum Gate {
    /// On every article.
    Always,
    /// On no article: it can never do anything.
    Never,
    /// Where the condition may hold.
    When(Cond<TermId>),
}

/// The compiled prefilter of a rule set.
#[derive(Debug)]
pub(crate) struct Prefilter {
    terms: Arc<TermSet>,
    /// One per rule, in rule order.
    gates: Vec<Gate>,
    /// Rules looked at for every article, ascending.
    unanchored: Vec<u32>,
    /// Rules anchored on each term: `anchored[starts[t]..starts[t + 1]]`, ascending.
    starts: Vec<u32>,
    anchored: Vec<u32>,
}

impl Prefilter {
    /// Builds the prefilter of rules that need `needs` (in rule order) and run under `limits`.
    pub fn build<'a>(
        needs: impl ExactSizeIterator<Item = &'a Needs> + Clone,
        limits: &Limits,
    ) -> Prefilter {
        let terms = TermSet::new(
            needs
                .clone()
                .flat_map(|n| n.terms.iter().map(|t| t.as_str())),
        );
        let mut gates = Vec::with_capacity(needs.len());
        let mut unanchored = Vec::new();
        let mut by_term: Vec<Vec<u32>> = vec![Vec::new(); terms.len()];
        for (rule, needs) in needs.enumerate() {
            let gate = if within_limits(needs, limits) {
                match needs.effect.map(&mut |t| terms.id(t)) {
                    Cond::Const(false) => Gate::Never,
                    Cond::Const(true) | Cond::Unknown => Gate::Always,
                    cond => Gate::When(cond),
                }
            } else {
                Gate::Always
            };
            match &gate {
                Gate::Always => unanchored.push(rule as u32),
                Gate::Never => {}
                Gate::When(cond) => match anchor(cond, true, &terms) {
                    Some(anchors) => {
                        for t in anchors {
                            by_term[t.index()].push(rule as u32);
                        }
                    }
                    None => unanchored.push(rule as u32),
                },
            }
            gates.push(gate);
        }
        let mut starts = Vec::with_capacity(by_term.len() + 1);
        starts.push(0);
        let mut anchored = Vec::new();
        for rules in by_term {
            anchored.extend(rules);
            starts.push(anchored.len() as u32);
        }
        Prefilter {
            terms: Arc::new(terms),
            gates,
            unanchored,
            starts,
            anchored,
        }
    }

    /// The automaton of every rule's literal terms.
    pub fn terms(&self) -> &Arc<TermSet> {
        &self.terms
    }

    /// The rules (indices, ascending) that may do something on `doc`, whose terms are `hits`.
    pub fn select(&self, doc: &Document, hits: &Hits) -> Vec<usize> {
        let mut marked = vec![0u64; self.gates.len().div_ceil(64)];
        let mut mark = |rule: u32| marked[rule as usize / 64] |= 1 << (rule % 64);
        self.unanchored.iter().for_each(|&r| mark(r));
        for t in hits.terms() {
            let (from, to) = (self.starts[t.index()], self.starts[t.index() + 1]);
            self.anchored[from as usize..to as usize]
                .iter()
                .for_each(|&r| mark(r));
        }
        let mut selected = Vec::new();
        for (word, &bits) in marked.iter().enumerate() {
            let mut bits = bits;
            while bits != 0 {
                let rule = word * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let runs = match &self.gates[rule] {
                    Gate::Always => true,
                    Gate::Never => false,
                    Gate::When(cond) => eval(cond, doc, hits) != Some(false),
                };
                if runs {
                    selected.push(rule);
                }
            }
        }
        selected
    }
}

impl Prefilter {
    /// Why the prefilter skips rule `rule` on `doc` (whose terms are `hits`); `None` when it
    /// runs it. For `explain`: the check that rejected it, with the term or distance.
    pub fn skip_reason(&self, rule: usize, doc: &Document, hits: &Hits) -> Option<String> {
        match &self.gates[rule] {
            Gate::Always => None,
            Gate::Never => Some("it can never raise an alert, on any article".into()),
            Gate::When(cond) => {
                (eval(cond, doc, hits) == Some(false)).then(|| self.why(cond, doc, hits))
            }
        }
    }

    /// Why `cond`, known false on `doc`, is false.
    fn why(&self, cond: &Cond<TermId>, doc: &Document, hits: &Hits) -> String {
        let term = |t: &TermId| {
            let term = self.terms.term(*t);
            let star = if term.is_prefix() { "*" } else { "" };
            format!("\"{}{star}\"", term.words().join(" "))
        };
        match cond {
            Cond::Const(_) | Cond::Unknown => "it can never hold".into(),
            Cond::Mentions(t) => format!("{} is not in the article", term(t)),
            Cond::InTitle(t) => format!("{} is not in the title", term(t)),
            Cond::Count(t, cmp, n) => format!(
                "{} occurs {} times, and the rule needs count {} {n}",
                term(t),
                hits.occurrences(*t).len(),
                cmp.as_str()
            ),
            Cond::Near(a, b, n) => {
                let closest = doc.closest_in(hits.occurrences(*a), hits.occurrences(*b));
                let at = match closest {
                    Some(d) => format!("; at their closest {d} words are between them"),
                    None => String::new(),
                };
                format!("{} and {} are not within {n} words{at}", term(a), term(b))
            }
            Cond::SameSentence(a, b) => {
                format!("{} and {} are never in one sentence", term(a), term(b))
            }
            Cond::Not(_) => "what the rule excludes is in the article".into(),
            Cond::And(cs) => cs
                .iter()
                .find(|c| eval(c, doc, hits) == Some(false))
                .map_or_else(|| "it can never hold".into(), |c| self.why(c, doc, hits)),
            Cond::Or(cs) => {
                let each: Vec<String> = cs.iter().map(|c| self.why(c, doc, hits)).collect();
                format!("none of its alternatives holds: {}", each.join("; "))
            }
        }
    }
}

/// Most operations evaluating `cost` AST nodes takes in Rhai (measured in the tests).
fn operations(cost: usize) -> u64 {
    3 * cost as u64 + 16
}

/// Whether the limits leave the rule's skipped paths no way to fail: operations, time and
/// sizes all within budget.
fn within_limits(needs: &Needs, limits: &Limits) -> bool {
    let ops = operations(needs.cost);
    let fits = |limit: usize| limit == 0 || needs.largest_literal <= limit;
    (limits.max_operations == 0 || ops <= limits.max_operations)
        // The deadline is only checked every 1,024 operations.
        && (ops < 1024 || limits.timeout >= Duration::from_millis(10))
        && fits(limits.max_array_size)
        && fits(limits.max_string_size)
}

/// Terms of which at least one occurs wherever `cond` (or its negation, if not `positive`)
/// holds: the rule is looked at only for articles holding one. `None` if there are none (the
/// condition can hold on an article without any of its terms).
fn anchor(cond: &Cond<TermId>, positive: bool, terms: &TermSet) -> Option<Vec<TermId>> {
    match cond {
        Cond::Const(b) => (*b != positive).then(Vec::new),
        Cond::Unknown => None,
        Cond::Mentions(t) | Cond::InTitle(t) => positive.then(|| vec![*t]),
        Cond::Near(a, b, _) | Cond::SameSentence(a, b) => {
            positive.then(|| vec![rarer(*a, *b, terms)])
        }
        Cond::Count(t, cmp, n) => (cmp.holds(0, *n) != positive).then(|| vec![*t]),
        Cond::Not(c) => anchor(c, !positive, terms),
        Cond::And(cs) | Cond::Or(cs) if matches!(cond, Cond::And(_)) == positive => {
            // All must hold: any one's anchors will do; take the fewest, longest terms.
            cs.iter()
                .filter_map(|c| anchor(c, positive, terms))
                .min_by_key(|a| (a.len(), a.iter().map(|t| -weight(*t, terms)).max()))
        }
        Cond::And(cs) | Cond::Or(cs) => {
            // One of them holds: every one needs anchors.
            let mut all = Vec::new();
            for c in cs {
                all.extend(anchor(c, positive, terms)?);
            }
            all.sort_unstable();
            all.dedup();
            Some(all)
        }
    }
}

/// Longer terms are rarer, as a rule.
fn weight(t: TermId, terms: &TermSet) -> i64 {
    let words = terms.term(t).words();
    words.iter().map(|w| w.len() as i64 + 1).sum()
}

fn rarer(a: TermId, b: TermId, terms: &TermSet) -> TermId {
    if weight(b, terms) > weight(a, terms) {
        b
    } else {
        a
    }
}

/// The condition on an article: `Some(false)` means it cannot hold, `None` that the
/// prefilter cannot tell.
fn eval(cond: &Cond<TermId>, doc: &Document, hits: &Hits) -> Option<bool> {
    Some(match cond {
        Cond::Const(b) => *b,
        Cond::Unknown => return None,
        Cond::Mentions(t) => hits.contains(*t),
        Cond::InTitle(t) => hits
            .occurrences(*t)
            .first()
            .is_some_and(|o| doc.in_title(o.last)),
        Cond::Count(t, cmp, n) => cmp.holds(hits.occurrences(*t).len() as INT, *n),
        Cond::Near(a, b, n) => doc
            .near_in(hits.occurrences(*a), hits.occurrences(*b), *n)
            .is_some(),
        Cond::SameSentence(a, b) => doc
            .same_sentence_in(hits.occurrences(*a), hits.occurrences(*b))
            .is_some(),
        Cond::Not(c) => !eval(c, doc, hits)?,
        Cond::And(cs) | Cond::Or(cs) => {
            // One operand equal to `decisive` decides; else the result is known if all are.
            let decisive = matches!(cond, Cond::Or(_));
            let mut known = true;
            for c in cs {
                match eval(c, doc, hits) {
                    Some(b) if b == decisive => return Some(decisive),
                    Some(_) => {}
                    None => known = false,
                }
            }
            return known.then_some(!decisive);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::article::Article;
    use crate::rules::Ruleset;

    fn rules(sources: &[&str], limits: Limits) -> Ruleset {
        let named: Vec<(String, &str)> = sources
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("r{i:02}"), *s))
            .collect();
        let set = Ruleset::from_sources(named.iter().map(|(n, s)| (n.as_str(), *s)), limits);
        assert!(set.diagnostics().is_empty(), "{:?}", set.diagnostics());
        set.with_prefilter(true)
    }

    fn candidates(set: &Ruleset, title: &str, body: &str) -> Vec<String> {
        set.candidates(&Article::new(title, body))
            .iter()
            .map(|r| r.name().to_string())
            .collect()
    }

    #[test]
    fn anchors_pick_one_term_of_a_conjunction_and_every_term_of_a_disjunction() {
        let set = rules(
            &[
                r#"if article.mentions_all(["ai", "nvidia"]) { alert("x"); }"#,
                r#"if article.mentions("ai") || article.mentions("chip*") { alert("x"); }"#,
                r#"if !article.mentions("ai") { alert("x"); }"#,
                r#"print("always");"#,
                r#"let unused = 1;"#,
            ],
            Limits::default(),
        );
        let p = set.prefilter.as_ref().unwrap();
        let id = |s| p.terms().id(s).unwrap();
        let anchored = |t: TermId| {
            p.anchored[p.starts[t.index()] as usize..p.starts[t.index() + 1] as usize].to_vec()
        };
        assert_eq!(anchored(id("nvidia")), [0]);
        assert_eq!(anchored(id("ai")), [1]);
        assert_eq!(anchored(id("chip*")), [1]);
        assert_eq!(p.unanchored, [2, 3]);
        assert!(matches!(p.gates[4], Gate::Never));

        assert_eq!(
            candidates(&set, "AI and Nvidia", "chips"),
            ["r00", "r01", "r03"]
        );
        assert_eq!(candidates(&set, "Nvidia", "chipset"), ["r01", "r02", "r03"]);
        assert_eq!(candidates(&set, "Nothing", "here"), ["r02", "r03"]);
    }

    #[test]
    fn conditions_are_decided_on_the_hits() {
        let set = rules(
            &[
                r#"if article.near("deepseek", "h200", 2) { alert("x"); }"#,
                r#"if article.same_sentence("deepseek", "h200") { alert("x"); }"#,
                r#"if article.in_title("h200") { alert("x"); }"#,
                r#"if article.count("h200") >= 2 { alert("x"); }"#,
                r#"if article.count("h200") == 0 { alert("x"); }"#,
            ],
            Limits::default(),
        );
        assert_eq!(
            candidates(&set, "H200", "DeepSeek buys the H200. Then more."),
            ["r00", "r01", "r02", "r03"]
        );
        assert_eq!(
            candidates(&set, "News", "DeepSeek buys. Many, many more H200."),
            Vec::<String>::new()
        );
        assert_eq!(candidates(&set, "News", "Nothing."), ["r04"]);
    }

    #[test]
    fn tight_limits_make_rules_run() {
        let source = r#"if article.mentions("h200") { alert("x"); }"#;
        let tight = Limits {
            max_operations: 3,
            ..Limits::default()
        };
        let set = rules(&[source], tight);
        assert_eq!(
            candidates(&set, "t", "b"),
            ["r00"],
            "the skipped path may fail"
        );
        let errors = set
            .evaluate(&Article::new("t", "b"), std::time::SystemTime::UNIX_EPOCH)
            .unwrap()
            .errors;
        assert!(errors[0].limit, "{errors:?}");
        // Rhai checks literals against the size limits at compile time already; the
        // prefilter checks again, for constants the optimizer builds.
        let set = rules(
            &[r#"if article.mentions_any(["ab", "cd"]) { alert("x"); }"#],
            Limits::default(),
        );
        let needs = &set.rules[0].needs;
        assert!(within_limits(needs, &Limits::default()));
        let small = Limits {
            max_string_size: 3,
            ..Limits::default()
        };
        assert!(!within_limits(needs, &small));
    }

    /// A rule skipped on an article runs there within `operations(cost)`: the bound the
    /// prefilter checks against `limits.max_operations` holds.
    #[test]
    fn skipped_paths_fit_the_operation_bound() {
        let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
        let read = |name: &str| std::fs::read_to_string(shipped.join(name)).unwrap();
        let sources = [
            read("deepseek_h200.rhai"),
            read("export_controls.rhai"),
            read("ai_funding.rhai"),
            r#"let l = ["a", "b", "c"]; for x in l { for y in l { if article.near(x, y, 1) { alert("x"); return; } } }"#.into(),
            r#"if !article.mentions_any(["a", "b"]) || article.count("c") < 3 { return; } alert("x");"#.into(),
            r#"const X = "q"; let y = article.mentions(X); if article.in_title(X) && article.same_sentence(X, "r") { alert("x"); }"#.into(),
        ];
        let article = Article::new("Nothing to see", "Here either, really.");
        for source in &sources {
            let on = rules(&[source], Limits::default());
            assert!(
                candidates(&on, &article.title, &article.body).is_empty(),
                "{source}"
            );
            let bound = operations(on.rules[0].needs.cost);
            let limits = Limits {
                max_operations: bound,
                ..Limits::default()
            };
            let off = rules(&[source], limits).with_prefilter(false);
            let eval = off
                .evaluate(&article, std::time::SystemTime::UNIX_EPOCH)
                .unwrap();
            assert!(eval.errors.is_empty(), "{source}: {:?}", eval.errors);
            assert!(eval.alerts.is_empty());
            assert!(bound < 1_200, "{source}: {bound}");
        }
    }
}
