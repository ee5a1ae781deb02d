//! Which elements hold the story: each paragraph of enough text scores the elements around it
//! (its container fully, the one around that half, then less, five levels up; a row of a data
//! table counts as a paragraph of its table when its cells are too short to be), each scored
//! element's score is cut by its share of link text, and the best one, moved up where the
//! story is spread over several of its children, is the story's container. Its siblings that
//! score close to it or read as paragraphs of prose are kept beside it.
//!
//! The scoring follows the method of Mozilla's Readability (scores from paragraphs' length and
//! commas, tag and class weights, link density), on the records of [`super::tree`]: each
//! paragraph updates a bounded number of ancestors, so choosing is linear in the page.

use super::tree::{El, MIN_PARAGRAPH, NONE, paragraph_score};

/// Levels of ancestors a paragraph scores.
const LEVELS: usize = 5;

/// Candidates kept to look for a common ancestor of the best ones.
const TOP: usize = 5;

/// Scored elements among the best that share an ancestor for it to hold the story instead.
const SHARED_BY: usize = 3;

/// An element's score before its paragraphs count: what its tag says of it.
fn tag_weight(name: &str) -> f32 {
    match name {
        "div" => 5.0,
        "pre" | "td" | "blockquote" => 3.0,
        "address" | "ol" | "ul" | "dl" | "dd" | "dt" | "li" | "form" => -3.0,
        "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "th" => -5.0,
        _ => 0.0,
    }
}

/// Elements whose own text is one paragraph of their parent's.
fn paragraph_tag(name: &str) -> bool {
    matches!(name, "p" | "pre" | "td" | "h2" | "h3" | "h4" | "h5" | "h6")
}

/// Elements that hold paragraphs: their own text is scored as paragraphs inside them, or as
/// one paragraph of their parent's when they hold no block at all.
fn container_tag(name: &str) -> bool {
    matches!(
        name,
        "div" | "section" | "article" | "main" | "body" | "center" | "form" | "font" | "span"
    )
}

/// The scores: `None` for elements no paragraph reached.
pub(super) struct Scores {
    pub score: Vec<Option<f32>>,
}

impl Scores {
    /// An element's score with its link text discounted.
    pub(super) fn of(&self, els: &[El], i: u32) -> Option<f32> {
        let el = &els[i as usize];
        self.score[i as usize].map(|s| s * (1.0 - el.link_density()))
    }
}

/// Scores every element from the paragraphs in it.
pub(super) fn score(els: &[El]) -> Scores {
    let mut score: Vec<Option<f32>> = vec![None; els.len()];
    for (i, el) in els.iter().enumerate() {
        if el.junk {
            continue;
        }
        if let Some((points, table)) = row_paragraph(els, i) {
            add(els, &mut score, table, points);
            continue;
        }
        if el.own_score <= 0.0 {
            continue;
        }
        // An element holding several paragraphs of its own (text cut by `<br><br>`) holds
        // them as a container does.
        let several = el.own_paragraphs > 1;
        let container = if !several
            && (paragraph_tag(el.name) || (container_tag(el.name) && !el.block_child))
        {
            el.parent
        } else if several || container_tag(el.name) {
            i as u32
        } else {
            continue;
        };
        add(els, &mut score, container, el.own_score);
    }
    Scores { score }
}

/// Adds the score of one paragraph to `container` and to its ancestors, less and less.
fn add(els: &[El], score: &mut [Option<f32>], container: u32, points: f32) {
    let mut at = container;
    for level in 0..LEVELS {
        if at == NONE || els[at as usize].parent == NONE {
            break;
        }
        let a = &els[at as usize];
        let divider = match level {
            0 => 1.0,
            1 => 2.0,
            _ => level as f32 * 3.0,
        };
        let slot = &mut score[at as usize];
        let base = slot.unwrap_or_else(|| tag_weight(a.name) + a.weight as f32);
        *slot = Some(base + points / divider);
        at = a.parent;
    }
}

/// A row of a data table (see [`El::data_table`]) whose cells hold no paragraph of their
/// own is one paragraph of its table, as a line of a roster or of a results list reads: its
/// score and the table. A page whose content is such a table has no other paragraphs.
fn row_paragraph(els: &[El], i: usize) -> Option<(f32, u32)> {
    let el = &els[i];
    if el.name != "tr" || el.mass > 0.0 || el.text < MIN_PARAGRAPH || el.link * 2 > el.text {
        return None;
    }
    // The table: the row's parent, or the `tbody`/`thead` between them.
    let mut at = el.parent;
    for _ in 0..2 {
        let a = els.get(at as usize)?;
        if a.name == "table" {
            return a
                .data_table()
                .then(|| (paragraph_score(el.text, el.commas), at));
        }
        at = a.parent;
    }
    None
}

/// Whether `a` is an ancestor of `b`.
pub(super) fn contains(els: &[El], a: u32, b: u32) -> bool {
    a < b && b < els[a as usize].end
}

