//! Main-text extraction: which part of a saved page is the story, and its text without the
//! page around it (navigation, comments, sidebars, related-story lists, sharing tools).
//!
//! One walk of the parsed page gives a record per element with what its text is made of
//! ([`tree`]); paragraphs score the elements around them and the best one, with the siblings
//! that belong with it, holds the story ([`score`]); boilerplate inside it is left out
//! ([`clean`]); the rest is laid out as text ([`layout`]). Markup cues (class and id names,
//! roles, tags) are in [`cues`]. A pass that finds less than [`ENOUGH`] characters is tried
//! again with fewer cues (class names first), and the longest text found wins.
//!
//! Every step is linear in the page: each paragraph scores a bounded number of ancestors and
//! every other step is one walk of the tree or one pass over the records.

mod clean;
mod cues;
mod layout;
mod score;
mod tree;

#[cfg(test)]
mod tests;

use scraper::Html;

use super::Budget;

/// Which cues one pass uses.
#[derive(Clone, Copy, Debug)]
pub(super) struct Pass {
    /// Leave out elements whose class, id or role names page furniture.
    pub strip_unlikely: bool,
    /// Weigh elements by their class and id names.
    pub weigh_classes: bool,
    /// Leave out boilerplate inside the story's container.
    pub clean: bool,
}

/// The passes, each with one cue fewer than the one before.
const PASSES: [Pass; 4] = [
    Pass {
        strip_unlikely: true,
        weigh_classes: true,
        clean: true,
    },
    Pass {
        strip_unlikely: false,
        weigh_classes: true,
        clean: true,
    },
    Pass {
        strip_unlikely: false,
        weigh_classes: false,
        clean: true,
    },
    Pass {
        strip_unlikely: false,
        weigh_classes: false,
        clean: false,
    },
];

/// Characters of text a pass must find to be taken without trying the next.
pub(super) const ENOUGH: usize = 500;

/// The story's text in `doc`; `None` when no paragraph of the page scored in any pass (a page
/// of a few short lines: the caller then reads its `<article>`, `<main>` or `<body>` whole).
pub(super) fn main_text(doc: &Html, budget: &Budget) -> Result<Option<String>, String> {
    // The best pass so far: its text, and what it is worth (characters, links counting against).
    let mut best: Option<(String, i64)> = None;
    for pass in PASSES {
        budget.check()?;
        let els = tree::read(doc, pass);
        let Some(body) = els.iter().position(|el| el.name == "body") else {
            return Ok(None);
        };
        let mut scores = score::score(&els);
        let Some(roots) = score::choose(&els, &mut scores, body as u32) else {
            continue;
        };
        let dropped = clean::clean(&els, &roots, pass);
        let Some(laid) = layout::text(doc, &els, &roots, &dropped) else {
            return Ok(None);
        };
        let chars = laid.text.chars().count();
        if chars.saturating_sub(laid.link) >= ENOUGH {
            return Ok(Some(laid.text));
        }
        let worth = chars as i64 - 3 * laid.link as i64;
        if best.as_ref().is_none_or(|(_, w)| worth > *w) {
            best = Some((laid.text, worth));
        }
    }
    Ok(best.map(|(text, _)| text).filter(|t| !t.is_empty()))
}
