//! An article's text cut into folded words once, then queried by every rule.
//!
//! Building a [`Document`] is the only per-article text work: one pass over the text that cuts
//! words, folds them, numbers sentences, and one sort that turns the words into a small
//! vocabulary index. Every later query (`mentions`, `count`, `near`, …) is a binary search in
//! that index plus a walk over the positions it finds, so a thousand rules asking about one
//! article share the cost of reading it.

use std::ops::Range;

use super::fold::{Class, classify, fold_word_into};
use super::term::Term;

/// One word of the text.
#[derive(Clone, Copy, Debug)]
struct Word {
    /// Byte range in [`Document::text`].
    start: u32,
    end: u32,
    /// Byte range in [`Document::folded`].
    fstart: u32,
    fend: u32,
    /// Sentence number, increasing through the text; the title is a sentence of its own.
    sentence: u32,
}

/// Where a term occurs: the word positions of its first and last word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Occurrence {
    pub first: u32,
    pub last: u32,
}

/// A title and body, tokenized and indexed for term queries.
#[derive(Debug, Default)]
pub struct Document {
    /// The title, a blank line, the body: what rules see as `article.text`.
    text: String,
    /// Every word, folded, separated by single spaces (the title's words first).
    folded: String,
    words: Vec<Word>,
    /// Number of words in the title: positions below it are title words.
    title_words: u32,
    /// Word positions sorted by folded word, then position: the vocabulary index.
    by_word: Vec<u32>,
}

impl Document {
    /// Tokenizes `title` and `body`.
    pub fn new(title: &str, body: &str) -> Document {
        let mut text = String::with_capacity(title.len() + body.len() + 2);
        text.push_str(title);
        text.push_str("\n\n");
        text.push_str(body);
        let mut doc = Document {
            folded: String::with_capacity(text.len() + 16),
            words: Vec::with_capacity(text.len() / 5),
            ..Document::default()
        };
        let title_end = title.len();
        Tokenizer::new(&mut doc).run(&text, title_end);
        doc.title_words = doc
            .words
            .iter()
            .take_while(|w| (w.end as usize) <= title_end)
            .count() as u32;
        doc.text = text;
        let mut by_word: Vec<u32> = (0..doc.words.len() as u32).collect();
        by_word.sort_by(|&a, &b| doc.word(a).cmp(doc.word(b)).then(a.cmp(&b)));
        doc.by_word = by_word;
        doc
    }

    /// The title, a blank line, then the body.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// All words, folded, separated by single spaces.
    pub fn folded(&self) -> &str {
        &self.folded
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

    /// Byte range in [`Document::text`] covered by an occurrence.
    pub fn span(&self, occ: Occurrence) -> Range<usize> {
        self.words[occ.first as usize].start as usize..self.words[occ.last as usize].end as usize
    }

    /// Positions (ascending) of words equal to `word`, or starting with it when `prefix`.
    fn positions(&self, word: &str, prefix: bool) -> Vec<u32> {
        let lo = self.by_word.partition_point(|&p| self.word(p) < word);
        let hi = if prefix {
            lo + self.by_word[lo..].partition_point(|&p| self.word(p).starts_with(word))
        } else {
            lo + self.by_word[lo..].partition_point(|&p| self.word(p) == word)
        };
        let mut found = self.by_word[lo..hi].to_vec();
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
    pub fn near(&self, a: &Term, b: &Term, n: u32) -> Option<(Occurrence, Occurrence)> {
        let bs = self.occurrences(b);
        let reach = n as u64 + 1;
        self.occurrences(a).into_iter().find_map(|x| {
            // Occurrences of b are sorted and all of one length: the ones that can be near x
            // form one run, found by binary search.
            let from = bs.partition_point(|y| (y.last as u64) + reach < x.first as u64);
            bs[from..]
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

    /// The first pair of occurrences of `a` and `b` in one sentence.
    pub fn same_sentence(&self, a: &Term, b: &Term) -> Option<(Occurrence, Occurrence)> {
        let bs = self.occurrences(b);
        self.occurrences(a).into_iter().find_map(|x| {
            let s = self.sentence(x.first);
            let from = bs.partition_point(|y| self.sentence(y.last) < s);
            bs[from..]
                .iter()
                .find(|y| self.sentence(y.first) == s || self.sentence(y.last) == s)
                .map(|y| (x, *y))
        })
    }
}

/// The single pass that cuts text into words and sentences.
struct Tokenizer<'d> {
    doc: &'d mut Document,
    sentence: u32,
    /// A sentence end was seen since the last word.
    sentence_ended: bool,
}

impl<'d> Tokenizer<'d> {
    fn new(doc: &'d mut Document) -> Self {
        Tokenizer {
            doc,
            sentence: 0,
            sentence_ended: false,
        }
    }

    fn run(mut self, text: &str, title_end: usize) {
        let bytes = text.as_bytes();
        let mut word_start: Option<usize> = None;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            let (c, len) = if b < 0x80 {
                (b as char, 1)
            } else {
                let c = text[i..].chars().next().expect("inside the text");
                (c, c.len_utf8())
            };
            if i == title_end {
                self.sentence_ended = true;
            }
            match classify(c) {
                Class::Word => {
                    word_start.get_or_insert(i);
                }
                Class::Mark => {
                    // A mark after an ideograph extends that one-character word.
                    if word_start.is_none()
                        && let Some(w) = self.doc.words.last_mut()
                        && w.end as usize == i
                    {
                        let (start, fstart) = (w.start as usize, w.fstart as usize);
                        self.doc.words.pop();
                        let folded = &mut self.doc.folded;
                        folded.truncate(fstart);
                        folded.truncate(folded.trim_end_matches(' ').len());
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
                    if ends_sentence(c, &bytes[i + len..]) {
                        self.sentence_ended = true;
                    }
                }
            }
            i += len;
        }
        if let Some(s) = word_start {
            self.emit(text, s, bytes.len());
        }
    }

    fn emit(&mut self, text: &str, start: usize, end: usize) {
        if self.sentence_ended {
            if !self.doc.words.is_empty() {
                self.sentence += 1;
            }
            self.sentence_ended = false;
        }
        let folded = &mut self.doc.folded;
        if !folded.is_empty() {
            folded.push(' ');
        }
        let fstart = folded.len();
        fold_word_into(&text[start..end], folded);
        let fend = folded.len();
        if fstart == fend {
            // Folded to nothing (a lone mark): not a word.
            folded.truncate(folded.trim_end_matches(' ').len());
            return;
        }
        self.doc.words.push(Word {
            start: start as u32,
            end: end as u32,
            fstart: fstart as u32,
            fend: fend as u32,
            sentence: self.sentence,
        });
    }
}

/// Whether `c`, followed by `rest`, ends a sentence: `.`, `!`, `?` before white space or the
/// end (so `3.5` and `e.g` do not), full-width terminators always, and paragraph breaks.
fn ends_sentence(c: char, rest: &[u8]) -> bool {
    match c {
        '.' | '!' | '?' => rest
            .iter()
            .find(|b| !matches!(b, b'"' | b'\'' | b')' | b']'))
            .is_none_or(|b| b.is_ascii_whitespace()),
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
}
