//! An article's text cut into folded words once, then queried by every rule.
//!
//! Building a [`Document`] is the per-article text work every rule shares: one pass over the
//! text cuts words, folds them into [`Document::folded`] (every word, folded, joined by single
//! spaces) and numbers sentences. Words made of ASCII letters and digits — most words of most
//! articles — take a fast path that only lowercases bytes; the others go through Unicode folding.
//!
//! Terms known in advance are found in the folded text by one automaton pass
//! ([`TermSet`](super::TermSet)). A term that is not ([`Document::occurrences`]) is looked up
//! in a vocabulary index — word positions sorted by word — built the first time one is asked
//! for, so articles no such query touches never pay for the sort. Both give the same
//! [`Occurrence`] lists, and `near` and `same_sentence` work on those lists.

use std::ops::Range;
use std::sync::OnceLock;

use super::fold::{Class, classify, fold_word_into};
use super::term::Term;

/// One word of the text.
#[derive(Clone, Copy, Debug)]
struct Word {
    /// Byte range in [`Document::text`].
    start: u32,
    end: u32,
    /// Byte range in the padded folded text (see [`Document::padded`]).
    fstart: u32,
    fend: u32,
    /// Sentence number, increasing through the text; the title is a sentence of its own.
    sentence: u32,
}

/// Where a term occurs: the word positions of its first and last word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Occurrence {
    pub first: u32,
    pub last: u32,
}

/// A title and body, tokenized for term queries.
#[derive(Debug, Default)]
pub struct Document {
    /// The title, a blank line, the body: what rules see as `article.text`.
    text: String,
    /// Length of the title in `text`.
    title_len: usize,
    /// Every word, folded, separated by single spaces (the title's words first), with one
    /// more space before the first and after the last.
    folded: String,
    words: Vec<Word>,
    /// Number of words in the title: positions below it are title words.
    title_words: u32,
    /// Word positions sorted by folded word, then position: the vocabulary index, built on
    /// the first query for a term that is not in a [`TermSet`](super::TermSet).
    by_word: OnceLock<Vec<u32>>,
}

impl Document {
    /// Tokenizes `title` and `body`.
    pub fn new(title: &str, body: &str) -> Document {
        let mut text = String::with_capacity(title.len() + body.len() + 2);
        text.push_str(title);
        text.push_str("\n\n");
        text.push_str(body);
        let mut doc = Document {
            title_len: title.len(),
            ..Document::default()
        };
        Tokenizer::default().run(&text, title.len(), &mut doc);
        doc.title_words = doc
            .words
            .partition_point(|w| (w.end as usize) <= title.len()) as u32;
        doc.text = text;
        doc
    }

    /// The title, a blank line, then the body.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The title, as given.
    pub fn title(&self) -> &str {
        &self.text[..self.title_len]
    }

    /// The body, as given.
    pub fn body(&self) -> &str {
        &self.text[self.title_len + 2..]
    }

    /// All words, folded, separated by single spaces.
    #[cfg(test)]
    pub fn folded(&self) -> &str {
        self.folded
            .get(1..self.folded.len().saturating_sub(1))
            .unwrap_or_default()
    }

    /// [`Document::folded`] between two more spaces: every word has a space on both sides.
    pub(super) fn padded(&self) -> &[u8] {
        self.folded.as_bytes()
    }

    /// Number of words in title and body.
    pub fn word_count(&self) -> usize {
        self.words.len()
    }

    /// The folded form of the word at `pos`.
    fn word(&self, pos: u32) -> &str {
        let w = &self.words[pos as usize];
        &self.folded[w.fstart as usize..w.fend as usize]
    }

    /// Byte range in [`Document::padded`] of the word at `pos`.
    #[inline]
    pub(super) fn folded_range(&self, pos: u32) -> Range<usize> {
        let w = &self.words[pos as usize];
        w.fstart as usize..w.fend as usize
    }

    /// Byte range in [`Document::text`] covered by an occurrence.
    pub fn span(&self, occ: Occurrence) -> Range<usize> {
        self.words[occ.first as usize].start as usize..self.words[occ.last as usize].end as usize
    }

    fn index(&self) -> &[u32] {
        self.by_word.get_or_init(|| {
            let mut by_word: Vec<u32> = (0..self.words.len() as u32).collect();
            by_word.sort_unstable_by(|&a, &b| self.word(a).cmp(self.word(b)).then(a.cmp(&b)));
            by_word
        })
    }

