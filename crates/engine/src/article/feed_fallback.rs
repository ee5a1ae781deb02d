//! The feed reader for what feed-rs does not read: RSS in a namespace of its own (Userland's,
//! `<r:rss>`), RSS 0.90, RSS 1.0 items without a link, CDF, and the fields feed-rs leaves out
//! — Dublin Core (`dc:title`, `dc:date`, `dc:description`, `dc:creator`, `dcterms:*`),
//! Media RSS (`media:title`, `media:description`, also in `media:group` and `media:content`),
//! Atom 0.3's dates (`issued`, `modified`, `created`), XHTML bodies, `guid` as the link when it
//! is a permalink.
//!
//! It reads the document `feed_xml` made well-formed, with quick-xml, in one pass: the items
//! (`item` or `entry` in the channel or root, whatever their namespace) and the elements in
//! them, by namespace and local name, as feedparser maps them. An element's text is cut from
//! the document only for the fields read, so reading is linear in the document.

use std::ops::Range;

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};

use super::Budget;

/// A text of a feed, as written: HTML source, or plain text.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Text {
    pub content: String,
    pub html: bool,
}

/// An item's fields, as the feed wrote them.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Item {
    /// Candidates for the title, the best first: the first that has words is read.
    pub titles: Vec<Text>,
    /// Candidates for the body, the best first.
    pub bodies: Vec<Text>,
    pub link: Option<String>,
    /// As written (a date in any form): ingest brings it to RFC 3339.
    pub published: Option<String>,
    pub id: Option<String>,
    pub authors: Vec<String>,
    pub categories: Vec<String>,
}

/// What the fallback read of a feed.
#[derive(Debug, Default)]
pub(super) struct Read {
    pub title: Option<Text>,
    pub items: Vec<Item>,
    /// The root is Atom's: its texts are plain unless typed.
    pub atom: bool,
}

/// Namespaces of RSS and Atom (their elements are read by local name, as with none).
const FEED_NAMESPACES: &[&str] = &[
    "http://purl.org/rss/1.0/",
    "http://my.netscape.com/rdf/simple/0.9/",
    "http://backend.userland.com/rss2",
    "http://backend.userland.com/rss",
    "http://blogs.law.harvard.edu/tech/rss",
    "http://www.w3.org/2005/Atom",
    "http://purl.org/atom/ns#",
    "http://purl.org/net/rss1.1#",
];

/// What an element's namespace makes of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ns {
    /// RSS or Atom (or none, or the root's own namespace).
    Core,
    Dc,
    Content,
    Media,
    Itunes,
    Xhtml,
    Rdf,
    Other,
}

fn ns_of_uri(uri: &str, root: Option<&str>) -> Ns {
    let uri_str = uri.trim();
    if FEED_NAMESPACES.contains(&uri_str) || root == Some(uri) {
        return Ns::Core;
    }
    // Feeds spell some of these in their own case (`http://www.itunes.com/DTDs/…`).
    match uri_str.to_ascii_lowercase().as_str() {
        "http://purl.org/dc/elements/1.1/" | "http://purl.org/dc/terms/" => Ns::Dc,
        "http://purl.org/rss/1.0/modules/content/" => Ns::Content,
        "http://search.yahoo.com/mrss/" | "http://search.yahoo.com/mrss" => Ns::Media,
        "http://www.itunes.com/dtds/podcast-1.0.dtd" => Ns::Itunes,
        "http://www.w3.org/1999/xhtml" => Ns::Xhtml,
        "http://www.w3.org/1999/02/22-rdf-syntax-ns#" => Ns::Rdf,
        _ => Ns::Other,
    }
}

/// An undeclared prefix, by the name feeds give it.
fn ns_of_prefix(prefix: &str) -> Ns {
    match prefix.to_ascii_lowercase().as_str() {
        "dc" | "dcterms" => Ns::Dc,
        "content" => Ns::Content,
        "media" => Ns::Media,
        "itunes" => Ns::Itunes,
        "xhtml" => Ns::Xhtml,
        "rdf" => Ns::Rdf,
        _ => Ns::Other,
    }
}

/// An element's attributes: names as written, values unescaped.
type Attributes = Vec<(String, String)>;

/// An element of an item, read when it ends.
struct Field {
    ns: Ns,
    /// Local name, lowercase.
    name: String,
    attrs: Vec<(String, String)>,
    /// Its content in the document.
    inner: Range<usize>,
    /// Directly in the item (not in a `media:group`, an `author` …).
    direct: bool,
    /// The local name of the element it is in (lowercase).
    parent: String,
}

