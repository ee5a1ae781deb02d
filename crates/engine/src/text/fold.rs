//! Character classes and folding: what a word is and how two words compare.
//!
//! DESIGN.md defines a word as a maximal run of Unicode letters and digits, compared after case
//! folding and accent stripping. Everything that decides "is this a word character?" or "what
//! does this word fold to?" lives here, so the article side (`Document`) and the query side
//! (`Term`) can never disagree.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// How a character takes part in words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// Separates words (spaces, punctuation, symbols).
    Separator,
    /// A letter or digit of a script that separates words with spaces.
    Word,
    /// A character of a script written without spaces (Han, kana, Thai, …). Each one is a word
    /// of its own, so a term in such a script matches as a substring of the text.
    Ideograph,
    /// A combining mark: part of the word before it, dropped by folding. Treating marks as
    /// word characters is what makes NFD input ("de\u{301}ce\u{301}de\u{301}") one word.
    Mark,
}

pub(crate) fn classify(c: char) -> Class {
    if c.is_ascii() {
        return if c.is_ascii_alphanumeric() {
            Class::Word
        } else {
            Class::Separator
        };
    }
    if is_combining_mark(c) {
        Class::Mark
    } else if is_unspaced_script(c) {
        Class::Ideograph
    } else if c.is_alphanumeric() {
        Class::Word
    } else {
        Class::Separator
    }
}

fn is_unspaced_script(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF      // Thai, Lao
        | 0x1000..=0x109F    // Myanmar
        | 0x1780..=0x17FF    // Khmer
        | 0x3040..=0x30FF    // Hiragana, Katakana
        | 0x31F0..=0x31FF    // Katakana phonetic extensions
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0xFF66..=0xFF9F    // half-width katakana
        | 0x20000..=0x3FFFF  // CJK extensions B and later
    )
}

/// Appends the folded form of `word` (one word as the tokenizer cut it) to `out`.
///
/// ASCII words, the vast majority in most corpora, only get lowercased. Other words go through
/// compatibility decomposition (NFKD: full-width letters, ligatures), lose their combining marks
/// (accents) and are case folded (`Straße` → `strasse`).
pub(crate) fn fold_word_into(word: &str, out: &mut String) {
    if word.is_ascii() {
        out.extend(word.bytes().map(|b| b.to_ascii_lowercase() as char));
        return;
    }
    let stripped: String = word.nfkd().filter(|c| !is_combining_mark(*c)).collect();
    let folded = caseless::default_case_fold_str(&stripped);
    if folded.is_ascii() {
        out.push_str(&folded);
    } else {
        // Folding can yield decomposable characters again (`İ` → `i̇`): strip those marks too.
        out.extend(folded.nfkd().filter(|c| !is_combining_mark(*c)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold(s: &str) -> String {
        let mut out = String::new();
        fold_word_into(s, &mut out);
        out
    }

    #[test]
    fn folds_case_accents_and_compatibility_forms() {
        assert_eq!(fold("DeepSeek"), "deepseek");
        assert_eq!(fold("Pékin"), "pekin");
        assert_eq!(fold("de\u{301}ce\u{301}de\u{301}"), "decede");
        assert_eq!(fold("Straße"), "strasse");
        assert_eq!(fold("ＨＴＭＬ"), "html");
        assert_eq!(fold("İstanbul"), "istanbul");
        assert_eq!(fold("ÉTAT"), "etat");
    }

    #[test]
    fn classifies_scripts() {
        assert_eq!(classify('a'), Class::Word);
        assert_eq!(classify('é'), Class::Word);
        assert_eq!(classify('\u{301}'), Class::Mark);
        assert_eq!(classify('深'), Class::Ideograph);
        assert_eq!(classify('\''), Class::Separator);
        assert_eq!(classify('_'), Class::Separator);
        assert_eq!(classify('한'), Class::Word);
    }
}
