//! The text a reader sees in HTML: which elements are never text (scripts, navigation,
//! hidden elements), and how the rest is laid out — inline elements joined, blocks apart,
//! `<br>` a line break. Shared by the page reader (`html`) and the extractor's layout.

use ego_tree::iter::Edge;
use scraper::{ElementRef, Node};

/// Elements whose content a reader does not see as the article's text.
const EXCLUDED: &[&str] = &[
    "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
    "button", "select", "textarea", "input", "iframe", "object", "embed", "svg", "math", "canvas",
    "audio", "video", "head", "dialog",
];

/// Elements shown as blocks: their text is a paragraph of its own.
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "blockquote",
    "body",
    "caption",
    "center",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hgroup",
    "hr",
    "html",
    "legend",
    "li",
    "main",
    "menu",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tbody",
    "tfoot",
    "thead",
    "tr",
    "ul",
];

/// Table cells sit side by side: separated by a space, never glued.
const CELLS: &[&str] = &["td", "th"];

pub(super) fn hidden(e: &scraper::node::Element) -> bool {
    EXCLUDED.contains(&e.name()) || hidden_by_attributes(e)
}

/// Whether the element's attributes hide it (`hidden`, `aria-hidden`, an inline style).
pub(super) fn hidden_by_attributes(e: &scraper::node::Element) -> bool {
    if e.attr("hidden").is_some() {
        return true;
    }
    if e.attr("aria-hidden")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    {
        return true;
    }
    e.attr("style").is_some_and(|style| {
        let style: String = style
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        style.contains("display:none") || style.contains("visibility:hidden")
    })
}

/// What a walk of the tree does with an element it meets.
pub(super) enum Visit {
    /// Lay out its text.
    Read,
    /// Leave it out, with everything in it.
    Skip,
    /// End the walk (the caller gives up on this tree).
    Stop,
}

/// One way of laying out a tree's text with [`lay_out`]: which elements are read, and what is
/// noted of them and their text. The walk itself (gaps around blocks, `<pre>`, skipping) is
/// the same for every layout.
pub(super) trait Layout {
    /// The element `id` opens: read it, skip it, or stop.
    fn open(&mut self, id: ego_tree::NodeId, e: &scraper::node::Element) -> Visit;
    /// An element that was read closes.
    fn close(&mut self, _e: &scraper::node::Element) {}
    /// A text node of a read element.
    fn text(&mut self, out: &mut TextOut, text: &str, pre: bool) {
        out.push(text, pre);
    }
}

/// Lays out the text under `root` into `out` as `layout` chooses; `false` if it stopped the
/// walk. The walk is iterative (`traverse`), so deeply nested pages cannot overflow the stack.
pub(super) fn lay_out(
    root: ego_tree::NodeRef<'_, Node>,
    out: &mut TextOut,
    layout: &mut impl Layout,
) -> bool {
    let mut skipping = None;
    let mut pre = 0usize;
    for edge in root.traverse() {
        match edge {
            Edge::Open(node) if skipping.is_none() => match node.value() {
                Node::Text(text) => layout.text(out, text, pre > 0),
                Node::Element(e) => match layout.open(node.id(), e) {
                    Visit::Read => {
                        out.gap(gap_around(e.name()));
                        pre += usize::from(e.name() == "pre");
                    }
                    Visit::Skip => skipping = Some(node.id()),
                    Visit::Stop => return false,
                },
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
                    layout.close(e);
                }
            }
        }
    }
    true
}

/// The text a reader sees under `root`.
pub(super) fn visible_text(root: ElementRef) -> String {
    struct Visible;
    impl Layout for Visible {
        fn open(&mut self, _: ego_tree::NodeId, e: &scraper::node::Element) -> Visit {
            if hidden(e) { Visit::Skip } else { Visit::Read }
        }
    }
    let mut out = TextOut::default();
    lay_out(*root, &mut out, &mut Visible);
    out.text
}

/// The break an element puts before and after its content.
pub(super) fn gap_around(name: &str) -> Gap {
    if BLOCKS.contains(&name) {
        Gap::Paragraph
    } else if name == "br" {
        Gap::Line
    } else if CELLS.contains(&name) {
        Gap::Space
    } else {
        Gap::None
    }
}

#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Gap {
    #[default]
    None,
    Space,
    Line,
    Paragraph,
}

impl Gap {
    /// What the break is written as between two pieces of text.
    pub(super) fn text(self) -> &'static str {
        match self {
            Gap::None => "",
            Gap::Space => " ",
            Gap::Line => "\n",
            Gap::Paragraph => "\n\n",
        }
    }
}

/// Text being laid out: runs of white space collapse to one space, and a break is written
/// only between two pieces of text (never leading or trailing), the widest one winning.
#[derive(Default)]
pub(super) struct TextOut {
    pub(super) text: String,
    pending: Gap,
}

impl TextOut {
    pub(super) fn gap(&mut self, gap: Gap) {
        if gap > self.pending {
            self.pending = gap;
        }
    }

    pub(super) fn push(&mut self, text: &str, pre: bool) {
        for c in text.chars() {
            match c {
                '\n' if pre => self.gap(Gap::Line),
                c if c.is_whitespace() && !pre => self.gap(Gap::Space),
                c => {
                    if !self.text.is_empty() {
                        self.text.push_str(self.pending.text());
                    }
                    self.pending = Gap::None;
                    self.text.push(c);
                }
            }
        }
    }
}