impl Field {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn is(&self, ns: Ns, name: &str) -> bool {
        self.ns == ns && self.name == name
    }
}

/// An element open while reading.
struct Frame {
    ns: Ns,
    name: String,
    attrs: Vec<(String, String)>,
    inner_start: usize,
}

/// Reads the items of a feed's well-formed XML. Stops at the first error quick-xml finds (the
/// items before it are kept) or when the budget runs out (`Err`).
pub(super) fn read(xml: &str, budget: &Budget) -> Result<Read, String> {
    let mut reader = NsReader::from_str(xml);
    let mut read = Read::default();
    let mut stack: Vec<Frame> = Vec::new();
    let mut root_ns: Option<String> = None;
    // The item being read: its depth (its frame's index), its fields and its attributes.
    let mut item: Option<(usize, Vec<Field>, Attributes)> = None;
    let mut feed_title: Option<Field> = None;
    let mut events = 0usize;
    loop {
        events += 1;
        if events.is_multiple_of(4096) {
            budget.check()?;
        }
        let before = reader.buffer_position() as usize;
        // The namespace, owned: quick-xml's borrows the reader.
        let (ns, event) = match reader.read_resolved_event() {
            Ok((ResolveResult::Bound(Namespace(uri)), event)) => (Some(Ok(uri.to_string())), event),
            Ok((ResolveResult::Unknown(prefix), event)) => (Some(Err(prefix.to_string())), event),
            Ok((ResolveResult::Unbound, event)) => (None, event),
            Err(_) => break,
        };
        let ns_of = |ns: &Option<Result<String, String>>, root: Option<&str>| match ns {
            Some(Ok(uri)) => ns_of_uri(uri, root),
            None => Ns::Core,
            Some(Err(prefix)) => ns_of_prefix(prefix),
        };
        let after = reader.buffer_position() as usize;
        match event {
            Event::Start(e) | Event::Empty(e) => {
                let empty = xml.as_bytes()[..after].ends_with(b"/>");
                if stack.is_empty() && root_ns.is_none() {
                    root_ns = Some(match &ns {
                        Some(Ok(uri)) => uri.clone(),
                        _ => String::new(),
                    });
                    let name = local_lower(&e);
                    read.atom = name == "feed" || name == "entry";
                }
                let class = ns_of(&ns, root_ns.as_deref().filter(|r| !r.is_empty()));
                let frame = Frame {
                    ns: class,
                    name: local_lower(&e),
                    attrs: attributes(&e),
                    inner_start: after,
                };
                let parent = stack.last().map(|f| f.name.as_str());
                let is_item = item.is_none()
                    && matches!(frame.name.as_str(), "item" | "entry")
                    && match parent {
                        None => true,
                        Some(p) => matches!(p, "channel" | "rss" | "rdf" | "feed"),
                    };
                if is_item {
                    let attrs = frame.attrs.clone();
                    if empty {
                        read.items.push(item_of(xml, &[], &attrs, read.atom));
                        continue;
                    }
                    item = Some((stack.len(), Vec::new(), attrs));
                }
                if empty {
                    // An element without content: its attributes may count (`<link href>`).
                    let depth = stack.len();
                    if let Some((at, fields, _)) = &mut item
                        && depth > *at
                        && depth <= *at + 3
                    {
                        fields.push(Field {
                            ns: frame.ns,
                            name: frame.name,
                            attrs: frame.attrs,
                            inner: after..after,
                            direct: depth == *at + 1,
                            parent: stack.last().map(|f| f.name.clone()).unwrap_or_default(),
                        });
                    }
                    continue;
                }
                stack.push(frame);
            }
            Event::End(_) => {
                let Some(frame) = stack.pop() else { break };
                let depth = stack.len();
                let inner = frame.inner_start..before;
                if let Some((at, fields, attrs)) = &mut item {
                    if depth == *at {
                        let done = item_of(xml, fields, attrs, read.atom);
                        read.items.push(done);
                        item = None;
                        continue;
                    }
                    if depth > *at && depth <= *at + 3 {
                        fields.push(Field {
                            ns: frame.ns,
                            name: frame.name,
                            attrs: frame.attrs,
                            inner,
                            direct: depth == *at + 1,
                            parent: stack.last().map(|f| f.name.clone()).unwrap_or_default(),
                        });
                    }
                    continue;
                }
                // The feed's title: in the channel (or the root of Atom and CDF).
                let parent = stack.last().map(|f| f.name.as_str());
                let in_feed = matches!(parent, Some("channel" | "feed"));
                let better = match &feed_title {
                    None => true,
                    Some(t) => t.ns != Ns::Core && frame.ns == Ns::Core,
                };
                if in_feed
                    && frame.name == "title"
                    && matches!(frame.ns, Ns::Core | Ns::Dc)
                    && better
                {
                    feed_title = Some(Field {
                        ns: frame.ns,
                        name: frame.name,
                        attrs: frame.attrs,
                        inner,
                        direct: true,
                        parent: String::new(),
                    });
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    read.title = feed_title.map(|t| text_of(xml, &t, false));
    Ok(read)
}

fn local_lower(e: &BytesStart) -> String {
    e.local_name().as_ref().to_ascii_lowercase()
}

/// An element's attributes (name as written, value unescaped).
fn attributes(e: &BytesStart) -> Vec<(String, String)> {
    e.attributes()
        .with_checks(false)
        .flatten()
        .map(|a| {
            let key = a.key.as_ref().to_string();
            let value = quick_xml::escape::unescape(&a.value)
                .map_or_else(|_| a.value.to_string(), |v| v.into_owned());
            (key, value)
        })
        .collect()
}

/// An item from its elements, as feedparser maps them.
fn item_of(xml: &str, fields: &[Field], attrs: &[(String, String)], atom: bool) -> Item {
    let find = |wanted: &[(Ns, &str)]| {
        wanted
            .iter()
            .find_map(|(ns, name)| fields.iter().find(|f| f.is(*ns, name)))
    };
    let text = |f: &Field, html: bool| text_of(xml, f, html);
    let non_empty = |t: Text| (!t.content.trim().is_empty()).then_some(t);
    let item_attr = |name: &str| {
        attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
    };

    let titles = [(Ns::Core, "title"), (Ns::Dc, "title"), (Ns::Media, "title")]
        .iter()
        .flat_map(|w| fields.iter().filter(move |f| f.is(w.0, w.1)))
        .filter(|f| f.direct || f.ns == Ns::Media)
        .filter_map(|f| non_empty(text(f, false)))
        .collect();

    // Texts that are HTML unless typed: RSS's; Atom's are plain unless typed.
    let body_order: &[(Ns, &str)] = &[
        (Ns::Content, "encoded"),
        (Ns::Core, "content"),
        (Ns::Xhtml, "body"),
        (Ns::Core, "body"),
        (Ns::Core, "fullitem"),
        (Ns::Core, "description"),
        (Ns::Core, "summary"),
        (Ns::Dc, "description"),
        (Ns::Itunes, "summary"),
        (Ns::Media, "description"),
        (Ns::Core, "abstract"),
    ];
    let bodies = body_order
        .iter()
        .flat_map(|w| fields.iter().filter(move |f| f.is(w.0, w.1)))
        .filter(|f| f.direct || f.ns == Ns::Media)
        .filter_map(|f| {
            let html = !atom || f.ns != Ns::Core || f.name == "body";
            non_empty(text(f, html))
        })
        .collect();

    let link = fields
        .iter()
        .filter(|f| f.direct && f.is(Ns::Core, "link"))
        .find_map(|f| {
            let rel = f.attr("rel").map(str::trim).unwrap_or("alternate");
            match f.attr("href") {
                Some(href) if rel.eq_ignore_ascii_case("alternate") && !href.trim().is_empty() => {
                    Some(href.trim().to_string())
                }
                Some(_) => None,
                None => {
                    let t = inner_text(&xml[f.inner.clone()]);
                    let t = t.trim();
                    (!t.is_empty()).then(|| t.to_string())
                }
            }
        })
        .or_else(|| item_attr("href").filter(|h| !h.is_empty()))
        .or_else(|| {
            let guid = find(&[(Ns::Core, "guid")])?;
            let permalink = guid
                .attr("isPermaLink")
                .is_none_or(|p| !p.trim().eq_ignore_ascii_case("false"));
            let value = inner_text(&xml[guid.inner.clone()]);
            let value = value.trim();
            let url = value.starts_with("http://") || value.starts_with("https://");
            (permalink && url).then(|| value.to_string())
        });

    let date_order: &[(Ns, &str)] = &[
        (Ns::Core, "published"),
        (Ns::Core, "pubdate"),
        (Ns::Core, "issued"),
        (Ns::Dc, "date"),
        (Ns::Dc, "issued"),
        (Ns::Core, "created"),
        (Ns::Dc, "created"),
        (Ns::Core, "updated"),
        (Ns::Core, "modified"),
        (Ns::Dc, "modified"),
    ];
    let published = date_order
        .iter()
        .flat_map(|w| fields.iter().filter(move |f| f.direct && f.is(w.0, w.1)))
        .map(|f| inner_text(&xml[f.inner.clone()]).trim().to_string())
        .find(|d| !d.is_empty())
        .or_else(|| item_attr("lastmod").filter(|d| !d.is_empty()));

    let id = find(&[(Ns::Core, "guid"), (Ns::Core, "id")])
        .map(|f| inner_text(&xml[f.inner.clone()]).trim().to_string())
        .filter(|i| !i.is_empty())
        .or_else(|| item_attr("rdf:about").filter(|i| !i.is_empty()));

    let mut authors = Vec::new();
    for f in fields {
        let name = match (f.ns, f.name.as_str()) {
            (Ns::Core, "author") if f.direct => {
                // RSS: the text; Atom: its `name`, read below.
                let t = inner_text(&xml[f.inner.clone()]);
                if fields
                    .iter()
                    .any(|n| !n.direct && n.parent == "author" && n.name == "name")
                {
                    continue;
                }
                t
            }
            (Ns::Core, "name") if f.parent == "author" => inner_text(&xml[f.inner.clone()]),
            (Ns::Dc, "creator") | (Ns::Itunes, "author") if f.direct => {
                inner_text(&xml[f.inner.clone()])
            }
            _ => continue,
        };
        let name = super::one_line(&super::feed_xml::decode_references(&name));
        if !name.is_empty() && !authors.contains(&name) {
            authors.push(name);
        }
    }

    let mut categories = Vec::new();
    for f in fields.iter().filter(|f| f.direct) {
        let value = match (f.ns, f.name.as_str()) {
            (Ns::Core, "category") => f
                .attr("label")
                .or(f.attr("term"))
                .map(str::to_string)
                .unwrap_or_else(|| inner_text(&xml[f.inner.clone()])),
            (Ns::Dc, "subject") => inner_text(&xml[f.inner.clone()]),
            _ => continue,
        };
        let value = super::one_line(&value);
        if !value.is_empty() {
            categories.push(value);
        }
    }

    Item {
        titles,
        bodies,
        link,
        published,
        id,
        authors,
        categories,
    }
}

/// A text element as its type and mode say: HTML (escaped, or XHTML markup), plain text, or
/// base64 of either; `html` when it says nothing.
fn text_of(xml: &str, f: &Field, html: bool) -> Text {
    let raw = &xml[f.inner.clone()];
    let kind = f.attr("type").unwrap_or("").trim().to_ascii_lowercase();
    let mode = f.attr("mode").unwrap_or("").trim().to_ascii_lowercase();
    let plain_kind = matches!(kind.as_str(), "text" | "text/plain" | "plain");
    let html_kind = matches!(kind.as_str(), "html" | "text/html") || mode == "escaped";
    if mode == "base64" {
        let decoded = base64(&inner_text(raw)).unwrap_or_default();
        return Text {
            content: decoded,
            html: !plain_kind,
        };
    }
    let markup = kind.contains("xhtml")
        || kind.ends_with("+xml")
        || kind.ends_with("/xml")
        || mode == "xml"
        || f.name == "body";
    if markup {
        return Text {
            content: markup_of(raw),
            html: true,
        };
    }
    Text {
        content: inner_text(raw),
        html: html_kind || (!plain_kind && html),
    }
}

/// The text in a piece of XML: its text and CDATA sections, references resolved, tags and
/// comments left out.
pub(super) fn inner_text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find(['<', '&']) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("<![CDATA[") {
            let end = after.find("]]>").unwrap_or(after.len());
            out.push_str(&after[..end]);
            rest = after.get(end + 3..).unwrap_or("");
        } else if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |e| &after[e + 3..]);
        } else if rest.starts_with('<') {
            rest = rest.find('>').map_or("", |e| &rest[e + 1..]);
        } else {
            let end = rest.find(';').filter(|&e| e < 12);
            let decoded = end.and_then(|e| xml_reference(&rest[1..e]));
            match (decoded, end) {
                (Some(c), Some(e)) => {
                    out.push(c);
                    rest = &rest[e + 1..];
                }
                _ => {
                    out.push('&');
                    rest = &rest[1..];
                }
            }
        }
    }
    out.push_str(rest);
    out
}

