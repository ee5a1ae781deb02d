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

use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};

use super::Budget;

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

/// A tag's parts, as offsets into the source.
struct Tag {
    name: (usize, usize),
    attrs: Vec<Attr>,
    self_closing: bool,
    /// Offset just after the tag's `>`.
    end: usize,
    /// Written as XML allows (quoted values, no duplicates): copied as it is.
    clean: bool,
}

struct Attr {
    name: (usize, usize),
    /// The value without its quotes, and the quote.
    value: Option<((usize, usize), Option<u8>)>,
}

/// Why a tag could not be read.
enum NotATag {
    /// The text ended inside it.
    CutOff,
    /// Something no tag holds (a `<` inside it): the `<` was text.
    Text,
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':' || b >= 0x80
}

fn is_name_byte(b: u8) -> bool {
    is_name_start(b) || b.is_ascii_digit() || b == b'-' || b == b'.'
}

fn local(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, l)| l)
}

/// Whether `name` is one of `names`, in any case.
fn is_one_of(name: &str, names: &[&str]) -> bool {
    names.iter().any(|n| name.eq_ignore_ascii_case(n))
}

/// Text elements of feeds.
const TEXT_ELEMENTS: &[&str] = &[
    "title",
    "description",
    "summary",
    "subtitle",
    "tagline",
    "info",
    "rights",
    "copyright",
    "abstract",
    "encoded",
    "fullitem",
];

/// Elements whose content is text (HTML as text in many feeds): markup inside them is escaped.
fn is_text_element<'v>(name: &str, attr: impl Fn(&str) -> Option<&'v str>) -> bool {
    let (prefix, l) = name.rsplit_once(':').unwrap_or(("", name));
    let text = is_one_of(l, TEXT_ELEMENTS)
        // `media:content` holds elements; Atom's `content` text.
        || (l.eq_ignore_ascii_case("content")
            && !prefix.eq_ignore_ascii_case("media")
            && attr("url").is_none());
    text && !is_markup(&attr)
}

/// Whether an element's content is XML markup to keep: XHTML, or an XML media type.
fn is_markup<'v>(attr: &impl Fn(&str) -> Option<&'v str>) -> bool {
    let Some(kind) = attr("type") else {
        return attr("mode").is_some_and(|m| m.trim().eq_ignore_ascii_case("xml"));
    };
    let kind = kind.trim().to_ascii_lowercase();
    kind.contains("xhtml")
        || kind.ends_with("+xml")
        || kind.ends_with("/xml")
        || attr("mode").is_some_and(|m| m.trim().eq_ignore_ascii_case("xml"))
}

/// Feed elements that hold a value and never elements: a start tag in one means it was left
/// open (`<guid>x<description>…`).
const LEAF_ELEMENTS: &[&str] = &[
    "link",
    "guid",
    "pubdate",
    "id",
    "updated",
    "published",
    "issued",
    "modified",
    "created",
    "date",
    "creator",
    "language",
    "lastbuilddate",
    "ttl",
    "docs",
    "webmaster",
    "managingeditor",
    "comments",
];

/// Whether `text` holds the end tag of the element `name` (in any case).
fn holds_end_tag(text: &str, name: &str) -> bool {
    text.match_indices("</").any(|(i, _)| {
        let rest = &text[i + 2..];
        rest.get(..name.len())
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
            && rest[name.len()..].trim_start().starts_with('>')
    })
}

/// HTML elements without content, often written without their end (`<br>`).
fn is_void(name: &str) -> bool {
    ["br", "hr", "img", "wbr"]
        .iter()
        .any(|v| name.eq_ignore_ascii_case(v))
}

/// A character reference's code point as the character meant: C1 controls as Windows-1252
/// (as browsers read them), `None` for what is no character XML allows.
fn referenced_char(code: u32) -> Option<(char, bool)> {
    if (0x80..=0x9F).contains(&code) {
        let c = html5ever::data::C1_REPLACEMENTS[(code - 0x80) as usize]?;
        return Some((c, true));
    }
    let c = char::from_u32(code)?;
    let allowed =
        matches!(code, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF);
    allowed.then_some((c, false))
}

