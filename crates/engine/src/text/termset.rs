//! Many terms found in one pass: the automaton behind the rules prefilter.
//!
//! A [`TermSet`] is built once from every literal term of a rule set (the strings rules pass
//! to `mentions`, `count`, `near`, …). It holds one Aho-Corasick automaton of the terms' words
//! joined by single spaces — exactly how [`Document::folded`] joins an article's words — so one
//! overlapping search over an article's folded text finds every term at once, whatever the
//! number of terms. Each pattern starts with a space, and a whole-word term's ends with one, so
//! a hit starts where a word starts and ends where a word ends (a prefix term's last word only
//! has to start); it is then checked against the document's words, and a phrase may not run
//! from the title into the body. What the pass finds, [`Hits`], is for each term the same
//! occurrence list [`Document::occurrences`] gives, so rules get the same answers either way;
//! the differential tests hold the two to that.
//!
//! Terms are named by the strings rules wrote: two spellings that fold alike (`H200`, `h200`)
//! share one [`TermId`].

use std::collections::HashMap;

use aho_corasick::automaton::Automaton;
use aho_corasick::automaton::StateID;
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
    /// Each term's number of words minus one: its last word's position from its first.
    extra_words: Vec<u32>,
    /// Each spelling as rules wrote it, to its term.
    by_spelling: HashMap<Box<str>, TermId>,
    automaton: Option<DFA>,
    /// What each automaton pattern stands for, by pattern id.
    patterns: Vec<Pattern>,
}

/// An automaton pattern: ` w1 w2 … wn ` for a term, without the last space for a prefix term.
#[derive(Debug, Clone, Copy)]
struct Pattern {
    term: TermId,
    /// Bytes, spaces included.
    len: u32,
    /// Number of words minus one.
    extra_words: u32,
    prefix: bool,
}

impl TermSet {
    /// Compiles the terms spelled `spellings`. A spelling whose folded words hold a space (a
    /// few compatibility characters fold to several words, like U+FDFA) is left out: such terms
    /// cannot be told apart from phrases in folded text, and [`TermSet::id`] does not know them.
    pub fn new<'a>(spellings: impl IntoIterator<Item = &'a str>) -> TermSet {
        let mut set = TermSet::default();
        let mut by_term: HashMap<Term, TermId> = HashMap::new();
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
                        // ` chip ` for `chip`, ` chip` for `chip*`.
                        let end = if term.is_prefix() { "" } else { " " };
                        let text = format!(" {}{end}", term.words().join(" "));
                        set.patterns.push(Pattern {
                            term: id,
                            len: text.len() as u32,
                            extra_words: term.words().len() as u32 - 1,
                            prefix: term.is_prefix(),
                        });
                        texts.push(text);
                    }
                    by_term.insert(term.clone(), id);
                    set.extra_words
                        .push(term.words().len().saturating_sub(1) as u32);
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

    /// Finds every term in `doc`, in one pass over its folded text.
    ///
    /// The pass is cut in two halves walked in lockstep: each step of an automaton waits on a
    /// table lookup, and two independent walks let the processor wait on both at once. The
    /// second walk starts early enough to see every match that ends in its half.
    pub fn find(&self, doc: &Document) -> Hits {
        let Some(automaton) = &self.automaton else {
            return Hits::default();
        };
        let text = doc.padded();
        let start = automaton
            .start_state(Anchored::No)
            .expect("unanchored searches are supported");
        let mut found = Vec::with_capacity(doc.word_count() / 4);
        let half = text.len() / 2;
        let from = half.saturating_sub(automaton.max_pattern_len().saturating_sub(1));
        let (a_bytes, b_bytes) = (&text[..half], &text[from..]);
        let (mut a, mut b) = (start, start);
        // The first word that ends at or after each walk's last match, less one: matches come
        // in order of their end, so it only moves forward.
        let (mut a_last, mut b_last) = (0, 0);
        for (i, (&x, &y)) in a_bytes.iter().zip(b_bytes).enumerate() {
            a = automaton.next_state(Anchored::No, a, x);
            b = automaton.next_state(Anchored::No, b, y);
            if automaton.is_special(a) {
                self.matches_at(automaton, a, doc, i + 1, &mut a_last, &mut found);
            }
            if automaton.is_special(b) && from + i >= half {
                self.matches_at(automaton, b, doc, from + i + 1, &mut b_last, &mut found);
            }
        }
        for (i, &y) in b_bytes.iter().enumerate().skip(a_bytes.len()) {
            b = automaton.next_state(Anchored::No, b, y);
            if automaton.is_special(b) && from + i >= half {
                self.matches_at(automaton, b, doc, from + i + 1, &mut b_last, &mut found);
            }
        }
        Hits::from_found(found, &self.extra_words)
    }

    /// Records the matches of the automaton's `state`, reached at byte `end` of the padded
    /// text: a match there lies on word boundaries if its first word starts right after its
    /// leading space, and its last word ends right before its trailing space (a prefix term's
    /// last word holds the match's end). `last` is where the previous match's last word was.
    fn matches_at(
        &self,
        automaton: &DFA,
        state: StateID,
        doc: &Document,
        end: usize,
        last: &mut usize,
        found: &mut Vec<u64>,
    ) {
        if !automaton.is_match(state) {
            return;
        }
        let words = doc.word_count();
        while *last < words && doc.folded_range(*last as u32).end < end - 1 {
            *last += 1;
        }
        for i in 0..automaton.match_len(state) {
            let pattern = self.patterns[automaton.match_pattern(state, i).as_usize()];
            let start = end - pattern.len as usize;
            let Some(first) = last.checked_sub(pattern.extra_words as usize) else {
                continue;
            };
            let Some(word) = (*last < words).then(|| doc.folded_range(*last as u32)) else {
                continue;
            };
            let ends_well = if pattern.prefix {
                word.start < end && end <= word.end
            } else {
                word.end == end - 1
            };
            // The pattern holds as many spaces as the text from its first word to its last,
            // so no word in between holds one: the words are the term's words.
            if ends_well
                && doc.folded_range(first as u32).start == start + 1
                && doc.in_title(first as u32) == doc.in_title(*last as u32)
            {
                found.push(u64::from(pattern.term.0) << 32 | first as u64);
            }
        }
    }
}

