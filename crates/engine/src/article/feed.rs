//! Feeds (`.xml`, `.rss`, `.atom`, `.rdf`, and JSON Feed from `.json`): RSS 0.90, 0.9x, 1.0
//! and 2.0 (in any namespace), Atom 0.3 and 1.0, CDF and JSON Feed, one article per item, so
//! that each item has its own content hash and a re-downloaded feed alerts only on its new
//! items.
//!
//! Reading is forgiving, as feedparser's is: `feed_xml` first makes the XML well-formed,
//! repairing what real feeds get wrong (a bare `&`, HTML entities, a stray `<`, elements left
//! open, items after `</channel>`, a truncated download …) so that every complete item is read,
//! and the file gets one warning naming what was repaired. feed-rs then reads the feed (with
//! `feed_repair`'s adjustments for what it refuses); `feed_fallback` reads what feed-rs does not
//! (feeds it finds no items in, items it drops, and fields it leaves out: Dublin Core, Media
//! RSS titles, `guid` permalinks, Atom 0.3 dates, XHTML bodies), and fills the gaps.
//!
//! An item's title and text (content, else summary or description, else its media description)
//! are read as HTML unless the feed says they are plain text; plain text has its HTML
//! character references decoded (`Le pr&eacute;sident`, written escaped once too often), and
//! RSS's plain text is read as HTML when it holds HTML tags, as feedparser does. `link` is the
//! item's alternate link (else a `guid` that is a permalink URL), `published` its publication
//! (else update) time, `source` the feed's title. A feed that gives no article says why.
//!
//! Entity declarations in a DTD are never expanded (feed-rs resolves only XML's predefined
//! entities and character references), so an entity-expansion bomb costs one linear pass. A
//! DTD whose entities refer to other entities — the shape of a bomb — refuses the file; other
//! declared entities are reported and left as written.

use std::collections::HashSet;

use feed_rs::model::Entry;
use feed_rs::parser::{ParseErrorKind, ParseFeedError};
use serde_json::Value;

use super::feed_fallback::{self, Item, Text};
use super::{Article, Budget, Parsed, decode, feed_repair, feed_xml, html};

pub(super) fn parse(bytes: &[u8], budget: &Budget) -> Result<Parsed, String> {
    let text = decode::decode(bytes, decode::xml_encoding(bytes));
    let xml = decode::as_utf8_xml(&text);
    if xml.starts_with('{') {
        // JSON Feed.
        let feed = feed_parser().parse(xml.as_bytes()).map_err(describe)?;
        let title = feed.title.as_ref().map(text_of_feed_rs);
        let items = feed.entries.into_iter().map(item_of_entry).collect();
        return articles(title, items, false, budget);
    }
    let mut warnings = Vec::new();
    let declared = match declared_entities(&xml) {
        Entities::Nested => {
            return Err(
                "refused: its DTD declares entities built from other entities \
                        (an entity-expansion bomb); DTD entities are never expanded"
                    .into(),
            );
        }
        Entities::Plain(names) => {
            if !names.is_empty() {
                warnings.push(format!(
                    "{} entities declared in its DTD left unexpanded",
                    names.len()
                ));
            }
            names
        }
    };
    let repaired = feed_xml::repair(&xml, &declared, budget)?;
    drop(text);
    let (normalized, types) = feed_repair::normalize(&repaired.xml);
    let repairs: Vec<String> = repaired
        .damage
        .describe()
        .into_iter()
        .chain(types)
        .collect();
    if !repairs.is_empty() {
        warnings.push(repairs.join("; "));
    }
    let feed = feed_parser().parse(normalized.as_bytes());
    budget.check()?;
    let rss = feed
        .as_ref()
        .is_ok_and(|f| f.feed_type != feed_rs::model::FeedType::Atom);
    let (feed_title, feed_items): (_, Vec<Item>) = match feed {
        Ok(feed) => (
            feed.title.as_ref().map(text_of_feed_rs),
            feed.entries.into_iter().map(item_of_entry).collect(),
        ),
        // What feed-rs cannot read at all, the fallback reader may.
        Err(e) => {
            let fallback = feed_fallback::read(&normalized, budget)?;
            if fallback.items.is_empty() {
                return Err(if cut_before_items(&repaired) {
                    CUT_BEFORE_ITEMS.into()
                } else {
                    describe(e)
                });
            }
            let parsed = articles(fallback.title, fallback.items, !fallback.atom, budget)?;
            return Ok(with_warnings(parsed, warnings));
        }
    };
    // Fields feed-rs left out, or items it dropped: read again by the fallback reader.
    let gaps = feed_title.is_none()
        || feed_items.len() < repaired.items
        || feed_items.iter().any(Item::has_gaps);
    let (title, items, rss) = if gaps {
        let fallback = feed_fallback::read(&normalized, budget)?;
        let title = feed_title.or(fallback.title);
        if fallback.items.len() > feed_items.len() {
            (title, fallback.items, !fallback.atom)
        } else if fallback.items.len() == feed_items.len() {
            let merged = feed_items
                .into_iter()
                .zip(fallback.items)
                .map(|(from_feed_rs, from_fallback)| from_feed_rs.or(from_fallback))
                .collect();
            (title, merged, rss)
        } else {
            (title, feed_items, rss)
        }
    } else {
        (feed_title, feed_items, rss)
    };
    if items.is_empty() && cut_before_items(&repaired) {
        return Err(CUT_BEFORE_ITEMS.into());
    }
    let parsed = articles(title, items, rss, budget)?;
    Ok(with_warnings(parsed, warnings))
}

