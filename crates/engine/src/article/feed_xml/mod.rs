//! Feed XML as written in the wild to well-formed XML, in the manner of feedparser's "bozo"
//! handling: one pass over the text that keeps every item it can and says what it repaired.
//!
//! Repaired (each kind counted, and named in the one warning of the file):
//! - a bare `&` (`AT&T`) is escaped; an entity XML does not define is decoded when HTML does
//!   (`&eacute;`), else kept as text; a character reference to no character (`&#0;`,
//!   `&#xD800;`) is U+FFFD, one to a C1 control (`&#146;`) the Windows-1252 character meant,
//!   and one without its `;` is read;
//! - a `<` that starts no tag, and a `]]>` outside CDATA, are escaped;
//! - attributes without quotes, without a value or given twice are quoted, valued or dropped;
//! - an element left open is closed where its parent ends, an end tag that closes nothing is
//!   dropped, an item started inside another one closes it;
//! - items after the channel's end (`</channel><item>…`) and content after the root's end are
//!   read in the channel;
//! - CDATA sections nested in one another are read as one;
//! - a document cut off (a truncated download, an unterminated comment or CDATA section) is
//!   read up to its last complete item, and its open elements closed.
//!
//! Markup inside a text element (`<description>Some <b>bold</b></description>`, as many feeds
//! write HTML) is escaped, so that the element holds its HTML as text, as feeds that escape it
//! do; feed-rs would otherwise read such an element only up to its first tag. That is how
//! feeds are written, not damage, and is not reported. Atom's XHTML content and XHTML bodies
//! keep their elements.
//!
//! The pass is linear: each byte is looked at a bounded number of times (an end tag is matched
//! against the innermost [`SEARCH`] open elements only), and the budget is checked as it goes.

mod elements;
mod markup;
mod names;
mod references;
mod tags;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashSet};

use super::Budget;

pub(super) use references::decode_references;

/// Open elements an end tag may close, counted from the innermost: deeper, it closes nothing.
const SEARCH: usize = 64;

/// Bytes read between two checks of the budget.
const CHECK_EVERY: usize = 64 * 1024;

/// Entity names, character references and element names kept per kind for the warning.
const EXAMPLES: usize = 3;

/// A feed's XML made well-formed.
pub(super) struct Repaired {
    pub xml: String,
    /// Complete items (`item`, `entry`) of the feed: those in its channel or root.
    pub items: usize,
    pub damage: Damage,
}

/// What was repaired, by kind.
#[derive(Debug, Default)]
pub(super) struct Damage {
    bare_amp: usize,
    html_entities: Examples,
    undefined_entities: Examples,
    bad_references: Examples,
    c1_references: usize,
    stray_lt: usize,
    cdata_end: usize,
    attributes: usize,
    unclosed: Examples,
    stray_end: Examples,
    items_in_items: usize,
    items_after_channel: usize,
    after_root: usize,
    dropped_after_root: usize,
    nested_cdata: usize,
    /// Cut off: the complete items read before the damage.
    truncated: Option<usize>,
    closed_at_end: Examples,
}

/// A count and the first few distinct values counted.
#[derive(Debug, Default)]
struct Examples {
    count: usize,
    first: BTreeSet<String>,
    /// Other values were seen.
    more: bool,
}

impl Examples {
    fn add(&mut self, example: impl FnOnce() -> String) {
        self.count += 1;
        if self.more {
            return;
        }
        let example = example();
        if self.first.len() < EXAMPLES {
            self.first.insert(example);
        } else if !self.first.contains(&example) {
            self.more = true;
        }
    }

    fn shown(&self) -> String {
        let first: Vec<&str> = self.first.iter().map(String::as_str).collect();
        let more = if self.more { " …" } else { "" };
        format!("{}{more}", first.join(" "))
    }
}

impl Damage {
    /// Whether the document was cut off (its open elements closed at the end).
    pub fn cut_off(&self) -> bool {
        self.truncated.is_some() || self.closed_at_end.count > 0
    }

