//! The page as the extractor sees it: one record per element, in the page's order, with what
//! its visible text is made of (how long, how much of it is link text, how many commas,
//! paragraphs, images, list items, form fields). Built in one walk of the parsed tree and one
//! pass back over the records, so linear in the page however its elements nest.
//!
//! An element that is never text of the story (scripts, navigation, hidden elements, and in
//! the first passes elements whose class or id names them boilerplate, see [`super::cues`])
//! keeps a record, so that the records stay in step with a walk of the tree, but nothing under
//! it is read or counted.

use ego_tree::NodeId;
use ego_tree::iter::Edge;
use scraper::{Html, Node};

use super::Pass;
use super::cues;

/// No element (the root's parent, a missing child).
pub(super) const NONE: u32 = u32::MAX;

/// One element.
#[derive(Clone, Debug)]
pub(super) struct El<'a> {
    pub id: NodeId,
    /// Local name, lowercase, without the guard's renaming mark.
    pub name: &'a str,
    pub parent: u32,
    pub first_child: u32,
    pub next_sibling: u32,
    /// One past its last descendant: its descendants are the records `index + 1 .. end`.
    pub end: u32,
    /// Left out with everything in it.
    pub junk: bool,
    /// What its class and id say (see [`cues::Cues`]).
    pub weight: i32,
    /// Visible characters in it (white space runs count one), of which in links.
    pub text: u32,
    pub link: u32,
    pub commas: u32,
    /// Characters in headings inside it (`h1`–`h6`).
    pub heading: u32,
    /// Elements inside it: paragraphs, images, list items, form fields, embedded objects.
    pub p: u32,
    pub img: u32,
    pub li: u32,
    pub input: u32,
    pub embed: u32,
    /// Whether a child element is a block (see [`is_block`]).
    pub block_child: bool,
    /// Its own paragraphs (text not inside a block element within it, cut at `<br><br>` and
    /// at its block children): the sum of their scores (see [`paragraph_score`]) and their
    /// number, counting those of 25 characters or more.
    pub own_score: f32,
    pub own_paragraphs: u32,
    /// The scores of all the paragraphs in it (its own and its descendants'), and their number.
    pub mass: f32,
    pub paragraphs: u32,
    /// Its class attribute.
    pub class: Option<&'a str>,
    /// Whether its class or id names sharing tools.
    pub sharing: bool,
    /// Whether its text has a full stop ending a sentence (`. ` or at its end).
    pub ends_sentence: bool,
    /// Headings (`h1`–`h6`) inside it, and those of them that are mostly a link (the
    /// headlines of a list of other stories).
    pub headings: u32,
    pub linked_headings: u32,
    /// Table rows, header cells (and `thead`, `caption`), tables inside it.
    pub tr: u32,
    pub th: u32,
    pub tables: u32,
    /// Whether it is inside a `figure`.
    pub in_figure: bool,
}

/// Elements that start a paragraph of their own: text in them is not their parent's.
pub(super) fn is_block(name: &str) -> bool {
    matches!(
        name,
        "address"
            | "article"
            | "blockquote"
            | "body"
            | "caption"
            | "center"
            | "dd"
            | "details"
            | "div"
            | "dl"
            | "dt"
            | "fieldset"
            | "figcaption"
            | "figure"
            | "form"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "hgroup"
            | "hr"
            | "html"
            | "legend"
            | "li"
            | "main"
            | "menu"
            | "ol"
            | "p"
            | "pre"
            | "section"
            | "summary"
            | "table"
            | "tbody"
            | "td"
            | "tfoot"
            | "th"
            | "thead"
            | "tr"
            | "ul"
    )
}

/// The score one paragraph gives the elements around it: a point for being there, one per
/// comma, one per hundred characters up to three.
pub(super) fn paragraph_score(len: u32, commas: u32) -> f32 {
    1.0 + commas as f32 + (len / 100).min(3) as f32
}

/// Paragraphs shorter than this (characters) are not scored.
pub(super) const MIN_PARAGRAPH: u32 = 25;

/// A paragraph being read: the text of one element since its last break.
#[derive(Clone, Copy, Default)]
struct Run {
    len: u32,
    link: u32,
    commas: u32,
    /// A `<br>` came last (only white space since): a second one ends the paragraph.
    br: bool,
}

/// The element's name as the page wrote it, without the renaming mark of `html_guard`.
pub(super) fn local_name(e: &scraper::node::Element) -> &str {
    e.name().trim_end_matches('\u{FDD0}')
}