/// Why a feed cut off before its first item gives nothing: a damaged file, not an empty feed.
const CUT_BEFORE_ITEMS: &str = "malformed feed (cut off before its first complete item)";

fn cut_before_items(repaired: &feed_xml::Repaired) -> bool {
    repaired.items == 0 && repaired.damage.cut_off()
}

/// The parse's warnings after `warnings` (the repairs).
fn with_warnings(mut parsed: Parsed, warnings: Vec<String>) -> Parsed {
    parsed.warnings.splice(0..0, warnings);
    parsed
}

/// How the warning of a feed without articles starts.
const NO_ARTICLE: &str = "no article: ";

/// feed-rs invents ids (random UUIDs among them) for items without one: the ids kept in `meta`
/// are only the feed's own.
fn feed_parser() -> feed_rs::parser::Parser {
    feed_rs::parser::Builder::new()
        .id_generator(|_, _, _| String::new())
        .build()
}

fn describe(error: ParseFeedError) -> String {
    match error {
        ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot) => {
            "no RSS channel, Atom feed or JSON Feed found".into()
        }
        e => format!("malformed feed ({e})"),
    }
}

/// What the internal DTD subset declares.
enum Entities {
    /// Entities whose values refer to other entities.
    Nested,
    /// The names of the entities declared (none without a DTD).
    Plain(HashSet<String>),
}

fn declared_entities(xml: &str) -> Entities {
    let Some(start) = xml.find("<!DOCTYPE") else {
        return Entities::Plain(HashSet::new());
    };
    let dtd = &xml[start..];
    let dtd = &dtd[..dtd.find("]>").unwrap_or(dtd.len())];
    let declarations: Vec<&str> = dtd
        .split("<!ENTITY")
        .skip(1)
        .map(|d| &d[..d.find('>').unwrap_or(d.len())])
        .collect();
    // `&#233;` is a character; `&name;` is another entity.
    let nested = |d: &&str| {
        d.match_indices('&')
            .any(|(i, _)| !d[i + 1..].starts_with('#'))
    };
    if declarations.iter().any(nested) {
        return Entities::Nested;
    }
    Entities::Plain(
        declarations
            .iter()
            .filter_map(|d| {
                let d = d.trim_start().trim_start_matches('%').trim_start();
                let name = d.split(|c: char| c.is_whitespace()).next()?;
                (!name.is_empty()).then(|| name.to_string())
            })
            .collect(),
    )
}

impl Item {
    /// Whether a field an article is made of is missing.
    fn has_gaps(&self) -> bool {
        self.titles.is_empty()
            || self.bodies.is_empty()
            || self.link.is_none()
            || self.published.is_none()
    }