/// XML's predefined entities and character references.
fn xml_reference(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => {
            let n = name.strip_prefix('#')?;
            let code = match n.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => n.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

/// XML markup read as HTML: CDATA sections (which HTML does not know) escaped.
fn markup_of(raw: &str) -> String {
    if !raw.contains("<![CDATA[") {
        return raw.to_string();
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find("<![CDATA[") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 9..];
        let end = after.find("]]>").unwrap_or(after.len());
        out.push_str(
            &after[..end]
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;"),
        );
        rest = after.get(end + 3..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// Base64 (white space ignored, `=` padding optional, the URL-safe alphabet too) of UTF-8
/// text; `None` when it is not.
pub(super) fn base64(text: &str) -> Option<String> {
    use base64::Engine;
    use base64::alphabet::{STANDARD, URL_SAFE};
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true);
    let digits: Vec<u8> = text
        .trim()
        .trim_end_matches('=')
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let bytes = GeneralPurpose::new(&STANDARD, LENIENT)
        .decode(&digits)
        .or_else(|_| GeneralPurpose::new(&URL_SAFE, LENIENT).decode(&digits))
        .ok()?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(xml: &str) -> Read {
        read(xml, &Budget::unlimited()).unwrap()
    }

    #[test]
    fn rss_in_other_namespaces_and_dublin_core() {
        let r = items(
            r#"<r:rss xmlns:r="http://backend.userland.com/rss2" xmlns:dc="http://purl.org/dc/elements/1.1/"
                xmlns:x="http://example.com/x"><r:channel><dc:title>Feed</dc:title>
                <r:item><dc:title>T</dc:title><x:description>wrong</x:description>
                <r:description>&lt;p&gt;right&lt;/p&gt;</r:description>
                <dc:date>2024-05-06T07:08:09Z</dc:date><dc:creator>Ann</dc:creator>
                <r:guid>https://e.com/1</r:guid></r:item></r:channel></r:rss>"#,
        );
        assert_eq!(r.title.unwrap().content, "Feed");
        let i = &r.items[0];
        assert_eq!(i.titles[0].content, "T");
        assert_eq!(
            i.bodies,
            [Text {
                content: "<p>right</p>".into(),
                html: true
            }]
        );
        assert_eq!(i.published.as_deref(), Some("2024-05-06T07:08:09Z"));
        assert_eq!(i.link.as_deref(), Some("https://e.com/1"));
        assert_eq!(i.authors, ["Ann"]);
    }

    #[test]
    fn rss_090_and_rdf_items_without_links() {
        let r = items(
            r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://my.netscape.com/rdf/simple/0.9/">
            <channel><title>Old</title></channel>
            <item><title>One</title></item><item rdf:about="x"><title>Two</title><link>http://e/2</link></item></rdf:RDF>"#,
        );
        assert_eq!(r.items.len(), 2);
        assert_eq!(r.items[0].link, None);
        assert_eq!(r.items[1].link.as_deref(), Some("http://e/2"));
        assert_eq!(r.items[1].id.as_deref(), Some("x"));
    }

    #[test]
    fn atom_03_texts_and_dates() {
        let r = items(
            r#"<feed version="0.3" xmlns="http://purl.org/atom/ns#"><entry>
            <title type="text/plain" mode="base64">RXhhbXBsZSA8Yj5BdG9tPC9iPg==</title>
            <content type="application/xhtml+xml" mode="xml"><div xmlns="http://www.w3.org/1999/xhtml"><p>x <![CDATA[<y>]]></p></div></content>
            <issued>2003-12-31T10:14:55Z</issued><link rel="alternate" href="http://e/a"/></entry></feed>"#,
        );
        let i = &r.items[0];
        assert_eq!(
            i.titles,
            [Text {
                content: "Example <b>Atom</b>".into(),
                html: false
            }]
        );
        assert!(i.bodies[0].content.contains("<p>x &lt;y&gt;</p>"));
        assert_eq!(i.published.as_deref(), Some("2003-12-31T10:14:55Z"));
        assert_eq!(i.link.as_deref(), Some("http://e/a"));
    }

    #[test]
    fn guids_that_are_no_permalinks_are_no_links() {
        let r = items(
            r#"<rss><channel><item><title>a</title><guid isPermaLink="false">http://e/1</guid></item>
            <item><title>b</title><guid>12345</guid></item></channel></rss>"#,
        );
        assert_eq!(r.items[0].link, None);
        assert_eq!(r.items[0].id.as_deref(), Some("http://e/1"));
        assert_eq!(r.items[1].link, None);
    }

    #[test]
    fn media_texts() {
        let r = items(
            r#"<rss xmlns:media="http://search.yahoo.com/mrss/"><channel><item>
            <media:group><media:title>Clip</media:title><media:description>What it shows</media:description></media:group>
            </item></channel></rss>"#,
        );
        let i = &r.items[0];
        assert_eq!(i.titles[0].content, "Clip");
        assert_eq!(i.bodies[0].content, "What it shows");
    }
}