/// What an `&` at the start of `s` is.
enum Reference<'s> {
    /// A well-formed reference XML reads (predefined, declared, or a character reference),
    /// `len` bytes long: kept.
    Keep(usize),
    /// A character reference without `;` or to a C1 control: the character, and the length.
    Char(char, usize, bool),
    /// A reference to no character: the reference as written.
    Bad(&'s str),
    /// An HTML entity: its characters, and the name with its `;`.
    Html(char, Option<char>, &'s str),
    /// `&name;` that nothing defines.
    Undefined(&'s str),
    /// An `&` that starts no reference.
    Bare,
}

fn reference<'s>(s: &'s str, declared: &HashSet<String>) -> Reference<'s> {
    let b = s.as_bytes();
    if b.get(1) == Some(&b'#') {
        let hex = matches!(b.get(2), Some(b'x' | b'X'));
        let start = if hex { 3 } else { 2 };
        let digits = b[start.min(b.len())..]
            .iter()
            .take(9)
            .take_while(|c| {
                if hex {
                    c.is_ascii_hexdigit()
                } else {
                    c.is_ascii_digit()
                }
            })
            .count();
        if digits == 0 {
            return Reference::Bare;
        }
        let end = start + digits;
        let terminated = b.get(end) == Some(&b';');
        let len = end + usize::from(terminated);
        let code = u32::from_str_radix(&s[start..end], if hex { 16 } else { 10 }).ok();
        return match code.and_then(referenced_char) {
            Some((_, false)) if terminated => Reference::Keep(len),
            Some((c, c1)) => Reference::Char(c, len, c1),
            None => Reference::Bad(&s[..len]),
        };
    }
    if !b.get(1).is_some_and(|&c| is_name_start(c) && c != b':') {
        return Reference::Bare;
    }
    let name_len = b[1..]
        .iter()
        .take(40)
        .take_while(|&&c| is_name_byte(c))
        .count();
    if b.get(1 + name_len) != Some(&b';') {
        return Reference::Bare;
    }
    let name = &s[1..1 + name_len];
    if matches!(name, "lt" | "gt" | "amp" | "quot" | "apos") || declared.contains(name) {
        return Reference::Keep(name_len + 2);
    }
    let with_semicolon = &s[1..name_len + 2];
    match html5ever::data::NAMED_ENTITIES.get(with_semicolon) {
        Some(&(first, second)) if first != 0 => match char::from_u32(first) {
            Some(c) => Reference::Html(
                c,
                char::from_u32(second).filter(|_| second != 0),
                with_semicolon,
            ),
            None => Reference::Undefined(with_semicolon),
        },
        _ => Reference::Undefined(with_semicolon),
    }
}