/// The element holding the story and the siblings kept beside it, in the page's order (the
/// page's `<body>` when it scores best); `None` when no paragraph scored anything.
pub(super) fn choose(els: &[El], scores: &mut Scores, body: u32) -> Option<Vec<u32>> {
    // The best candidates, best first.
    let mut top: Vec<(u32, f32)> = Vec::with_capacity(TOP + 1);
    for i in 0..els.len() as u32 {
        let Some(s) = scores.of(els, i) else { continue };
        if els[i as usize].junk {
            continue;
        }
        let at = top.partition_point(|&(_, t)| t >= s);
        if at < TOP {
            top.insert(at, (i, s));
            top.truncate(TOP);
        }
    }
    let &(mut best, best_score) = top.first()?;
    if best == body {
        return Some(vec![body]);
    }
    // The story spread over several children of one element: that element holds it.
    let others: Vec<u32> = top[1..]
        .iter()
        .filter(|&&(_, s)| s >= 0.75 * best_score)
        .map(|&(i, _)| i)
        .collect();
    if others.len() >= SHARED_BY {
        let mut at = els[best as usize].parent;
        while at != NONE && at != body {
            let shared = others.iter().filter(|&&o| contains(els, at, o)).count();
            if shared >= SHARED_BY {
                best = at;
                break;
            }
            at = els[at as usize].parent;
        }
    }
    if scores.score[best as usize].is_none() {
        let el = &els[best as usize];
        scores.score[best as usize] = Some(tag_weight(el.name) + el.weight as f32);
    }
    // Up while the parent scores better (it holds more of the story), through unscored ones.
    let mut last = scores.of(els, best).unwrap_or(0.0);
    let threshold = last / 3.0;
    let mut at = els[best as usize].parent;
    while at != NONE && at != body {
        let Some(s) = scores.of(els, at) else {
            at = els[at as usize].parent;
            continue;
        };
        if s < threshold {
            break;
        }
        if s > last {
            best = at;
            break;
        }
        last = s;
        at = els[at as usize].parent;
    }
    // An only child is its parent.
    loop {
        let parent = els[best as usize].parent;
        if parent == NONE || parent == body {
            break;
        }
        if children(els, parent).count() != 1 {
            break;
        }
        best = parent;
    }
    best = widen(els, best);
    if scores.score[best as usize].is_none() {
        let el = &els[best as usize];
        scores.score[best as usize] = Some(tag_weight(el.name) + el.weight as f32);
    }
    Some(siblings(els, scores, best))
}

/// What an ancestor must add to the story's paragraphs (its share of their score) to hold the
/// story instead.
const WIDEN_GAIN: f32 = 0.25;

/// How many times the choice's paragraphs (their score) the prose outside it must be, with at
/// least [`FRAGMENT_PROSE`] points per hundred characters and at most [`FRAGMENT_LINKS`] of it
/// links, for the choice to be taken as a fragment of the page's text.
const FRAGMENT: f32 = 2.0;
const FRAGMENT_PROSE: f32 = 1.5;
const FRAGMENT_LINKS: f32 = 0.1;

/// The ancestor of `best` that holds the story when it is spread over several elements alike
/// that are not siblings (steps of a how-to, sections each in its own wrapper): the highest one
/// in which elements named as `best` is (same tag and class) add a good share to the story's
/// paragraphs, and most of what the ancestor adds, with few links.
fn widen(els: &[El], mut best: u32) -> u32 {
    let b = &els[best as usize];
    // Without a class, nothing is alike.
    let class = b.class.filter(|c| !c.trim().is_empty());
    let name = b.name;
    // The paragraphs' score in elements like `best` (outside it, the outermost of nested ones),
    // summed per ancestor, children before their parent: linear in the page.
    let mut alike = vec![0.0f32; els.len()];
    for i in (0..els.len()).rev() {
        let el = &els[i];
        if el.junk {
            continue;
        }
        if i as u32 == best {
            alike[i] = 0.0;
        } else if class.is_some() && el.name == name && el.class == class {
            alike[i] = el.mass;
        }
        if el.parent != NONE {
            alike[el.parent as usize] += alike[i];
        }
    }
    let base = els[best as usize].mass;
    let mut at = els[best as usize].parent;
    while at != NONE && els[at as usize].parent != NONE {
        let a = &els[at as usize];
        let b = &els[best as usize];
        let gain = a.mass - b.mass;
        let text = a.text.saturating_sub(b.text).max(1) as f32;
        let link = a.link.saturating_sub(b.link) as f32;
        let like = alike[at as usize];
        let spread = like >= WIDEN_GAIN * base && like >= 0.5 * gain && link / text < 0.3;
        // Most of the page's prose lies outside the choice, with few links: the page is one
        // long text in several parts (a page of several reports, a paper in sections).
        let fragment = gain >= FRAGMENT * base
            && gain * 100.0 / text >= FRAGMENT_PROSE
            && link / text <= FRAGMENT_LINKS;
        if spread || fragment {
            best = at;
        }
        at = a.parent;
    }
    best
}

/// The element's children that are read.
pub(super) fn children<'e>(els: &'e [El], i: u32) -> impl Iterator<Item = u32> + 'e {
    let mut at = els[i as usize].first_child;
    std::iter::from_fn(move || {
        while at != NONE {
            let here = at;
            at = els[here as usize].next_sibling;
            if !els[here as usize].junk {
                return Some(here);
            }
        }
        None
    })
}

/// `best` and those of its siblings that belong to the story.
fn siblings(els: &[El], scores: &Scores, best: u32) -> Vec<u32> {
    let parent = els[best as usize].parent;
    if parent == NONE {
        return vec![best];
    }
    let best_score = scores.of(els, best).unwrap_or(0.0);
    let threshold = (best_score * 0.2).max(10.0);
    let best_class = els[best as usize].class.filter(|c| !c.is_empty());
    children(els, parent)
        .filter(|&s| {
            if s == best {
                return true;
            }
            let el = &els[s as usize];
            let bonus = if best_class.is_some() && el.class == best_class {
                best_score * 0.2
            } else {
                0.0
            };
            if scores
                .of(els, s)
                .is_some_and(|score| score + bonus >= threshold)
            {
                return true;
            }
            if el.name == "p" {
                let density = el.link_density();
                if el.text > 80 && density < 0.25 {
                    return true;
                }
                if el.text > 0 && el.text <= 80 && density == 0.0 && el.ends_sentence {
                    return true;
                }
            }
            false
        })
        .collect()
}