    /// Positions (ascending) of words equal to `word`, or starting with it when `prefix`.
    fn positions(&self, word: &str, prefix: bool) -> Vec<u32> {
        let by_word = self.index();
        let lo = by_word.partition_point(|&p| self.word(p) < word);
        let hi = if prefix {
            lo + by_word[lo..].partition_point(|&p| self.word(p).starts_with(word))
        } else {
            lo + by_word[lo..].partition_point(|&p| self.word(p) == word)
        };
        let mut found = by_word[lo..hi].to_vec();
        if prefix {
            found.sort_unstable();
        }
        found
    }

    /// Every occurrence of `term`, in text order. Phrases never span the title and the body.
    pub fn occurrences(&self, term: &Term) -> Vec<Occurrence> {
        let words = term.words();
        let Some(last) = words.len().checked_sub(1) else {
            return Vec::new();
        };
        let starts = self.positions(&words[0], term.is_prefix() && last == 0);
        if last == 0 {
            return starts
                .into_iter()
                .map(|p| Occurrence { first: p, last: p })
                .collect();
        }
        starts
            .into_iter()
            .filter(|&p| {
                let end = p as usize + last;
                end < self.words.len()
                    && self.in_title(p) == self.in_title(end as u32)
                    && words[1..].iter().enumerate().all(|(i, w)| {
                        let have = self.word(p + 1 + i as u32);
                        if i + 1 == last && term.is_prefix() {
                            have.starts_with(w.as_str())
                        } else {
                            have == w
                        }
                    })
            })
            .map(|p| Occurrence {
                first: p,
                last: p + last as u32,
            })
            .collect()
    }

    /// Whether the word at `pos` belongs to the title.
    pub fn in_title(&self, pos: u32) -> bool {
        pos < self.title_words
    }

    fn sentence(&self, pos: u32) -> u32 {
        self.words[pos as usize].sentence
    }

    /// The first pair of occurrences of `a` and `b` with at most `n` other words between them
    /// (so `n = 0` means adjacent), in the same field (title or body).
    #[cfg(test)]
    pub fn near(&self, a: &Term, b: &Term, n: u32) -> Option<(Occurrence, Occurrence)> {
        self.near_in(&self.occurrences(a), &self.occurrences(b), n)
    }

    /// [`Document::near`] on occurrence lists, as [`Document::occurrences`] or
    /// [`Hits::occurrences`](super::Hits::occurrences) give them: sorted, each list of one term.
    pub fn near_in(
        &self,
        a: &[Occurrence],
        b: &[Occurrence],
        n: u32,
    ) -> Option<(Occurrence, Occurrence)> {
        let reach = n as u64 + 1;
        a.iter().find_map(|&x| {
            // Occurrences of b are sorted and all of one length: the ones that can be near x
            // form one run, found by binary search.
            let from = b.partition_point(|y| (y.last as u64) + reach < x.first as u64);
            b[from..]
                .iter()
                .take_while(|y| y.first as u64 <= x.last as u64 + reach)
                .find(|y| {
                    let between = if y.first > x.last {
                        y.first - x.last - 1
                    } else if x.first > y.last {
                        x.first - y.last - 1
                    } else {
                        0
                    };
                    between <= n && self.in_title(x.first) == self.in_title(y.first)
                })
                .map(|y| (x, *y))
        })
    }

    /// The fewest words between an occurrence of `a` and one of `b` in the same part (title or
    /// body), `None` when there is no such pair: what `explain` says of a `near` that is false.
    /// Both lists are sorted, so one merge-like pass finds it.
    pub fn closest_in(&self, a: &[Occurrence], b: &[Occurrence]) -> Option<u32> {
        let between = |x: &Occurrence, y: &Occurrence| {
            if y.first > x.last {
                y.first - x.last - 1
            } else if x.first > y.last {
                x.first - y.last - 1
            } else {
                0
            }
        };
        let (mut i, mut j) = (0, 0);
        let mut best: Option<u32> = None;
        while i < a.len() && j < b.len() {
            let (x, y) = (&a[i], &b[j]);
            if self.in_title(x.first) == self.in_title(y.first) {
                let d = between(x, y);
                best = Some(best.map_or(d, |b| b.min(d)));
            }
            if x.first <= y.first {
                i += 1;
            } else {
                j += 1;
            }
        }
        best
    }

    /// The first pair of occurrences of `a` and `b` in one sentence.
    #[cfg(test)]
    pub fn same_sentence(&self, a: &Term, b: &Term) -> Option<(Occurrence, Occurrence)> {
        self.same_sentence_in(&self.occurrences(a), &self.occurrences(b))
    }

