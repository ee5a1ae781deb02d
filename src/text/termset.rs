//! Many terms found in one pass: the automaton behind the rules prefilter.
//!
//! A [`TermSet`] is built once from every literal term of a rule set (the strings rules pass
//! to `mentions`, `count`, `near`, …). It holds one Aho-Corasick automaton of the terms' words
//! joined by single spaces — exactly how [`Document::folded`] joins an article's words — so one
//! overlapping search over an article's folded text finds every term at once, whatever the
//! number of terms. A raw hit counts only at word boundaries: it must start where a word starts,
//! end where a word ends (a prefix term's last word only has to start there), and a phrase may
//! not run from the title into the body. What the pass finds, [`Hits`], is for each term the
//! same occurrence list [`Document::occurrences`] gives, so rules get the same answers either
//! way; the differential tests hold the two to that.
//!
//! Terms are named by the strings rules wrote: two spellings that fold alike (`H200`, `h200`)
//! share one [`TermId`].

use std::collections::HashMap;

use aho_corasick::automaton::Automaton;
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind};

use super::document::{Document, Occurrence};
use super::term::Term;

/// A term of a [`TermSet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TermId(u32);

impl TermId {
    /// The id as an index, from 0 to [`TermSet::len`].
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Terms compiled into one automaton over folded text.
#[derive(Debug, Default)]
pub struct TermSet {
    terms: Vec<Term>,
    /// Each spelling as rules wrote it, to its term.
    by_spelling: HashMap<Box<str>, TermId>,
    automaton: Option<DFA>,
    /// What each automaton pattern stands for, by pattern id.
    patterns: Vec<Pattern>,
}

/// One automaton pattern: a term's words joined by spaces, for the term itself and for the
/// term whose last word is a prefix (`chip`, `chip*`).
#[derive(Debug, Default)]
struct Pattern {
    /// Number of words minus one: the last word's position from the first.
    extra_words: u32,
    whole: Option<TermId>,
    prefix: Option<TermId>,
}

impl TermSet {
    /// Compiles the terms spelled `spellings`. A spelling whose folded words hold a space (a
    /// few compatibility characters fold to several words, like U+FDFA) is left out: such terms
    /// cannot be told apart from phrases in folded text, and [`TermSet::id`] does not know them.
    pub fn new<'a>(spellings: impl IntoIterator<Item = &'a str>) -> TermSet {
        let mut set = TermSet::default();
        let mut by_term: HashMap<Term, TermId> = HashMap::new();
        let mut by_pattern: HashMap<String, usize> = HashMap::new();
        let mut texts: Vec<String> = Vec::new();
        for spelling in spellings {
            if set.by_spelling.contains_key(spelling) {
                continue;
            }
            let term = Term::parse(spelling);
            if term.words().iter().any(|w| w.contains(' ')) {
                continue;
            }
            let id = match by_term.get(&term) {
                Some(&id) => id,
                None => {
                    let id = TermId(set.terms.len() as u32);
                    if !term.is_empty() {
                        let text = term.words().join(" ");
                        let p = *by_pattern.entry(text.clone()).or_insert_with(|| {
                            texts.push(text);
                            set.patterns.push(Pattern {
                                extra_words: term.words().len() as u32 - 1,
                                ..Pattern::default()
                            });
                            set.patterns.len() - 1
                        });
                        let slot = if term.is_prefix() {
                            &mut set.patterns[p].prefix
                        } else {
                            &mut set.patterns[p].whole
                        };
                        *slot = Some(id);
                    }
                    by_term.insert(term.clone(), id);
                    set.terms.push(term);
                    id
                }
            };
            set.by_spelling.insert(spelling.into(), id);
        }
        if !texts.is_empty() {
            // A DFA, searched through the `Automaton` trait in `find`'s own loop: one table
            // lookup per byte, without the dynamic dispatch of `AhoCorasick`'s iterators.
            let automaton = DFA::builder()
                .match_kind(MatchKind::Standard)
                .prefilter(false)
                .build(&texts)
                .expect("patterns of folded words always compile");
            set.automaton = Some(automaton);
        }
        set
    }

    /// The term spelled `spelling`, if the set has it.
    pub fn id(&self, spelling: &str) -> Option<TermId> {
        self.by_spelling.get(spelling).copied()
    }

    /// The term of an id.
    pub fn term(&self, id: TermId) -> &Term {
        &self.terms[id.index()]
    }

