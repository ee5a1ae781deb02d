//! OPML, as feed readers export subscriptions: every `<outline>` with an `xmlUrl` is a feed,
//! at any depth (readers nest feeds in folders, folders in folders). Its `title` (else `text`)
//! names it until the feed gives its own.

use quick_xml::events::{BytesStart, Event};

/// A feed an OPML file lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outline {
    pub url: String,
    pub title: Option<String>,
}

/// A problem reading an OPML file: where (1-based line and column) and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpmlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// The feeds `text` lists, in document order.
pub fn parse(text: &str) -> Result<Vec<Outline>, OpmlError> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut feeds = Vec::new();
    let mut root_seen = false;
    loop {
        let at = reader.buffer_position() as usize;
        let event = reader
            .read_event()
            .map_err(|e| error_at(text, reader.error_position() as usize, e.to_string()))?;
        match event {
            Event::Start(e) | Event::Empty(e) => {
                let name = e.local_name();
                let name = name.as_ref();
                if !root_seen {
                    root_seen = true;
                    if !name.eq_ignore_ascii_case("opml") {
                        return Err(error_at(
                            text,
                            at,
                            format!(
                                "not an OPML file: its root element is <{}>, not <opml>",
                                name
                            ),
                        ));
                    }
                }
                if name.eq_ignore_ascii_case("outline")
                    && let Some(feed) = outline(&e).map_err(|m| error_at(text, at, m))?
                {
                    feeds.push(feed);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !root_seen {
        return Err(error_at(text, 0, "empty: no <opml> element".into()));
    }
    Ok(feeds)
}

/// The feed an `<outline>` stands for, if it has an `xmlUrl` (else it is a folder or a note).
fn outline(e: &BytesStart) -> Result<Option<Outline>, String> {
    let mut url = None;
    let mut title = None;
    let mut text = None;
    for attribute in e.attributes().with_checks(false) {
        let attribute = attribute.map_err(|e| e.to_string())?;
        let value = || -> Result<String, String> {
            attribute
                .normalized_value(quick_xml::XmlVersion::default())
                .map(|v| v.trim().to_string())
                .map_err(|e| e.to_string())
        };
        match attribute.key.local_name().as_ref() {
            k if k.eq_ignore_ascii_case("xmlurl") => url = Some(value()?),
            "title" => title = Some(value()?),
            "text" => text = Some(value()?),
            _ => {}
        }
    }
    Ok(url.filter(|u| !u.is_empty()).map(|url| Outline {
        url,
        title: title.or(text).filter(|t| !t.is_empty()),
    }))
}

/// An error at byte `offset` of `text`, with its line and (character) column.
fn error_at(text: &str, offset: usize, message: String) -> OpmlError {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    OpmlError {
        line,
        column,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_outlines_are_all_read() {
        let opml = r#"<?xml version="1.0"?>
<opml version="2.0"><head><title>Subs</title></head><body>
  <outline text="Tech">
    <outline text="Chips" title="Chip news" type="rss" xmlUrl="https://a.example/rss?x=1&amp;y=2"/>
    <outline text="Deeper"><outline text="B" xmlURL="http://b.example/atom"/></outline>
  </outline>
  <outline text="a note"/>
</body></opml>"#;
        let feeds = parse(opml).unwrap();
        assert_eq!(
            feeds,
            [
                Outline {
                    url: "https://a.example/rss?x=1&y=2".into(),
                    title: Some("Chip news".into())
                },
                Outline {
                    url: "http://b.example/atom".into(),
                    title: Some("B".into())
                },
            ]
        );
    }

    #[test]
    fn errors_say_where() {
        let e = parse("<opml>\n<body>\n  <outline xmlUrl=\"x\"></body></opml>").unwrap_err();
        assert_eq!(e.line, 3, "{e:?}");
        let e = parse("<rss/>").unwrap_err();
        assert!(e.message.starts_with("not an OPML file"), "{e:?}");
        assert!(parse("").is_err());
    }
}
