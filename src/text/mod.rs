//! Text matching: folding, words, sentences and term queries.
//!
//! This is the layer that answers `mentions`, `count`, `near`, `same_sentence` and `in_title`
//! for rules. It knows nothing of files, rules or Rhai: an [`Document`] is built from a title and
//! a body, a [`Term`] from the string a rule wrote, and a query is a method on the document. A
//! [`TermSet`] finds many terms known in advance in one automaton pass over a document; its
//! [`Hits`] answer the same queries without looking words up one by one.
//!
//! The model, from DESIGN.md: a word is a maximal run of Unicode letters and digits, compared
//! after case folding and accent stripping; a term of several words is a phrase; a trailing `*`
//! makes the last word a prefix. Scripts written without spaces (Chinese, Japanese, Thai, …)
//! count each character as a word, so terms in them match as substrings.

mod document;
mod fold;
mod term;
mod termset;

pub use document::{Document, Occurrence};
pub use term::Term;
pub use termset::{Hits, TermId, TermSet};

/// A short, single-line excerpt of `text` around `span`: about `context` bytes either side, cut
/// at word boundaries, white space collapsed, with `…` where text was left out.
pub fn snippet(text: &str, span: std::ops::Range<usize>, context: usize) -> String {
    let floor = |mut i: usize| {
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let mut start = floor(span.start.saturating_sub(context));
    let mut end = floor((span.end + context).min(text.len()));
    if start > 0 {
        // Start after the first space so the snippet does not open on half a word.
        if let Some(sp) = text[start..span.start].find(char::is_whitespace) {
            start += sp;
        }
    }
    if end < text.len()
        && let Some(sp) = text[span.end..end].rfind(char::is_whitespace)
    {
        end = span.end + sp;
    }
    let mut out = String::with_capacity(end - start + 8);
    if start > 0 {
        out.push('…');
    }
    let mut words = text[start..end].split_whitespace();
    if let Some(first) = words.next() {
        out.push_str(first);
        for w in words {
            out.push(' ');
            out.push_str(w);
        }
    }
    if end < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_cuts_at_words() {
        let text = "one two three four five six seven eight nine ten";
        let at = text.find("five").unwrap();
        assert_eq!(snippet(text, at..at + 4, 9), "…four five six…");
        assert_eq!(snippet("a\n\nb", 0..1, 80), "a b");
    }
}