    /// This item, its missing fields taken from `other` (the same item read another way).
    fn or(mut self, other: Item) -> Item {
        self.titles.extend(other.titles);
        self.bodies.extend(other.bodies);
        self.link = self.link.or(other.link);
        self.published = self.published.or(other.published);
        self.id = self.id.or(other.id);
        if self.authors.is_empty() {
            self.authors = other.authors;
        }
        if self.categories.is_empty() {
            self.categories = other.categories;
        }
        self
    }
}

/// A feed-rs text: plain unless it says otherwise.
fn text_of_feed_rs(t: &feed_rs::model::Text) -> Text {
    Text {
        content: t.content.clone(),
        html: !t.content_type.to_string().starts_with("text/plain"),
    }
}

/// A feed-rs entry's fields.
fn item_of_entry(entry: Entry) -> Item {
    let non_empty = |t: Text| (!t.content.trim().is_empty()).then_some(t);
    let titles = entry
        .title
        .as_ref()
        .map(text_of_feed_rs)
        .and_then(non_empty)
        .into_iter()
        .collect();
    let content = entry.content.as_ref().and_then(|c| {
        Some(Text {
            content: c.body.clone()?,
            html: !c.content_type.to_string().starts_with("text/plain"),
        })
    });
    let summary = entry.summary.as_ref().map(text_of_feed_rs);
    let media = entry
        .media
        .iter()
        .filter_map(|m| m.description.as_ref().map(text_of_feed_rs));
    let bodies = content
        .into_iter()
        .chain(summary)
        .chain(media)
        .filter_map(non_empty)
        .collect();
    let link = entry
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or(entry.links.first())
        .map(|l| l.href.clone());
    let published = entry
        .published
        .or(entry.updated)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    Item {
        titles,
        bodies,
        link,
        published,
        id: Some(entry.id).filter(|id| !id.is_empty()),
        authors: entry.authors.into_iter().filter_map(|p| p.name).collect(),
        categories: entry
            .categories
            .into_iter()
            .map(|c| c.label.unwrap_or(c.term))
            .collect(),
    }
}

/// One article per item. Items with neither title nor text are left out: they give rules
/// nothing to match, and a file is not damaged by having them; a feed with no article left
/// says why.
fn articles(
    title: Option<Text>,
    items: Vec<Item>,
    rss: bool,
    budget: &Budget,
) -> Result<Parsed, String> {
    let source = title
        .map(|t| super::one_line(&plain_text(&t, rss, budget)))
        .filter(|t| !t.is_empty());
    let count = items.len();
    let mut parsed = Parsed::default();
    for item in items {
        budget.check()?;
        if let Some(mut a) = article(item, rss, budget) {
            a.source.clone_from(&source);
            parsed.articles.push(a);
        }
    }
    budget.check()?;
    if parsed.articles.is_empty() {
        parsed.warnings.push(if count == 0 {
            format!("{NO_ARTICLE}the feed holds no items")
        } else {
            format!("{NO_ARTICLE}its {count} items have neither a title nor text")
        });
    }
    Ok(parsed)
}

fn article(item: Item, rss: bool, budget: &Budget) -> Option<Article> {
    let first = |texts: &[Text]| {
        texts
            .iter()
            .map(|t| plain_text(t, rss, budget))
            .find(|t| !t.is_empty())
            .unwrap_or_default()
    };
    let title = super::one_line(&first(&item.titles));
    let body = first(&item.bodies);
    if title.is_empty() && body.is_empty() {
        return None;
    }
    let mut a = Article::new(title, body);
    a.url = item.link;
    a.published = item.published;
    if let Some(id) = item.id {
        a.meta.insert("id".into(), Value::String(id));
    }
    let authors: Vec<Value> = item
        .authors
        .iter()
        .map(|name| super::one_line(&feed_xml::decode_references(name)))
        .filter(|name| !name.is_empty())
        .map(Value::String)
        .collect();
    if !authors.is_empty() {
        a.meta.insert("authors".into(), Value::Array(authors));
    }
    let categories: Vec<Value> = item
        .categories
        .iter()
        .map(|c| super::one_line(&feed_xml::decode_references(c)))
        .filter(|c| !c.is_empty())
        .map(Value::String)
        .collect();
    if !categories.is_empty() {
        a.meta.insert("categories".into(), Value::Array(categories));
    }
    Some(a)
}