/// Characters of `text` as laid out (white space runs count one, none at the ends), and its
/// commas (Latin, CJK and Arabic).
fn measure(text: &str) -> (u32, u32) {
    let mut len = 0u32;
    let mut commas = 0u32;
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            space = len > 0;
            continue;
        }
        if space {
            len += 1;
            space = false;
        }
        len += 1;
        commas += u32::from(matches!(c, ',' | '，' | '、' | '،'));
    }
    (len, commas)
}

/// The records of `doc`'s elements, in the page's order (the first is the root element).
pub(super) fn read<'a>(doc: &'a Html, pass: Pass) -> Vec<El<'a>> {
    let mut els: Vec<El<'a>> = Vec::new();
    // Open elements (their records), the paragraph each is reading, and the element holding
    // the text read now (the innermost open block).
    let mut open: Vec<u32> = Vec::new();
    let mut runs: Vec<Run> = Vec::new();
    let mut holders: Vec<u32> = Vec::new();
    let mut last_child: Vec<u32> = Vec::new();
    let mut links = 0usize;
    let mut tables = 0usize;
    let mut figures = 0usize;
    let mut skipping: Option<NodeId> = None;
    let end_run = |els: &mut Vec<El<'a>>, runs: &mut Vec<Run>, holder: u32| {
        let run = std::mem::take(&mut runs[holder as usize]);
        // Mostly links (a menu, a list of headlines) is not a paragraph.
        if run.len >= MIN_PARAGRAPH && run.link * 2 <= run.len {
            let el = &mut els[holder as usize];
            el.own_score += paragraph_score(run.len, run.commas);
            el.own_paragraphs += 1;
        }
    };
    for edge in doc.tree.root().traverse() {
        match edge {
            Edge::Open(node) => {
                if skipping.is_some() {
                    continue;
                }
                match node.value() {
                    Node::Element(e) => {
                        let index = els.len() as u32;
                        let name = local_name(e);
                        let parent = open.last().copied().unwrap_or(NONE);
                        let in_table_or_code = tables > 0;
                        let cues = cues::of(e, name, pass, in_table_or_code);
                        let junk = cues.junk;
                        let block = is_block(name);
                        els.push(El {
                            id: node.id(),
                            name,
                            parent,
                            first_child: NONE,
                            next_sibling: NONE,
                            end: index + 1,
                            junk,
                            weight: cues.weight,
                            text: 0,
                            link: 0,
                            commas: 0,
                            heading: 0,
                            p: 0,
                            img: 0,
                            li: 0,
                            input: 0,
                            embed: 0,
                            block_child: false,
                            own_score: 0.0,
                            own_paragraphs: 0,
                            mass: 0.0,
                            paragraphs: 0,
                            class: e.attr("class"),
                            sharing: cues.sharing,
                            ends_sentence: false,
                            headings: 0,
                            linked_headings: 0,
                            tr: 0,
                            th: 0,
                            tables: 0,
                            in_figure: figures > 0,
                        });
                        runs.push(Run::default());
                        last_child.push(NONE);
                        if parent != NONE {
                            let p = parent as usize;
                            match last_child[p] {
                                NONE => els[p].first_child = index,
                                prev => els[prev as usize].next_sibling = index,
                            }
                            last_child[p] = index;
                            if block && !junk {
                                els[p].block_child = true;
                            }
                        }
                        // A break in the text of the element holding it.
                        if let Some(&holder) = holders.last() {
                            if block && !junk {
                                end_run(&mut els, &mut runs, holder);
                            } else if name == "br" {
                                let run = &mut runs[holder as usize];
                                if run.br {
                                    end_run(&mut els, &mut runs, holder);
                                } else {
                                    run.br = true;
                                }
                            }
                        }
                        let el = &mut els[index as usize];
                        match name {
                            "p" => el.p = 1,
                            "img" | "picture" => el.img = 1,
                            "li" => el.li = 1,
                            "input" | "select" | "textarea" | "button" => el.input = 1,
                            "object" | "embed" | "iframe" | "video" | "audio" => el.embed = 1,
                            "tr" => el.tr = 1,
                            "th" | "thead" | "caption" | "tfoot" | "colgroup" => el.th = 1,
                            "table" => el.tables = 1,
                            _ => {}
                        }
                        if junk {
                            skipping = Some(node.id());
                            continue;
                        }
                        open.push(index);
                        if block || holders.is_empty() {
                            holders.push(index);
                        } else {
                            let holder = *holders.last().expect("not empty");
                            holders.push(holder);
                        }
                        links += usize::from(name == "a");
                        tables += usize::from(matches!(name, "table" | "code" | "pre"));
                        figures += usize::from(name == "figure");
                    }
                    Node::Text(text) => {
                        let (Some(&at), Some(&holder)) = (open.last(), holders.last()) else {
                            continue;
                        };
                        let (len, commas) = measure(text);
                        if len == 0 {
                            continue;
                        }
                        let el = &mut els[at as usize];
                        // Texts next to each other are read with a space between.
                        let joined = len + u32::from(el.text > 0);
                        el.text += joined;
                        el.commas += commas;
                        el.ends_sentence |= text.contains(". ") || text.trim_end().ends_with('.');
                        if links > 0 {
                            el.link += joined;
                        }
                        let run = &mut runs[holder as usize];
                        run.len += len + u32::from(run.len > 0);
                        if links > 0 {
                            run.link += len;
                        }
                        run.commas += commas;
                        run.br = false;
                    }
                    _ => {}
                }
            }
            Edge::Close(node) => {
                if let Some(skipped) = skipping {
                    if skipped == node.id() {
                        skipping = None;
                        let index = els.len() as u32;
                        if let Some(last) = els.last_mut() {
                            last.end = index;
                        }
                    }
                    continue;
                }
                let Node::Element(_) = node.value() else {
                    continue;
                };
                let Some(index) = open.pop() else { continue };
                holders.pop();
                let end = els.len() as u32;
                let el = &mut els[index as usize];
                el.end = end;
                let name = el.name;
                if is_block(name) || holders.is_empty() {
                    end_run(&mut els, &mut runs, index);
                }
                // A block ends its parent's paragraph too.
                if is_block(name)
                    && let Some(&holder) = holders.last()
                {
                    end_run(&mut els, &mut runs, holder);
                }
                links -= usize::from(name == "a");
                tables -= usize::from(matches!(name, "table" | "code" | "pre"));
                figures -= usize::from(name == "figure");
            }
        }
    }
    // What each element holds, from its children's: children come after their parent.
    for el in &mut els {
        el.mass = el.own_score;
        el.paragraphs = el.own_paragraphs;
    }
    for i in (1..els.len()).rev() {
        let el = &els[i];
        let parent = el.parent as usize;
        if el.parent == NONE {
            continue;
        }
        if el.junk {
            // Form fields and embedded objects are never text, but count as what they are.
            let (input, embed) = (el.input, el.embed);
            let parent = &mut els[parent];
            parent.input += input;
            parent.embed += embed;
            continue;
        }
        let is_heading = matches!(el.name, "h1" | "h2" | "h3" | "h4" | "h5" | "h6");
        let heading = if is_heading { el.text } else { el.heading };
        let linked = is_heading && el.text > 0 && el.link * 5 >= el.text * 4;
        let headings = el.headings + u32::from(is_heading);
        let linked_headings = el.linked_headings + u32::from(linked);
        let (text, link, commas) = (el.text, el.link, el.commas);
        let counts = [
            el.p, el.img, el.li, el.input, el.embed, el.tr, el.th, el.tables,
        ];
        let ends_sentence = el.ends_sentence;
        let (mass, paragraphs) = (el.mass, el.paragraphs);
        let parent = &mut els[parent];
        parent.text += text + u32::from(parent.text > 0 && text > 0);
        parent.link += link;
        parent.commas += commas;
        parent.heading += heading;
        parent.p += counts[0];
        parent.img += counts[1];
        parent.li += counts[2];
        parent.input += counts[3];
        parent.embed += counts[4];
        parent.tr += counts[5];
        parent.th += counts[6];
        parent.tables += counts[7];
        parent.ends_sentence |= ends_sentence;
        parent.mass += mass;
        parent.paragraphs += paragraphs;
        parent.headings += headings;
        parent.linked_headings += linked_headings;
    }
    els
}

impl El<'_> {
    /// Whether it is a table that holds data rather than lays out the page (header cells, or
    /// many rows, and no table inside): such a table is read whole.
    pub(super) fn data_table(&self) -> bool {
        self.name == "table" && self.tables == 1 && (self.th > 0 || self.tr >= 10)
    }

    /// The share of its text that is link text.
    pub(super) fn link_density(&self) -> f32 {
        if self.text == 0 {
            0.0
        } else {
            self.link as f32 / self.text as f32
        }
    }
}