    /// Number of distinct terms.
    pub fn len(&self) -> usize {
        self.terms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Finds every term in `doc`, in one pass over its folded text.
    pub fn find(&self, doc: &Document) -> Hits {
        let mut found: Vec<(TermId, Occurrence)> = Vec::new();
        let Some(automaton) = &self.automaton else {
            return Hits::default();
        };
        let words = doc.word_count();
        let folded = doc.folded().as_bytes();
        let mut state = automaton
            .start_state(Anchored::No)
            .expect("unanchored searches are supported");
        // Matches come in order of their end: `last` follows them, the first word that ends
        // at or after the match's end.
        let mut last = 0;
        for (at, &byte) in folded.iter().enumerate() {
            state = automaton.next_state(Anchored::No, state, byte);
            if !automaton.is_special(state) || !automaton.is_match(state) {
                continue;
            }
            let end = at + 1;
            while last < words && doc.folded_range(last as u32).end < end {
                last += 1;
            }
            for i in 0..automaton.match_len(state) {
                let pattern = automaton.match_pattern(state, i);
                let start = end - automaton.pattern_len(pattern);
                let pattern = &self.patterns[pattern.as_usize()];
                let Some(first) = last.checked_sub(pattern.extra_words as usize) else {
                    continue;
                };
                let (first, last) = (first as u32, last as u32);
                let word = doc.folded_range(last);
                if doc.folded_range(first).start != start
                    || word.start >= end
                    || doc.in_title(first) != doc.in_title(last)
                {
                    continue;
                }
                // The pattern holds as many spaces as the text from its first word to its
                // last, so no word in between holds one: the words are the term's words.
                let occ = Occurrence { first, last };
                if let Some(id) = pattern.whole
                    && end == word.end
                {
                    found.push((id, occ));
                }
                if let Some(id) = pattern.prefix {
                    found.push((id, occ));
                }
            }
        }
        Hits::from_found(found)
    }
}

/// Where the terms of a [`TermSet`] occur in one document.
#[derive(Debug, Default)]
pub struct Hits {
    /// Occurrences grouped by term, each group in text order.
    occurrences: Vec<Occurrence>,
    /// The terms found, ascending, each with the end of its group in `occurrences`.
    terms: Vec<(TermId, u32)>,
}

impl Hits {
    fn from_found(mut found: Vec<(TermId, Occurrence)>) -> Hits {
        found.sort_unstable();
        let mut hits = Hits {
            occurrences: Vec::with_capacity(found.len()),
            terms: Vec::new(),
        };
        for (i, &(id, occ)) in found.iter().enumerate() {
            hits.occurrences.push(occ);
            if found.get(i + 1).is_none_or(|next| next.0 != id) {
                hits.terms.push((id, hits.occurrences.len() as u32));
            }
        }
        hits
    }

    fn group(&self, id: TermId) -> Option<usize> {
        self.terms.binary_search_by_key(&id, |&(t, _)| t).ok()
    }

    /// Every occurrence of the term, in text order, as [`Document::occurrences`] gives them.
    pub fn occurrences(&self, id: TermId) -> &[Occurrence] {
        match self.group(id) {
            Some(i) => {
                let start = if i == 0 { 0 } else { self.terms[i - 1].1 };
                &self.occurrences[start as usize..self.terms[i].1 as usize]
            }
            None => &[],
        }
    }

    /// Whether the term occurs at all.
    pub fn contains(&self, id: TermId) -> bool {
        self.group(id).is_some()
    }

    /// The terms found, ascending.
    pub fn terms(&self) -> impl Iterator<Item = TermId> + '_ {
        self.terms.iter().map(|&(t, _)| t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The automaton's answer for each spelling equals the document index's.
    fn same_as_index(set: &TermSet, doc: &Document, spellings: &[&str]) {
        let hits = set.find(doc);
        for s in spellings {
            let id = set.id(s).unwrap_or_else(|| panic!("{s} not in the set"));
            assert_eq!(
                hits.occurrences(id),
                doc.occurrences(&Term::parse(s)),
                "{s:?} in {:?}",
                doc.folded()
            );
            assert_eq!(hits.contains(id), !hits.occurrences(id).is_empty());
        }
    }

    const TERMS: &[&str] = &[
        "h200",
        "H200",
        "H20",
        "H20*",
        "h2000",
        "DeepSeek-V3",
        "deepseek",
        "deepseek v3",
        "chip*",
        "chip",
        "export licen*",
        "news today",
        "深度求索",
        "芯片",
        "décédé à",
        "pekin",
        "said",
        "ai",
        "!!!",
        "a",
    ];

    #[test]
    fn finds_what_the_index_finds() {
        let set = TermSet::new(TERMS.iter().copied());
        for (title, body) in [
            (
                "Big news",
                "today Nvidia's H200 and the H2000; DeepSeek-V3 from l'H200. chips, chip, chipped",
            ),
            ("Title here", "英伟达向深度求索出售H200芯片。深度求索"),
            (
                "Il est",
                "de\u{301}ce\u{301}de\u{301} a\u{300} Pékin. AI said: a said ai",
            ),
            (
                "export licences",
                "An export licence; export licensing; exported licences",
            ),
            ("", ""),
            ("h200", ""),
        ] {
            same_as_index(&set, &Document::new(title, body), TERMS);
        }
    }

    #[test]
    fn spellings_that_fold_alike_share_an_id() {
        let set = TermSet::new(["H200", "h200", "chip*", "chip", "Pékin", "pekin"]);
        assert_eq!(set.id("H200"), set.id("h200"));
        assert_ne!(set.id("chip"), set.id("chip*"));
        assert_eq!(set.id("Pékin"), set.id("pekin"));
        assert_eq!(set.len(), 4);
        assert_eq!(set.id("unknown"), None);
    }

    #[test]
    fn terms_with_spaces_inside_a_word_are_left_out() {
        // U+FDFA folds to four Arabic words in one.
        let set = TermSet::new(["\u{FDFA}", "x"]);
        assert_eq!(set.id("\u{FDFA}"), None);
        assert!(set.id("x").is_some());
    }

    #[test]
    fn empty_terms_are_never_found() {
        let set = TermSet::new(["!!!"]);
        let hits = set.find(&Document::new("!!!", "..."));
        assert!(!hits.contains(set.id("!!!").unwrap()));
        assert_eq!(hits.terms().count(), 0);
    }
}