    /// [`Document::same_sentence`] on occurrence lists (see [`Document::near_in`]).
    pub fn same_sentence_in(
        &self,
        a: &[Occurrence],
        b: &[Occurrence],
    ) -> Option<(Occurrence, Occurrence)> {
        a.iter().find_map(|&x| {
            let s = self.sentence(x.first);
            let from = b.partition_point(|y| self.sentence(y.last) < s);
            // Past the first occurrence that starts after x's sentence, none can share it:
            // each x looks at its sentence's run of b only (linear overall, not |a|·|b|).
            b[from..]
                .iter()
                .take_while(|y| self.sentence(y.first) <= s)
                .find(|y| self.sentence(y.first) == s || self.sentence(y.last) == s)
                .map(|y| (x, *y))
        })
    }
}

/// The single pass that cuts text into words and sentences.
#[derive(Default)]
struct Tokenizer {
    /// Folded words, as bytes until the end (every piece pushed is UTF-8).
    folded: Vec<u8>,
    words: Vec<Word>,
    sentence: u32,
    /// A sentence end was seen since the last word.
    sentence_ended: bool,
    /// Room to fold a non-ASCII word in.
    scratch: String,
}

impl Tokenizer {
    /// Cuts `text`, whose title ends at `title_end`, into `doc`'s words.
    fn run(mut self, text: &str, title_end: usize, doc: &mut Document) {
        self.folded.reserve(text.len() + 16);
        self.folded.push(b' ');
        self.words.reserve(text.len() / 5);
        let bytes = text.as_bytes();
        let mut word_start: Option<usize> = None;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            match ASCII[b as usize] {
                ALNUM if word_start.is_none() => {
                    // The fast path: an ASCII word, lowercased as it is copied.
                    let before = (self.sentence, self.sentence_ended, self.folded.len());
                    let fstart = self.open_word();
                    let end = copy_ascii_word(bytes, i, &mut self.folded);
                    if bytes.get(end).is_none_or(u8::is_ascii) {
                        self.push_word(i, end, fstart);
                    } else {
                        // The word goes on with other characters: undo, and fold it whole.
                        (self.sentence, self.sentence_ended) = (before.0, before.1);
                        self.folded.truncate(before.2);
                        word_start = Some(i);
                    }
                    i = end;
                    continue;
                }
                ALNUM => {
                    i += 1;
                    continue;
                }
                SEPARATOR | STOP => {
                    if let Some(s) = word_start.take() {
                        self.emit(text, s, i);
                    }
                    // The title is a sentence of its own (its end is the `\n` after it).
                    if i == title_end
                        || (ASCII[b as usize] == STOP && ends_sentence(text, i, b as char))
                    {
                        self.sentence_ended = true;
                    }
                    i += 1;
                    continue;
                }
                _ => {}
            }
            let c = text[i..].chars().next().expect("inside the text");
            let len = c.len_utf8();
            match classify(c) {
                Class::Word => {
                    word_start.get_or_insert(i);
                }
                Class::Mark => {
                    // A mark after an ideograph extends that one-character word.
                    if word_start.is_none()
                        && let Some(w) = self.words.last()
                        && w.end as usize == i
                    {
                        let (start, fstart) = (w.start as usize, w.fstart as usize);
                        self.words.pop();
                        self.folded.truncate(fstart);
                        self.trim_space();
                        self.emit(text, start, i + len);
                        i += len;
                        continue;
                    }
                    word_start.get_or_insert(i);
                }
                Class::Ideograph => {
                    if let Some(s) = word_start.take() {
                        self.emit(text, s, i);
                    }
                    self.emit(text, i, i + len);
                }
                Class::Separator => {
                    if let Some(s) = word_start.take() {
                        self.emit(text, s, i);
                    }
                    if ends_sentence(text, i, c) {
                        self.sentence_ended = true;
                    }
                }
            }
            i += len;
        }
        if let Some(s) = word_start {
            self.emit(text, s, bytes.len());
        }
        self.folded.push(b' ');
        doc.folded = String::from_utf8(self.folded).expect("folded words are UTF-8");
        doc.words = self.words;
    }

    /// Starts a word in the folded text; returns where its folded form begins.
    fn open_word(&mut self) -> usize {
        if self.sentence_ended {
            if !self.words.is_empty() {
                self.sentence += 1;
            }
            self.sentence_ended = false;
        }
        if self.folded.len() > 1 {
            self.folded.push(b' ');
        }
        self.folded.len()
    }

    fn push_word(&mut self, start: usize, end: usize, fstart: usize) {
        self.words.push(Word {
            start: start as u32,
            end: end as u32,
            fstart: fstart as u32,
            fend: self.folded.len() as u32,
            sentence: self.sentence,
        });
    }

    /// Drops the spaces at the end, but for the one in front of all words.
    fn trim_space(&mut self) {
        while self.folded.len() > 1 && self.folded.last() == Some(&b' ') {
            self.folded.pop();
        }
    }

    /// Adds the word `text[start..end]`, folded through Unicode.
    fn emit(&mut self, text: &str, start: usize, end: usize) {
        let fstart = self.open_word();
        self.scratch.clear();
        fold_word_into(&text[start..end], &mut self.scratch);
        if self.scratch.is_empty() {
            // Folded to nothing (a lone mark): not a word.
            self.trim_space();
            return;
        }
        self.folded.extend_from_slice(self.scratch.as_bytes());
        self.push_word(start, end, fstart);
    }
}