/// `c` as a character reference (safe in text and attribute values alike).
fn push_char_ref(out: &mut String, c: char) {
    out.push_str(&format!("&#{};", u32::from(c)));
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

    fn starts(&self, prefix: &str) -> bool {
        self.b[self.pos..].starts_with(prefix.as_bytes())
    }

    /// Reads the whole text.
    fn run(&mut self) -> Result<End, String> {
        loop {
            self.check_budget()?;
            let Some(at) = self.b[self.pos..]
                .iter()
                .position(|&c| matches!(c, b'<' | b'&' | b']'))
            else {
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

    fn amp(&mut self) {
        let len = match reference(self.rest(), self.declared) {
            Reference::Keep(len) | Reference::Char(_, len, _) => len,
            Reference::Bad(r) => r.len(),
            Reference::Html(_, _, r) | Reference::Undefined(r) => r.len() + 1,
            Reference::Bare => 1,
        };
        if !self.before_text() {
            self.pos += len;
            return;
        }
        self.last_void = None;
        let consumed = self.reference_into_out(self.pos);
        self.pos += consumed;
    }

    /// Writes the reference (or bare `&`) at `at` of the source to the output, repaired;
    /// returns its length in the source.
    fn reference_into_out(&mut self, at: usize) -> usize {
        let src = self.src;
        match reference(&src[at..], self.declared) {
            Reference::Keep(len) => {
                self.out.push_str(&src[at..at + len]);
                len
            }
            Reference::Char(c, len, c1) => {
                if c1 {
                    self.damage.c1_references += 1;
                } else {
                    self.damage
                        .bad_references
                        .add(|| src[at..at + len].to_string());
                }
                push_char_ref(&mut self.out, c);
                len
            }
            Reference::Bad(written) => {
                self.damage.bad_references.add(|| written.to_string());
                push_char_ref(&mut self.out, char::REPLACEMENT_CHARACTER);
                written.len()
            }
            Reference::Html(c, second, name) => {
                self.damage.html_entities.add(|| format!("&{name}"));
                push_char_ref(&mut self.out, c);
                if let Some(second) = second {
                    push_char_ref(&mut self.out, second);
                }
                name.len() + 1
            }
            Reference::Undefined(name) => {
                self.damage.undefined_entities.add(|| format!("&{name}"));
                self.out.push_str("&amp;");
                self.out.push_str(name);
                name.len() + 1
            }
            Reference::Bare => {
                self.damage.bare_amp += 1;
                self.out.push_str("&amp;");
                1
            }
        }
    }

    fn bracket(&mut self) {
        if self.starts("]]>") {
            self.damage.cdata_end += 1;
            self.text_out("]]&gt;");
            self.pos += 3;
        } else {
            self.text_out("]");
            self.pos += 1;
        }
    }

    /// Text the scanner made, written where text goes.
    fn text_out(&mut self, text: &str) {
        if self.before_text() {
            self.last_void = None;
            self.out.push_str(text);
        }
    }

    /// The markup at a `<`.
    fn markup(&mut self) -> Result<End, String> {
        if self.starts("<!--") {
            return Ok(self.copy_until("-->", 4));
        }
        if self.starts("<![CDATA[") {
            if !self.before_text() {
                let end = self.src[self.pos..]
                    .find("]]>")
                    .map_or(self.b.len(), |e| self.pos + e + 3);
                self.pos = end;
                return Ok(End::Whole);
            }
            return Ok(self.cdata(None));
        }
        if self.b.len() >= self.pos + 9
            && self.b[self.pos..self.pos + 9].eq_ignore_ascii_case(b"<!DOCTYPE")
        {
            return Ok(self.doctype());
        }
        if self.starts("<?") {
            return Ok(self.copy_until("?>", 2));
        }
        if self.starts("</") {
            return Ok(self.end_tag());
        }
        if self.b.get(self.pos + 1).is_some_and(|&c| is_name_start(c)) {
            return self.start_tag();
        }
        self.stray_lt();
        Ok(End::Whole)
    }

    fn stray_lt(&mut self) {
        self.damage.stray_lt += 1;
        self.text_out("&lt;");
        self.pos += 1;
    }

    /// Copies a comment or processing instruction whole (kept after a pending end tag).
    fn copy_until(&mut self, end: &str, from: usize) -> End {
        let Some(at) = self.src[self.pos + from..].find(end) else {
            return End::CutOff;
        };
        let stop = self.pos + from + at + end.len();
        let piece = &self.src[self.pos..stop];
        match self.pending_tail() {
            Some(tail) => tail.push_str(piece),
            None => self.out.push_str(piece),
        }
        self.pos = stop;
        End::Whole
    }

    /// `<!DOCTYPE …>`, its internal subset included, copied as it is.
    fn doctype(&mut self) -> End {
        let mut i = self.pos + 9;
        let mut quote = None;
        let mut depth = 0usize;
        while let Some(&c) = self.b.get(i) {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, b'"' | b'\'') => quote = Some(c),
                (None, b'[') => depth += 1,
                (None, b']') => depth = depth.saturating_sub(1),
                (None, b'>') if depth == 0 => {
                    self.out.push_str(&self.src[self.pos..=i]);
                    self.pos = i + 1;
                    return End::Whole;
                }
                _ => {}
            }
            i += 1;
        }
        End::CutOff
    }

    /// A CDATA section at the scan position: copied, or read as one when sections are
    /// nested in it.
    fn cdata(&mut self, within: Option<&str>) -> End {
        let start = self.pos + 9;
        let Some(first) = self.src[start..].find("]]>").map(|e| start + e) else {
            return End::CutOff;
        };
        let mut opens = self.src[start..first].matches("<![CDATA[").count();
        let mut end = first;
        // Sections nested in this one: it goes on past its first `]]>` to as many more as
        // sections were opened in it, when what lies between is text of the element it is in
        // (in XML, a `]]>` there is damage) — not past the element's end tag, and outside a
        // text element not past any markup.
        let mut i = first + 3;
        let mut nested = false;
        while opens > 0 {
            let Some(next) = self.src[i..].find("]]>").map(|e| i + e) else {
                break;
            };
            let segment = &self.src[i..next];
            let text = match within {
                Some(name) => !holds_end_tag(segment, name),
                None => segment
                    .match_indices('<')
                    .all(|(k, _)| segment[k..].starts_with("<![CDATA[")),
            };
            if !text {
                break;
            }
            opens += segment.matches("<![CDATA[").count();
            opens -= 1;
            end = next;
            nested = true;
            i = next + 3;
        }
        if nested && opens == 0 {
            self.damage.nested_cdata += 1;
            let inner = self.src[start..end]
                .replace("<![CDATA[", "")
                .replace("]]>", "");
            self.out.push_str("<![CDATA[");
            self.out.push_str(&inner);
            self.out.push_str("]]>");
            self.pos = end + 3;
        } else {
            self.out.push_str(&self.src[self.pos..first + 3]);
            self.pos = first + 3;
        }
        self.last_void = None;
        End::Whole
    }

    /// Reads the tag at the scan position.
    fn read_tag(&self, at: usize) -> Result<Tag, NotATag> {
        let b = self.b;
        let name_start = at + 1 + usize::from(b.get(at + 1) == Some(&b'/'));
        let mut i = name_start;
        while b.get(i).is_some_and(|&c| is_name_byte(c)) {
            i += 1;
        }
        let name = (name_start, i);
        let mut attrs: Vec<Attr> = Vec::new();
        let mut clean = true;
        loop {
            while b.get(i).is_some_and(u8::is_ascii_whitespace) {
                i += 1;
            }
            match b.get(i) {
                None => return Err(NotATag::CutOff),
                Some(b'>') => {
                    return Ok(Tag {
                        name,
                        attrs,
                        self_closing: false,
                        end: i + 1,
                        clean,
                    });
                }
                Some(b'/') if b.get(i + 1) == Some(&b'>') => {
                    return Ok(Tag {
                        name,
                        attrs,
                        self_closing: true,
                        end: i + 2,
                        clean,
                    });
                }
                Some(b'<') => return Err(NotATag::Text),
                Some(_) => {}
            }
            let attr_start = i;
            while b.get(i).is_some_and(|&c| is_name_byte(c)) {
                i += 1;
            }
            if i == attr_start {
                // A byte no attribute starts with (`"`, `=`, a lone `/`): dropped.
                clean = false;
                i += 1;
                continue;
            }
            let attr_name = (attr_start, i);
            let mut j = i;
            while b.get(j).is_some_and(u8::is_ascii_whitespace) {
                j += 1;
            }
            if b.get(j) != Some(&b'=') {
                clean = false;
                attrs.push(Attr {
                    name: attr_name,
                    value: None,
                });
                continue;
            }
            j += 1;
            while b.get(j).is_some_and(u8::is_ascii_whitespace) {
                j += 1;
            }
            match b.get(j) {
                None => return Err(NotATag::CutOff),
                Some(&q @ (b'"' | b'\'')) => {
                    let value_start = j + 1;
                    let Some(len) = b[value_start..].iter().position(|&c| c == q || c == b'<')
                    else {
                        return Err(NotATag::CutOff);
                    };
                    if b[value_start + len] == b'<' {
                        return Err(NotATag::Text);
                    }
                    attrs.push(Attr {
                        name: attr_name,
                        value: Some(((value_start, value_start + len), Some(q))),
                    });
                    i = value_start + len + 1;
                }
                Some(_) => {
                    clean = false;
                    let value_start = j;
                    while b
                        .get(j)
                        .is_some_and(|&c| !c.is_ascii_whitespace() && c != b'>' && c != b'<')
                    {
                        j += 1;
                    }
                    attrs.push(Attr {
                        name: attr_name,
                        value: Some(((value_start, j), None)),
                    });
                    i = j;
                }
            }
        }
    }

    /// The value of attribute `name` of `tag`, as written.
    fn attr(&self, tag: &Tag, name: &str) -> Option<&'a str> {
        let src = self.src;
        tag.attrs.iter().find_map(|a| {
            let written = &src[a.name.0..a.name.1];
            (written == name).then(|| match a.value {
                Some(((s, e), _)) => &src[s..e],
                None => written,
            })
        })
    }

    /// Writes `tag` as a start tag, repaired where it needs (values quoted and their
    /// references mended, duplicates dropped); `self_closing` ends it with `/>`.
    fn write_start_tag(&mut self, at: usize, tag: &Tag, self_closing: bool) {
        self.write_start_tag_typed(at, tag, self_closing, None);
    }

    /// [`Self::write_start_tag`], with its `type` set to `kind` when given.
    fn write_start_tag_typed(
        &mut self,
        at: usize,
        tag: &Tag,
        self_closing: bool,
        kind: Option<&str>,
    ) {
        let values_clean = tag.attrs.iter().all(|a| match a.value {
            Some(((s, e), Some(_))) => self.value_is_clean(s, e),
            _ => false,
        });
        let names = || tag.attrs.iter().map(|a| &self.src[a.name.0..a.name.1]);
        let unique = if tag.attrs.len() <= 8 {
            names()
                .enumerate()
                .all(|(i, n)| names().take(i).all(|m| m != n))
        } else {
            let mut seen = HashSet::new();
            names().all(|n| seen.insert(n))
        };
        if tag.clean && values_clean && unique && self_closing == tag.self_closing && kind.is_none()
        {
            self.out.push_str(&self.src[at..tag.end]);
            return;
        }
        if !(tag.clean && unique) {
            self.damage.attributes += 1;
        }
        let src = self.src;
        self.out.push('<');
        self.out.push_str(&src[tag.name.0..tag.name.1]);
        let mut written = HashSet::new();
        for a in &tag.attrs {
            let name = &src[a.name.0..a.name.1];
            if !written.insert(name) || (kind.is_some() && name == "type") {
                continue;
            }
            self.out.push(' ');
            self.out.push_str(name);
            self.out.push_str("=\"");
            match a.value {
                Some(((s, e), _)) => self.value_into_out(s, e),
                None => self.out.push_str(name),
            }
            self.out.push('"');
        }
        if let Some(kind) = kind {
            self.out.push_str(" type=\"");
            self.out.push_str(kind);
            self.out.push('"');
        }
        self.out.push_str(if self_closing { "/>" } else { ">" });
    }

    /// Whether an attribute value needs no repair.
    fn value_is_clean(&self, s: usize, e: usize) -> bool {
        let value = &self.src[s..e];
        value
            .match_indices('&')
            .all(|(i, _)| matches!(reference(&value[i..], self.declared), Reference::Keep(_)))
    }

    /// An attribute value, written between double quotes, its references mended.
    fn value_into_out(&mut self, s: usize, e: usize) {
        let mut i = s;
        while i < e {
            match self.b[i] {
                b'&' => {
                    let len = self.reference_into_out(i);
                    i += len.min(e - i).max(1);
                }
                b'"' => {
                    self.out.push_str("&quot;");
                    i += 1;
                }
                _ => {
                    let next = self.b[i..e]
                        .iter()
                        .position(|&c| c == b'&' || c == b'"')
                        .map_or(e, |n| i + n);
                    self.out.push_str(&self.src[i..next]);
                    i = next;
                }
            }
        }
    }

    fn start_tag(&mut self) -> Result<End, String> {
        let at = self.pos;
        let tag = match self.read_tag(at) {
            Ok(tag) => tag,
            Err(NotATag::CutOff) => return Ok(End::CutOff),
            Err(NotATag::Text) => {
                self.stray_lt();
                return Ok(End::Whole);
            }
        };
        let src = self.src;
        let name = &src[tag.name.0..tag.name.1];
        let l = local(name);
        let is_item = is_one_of(l, &["item", "entry"]) && !self.in_markup();
        if self.root_pending.is_some() || self.channel_pending.is_some() {
            self.resume(is_item);
        }
        self.last_void = None;
        if self.root.is_none() {
            self.root = Some(l.to_ascii_lowercase());
        }
        if is_item {
            self.close_open_item();
        }
        if !self.in_markup()
            && let Some(top) = self.stack.last()
            && is_one_of(local(&top.name), LEAF_ELEMENTS)
        {
            let open = top.name.clone();
            self.damage.unclosed.add(|| format!("<{open}>"));
            self.close_top();
        }
        let item = is_item
            && self
                .stack
                .last()
                .is_none_or(|o| is_one_of(local(&o.name), &["channel", "rss", "rdf", "feed"]));
        self.pos = tag.end;
        if is_void(l) && !tag.self_closing {
            self.write_start_tag(at, &tag, true);
            self.last_void = Some(name.to_string());
            return Ok(End::Whole);
        }
        let start = self.out.len();
        let attr = |n: &str| self.attr(&tag, n);
        let markup = is_markup(&attr) || l.eq_ignore_ascii_case("body");
        let text = !tag.self_closing && !self.in_markup() && is_text_element(name, attr);
        let typed_as_text = self
            .attr(&tag, "type")
            .is_none_or(|t| matches!(t.trim(), "text" | "text/plain" | "plain"));
        if !text {
            self.write_start_tag(at, &tag, tag.self_closing);
        }
        if tag.self_closing {
            if item {
                self.items += 1;
            }
            return Ok(End::Whole);
        }
        self.markup_open += usize::from(markup);
        self.stack.push(Open {
            name: name.to_string(),
            start,
            item,
            markup,
            closed: false,
        });
        if !text {
            return Ok(End::Whole);
        }
        // The content is read first: markup in it makes an untyped (or plain) text HTML.
        let outer = std::mem::take(&mut self.out);
        self.naked = false;
        let ended = self.text_element();
        let inner = std::mem::replace(&mut self.out, outer);
        let kind = (self.naked && typed_as_text).then_some("html");
        self.write_start_tag_typed(at, &tag, false, kind);
        self.out.push_str(&inner);
        ended
    }

    /// Whether the scan is inside XHTML content.
    fn in_markup(&self) -> bool {
        self.markup_open > 0
    }

    /// Closes the item or entry left open around the one starting now.
    fn close_open_item(&mut self) {
        let Some(depth) = self.stack.iter().rev().take(SEARCH).position(|o| o.item) else {
            return;
        };
        self.damage.items_in_items += 1;
        for _ in 0..=depth {
            self.close_top();
        }
    }

    /// The content of the text element just opened (on top of the stack), up to its end tag:
    /// markup in it is escaped. Ends at its end tag, or where an open ancestor ends or an item
    /// starts (then it was left open).
    fn text_element(&mut self) -> Result<End, String> {
        loop {
            self.check_budget()?;
            let Some(at) = self.b[self.pos..]
                .iter()
                .position(|&c| matches!(c, b'<' | b'&' | b']'))
            else {
                return Ok(End::CutOff);
            };
            self.out.push_str(&self.src[self.pos..self.pos + at]);
            self.pos += at;
            match self.b[self.pos] {
                b'&' => {
                    let len = self.reference_into_out(self.pos);
                    self.pos += len;
                    continue;
                }
                b']' => {
                    self.bracket();
                    continue;
                }
                _ => {}
            }
            if self.starts("<![CDATA[") {
                let open = self
                    .stack
                    .last()
                    .map(|o| o.name.clone())
                    .unwrap_or_default();
                if self.cdata(Some(&open)) == End::CutOff {
                    return Ok(End::CutOff);
                }
                continue;
            }
            if self.starts("</") {
                let start = self.pos + 2;
                let len = self.b[start..]
                    .iter()
                    .take_while(|&&c| is_name_byte(c))
                    .count();
                let name = &self.src[start..start + len];
                let open = &self.stack.last().expect("the text element").name;
                if len > 0 && name.eq_ignore_ascii_case(open) {
                    let mut i = start + len;
                    while self.b.get(i).is_some_and(u8::is_ascii_whitespace) {
                        i += 1;
                    }
                    match self.b.get(i) {
                        Some(b'>') => {
                            self.close_top();
                            self.pos = i + 1;
                            return Ok(End::Whole);
                        }
                        None => return Ok(End::CutOff),
                        Some(_) => {}
                    }
                } else if len > 0 && self.ancestor(name).is_some() {
                    // Its parent ends: it was left open.
                    let open = open.clone();
                    self.damage.unclosed.add(|| format!("<{open}>"));
                    self.close_top();
                    return Ok(End::Whole);
                }
                self.naked |= len > 0;
            } else if self.b.get(self.pos + 1).is_some_and(|&c| is_name_start(c)) {
                self.naked = true;
                let start = self.pos + 1;
                let len = self.b[start..]
                    .iter()
                    .take_while(|&&c| is_name_byte(c))
                    .count();
                let l = local(&self.src[start..start + len]).to_ascii_lowercase();
                if matches!(l.as_str(), "item" | "entry")
                    && self.stack.iter().rev().take(SEARCH).any(|o| o.item)
                {
                    let open = self.stack.last().expect("the text element").name.clone();
                    self.damage.unclosed.add(|| format!("<{open}>"));
                    self.close_top();
                    return Ok(End::Whole);
                }
            } else if !matches!(self.b.get(self.pos + 1), Some(b'!' | b'?' | b'/') | None) {
                self.damage.stray_lt += 1;
            }
            // Markup in text, or a `<` that starts nothing: text.
            self.out.push_str("&lt;");
            self.pos += 1;
        }
    }

    /// How far from the innermost an open element named `name` is (before the text element
    /// on top when there is one).
    fn ancestor(&self, name: &str) -> Option<usize> {
        let exact = self
            .stack
            .iter()
            .rev()
            .take(SEARCH)
            .position(|o| o.name == name);
        exact.or_else(|| {
            self.stack
                .iter()
                .rev()
                .take(SEARCH)
                .position(|o| o.name.eq_ignore_ascii_case(name))
        })
    }

    fn end_tag(&mut self) -> End {
        let at = self.pos;
        let tag = match self.read_tag(at) {
            Ok(tag) => tag,
            Err(NotATag::CutOff) => return End::CutOff,
            Err(NotATag::Text) => {
                self.stray_lt();
                return End::Whole;
            }
        };
        let src = self.src;
        let name = &src[tag.name.0..tag.name.1];
        self.pos = tag.end;
        if tag.name.0 == tag.name.1 {
            self.damage.stray_end.add(|| "</>".into());
            return End::Whole;
        }
        if self
            .last_void
            .take()
            .is_some_and(|v| v.eq_ignore_ascii_case(name))
        {
            return End::Whole;
        }
        let depth = if self.after_root() {
            None
        } else {
            self.ancestor(name)
        };
        let Some(mut depth) = depth else {
            self.damage.stray_end.add(|| format!("</{name}>"));
            return End::Whole;
        };
        let rss = self.root.as_deref() == Some("rss");
        if self.channel_pending.is_some() {
            if self.stack.len() == 2 && depth == 1 {
                self.root_pending = Some(String::new());
                return End::Whole;
            }
            self.flush_channel();
            depth -= 1;
        }
        for _ in 0..depth {
            let levels = self.stack.len();
            let Some(top) = self.stack.last_mut() else {
                break;
            };
            if rss && top.closed && levels == 2 {
                // The channel whose end was read before the items after it: pending again,
                // and the root's end with it.
                self.channel_pending = Some(String::new());
                self.root_pending = Some(String::new());
                return End::Whole;
            }
            if !top.closed {
                let open = top.name.clone();
                self.damage.unclosed.add(|| format!("<{open}>"));
            }
            self.close_top();
        }
        if rss && self.stack.len() == 2 && local(name).eq_ignore_ascii_case("channel") {
            if let Some(top) = self.stack.last_mut() {
                top.closed = true;
            }
            self.channel_pending = Some(String::new());
            return End::Whole;
        }
        if self.stack.len() == 1 {
            self.root_pending = Some(String::new());
            return End::Whole;
        }
        self.close_top();
        End::Whole
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

/// Plain text with its HTML character references decoded (`&eacute;`, `&amp;`, `&#233;`):
/// what a feed's plain-text field means when its writer escaped it once more than needed.
pub(super) fn decode_references(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    let none = HashSet::new();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (at, _) in text.match_indices('&') {
        if at < copied {
            continue;
        }
        let (decoded, len): (String, usize) = match reference(&text[at..], &none) {
            Reference::Keep(len) => {
                let r = &text[at + 1..at + len - 1];
                let c = match r {
                    "lt" => '<',
                    "gt" => '>',
                    "amp" => '&',
                    "quot" => '"',
                    "apos" => '\'',
                    _ => {
                        let n = &r[1..];
                        let code = match n.strip_prefix(['x', 'X']) {
                            Some(hex) => u32::from_str_radix(hex, 16).ok(),
                            None => n.parse().ok(),
                        };
                        match code.and_then(char::from_u32) {
                            Some(c) => c,
                            None => continue,
                        }
                    }
                };
                (c.to_string(), len)
            }
            Reference::Char(c, len, _) => (c.to_string(), len),
            Reference::Html(c, second, name) => {
                let mut s = c.to_string();
                s.extend(second);
                (s, name.len() + 1)
            }
            Reference::Bad(_) | Reference::Undefined(_) | Reference::Bare => continue,
        };
        out.push_str(&text[copied..at]);
        out.push_str(&decoded);
        copied = at + len;
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix(xml: &str) -> (String, Option<String>, usize) {
        let r = repair(xml, &HashSet::new(), &Budget::unlimited()).unwrap();
        (r.xml, r.damage.describe(), r.items)
    }

    #[test]
    fn well_formed_feeds_are_kept_as_written() {
        let xml = "<?xml version=\"1.0\"?>\n<!DOCTYPE rss [<!ENTITY x \"y\">]>\n<rss version='2.0'>\
            <!-- c --><channel><title>A &amp; B &#233; &x;</title><item><title>T</title>\
            <description><![CDATA[<p>x</p>]]></description><link>http://e/?a=1&amp;b=2</link>\
            </item></channel></rss>\n";
        let declared = HashSet::from(["x".to_string()]);
        let r = repair(xml, &declared, &Budget::unlimited()).unwrap();
        assert_eq!(r.xml, xml);
        assert_eq!(r.damage.describe(), None);
        assert_eq!(r.items, 1);
    }

    #[test]
    fn references_are_mended() {
        let (xml, warning, _) = fix(
            "<rss><channel><title>AT&T &eacute;t&eacute; &foo; &#0; &#146; &#233 &#x1F600;</title></channel></rss>",
        );
        assert_eq!(
            xml,
            "<rss><channel><title>AT&amp;T &#233;t&#233; &amp;foo; &#65533; &#8217; &#233; &#x1F600;</title></channel></rss>"
        );
        let warning = warning.unwrap();
        assert!(warning.contains("1 bare `&` escaped"), "{warning}");
        assert!(
            warning.contains("2 HTML entities decoded (&eacute;)"),
            "{warning}"
        );
        assert!(
            warning.contains("1 undefined entities kept as text (&foo;)"),
            "{warning}"
        );
        assert!(
            warning.contains("2 bad character references replaced (&#0; &#233)"),
            "{warning}"
        );
        assert!(warning.contains("1 references to C1 controls"), "{warning}");
    }

    #[test]
    fn markup_in_text_elements_is_escaped_silently() {
        let (xml, warning, _) = fix(
            "<rss><channel><item><description>Some <b>bold</b><br> text</description>\
             <content type='xhtml'><div><p>kept</p><br></div></content></item></channel></rss>",
        );
        assert_eq!(
            xml,
            "<rss><channel><item><description type=\"html\">Some &lt;b>bold&lt;/b>&lt;br> text</description>\
             <content type='xhtml'><div><p>kept</p><br/></div></content></item></channel></rss>"
        );
        assert_eq!(warning, None);
    }

    #[test]
    fn stray_markup_and_unclosed_elements() {
        let (xml, warning, items) = fix("<rss><channel><item><title>1 < 2</title><guid>a</item>\
             <item><title>b</title></foo></item></channel></rss>");
        assert_eq!(
            xml,
            "<rss><channel><item><title>1 &lt; 2</title><guid>a</guid></item>\
             <item><title>b</title></item></channel></rss>"
        );
        let warning = warning.unwrap();
        assert!(warning.contains("1 stray `<` escaped"), "{warning}");
        assert!(
            warning.contains("1 elements left open closed (<guid>)"),
            "{warning}"
        );
        assert!(
            warning.contains("1 end tags closing nothing dropped (</foo>)"),
            "{warning}"
        );
        assert_eq!(items, 2);
    }

    #[test]
    fn items_after_the_channel_are_read_in_it() {
        let (xml, warning, items) = fix(
            "<rss><channel><title>c</title></channel>\n<item><title>a</title></item>\n</rss>\n<item><title>b</title></item>",
        );
        assert_eq!(
            xml,
            "<rss><channel><title>c</title>\n<item><title>a</title></item>\n\n<item><title>b</title></item></channel></rss>"
        );
        let warning = warning.unwrap();
        assert!(
            warning.contains("2 items after `</channel>` read"),
            "{warning}"
        );
        assert_eq!(items, 2);
    }

    #[test]
    fn truncated_documents_keep_their_complete_items() {
        let (xml, warning, items) =
            fix("<rss><channel><item><title>a</title></item><item><title>b</ti");
        assert_eq!(
            xml,
            "<rss><channel><item><title>a</title></item></channel></rss>"
        );
        assert!(warning.unwrap().contains("read the 1 complete items"));
        assert_eq!(items, 1);
        let (xml, warning, _) = fix("<rss><channel><title>x</title>");
        assert_eq!(xml, "<rss><channel><title>x</title></channel></rss>");
        assert!(warning.unwrap().contains("2 elements closed at the end"));
        let (xml, _, _) = fix("<rss><channel><item><title>a</title></item><!-- never ends");
        assert_eq!(
            xml,
            "<rss><channel><item><title>a</title></item></channel></rss>"
        );
    }

    #[test]
    fn nested_cdata_is_one_section() {
        let (xml, warning, _) = fix(
            "<rss><channel><item><description><![CDATA[a <![CDATA[b]]> c]]></description></item></channel></rss>",
        );
        assert_eq!(
            xml,
            "<rss><channel><item><description><![CDATA[a b c]]></description></item></channel></rss>"
        );
        assert!(warning.unwrap().contains("1 nested CDATA"));
        // A section holding the text `<![CDATA[` is not nested.
        let valid = "<rss><channel><item><description><![CDATA[<![CDATA[x]]&gt;]]></description></item></channel></rss>";
        assert_eq!(fix(valid).0, valid);
    }

    #[test]
    fn attributes_are_mended() {
        let (xml, warning, _) = fix(
            "<feed><entry><link href=http://e/a?x=1&y=2 rel=\"alternate\" rel=\"x\" hidden/></entry></feed>",
        );
        assert_eq!(
            xml,
            "<feed><entry><link href=\"http://e/a?x=1&amp;y=2\" rel=\"alternate\" hidden=\"hidden\"/></entry></feed>"
        );
        assert!(warning.unwrap().contains("malformed attributes mended"));
    }

    #[test]
    fn references_in_plain_text_are_decoded() {
        assert_eq!(
            decode_references("Le pr&eacute;sident &amp; AT&T &#8217; &#146; &bogus;"),
            "Le président & AT&T ’ ’ &bogus;"
        );
        assert!(matches!(decode_references("plain"), Cow::Borrowed(_)));
    }
}