/// Where the terms of a [`TermSet`] occur in one document.
#[derive(Debug, Default)]
pub struct Hits {
    /// Occurrences grouped by term, each group in text order.
    occurrences: Vec<Occurrence>,
    /// The terms found, ascending, each with the end of its group in `occurrences`.
    terms: Vec<(TermId, u32)>,
    /// One bit per term of the set: whether it was found.
    present: Vec<u64>,
}

impl Hits {
    /// From `found`: term ids (high half) and positions of first words (low half).
    fn from_found(mut found: Vec<u64>, extra_words: &[u32]) -> Hits {
        found.sort_unstable();
        let mut hits = Hits {
            occurrences: Vec::with_capacity(found.len()),
            terms: Vec::with_capacity(found.len()),
            present: vec![0; extra_words.len().div_ceil(64)],
        };
        for (i, &key) in found.iter().enumerate() {
            let (id, first) = (TermId((key >> 32) as u32), key as u32);
            hits.occurrences.push(Occurrence {
                first,
                last: first + extra_words[id.index()],
            });
            if found.get(i + 1).is_none_or(|next| next >> 32 != key >> 32) {
                hits.terms.push((id, hits.occurrences.len() as u32));
                hits.present[id.index() / 64] |= 1 << (id.index() % 64);
            }
        }
        hits
    }

    fn group(&self, id: TermId) -> Option<usize> {
        self.terms.binary_search_by_key(&id, |&(t, _)| t).ok()
    }

    /// Every occurrence of the term, in text order, as [`Document::occurrences`] gives them.
    pub fn occurrences(&self, id: TermId) -> &[Occurrence] {
        if !self.contains(id) {
            return &[];
        }
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
        self.present
            .get(id.index() / 64)
            .is_some_and(|bits| bits & (1 << (id.index() % 64)) != 0)
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
    fn matches_across_the_middle_of_the_text() {
        // The pass is cut in two halves: put terms at every offset around the cut.
        let set = TermSet::new(TERMS.iter().copied());
        for filler in 0..40 {
            let body = format!(
                "{} DeepSeek-V3 export licences chips 深度求索 {}",
                "word ".repeat(filler),
                "tail ".repeat(20)
            );
            same_as_index(&set, &Document::new("Title", &body), TERMS);
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