/// Copies the run of ASCII letters and digits that starts at `bytes[i]`, lowercased, to
/// `folded`; returns where it ends. Eight bytes at a time: a word is classified and lowercased
/// with a few integer operations, without a branch per byte.
fn copy_ascii_word(bytes: &[u8], mut i: usize, folded: &mut Vec<u8>) -> usize {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const fn splat(b: u8) -> u64 {
        0x0101_0101_0101_0101 * b as u64
    }
    /// The high bit of each byte of `x` (all below 0x80) set where `lo <= byte <= hi`.
    fn between(x: u64, lo: u8, hi: u8) -> u64 {
        x.wrapping_add(splat(0x80 - lo)) & !x.wrapping_add(splat(0x7F - hi)) & HIGH
    }
    while let Some(chunk) = bytes.get(i..i + 8) {
        let x = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let low = x & !HIGH;
        let alnum = between(low, b'0', b'9') | between(low | splat(0x20), b'a', b'z');
        let stop = (!alnum | x) & HIGH;
        let lower = x | (between(low, b'A', b'Z') >> 2);
        let len = folded.len();
        let n = (stop.trailing_zeros() / 8) as usize;
        folded.extend_from_slice(&lower.to_le_bytes());
        folded.truncate(len + n);
        i += n;
        if n < 8 {
            return i;
        }
    }
    while let Some(&b) = bytes.get(i)
        && b.is_ascii_alphanumeric()
    {
        folded.push(b.to_ascii_lowercase());
        i += 1;
    }
    i
}

/// Classes of bytes for the ASCII fast path.
const SEPARATOR: u8 = 0;
const ALNUM: u8 = 1;
/// A separator that may end a sentence: `.`, `!`, `?`, a line feed.
const STOP: u8 = 2;
/// Not ASCII: part of a longer UTF-8 character.
const OTHER: u8 = 3;

static ASCII: [u8; 256] = {
    let mut table = [OTHER; 256];
    let mut b = 0;
    while b < 128 {
        table[b] = match b as u8 {
            b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' => ALNUM,
            b'.' | b'!' | b'?' | b'\n' => STOP,
            _ => SEPARATOR,
        };
        b += 1;
    }
    table
};

