//! Feeds (`.xml`, `.rss`, `.atom`, and JSON Feed from `.json`): RSS 0.9x/1.0/2.0, Atom and
//! JSON Feed through `feed-rs`, one article per item, so that each item has its own content
//! hash and a re-downloaded feed alerts only on its new items.
//!
//! An item's title and text (content, else summary or description, else its media description)
//! are read as HTML unless the feed says they are plain text; `link` is the item's alternate
//! link, `published` its publication (else update) time in RFC 3339, `source` the feed's title.
//!
//! Feeds feed-rs refuses are retried once repaired (see `feed_repair`), with a warning.
//!
//! Entity declarations in a DTD are never expanded (feed-rs resolves only XML's predefined
//! entities and character references), so an entity-expansion bomb costs one linear pass. A
//! DTD whose entities refer to other entities — the shape of a bomb — refuses the file; other
//! declared entities are reported and left as written.

use feed_rs::model::{Entry, Feed, Text};
use feed_rs::parser::{ParseErrorKind, ParseFeedError};
use serde_json::Value;

use super::{Article, Budget, Parsed, decode, feed_repair, html};

pub(super) fn parse(bytes: &[u8], budget: &Budget) -> Result<Parsed, String> {
    let text = decode::decode(bytes, decode::xml_encoding(bytes));
    let xml = decode::as_utf8_xml(&text);
    let mut warnings = Vec::new();
    match declared_entities(&xml) {
        Entities::None => {}
        Entities::Nested => {
            return Err(
                "refused: its DTD declares entities built from other entities \
                        (an entity-expansion bomb); DTD entities are never expanded"
                    .into(),
            );
        }
        Entities::Plain(n) => {
            warnings.push(format!("{n} entities declared in its DTD left unexpanded"))
        }
    }
    let feed = match feed_parser().parse(xml.as_bytes()) {
        Ok(feed) if !feed.entries.is_empty() => feed,
        first => {
            let repaired = feed_repair::repair(&xml).and_then(|(fixed, warning)| {
                let feed = feed_parser().parse(fixed.as_bytes()).ok()?;
                Some((feed, warning))
            });
            match (repaired, first) {
                (Some((feed, warning)), _) => {
                    warnings.extend(warning);
                    feed
                }
                (None, Ok(feed)) => feed,
                (None, Err(error)) => return Err(describe(error)),
            }
        }
    };
    let mut parsed = articles(feed, budget)?;
    parsed.warnings.splice(0..0, warnings);
    Ok(parsed)
}

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
    None,
    /// Entities whose values refer to other entities.
    Nested,
    Plain(usize),
}

fn declared_entities(xml: &str) -> Entities {
    let Some(start) = xml.find("<!DOCTYPE") else {
        return Entities::None;
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
        Entities::Nested
    } else if declarations.is_empty() {
        Entities::None
    } else {
        Entities::Plain(declarations.len())
    }
}

/// One article per entry. Entries with neither title nor text are left out silently: they
/// give rules nothing to match, and a file is not damaged by having them.
fn articles(feed: Feed, budget: &Budget) -> Result<Parsed, String> {
    let source = feed
        .title
        .as_ref()
        .map(|t| super::one_line(&text_of(t, budget)))
        .filter(|t| !t.is_empty());
    let mut articles = Vec::new();
    for entry in feed.entries {
        budget.check()?;
        if let Some(mut a) = article(entry, budget) {
            a.source.clone_from(&source);
            articles.push(a);
        }
    }
    budget.check()?;
    Ok(articles.into())
}

fn article(entry: Entry, budget: &Budget) -> Option<Article> {
    let title = entry
        .title
        .as_ref()
        .map(|t| super::one_line(&text_of(t, budget)))
        .unwrap_or_default();
    let body = entry
        .content
        .as_ref()
        .and_then(|c| {
            let body = c.body.as_deref()?;
            Some(if c.content_type.to_string().starts_with("text/plain") {
                body.trim().to_string()
            } else {
                html::to_text(body, budget)
            })
        })
        .filter(|b| !b.is_empty())
        .or_else(|| entry.summary.as_ref().map(|t| text_of(t, budget)))
        .filter(|b| !b.is_empty())
        .or_else(|| {
            entry
                .media
                .iter()
                .find_map(|m| m.description.as_ref().map(|t| text_of(t, budget)))
        })
        .unwrap_or_default();
    if title.is_empty() && body.is_empty() {
        return None;
    }
    let mut a = Article::new(title, body);
    a.url = entry
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or(entry.links.first())
        .map(|l| l.href.clone());
    a.published = entry
        .published
        .or(entry.updated)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    if !entry.id.is_empty() {
        a.meta.insert("id".into(), Value::String(entry.id));
    }
    let authors: Vec<Value> = entry
        .authors
        .into_iter()
        .filter_map(|p| p.name.map(Value::String))
        .collect();
    if !authors.is_empty() {
        a.meta.insert("authors".into(), Value::Array(authors));
    }
    let categories: Vec<Value> = entry
        .categories
        .into_iter()
        .map(|c| Value::String(c.label.unwrap_or(c.term)))
        .collect();
    if !categories.is_empty() {
        a.meta.insert("categories".into(), Value::Array(categories));
    }
    Some(a)
}

/// A feed text as plain text: HTML unless the feed marks it as plain.
fn text_of(t: &Text, budget: &Budget) -> String {
    if t.content_type.to_string().starts_with("text/plain") {
        t.content.trim().to_string()
    } else {
        html::to_text(&t.content, budget)
    }
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
            "the empty item is left out silently"
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
