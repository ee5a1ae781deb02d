//! The text of the chosen elements, laid out as the page shows it (see `html::TextOut`),
//! without what was left out. The walk of the parsed tree meets elements in the order their
//! records were made, so it finds each one's record by counting.

use ego_tree::iter::Edge;
use scraper::{Html, Node};

use super::super::html::{Gap, TextOut, gap_around};
use super::tree::El;

/// Text laid out, and how much of it (characters) is link text.
pub(super) struct Laid {
    pub text: String,
    pub link: usize,
}

/// The text of `roots` without the elements `dropped`; `None` if the tree and the records are
/// not in step (never expected: then the caller reads the page without the extractor).
pub(super) fn text(doc: &Html, els: &[El], roots: &[u32], dropped: &[bool]) -> Option<Laid> {
    let mut out = TextOut::default();
    let mut link = 0;
    for &root in roots {
        let node = doc.tree.get(els[root as usize].id)?;
        let mut next = root as usize;
        let mut skipping = None;
        let mut pre = 0usize;
        let mut links = 0usize;
        out.gap(Gap::Paragraph);
        for edge in node.traverse() {
            match edge {
                Edge::Open(node) if skipping.is_none() => match node.value() {
                    Node::Text(text) => {
                        let before = out.text.len();
                        out.push(text, pre > 0);
                        if links > 0 {
                            link += out.text[before..].chars().count();
                        }
                    }
                    Node::Element(e) => {
                        let el = els.get(next)?;
                        if el.id != node.id() {
                            return None;
                        }
                        let at = next;
                        next += 1;
                        if el.junk || dropped[at] {
                            next = el.end as usize;
                            skipping = Some(node.id());
                            continue;
                        }
                        out.gap(gap_around(e.name()));
                        pre += usize::from(e.name() == "pre");
                        links += usize::from(el.name == "a");
                    }
                    _ => {}
                },
                Edge::Open(_) => {}
                Edge::Close(node) => {
                    if skipping.is_some() {
                        if skipping == Some(node.id()) {
                            skipping = None;
                        }
                        continue;
                    }
                    if let Node::Element(e) = node.value() {
                        out.gap(gap_around(e.name()));
                        pre -= usize::from(e.name() == "pre");
                        links -= usize::from(super::tree::local_name(e) == "a");
                    }
                }
            }
        }
    }
    Some(Laid {
        text: out.text,
        link,
    })
}