    /// One phrase naming every repair, `None` when there was none.
    pub fn describe(&self) -> Option<String> {
        let mut parts = Vec::new();
        let mut count = |n: usize, what: &str| {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        };
        count(self.bare_amp, "bare `&` escaped");
        count(self.stray_lt, "stray `<` escaped");
        count(self.cdata_end, "`]]>` outside CDATA escaped");
        count(self.attributes, "malformed attributes mended");
        count(
            self.c1_references,
            "references to C1 controls read as Windows-1252",
        );
        count(
            self.items_in_items,
            "items left open closed at the next item",
        );
        count(self.nested_cdata, "nested CDATA sections read as one");
        let mut examples = |e: &Examples, what: &str| {
            if e.count > 0 {
                parts.push(format!("{} {what} ({})", e.count, e.shown()));
            }
        };
        examples(&self.html_entities, "HTML entities decoded");
        examples(&self.undefined_entities, "undefined entities kept as text");
        examples(&self.bad_references, "bad character references replaced");
        examples(&self.unclosed, "elements left open closed");
        examples(&self.stray_end, "end tags closing nothing dropped");
        if self.items_after_channel > 0 {
            parts.push(format!(
                "{} items after `</channel>` read",
                self.items_after_channel
            ));
        }
        if self.after_root > 0 {
            parts.push("content after the end of the feed read".into());
        }
        if self.dropped_after_root > 0 {
            parts.push("text after the end of the feed dropped".into());
        }
        if let Some(items) = self.truncated {
            parts.push(format!(
                "cut off: read the {items} complete items before the damage"
            ));
        } else if self.closed_at_end.count > 0 {
            parts.push(format!(
                "cut off: {} elements closed at the end ({})",
                self.closed_at_end.count,
                self.closed_at_end.shown()
            ));
        }
        (!parts.is_empty()).then(|| format!("malformed XML, repaired: {}", parts.join(", ")))
    }
}

/// `xml` made well-formed (see the module's documentation); `Err` when the budget ran out.
/// `declared` are the entities the document's DTD declares, kept as written.
pub(super) fn repair(
    xml: &str,
    declared: &HashSet<String>,
    budget: &Budget,
) -> Result<Repaired, String> {
    let mut s = Scanner {
        src: xml,
        b: xml.as_bytes(),
        pos: 0,
        out: String::with_capacity(xml.len() + xml.len() / 16),
        stack: Vec::new(),
        declared,
        root: None,
        channel_pending: None,
        root_pending: None,
        last_void: None,
        naked: false,
        markup_open: 0,
        items: 0,
        damage: Damage::default(),
        budget,
        checked: 0,
    };
    let ended = s.run()?;
    s.finish(ended);
    Ok(Repaired {
        xml: s.out,
        items: s.items,
        damage: s.damage,
    })
}

/// How the scan ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    /// At the end of the text, between two pieces of markup.
    Whole,
    /// In the middle of something unfinished (a tag, a comment, a text element).
    CutOff,
}

/// An element open in the output.
struct Open {
    /// Its name as written (`dc:title`).
    name: String,
    /// Where its start tag begins in the output.
    start: usize,
    /// An item of the feed (`item` or `entry` in the channel or root).
    item: bool,
    /// XHTML (or other XML) content: its descendants are markup, not feed elements.
    markup: bool,
    /// Its end tag was read, and items that followed it were read inside it (an RSS channel).
    closed: bool,
}

struct Scanner<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    out: String,
    stack: Vec<Open>,
    declared: &'a HashSet<String>,
    /// The root element's local name, lowercase, once seen.
    root: Option<String>,
    /// `</channel>` of an RSS root read but not written yet (items may follow it), and what
    /// followed it (white space, comments).
    channel_pending: Option<String>,
    /// The root's end tag read but not written yet, and what followed it.
    root_pending: Option<String>,
    /// An HTML void element just written self-closed: its own end tag, next, is dropped.
    last_void: Option<String>,
    /// The text element being read holds markup.
    naked: bool,
    /// Open elements whose content is XHTML.
    markup_open: usize,
    items: usize,
    damage: Damage,
    budget: &'a Budget,
    checked: usize,
}

impl<'a> Scanner<'a> {
    fn check_budget(&mut self) -> Result<(), String> {
        if self.pos >= self.checked + CHECK_EVERY {
            self.checked = self.pos;
            self.budget.check()?;
        }
        Ok(())
    }

    fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    /// How far the next byte the scan must look at is (`<`, `&`, `]`), if there is one.
    fn to_special(&self) -> Option<usize> {
        self.b[self.pos..]
            .iter()
            .position(|&c| matches!(c, b'<' | b'&' | b']'))
    }