/// Whether `c`, at byte `at` of `text`, ends a sentence: `!` and `?` always; `.` before
/// white space or the end, or glued to the next sentence (`domestique.Consternant`: a
/// lowercase letter, the dot, an uppercase one) — so `3.5`, `e.g`, `example.com` and `U.S.A`
/// do not; full-width terminators; and paragraph breaks.
fn ends_sentence(text: &str, at: usize, c: char) -> bool {
    let rest = &text.as_bytes()[at + c.len_utf8()..];
    match c {
        '!' | '?' => true,
        '.' => match rest
            .iter()
            .find(|b| !matches!(b, b'"' | b'\'' | b')' | b']'))
        {
            None => true,
            Some(b) if b.is_ascii_whitespace() => true,
            Some(_) => {
                let after = text[at + 1..].chars().next();
                let before = text[..at].chars().next_back();
                before.is_some_and(char::is_lowercase) && after.is_some_and(char::is_uppercase)
            }
        },
        '\n' => {
            let next = rest.iter().find(|b| !matches!(b, b' ' | b'\t' | b'\r'));
            next == Some(&b'\n')
        }
        '。' | '！' | '？' => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(body: &str) -> Document {
        Document::new("Title here", body)
    }

    fn t(s: &str) -> Term {
        Term::parse(s)
    }

    #[test]
    fn whole_words_only() {
        let d = doc("Nvidia's H200 and the H2000; DeepSeek-V3 from l'H200.");
        assert_eq!(d.occurrences(&t("h200")).len(), 2);
        assert_eq!(d.occurrences(&t("H2000")).len(), 1);
        assert_eq!(d.occurrences(&t("DeepSeek-V3")).len(), 1);
        assert_eq!(d.occurrences(&t("deepseek v3")).len(), 1);
        assert!(d.occurrences(&t("H20")).is_empty());
        assert_eq!(d.occurrences(&t("H20*")).len(), 3);
    }

    #[test]
    fn nfd_and_accents() {
        let d = doc("Il est de\u{301}ce\u{301}de\u{301} a\u{300} Pékin.");
        assert_eq!(d.occurrences(&t("décédé à")).len(), 1);
        assert_eq!(d.occurrences(&t("pekin")).len(), 1);
    }

    #[test]
    fn cjk_terms_match_as_substrings() {
        let d = doc("英伟达向深度求索出售H200芯片。");
        assert_eq!(d.occurrences(&t("深度求索")).len(), 1);
        assert_eq!(d.occurrences(&t("h200")).len(), 1);
        assert_eq!(d.occurrences(&t("芯片")).len(), 1);
    }

    #[test]
    fn phrases_do_not_span_title_and_body() {
        let d = Document::new("Big news", "today");
        assert!(d.occurrences(&t("news today")).is_empty());
        assert!(d.in_title(d.occurrences(&t("news"))[0].first));
    }

    #[test]
    fn ascii_words_eight_bytes_at_a_time() {
        let text = b"Hello WORLD abcdefghijKLMNOPQRSTUVWXYZ0123456789@[`{/:09AZaz \xC3\xA9 x\x7F";
        for i in 0..text.len() {
            let mut folded = vec![b'.'];
            let end = copy_ascii_word(text, i, &mut folded);
            let run = text[i..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric())
                .count();
            assert_eq!(end, i + run, "at {i}");
            assert_eq!(folded[1..], text[i..end].to_ascii_lowercase(), "at {i}");
        }
    }

    #[test]
    fn the_title_is_one_sentence() {
        // Its last word too, ASCII or not.
        for title in ["Nvidia ships the H200", "Nvidia ships to Pékin"] {
            let d = Document::new(title, "DeepSeek buys.");
            let last = title.rsplit(' ').next().unwrap();
            assert!(d.same_sentence(&t("nvidia"), &t(last)).is_some(), "{title}");
            assert!(
                d.same_sentence(&t(last), &t("deepseek")).is_none(),
                "{title}"
            );
        }
    }

    #[test]
    fn near_and_sentences() {
        let d = doc("DeepSeek bought chips. Later, far away, the H200 arrived.\n\nNew paragraph");
        assert!(d.near(&t("deepseek"), &t("chips"), 1).is_some());
        assert!(d.near(&t("deepseek"), &t("chips"), 0).is_none());
        assert!(d.near(&t("deepseek"), &t("bought"), 0).is_some());
        assert!(d.near(&t("deepseek"), &t("h200"), 3).is_none());
        assert!(d.near(&t("h200"), &t("deepseek"), 8).is_some());
        assert!(d.same_sentence(&t("deepseek"), &t("chips")).is_some());
        assert!(d.same_sentence(&t("deepseek"), &t("h200")).is_none());
        assert!(d.same_sentence(&t("arrived"), &t("paragraph")).is_none());
        let d = doc("Version 3.5 of DeepSeek runs on the H200");
        assert!(d.same_sentence(&t("deepseek"), &t("h200")).is_some());
    }

    #[test]
    fn sentences_glued_to_the_next_still_end() {
        let apart = |text: &str, a: &str, b: &str| doc(text).same_sentence(&t(a), &t(b)).is_none();
        // Text that lost its spaces (scraped pages): the next sentence starts uppercase.
        assert!(apart(
            "Une aide domestique.Consternant, le juge",
            "domestique",
            "consternant"
        ));
        assert!(apart(
            "Une aide à domicile.État de choc",
            "domicile",
            "état"
        ));
        assert!(apart("gamma!delta", "gamma", "delta"));
        assert!(apart("eps?zeta", "eps", "zeta"));
        // Not sentence ends: decimals, abbreviations, domains, initials.
        for (text, a, b) in [
            ("version 3.5 ships", "3", "5"),
            ("see e.g. this", "e", "g"),
            ("visit example.com today", "example", "com"),
            ("the U.S.A team", "u", "a"),
        ] {
            assert!(!apart(text, a, b), "{text}");
        }
    }
}
