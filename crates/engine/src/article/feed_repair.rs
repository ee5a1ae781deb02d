//! What feed-rs needs to read a well-formed feed (`feed_xml` made it so) it would otherwise
//! refuse or read as empty: an `<rss>` root with a version it does not know (0.93, 0.94, 2.01
//! or none) and Atom 0.3 are read as RSS 2.0 and Atom 1.0, with Atom 0.3's MIME-typed texts
//! and its modes (`base64` decoded, `xml` read as XHTML) — silently: these are old formats, not
//! damage; a text element whose `type` feed-rs refuses (`<title type="">`,
//! `<rights type="application/octet-stream">`: it gives up on the whole feed for one of them)
//! is read as text, or decoded when it holds base64 as Atom says a non-text type does, with a
//! warning.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::ops::Range;

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};

const ATOM_03: &str = "http://purl.org/atom/ns#";
const ATOM_10: &str = "http://www.w3.org/2005/Atom";
const MEDIA_RSS: &str = "http://search.yahoo.com/mrss/";

/// `xml` (well-formed, from `feed_xml`) as feed-rs reads it, and a warning when texts of a
/// type feed-rs refuses had to be read as text; borrowed when nothing applies.
pub(super) fn normalize(xml: &str) -> (Cow<'_, str>, Option<String>) {
    let mut fixed = rss_version(xml);
    if xml.contains(ATOM_03) {
        fixed = Some(fixed.as_deref().unwrap_or(xml).replace(ATOM_03, ATOM_10));
    }
    let mut warning = None;
    // Only Atom's and Media RSS's texts are typed.
    let typed = [ATOM_10, ATOM_03, MEDIA_RSS]
        .iter()
        .any(|ns| xml.contains(ns));
    if let Some((typed, w)) = typed
        .then(|| text_types(fixed.as_deref().unwrap_or(xml)))
        .flatten()
    {
        fixed = Some(typed);
        // Atom 0.3 typed its texts with MIME types (`text/plain`, `application/xhtml+xml`)
        // and modes (`base64`, `xml`): reading them is reading the old format, not repairing
        // damage.
        if !xml.contains(ATOM_03) {
            warning = w;
        }
    }
    match fixed {
        Some(fixed) => (Cow::Owned(fixed), warning),
        None => (Cow::Borrowed(xml), None),
    }
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

    /// The accepted type to read a refused `kind` as, written in `mode`: XHTML for XML markup
    /// and when it says so, HTML when it says so and for decoded base64 of no text type (which
    /// feedparser's tests hold to be markup), else plain text.
    fn replacement_in(self, kind: &str, mode: Mode) -> &'static str {
        let kind = kind.to_ascii_lowercase();
        let kind = kind.as_str();
        match self {
            TextElement::Atom | TextElement::AtomContent if mode == Mode::Xml => "xhtml",
            TextElement::Media if mode == Mode::Xml => "html",
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
    /// Its `mode` (Atom 0.3).
    mode: Mode,
    /// Whether its content has been only text so far.
    plain: bool,
}

/// Atom 0.3's `mode` of a text: how its content is written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// As its type says (or `escaped`).
    AsTyped,
    /// Base64 of the text.
    Base64,
    /// XML markup.
    Xml,
}

