//! The text of the chosen elements, laid out as the page shows it (`html_text::lay_out`),
//! without what was left out. The walk of the parsed tree meets elements in the order their
//! records were made, so it finds each one's record by counting.

use ego_tree::NodeId;
use scraper::Html;

use super::super::html::{Gap, Layout, TextOut, Visit, lay_out};
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
        let mut records = Records {
            els,
            dropped,
            next: root as usize,
            links: 0,
            link: 0,
        };
        out.gap(Gap::Paragraph);
        if !lay_out(node, &mut out, &mut records) {
            return None;
        }
        link += records.link;
    }
    Some(Laid {
        text: out.text,
        link,
    })
}

/// The layout of the extractor: each element met is the next record, read unless it is junk
/// or dropped; text inside links is counted.
struct Records<'r, 'a> {
    els: &'r [El<'a>],
    dropped: &'r [bool],
    /// The record of the next element the walk meets.
    next: usize,
    /// Links open around the walk.
    links: usize,
    /// Characters of link text laid out.
    link: usize,
}

impl Layout for Records<'_, '_> {
    fn open(&mut self, id: NodeId, _: &scraper::node::Element) -> Visit {
        let Some(el) = self.els.get(self.next).filter(|el| el.id == id) else {
            return Visit::Stop;
        };
        let at = self.next;
        self.next += 1;
        if el.junk || self.dropped[at] {
            self.next = el.end as usize;
            return Visit::Skip;
        }
        self.links += usize::from(el.name == "a");
        Visit::Read
    }

    fn close(&mut self, e: &scraper::node::Element) {
        self.links -= usize::from(super::tree::local_name(e) == "a");
    }

    fn text(&mut self, out: &mut TextOut, text: &str, pre: bool) {
        let before = out.text.len();
        out.push(text, pre);
        if self.links > 0 {
            self.link += out.text[before..].chars().count();
        }
    }
}