    fn starts(&self, prefix: &str) -> bool {
        self.b[self.pos..].starts_with(prefix.as_bytes())
    }

    /// Reads the whole text.
    fn run(&mut self) -> Result<End, String> {
        loop {
            self.check_budget()?;
            let Some(at) = self.to_special() else {
                let text = &self.src[self.pos..];
                self.text(text);
                self.pos = self.b.len();
                return Ok(End::Whole);
            };
            if at > 0 {
                let text = &self.src[self.pos..self.pos + at];
                self.text(text);
                self.pos += at;
            }
            match self.b[self.pos] {
                b'&' => self.amp(),
                b']' => self.bracket(),
                _ => {
                    if self.markup()? == End::CutOff {
                        return Ok(End::CutOff);
                    }
                }
            }
        }
    }

    /// Whether an end tag of the root was read and not written yet: what follows is after
    /// the document.
    fn after_root(&self) -> bool {
        self.root_pending.is_some()
    }

    /// Text between elements (or in elements not read as text).
    fn text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if text.trim().is_empty() {
            match self.pending_tail() {
                Some(tail) => tail.push_str(text),
                None => self.out.push_str(text),
            }
            return;
        }
        if !self.before_text() {
            return;
        }
        self.last_void = None;
        self.out.push_str(text);
    }

    /// Before words (not white space): a pending `</channel>` is written; after the end of
    /// the document, the words are dropped (false).
    fn before_text(&mut self) -> bool {
        if self.after_root() {
            self.damage.dropped_after_root += 1;
            return false;
        }
        self.flush_channel();
        true
    }

    /// The text after a pending end tag, when one is pending.
    fn pending_tail(&mut self) -> Option<&mut String> {
        if self.root_pending.is_some() {
            self.root_pending.as_mut()
        } else {
            self.channel_pending.as_mut()
        }
    }

    /// Writes a pending `</channel>` and what followed it.
    fn flush_channel(&mut self) {
        if let Some(tail) = self.channel_pending.take() {
            self.close_top();
            self.out.push_str(&tail);
        }
    }

    /// Writes the end tag of the innermost open element and forgets it.
    fn close_top(&mut self) {
        if let Some(open) = self.stack.pop() {
            self.markup_open -= usize::from(open.markup);
            self.out.push_str("</");
            self.out.push_str(&open.name);
            self.out.push('>');
            if open.item {
                self.items += 1;
            }
        }
    }

    /// Before a start tag after a pending end tag: the pending end tags are cancelled when an
    /// item follows (`item`: it is read in the channel), else written.
    fn resume(&mut self, item: bool) {
        if let Some(tail) = self.root_pending.take() {
            self.damage.after_root += 1;
            // Its end tag was read: closing it at the end is no damage.
            if let Some(root) = self.stack.first_mut() {
                root.closed = true;
            }
            match self.channel_pending.take() {
                Some(channel) if item => {
                    self.damage.items_after_channel += 1;
                    self.out.push_str(&channel);
                }
                Some(channel) => {
                    self.channel_pending = Some(channel);
                    self.flush_channel();
                }
                None => {}
            }
            self.out.push_str(&tail);
            return;
        }
        if item {
            if let Some(tail) = self.channel_pending.take() {
                self.damage.items_after_channel += 1;
                self.out.push_str(&tail);
            }
        } else {
            self.flush_channel();
        }
    }

    /// Ends the output: cuts off an item left incomplete, closes what is open, writes the
    /// pending end tags.
    fn finish(&mut self, ended: End) {
        if let Some(root_tail) = self.root_pending.take() {
            self.flush_channel();
            self.close_top();
            self.out.push_str(&root_tail);
            return;
        }
        if ended == End::Whole {
            self.flush_channel();
        } else if let Some(tail) = self.channel_pending.take() {
            // Cut off after the channel's end: the items are whole.
            self.close_top();
            self.out.push_str(&tail);
        }
        if let Some(index) = self.stack.iter().position(|o| o.item) {
            self.out.truncate(self.stack[index].start);
            self.stack.truncate(index);
            self.markup_open = self.stack.iter().filter(|o| o.markup).count();
            self.damage.truncated = Some(self.items);
        }
        while let Some(open) = self.stack.last() {
            if self.damage.truncated.is_none() && !open.closed {
                let name = open.name.clone();
                self.damage.closed_at_end.add(|| format!("<{name}>"));
            }
            self.close_top();
        }
    }
}
