//! Repairs for feeds that feed-rs refuses or reads as empty but that still hold readable items:
//! an `<rss>` root with a version it does not know (0.93, 0.94, 2.01 or none) and Atom 0.3 are
//! read as RSS 2.0 and Atom 1.0, with Atom 0.3's MIME-typed texts (silently: these are old
//! formats, not damage); a text element whose `type` feed-rs refuses (`<title type="">`,
//! `<rights type="application/octet-stream">`: it gives up on the whole feed for one of them)
//! is read as text, or decoded when it holds base64 as Atom says a non-text type does; and a
//! document cut off in the middle (a truncated download) is read up to its last complete item.
//! Each repair of damage is one warning.

use std::collections::BTreeSet;
use std::ops::Range;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::{NsReader, Reader};

const ATOM_03: &str = "http://purl.org/atom/ns#";
const ATOM_10: &str = "http://www.w3.org/2005/Atom";
const MEDIA_RSS: &str = "http://search.yahoo.com/mrss/";

/// A repaired copy of `xml`, and a warning when the repair recovered from damage; `None` when
/// nothing applies.
pub(super) fn repair(xml: &str) -> Option<(String, Option<String>)> {
    let mut fixed = rss_version(xml);
    if xml.contains(ATOM_03) {
        fixed = Some(fixed.as_deref().unwrap_or(xml).replace(ATOM_03, ATOM_10));
    }
    let mut warnings = Vec::new();
    if let Some((typed, warning)) = text_types(fixed.as_deref().unwrap_or(xml)) {
        fixed = Some(typed);
        // Atom 0.3 typed its texts with MIME types (`text/plain`, `application/xhtml+xml`):
        // reading them is reading the old format, not repairing damage.
        if !xml.contains(ATOM_03) {
            warnings.push(warning);
        }
    }
    if let Some((closed, items)) = close_truncated(fixed.as_deref().unwrap_or(xml)) {
        fixed = Some(closed);
        warnings.push(format!(
            "malformed or truncated XML: read the {items} complete items before the damage"
        ));
    }
    fixed.map(|fixed| (fixed, (!warnings.is_empty()).then(|| warnings.join("; "))))
}

/// The document with its `<rss>` root's version set to 2.0, when it is missing or unknown.
fn rss_version(xml: &str) -> Option<String> {
    let start = xml
        .match_indices("<rss")
        .map(|(i, _)| i)
        .find(|&i| xml[i + 4..].starts_with(|c: char| c.is_whitespace() || c == '>'))?;
    let end = start + xml[start..].find('>')?;
    let tag = &xml[start..end];
    let known = [
        "\"2.0\"", "'2.0'", "\"0.91\"", "'0.91'", "\"0.92\"", "'0.92'",
    ];
    if known.iter().any(|v| tag.contains(&format!("version={v}"))) {
        return None;
    }
    let attrs = match tag.find("version=") {
        // Drops the old `version="…"` attribute (quoted either way).
        Some(at) => {
            let value = &tag[at + 8..];
            // Only a quoted value can be dropped; anything else is not an RSS tag to repair
            // (and may not even start on a one-byte character).
            let quote = value.chars().next().filter(|q| matches!(q, '"' | '\''))?;
            let len = value[1..].find(quote)? + 2;
            format!("{}{}", tag[4..at].trim_end(), &value[len..])
        }
        None => tag[4..].to_string(),
    };
    Some(format!(
        "{}<rss version=\"2.0\"{attrs}{}",
        &xml[..start],
        &xml[end..]
    ))
}

