//! A search term as rules write it, folded the way article text is folded.

use super::fold::{Class, classify, fold_word_into};

/// A term of `mentions`, `count`, `near`, …: one word, a phrase of several words, or either with
/// a trailing `*` that makes its last word a prefix.
///
/// The term is cut into words by the same rules as article text, so `DeepSeek-V3` is the phrase
/// `deepseek v3` and `l'H200` is `l h200`. A term with no letters or digits has no words and
/// matches nothing.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Term {
    words: Vec<String>,
    prefix: bool,
}

impl Term {
    /// Parses and folds a term.
    pub fn parse(term: &str) -> Term {
        let trimmed = term.trim_end();
        let (body, prefix) = match trimmed.strip_suffix('*') {
            Some(body) => (body, true),
            None => (trimmed, false),
        };
        let mut words = Vec::new();
        let mut start: Option<usize> = None;
        for (i, c) in body.char_indices() {
            match classify(c) {
                Class::Word | Class::Mark => {
                    start.get_or_insert(i);
                }
                Class::Ideograph => {
                    // Marks after an ideograph stay with it, as in `Document`.
                    let end = body[i + c.len_utf8()..]
                        .char_indices()
                        .find(|(_, m)| classify(*m) != Class::Mark)
                        .map_or(body.len(), |(j, _)| i + c.len_utf8() + j);
                    if let Some(s) = start.take() {
                        push_folded(&mut words, &body[s..i]);
                    }
                    push_folded(&mut words, &body[i..end]);
                }
                Class::Separator => {
                    if let Some(s) = start.take() {
                        push_folded(&mut words, &body[s..i]);
                    }
                }
            }
        }
        if let Some(s) = start {
            push_folded(&mut words, &body[s..]);
        }
        // A `*` after a separator ("chip *") has no word to extend: it is not a prefix.
        let prefix = prefix
            && !words.is_empty()
            && body.ends_with(|c: char| classify(c) != Class::Separator);
        Term { words, prefix }
    }

    /// The folded words, in order.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// Whether the last word is a prefix (`chip*`).
    pub fn is_prefix(&self) -> bool {
        self.prefix
    }

    /// Whether the term can match anything at all.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

fn push_folded(words: &mut Vec<String>, raw: &str) {
    let mut w = String::with_capacity(raw.len());
    fold_word_into(raw, &mut w);
    if !w.is_empty() {
        words.push(w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_terms() {
        assert_eq!(Term::parse("DeepSeek-V3").words(), ["deepseek", "v3"]);
        assert_eq!(Term::parse("l'H200").words(), ["l", "h200"]);
        let chip = Term::parse("chip*");
        assert!(chip.is_prefix());
        assert_eq!(chip.words(), ["chip"]);
        assert!(Term::parse("!!!").is_empty());
        assert!(!Term::parse("chip *").is_prefix());
        assert_eq!(Term::parse("深度求索").words().len(), 4);
        assert_eq!(Term::parse("Pékin").words(), ["pekin"]);
    }
}
