//! Repairs for feeds that feed-rs refuses or reads as empty but that still hold readable items:
//! an `<rss>` root with a version it does not know (0.93, 0.94, 2.01 or none) and Atom 0.3 are
//! read as RSS 2.0 and Atom 1.0 (silently: these are old formats, not damage), and a document
//! cut off in the middle (a truncated download) is read up to its last complete item, with a
//! warning.

use quick_xml::Reader;
use quick_xml::events::Event;

const ATOM_03: &str = "http://purl.org/atom/ns#";
const ATOM_10: &str = "http://www.w3.org/2005/Atom";

/// A repaired copy of `xml`, and a warning when the repair recovered from damage; `None` when
/// nothing applies.
pub(super) fn repair(xml: &str) -> Option<(String, Option<String>)> {
    let mut fixed = None;
    if let Some(versioned) = rss_version(xml) {
        fixed = Some(versioned);
    }
    if xml.contains(ATOM_03) {
        fixed = Some(fixed.as_deref().unwrap_or(xml).replace(ATOM_03, ATOM_10));
    }
    match close_truncated(fixed.as_deref().unwrap_or(xml)) {
        Some((closed, items)) => Some((
            closed,
            Some(format!(
                "malformed or truncated XML: read the {items} complete items before the damage"
            )),
        )),
        None => fixed.map(|fixed| (fixed, None)),
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