/// Cuts a document that does not parse after its last complete `</item>` or `</entry>` and
/// closes the elements still open there, with the number of items kept.
fn close_truncated(xml: &str) -> Option<(String, usize)> {
    if parses(xml) {
        return None;
    }
    let cut = ["</item>", "</entry>"]
        .iter()
        .filter_map(|end| xml.rfind(end).map(|at| at + end.len()))
        .max()?;
    let kept = &xml[..cut];
    let mut reader = Reader::from_str(kept);
    let mut open: Vec<String> = Vec::new();
    let mut items = 0;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => open.push(e.name().as_ref().to_string()),
            Ok(Event::End(e)) => {
                open.pop();
                let name = e.name();
                let local = name.local_name();
                items += usize::from(matches!(local.as_ref(), "item" | "entry"));
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    let mut closed = kept.to_string();
    for name in open.iter().rev() {
        closed.push_str(&format!("</{name}>"));
    }
    (items > 0).then_some((closed, items))
}

/// Whether the whole document is well-formed as far as nesting goes.
fn parses(xml: &str) -> bool {
    let mut reader = Reader::from_str(xml);
    let mut depth = 0usize;
    loop {
        match reader.read_event() {
            Ok(Event::Start(_)) => depth += 1,
            Ok(Event::End(_)) => depth = depth.saturating_sub(1),
            Ok(Event::Eof) => return depth == 0,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}

/// Elements feed-rs reads as text, by the `type` values it accepts there.
#[derive(Clone, Copy)]
enum TextElement {
    /// Atom's `title`, `subtitle`, `rights`, `summary`.
    Atom,
    /// Atom's `content`: also any MIME type.
    AtomContent,
    /// Media RSS `title` and `description`.
    Media,
}

impl TextElement {
    fn of(namespace: &str, local: &str) -> Option<TextElement> {
        match (namespace, local) {
            (ATOM_10, "title" | "subtitle" | "rights" | "summary") => Some(TextElement::Atom),
            (ATOM_10, "content") => Some(TextElement::AtomContent),
            (MEDIA_RSS, "title" | "description") => Some(TextElement::Media),
            _ => None,
        }
    }

    fn accepts(self, kind: &str) -> bool {
        match self {
            TextElement::Atom => matches!(kind, "text" | "html" | "text/html" | "xhtml"),
            TextElement::AtomContent => matches!(kind, "text" | "html" | "xhtml") || is_mime(kind),
            TextElement::Media => matches!(kind, "plain" | "html"),
        }
    }

    /// The accepted type to read a refused `kind` as: XHTML or HTML when it says so, HTML
    /// for decoded base64 (which feedparser's tests hold to be markup), else plain text.
    fn replacement(self, kind: &str) -> &'static str {
        match self {
            TextElement::Atom | TextElement::AtomContent if kind.contains("xhtml") => "xhtml",
            _ if kind.contains("html") || kind == BASE64 => "html",
            TextElement::Media => "plain",
            _ => "text",
        }
    }
}

/// `type/subtype`, roughly as the `mediatype` crate feed-rs uses would parse it.
fn is_mime(kind: &str) -> bool {
    let token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    kind.split_once('/')
        .is_some_and(|(top, sub)| token(top) && token(sub.split(';').next().unwrap_or("")))
}

/// What [`TextElement::replacement`] is asked for decoded base64.
const BASE64: &str = "base64";

/// An element being rewritten whose content is not read yet.
struct Pending {
    element: TextElement,
    /// Where its start tag begins and its content starts.
    tag: Range<usize>,
    /// Its start tag without `type`, to be closed with the new one.
    head: String,
    kind: String,
    /// Whether its content has been only text so far.
    plain: bool,
}

/// The document with each text element of a type feed-rs refuses rewritten to one it reads,
/// and a warning naming the types; `None` when there is none.
fn text_types(xml: &str) -> Option<(String, String)> {
    let mut reader = NsReader::from_str(xml);
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    let mut kinds = BTreeSet::new();
    let mut pending: Option<Pending> = None;
    loop {
        let before = reader.buffer_position() as usize;
        let Ok((ns, event)) = reader.read_resolved_event() else {
            break;
        };
        let element = match &ns {
            ResolveResult::Bound(Namespace(ns)) => match &event {
                Event::Start(e) | Event::Empty(e) => TextElement::of(ns, e.local_name().as_ref()),
                _ => None,
            },
            _ => None,
        };
        let after = reader.buffer_position() as usize;
        match event {
            Event::Start(e) | Event::Empty(e) if pending.is_none() => {
                let Some(element) = element else { continue };
                let Some(kind) = refused_type(&e, element) else {
                    continue;
                };
                kinds.insert(kind.clone());
                let head = without_type(&e);
                if xml[before..after].ends_with("/>") {
                    let tag = format!("{head} type=\"{}\"/>", element.replacement(&kind));
                    edits.push((before..after, tag));
                } else {
                    pending = Some(Pending {
                        element,
                        tag: before..after,
                        head,
                        kind,
                        plain: true,
                    });
                }
            }
            Event::Text(_) => {}
            Event::End(_) if pending.is_some() => {
                let p = pending.take()?;
                let content = &xml[p.tag.end..before];
                edits.push(match base64_text(&p.kind, content).filter(|_| p.plain) {
                    Some(decoded) => (
                        p.tag.start..before,
                        format!(
                            "{} type=\"{}\">{}",
                            p.head,
                            p.element.replacement(BASE64),
                            escape(&decoded)
                        ),
                    ),
                    None => {
                        let tag =
                            format!("{} type=\"{}\">", p.head, p.element.replacement(&p.kind));
                        (p.tag, tag)
                    }
                });
            }
            Event::Eof => break,
            _ => {
                if let Some(p) = &mut pending {
                    p.plain = false;
                }
            }
        }
    }
    if let Some(p) = pending {
        let tag = format!("{} type=\"{}\">", p.head, p.element.replacement(&p.kind));
        edits.push((p.tag, tag));
    }
    if edits.is_empty() {
        return None;
    }
    // The edits are in the document's order and do not overlap: copied around in one pass
    // (replacing each in place moved the rest of the document each time).
    let mut fixed = String::with_capacity(xml.len());
    let mut copied = 0;
    for (range, replacement) in &edits {
        fixed.push_str(&xml[copied..range.start]);
        fixed.push_str(replacement);
        copied = range.end;
    }
    fixed.push_str(&xml[copied..]);
    let kinds: Vec<String> = kinds.iter().map(|k| format!("{k:?}")).collect();
    Some((
        fixed,
        format!(
            "read {} elements of a content type feed-rs refuses ({}) as text",
            edits.len(),
            kinds.join(", ")
        ),
    ))
}

/// The `type` of a text element when feed-rs would refuse it.
fn refused_type(e: &BytesStart, element: TextElement) -> Option<String> {
    let kind = e.try_get_attribute("type").ok()??;
    let kind = kind.value.trim().to_string();
    (!element.accepts(&kind)).then_some(kind)
}

/// `<name attr="…"` without its `type` attribute (other attributes kept as written).
fn without_type(e: &BytesStart) -> String {
    let mut head = format!("<{}", e.name().as_ref());
    for attr in e.attributes().flatten() {
        if attr.key.as_ref() == "type" {
            continue;
        }
        let value = &attr.value;
        let quote = if value.contains('"') { '\'' } else { '"' };
        head.push_str(&format!(" {}={quote}{value}{quote}", attr.key.as_ref()));
    }
    head
}

/// The text in `content` when its type is not a text type and it is base64 of UTF-8 text.
fn base64_text(kind: &str, content: &str) -> Option<String> {
    if kind.is_empty() || kind.starts_with("text") || kind.contains("html") || kind.contains("xml")
    {
        return None;
    }
    let mut bytes = Vec::new();
    let (mut bits, mut count) = (0u32, 0);
    let digits = content.trim().trim_end_matches('=');
    for c in digits.bytes().filter(|b| !b.is_ascii_whitespace()) {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(value);
        count += 6;
        if count >= 8 {
            count -= 8;
            bytes.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    let text = String::from_utf8(bytes).ok()?;
    let xml_char = |c: char| !c.is_control() || matches!(c, '\t' | '\n' | '\r');
    (!text.trim().is_empty() && text.chars().all(xml_char)).then_some(text)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_rss_versions_become_2_0() {
        let (fixed, warning) = repair("<rss version='0.94' a='b'><channel/></rss>").unwrap();
        assert_eq!(fixed, "<rss version=\"2.0\" a='b'><channel/></rss>");
        assert_eq!(warning, None);
        let (fixed, _) =
            repair(r#"<feed version="0.3" xmlns="http://purl.org/atom/ns#"/>"#).unwrap();
        assert_eq!(
            fixed,
            r#"<feed version="0.3" xmlns="http://www.w3.org/2005/Atom"/>"#
        );
        assert_eq!(
            rss_version("<rss>").as_deref(),
            Some("<rss version=\"2.0\">")
        );
        assert!(repair("<rss version=\"2.0\"><channel/></rss>").is_none());
    }

    #[test]
    fn refused_text_types_are_read_as_text_or_decoded() {
        let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><rights type="application/octet-stream">
PHA+wqkgQSAmYW1wOyBCPC9wPg==
</rights><entry><title type="" xml:lang='en'>evil</title><summary type="text/plain"/>
<content type="bogus"><b>x</b></content><title type="html">ok</title></entry></feed>"#;
        let (fixed, warning) = repair(atom).unwrap();
        assert_eq!(
            fixed,
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><rights type="html">&lt;p&gt;© A &amp;amp; B&lt;/p&gt;</rights><entry><title xml:lang="en" type="text">evil</title><summary type="text"/>
<content type="text"><b>x</b></content><title type="html">ok</title></entry></feed>"#
        );
        assert_eq!(
            warning.unwrap(),
            r#"read 4 elements of a content type feed-rs refuses ("", "application/octet-stream", "bogus", "text/plain") as text"#
        );
        // Not base64, or not text once decoded: read as text.
        assert_eq!(base64_text("application/octet-stream", "évil"), None);
        assert_eq!(base64_text("image/png", "iVBORw0KGgo="), None);
        assert_eq!(base64_text("text/plain", "YQ=="), None);
        assert!(
            repair(r#"<feed xmlns="http://www.w3.org/2005/Atom"><title type="xhtml"/></feed>"#)
                .is_none()
        );
    }

    #[test]
    fn truncated_documents_keep_their_complete_items() {
        let xml = "<rss version=\"2.0\"><channel><item><title>a</title></item><item><title>b</ti";
        let (fixed, warning) = repair(xml).unwrap();
        assert_eq!(
            fixed,
            "<rss version=\"2.0\"><channel><item><title>a</title></item></channel></rss>"
        );
        assert!(warning.unwrap().contains("the 1 complete items"));
        assert!(repair("<rss version=\"2.0\"><channel><title>x").is_none());
    }
}