/// A feed text as plain text: HTML read as a browser shows it; plain text with its character
/// references decoded, and read as HTML when it is RSS's and holds HTML tags.
fn plain_text(t: &Text, rss: bool, budget: &Budget) -> String {
    if t.html {
        return html::to_text(&t.content, budget);
    }
    let text = feed_xml::decode_references(&t.content);
    if rss && looks_like_html(&text) {
        html::to_text(&text, budget)
    } else {
        text.trim().to_string()
    }
}

/// Whether plain text holds HTML: an end tag (or a line break) of an element HTML texts use.
fn looks_like_html(text: &str) -> bool {
    const ELEMENTS: &[&str] = &[
        "a",
        "abbr",
        "b",
        "big",
        "blockquote",
        "cite",
        "code",
        "div",
        "em",
        "font",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "i",
        "li",
        "ol",
        "p",
        "pre",
        "q",
        "s",
        "small",
        "span",
        "strike",
        "strong",
        "sub",
        "sup",
        "table",
        "td",
        "th",
        "tr",
        "u",
        "ul",
    ];
    text.match_indices('<').any(|(i, _)| {
        let rest = &text[i + 1..];
        if let Some(name) = rest.strip_prefix('/') {
            let end = name.find('>').unwrap_or(name.len());
            ELEMENTS
                .iter()
                .any(|e| name[..end].trim().eq_ignore_ascii_case(e))
        } else {
            let end = rest.find(['>', '/', ' ']).unwrap_or(rest.len());
            matches!(
                rest[..end].to_ascii_lowercase().as_str(),
                "br" | "p" | "img"
            ) && rest.contains('>')
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parser without a deadline.
    fn parse(bytes: &[u8]) -> Result<Parsed, String> {
        super::parse(bytes, &Budget::unlimited())
    }

    const RSS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Chip News</title>
<item><title>First &amp; best</title><link>https://example.com/1</link>
<description>&lt;p&gt;The &lt;b&gt;Deep&lt;/b&gt;&lt;b&gt;Seek&lt;/b&gt; story&lt;/p&gt;</description>
<pubDate>Tue, 02 Jan 2024 10:00:00 GMT</pubDate><category>chips</category></item>
<item><title>Second</title><link>https://example.com/2</link><description>Plain</description></item>
<item><guid>only-a-guid</guid></item>
</channel></rss>"#;

    #[test]
    fn rss_items_are_articles() {
        let parsed = parse(RSS.as_bytes()).unwrap();
        let a = &parsed.articles;
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].title, "First & best");
        assert_eq!(a[0].body, "The DeepSeek story");
        assert_eq!(a[0].url.as_deref(), Some("https://example.com/1"));
        assert_eq!(a[0].published.as_deref(), Some("2024-01-02T10:00:00Z"));
        assert_eq!(a[0].source.as_deref(), Some("Chip News"));
        assert_eq!(a[0].meta["categories"], serde_json::json!(["chips"]));
        assert_eq!(a[1].body, "Plain");
        assert!(
            parsed.warnings.is_empty(),
            "the empty item is left out silently: {:?}",
            parsed.warnings
        );
    }

    #[test]
    fn atom_and_declared_latin1() {
        let atom = b"<?xml version='1.0' encoding='iso-8859-1'?><feed xmlns='http://www.w3.org/2005/Atom'><title>F</title>\
            <entry><title type='html'>P\xe9kin</title><link href='https://e.com/a'/><updated>2024-05-06T07:08:09Z</updated>\
            <content type='xhtml'><div xmlns='http://www.w3.org/1999/xhtml'><p>Caf\xe9</p></div></content></entry></feed>";
        let a = &parse(atom).unwrap().articles[0];
        assert_eq!(a.title, "Pékin");
        assert_eq!(a.body, "Café");
        assert_eq!(a.published.as_deref(), Some("2024-05-06T07:08:09Z"));
    }

    #[test]
    fn bombs_and_non_feeds_are_refused() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><rss version="2.0"><channel><item><title>&lol2;</title></item></channel></rss>"#;
        assert!(parse(bomb.as_bytes()).unwrap_err().starts_with("refused"));
        assert!(
            parse(b"<html><body>x</body></html>")
                .unwrap_err()
                .starts_with("no RSS channel")
        );
        assert!(parse(b"<rss version=\"2.0\"><channel><item><title>cut").is_err());
    }
}
