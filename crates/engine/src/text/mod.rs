//! Text matching: folding, words, sentences and term queries.
//!
//! This is the layer that answers `mentions`, `count`, `near`, `same_sentence` and `in_title`
//! for rules. It knows nothing of files, rules or Rhai: a [`Document`] is built from a title and
//! a body, a [`Term`] from the string a rule wrote, and a query is a method on the document. A
//! [`TermSet`] finds many terms known in advance in one automaton pass over a document; its
//! [`Hits`] answer the same queries without looking words up one by one.
//!
//! The model, from DESIGN.md: a word is a maximal run of Unicode letters and digits, compared
//! after case folding and accent stripping; a term of several words is a phrase; a trailing `*`
//! makes the last word a prefix. Scripts written without spaces (Chinese, Japanese, Thai, …)
//! count each character as a word, so terms in them match as substrings.

mod document;
pub(crate) mod fold;
mod snippet;
mod term;
mod termset;

pub use document::{Document, Occurrence};
pub use snippet::snippet;
pub use term::Term;
pub use termset::{Hits, TermId, TermSet};