/// The document with each text element of a type feed-rs refuses (or misreads) rewritten to
/// one it reads, and a warning naming the types it refuses; `None` when there is none.
fn text_types(xml: &str) -> Option<(String, Option<String>)> {
    let mut reader = NsReader::from_str(xml);
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    let mut kinds = BTreeSet::new();
    let mut refused_count = 0;
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
                let Some((kind, mode, refused)) = refused_type(&e, element) else {
                    continue;
                };
                if refused {
                    kinds.insert(kind.clone());
                    refused_count += 1;
                }
                let head = without_type(&e);
                let replacement = element.replacement_in(&kind, mode);
                if xml[before..after].ends_with("/>") {
                    let tag = format!("{head} type=\"{replacement}\"/>");
                    edits.push((before..after, tag));
                } else {
                    pending = Some(Pending {
                        element,
                        tag: before..after,
                        head,
                        kind,
                        mode,
                        plain: true,
                    });
                }
            }
            Event::Text(_) => {}
            Event::End(_) if pending.is_some() => {
                let p = pending.take()?;
                let content = &xml[p.tag.end..before];
                let decoded = match p.mode {
                    Mode::Base64 => decode_base64(&super::feed_fallback::inner_text(content)),
                    _ => base64_text(&p.kind, content),
                };
                edits.push(match decoded.filter(|_| p.plain) {
                    Some(decoded) => {
                        let kind = if p.mode == Mode::Base64 {
                            &p.kind
                        } else {
                            BASE64
                        };
                        let replacement = p.element.replacement_in(kind, Mode::AsTyped);
                        let replacement = if p.mode == Mode::Base64 && replacement == "xhtml" {
                            "html"
                        } else {
                            replacement
                        };
                        (
                            p.tag.start..before,
                            format!("{} type=\"{replacement}\">{}", p.head, escape(&decoded)),
                        )
                    }
                    None => {
                        let replacement = p.element.replacement_in(&p.kind, p.mode);
                        (p.tag, format!("{} type=\"{replacement}\">", p.head))
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
        let tag = format!(
            "{} type=\"{}\">",
            p.head,
            p.element.replacement_in(&p.kind, p.mode)
        );
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
    let warning = (refused_count > 0).then(|| {
        format!(
            "read {refused_count} elements of a content type feed-rs refuses ({}) as text",
            kinds.join(", ")
        )
    });
    Some((fixed, warning))
}

/// The `type` of a text element when feed-rs would refuse it, or would read it as it is
/// where Atom says it is base64 (content of a MIME type that is not text nor XML) or its
/// `mode` (Atom 0.3) says how to read it (`base64`, `xml`); that mode; and whether feed-rs
/// refuses it.
fn refused_type(e: &BytesStart, element: TextElement) -> Option<(String, Mode, bool)> {
    let value = |name: &str| {
        let attr = e.try_get_attribute(name).ok()??;
        Some(attr.value.trim().to_string())
    };
    let mode = match value("mode").map(|m| m.to_ascii_lowercase()).as_deref() {
        Some("base64") => Mode::Base64,
        Some("xml") => Mode::Xml,
        _ => Mode::AsTyped,
    };
    let kind = value("type");
    if mode == Mode::Xml
        && let Some(kind) = kind.as_deref().filter(|k| k.contains("xhtml"))
    {
        // Read as XHTML by its type already.
        return (!element.accepts(kind)).then(|| (kind.to_string(), Mode::AsTyped, true));
    }
    match (kind, mode) {
        (kind, Mode::Base64 | Mode::Xml) => Some((kind.unwrap_or_default(), mode, false)),
        (Some(kind), Mode::AsTyped) if !element.accepts(&kind) => Some((kind, mode, true)),
        (Some(kind), Mode::AsTyped) => {
            let lower = kind.to_ascii_lowercase();
            let base64 = matches!(element, TextElement::AtomContent)
                && lower.contains('/')
                && !lower.starts_with("text/")
                && !lower.contains("xml")
                && !lower.contains("html");
            base64.then_some((kind, Mode::AsTyped, false))
        }
        (None, Mode::AsTyped) => None,
    }
}

/// `<name attr="…"` without its `type` and `mode` attributes (other attributes kept as
/// written).
fn without_type(e: &BytesStart) -> String {
    let mut head = format!("<{}", e.name().as_ref());
    for attr in e.attributes().flatten() {
        if matches!(attr.key.as_ref(), "type" | "mode") {
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
    decode_base64(content)
}

/// Base64 of UTF-8 text without control characters, decoded.
fn decode_base64(content: &str) -> Option<String> {
    let text = super::feed_fallback::base64(content)?;
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

    fn repair(xml: &str) -> Option<(String, Option<String>)> {
        match normalize(xml) {
            (Cow::Owned(fixed), warning) => Some((fixed, warning)),
            (Cow::Borrowed(_), _) => None,
        }
    }

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
    fn atom_03_modes_are_read_silently() {
        let atom = r#"<feed version="0.3" xmlns="http://purl.org/atom/ns#"><entry>
<title type="text/html" mode="base64">RXhhbXBsZSA8Yj5BdG9tPC9iPg==</title>
<summary mode="base64">RXhhbXBsZQ==</summary>
<content type="text/html" mode="xml"><b>x</b></content></entry></feed>"#;
        let (fixed, warning) = repair(atom).unwrap();
        assert_eq!(
            fixed,
            r#"<feed version="0.3" xmlns="http://www.w3.org/2005/Atom"><entry>
<title type="html">Example &lt;b&gt;Atom&lt;/b&gt;</title>
<summary type="text">Example</summary>
<content type="xhtml"><b>x</b></content></entry></feed>"#
        );
        assert_eq!(warning, None);
    }
}
