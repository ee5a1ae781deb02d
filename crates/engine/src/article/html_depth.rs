//! A guard in front of the HTML parser. html5ever's tree builder walks the stack of open
//! elements for many start tags, so a page nested 100,000 elements deep takes minutes (quadratic
//! time). Browsers cap the depth of the tree; this pre-scan estimates the parser's work instead
//! — the sum, over start tags, of the depth they open at — and refuses pages far beyond any
//! real one, in one linear pass.

/// Stack-walk steps allowed: real pages cost well under a million (10,000 tags 30 deep); a
/// page at the limit still parses in well under a second.
const WORK_LIMIT: u64 = 50_000_000;

/// Elements that never stay open: void elements, and those a later sibling closes implicitly.
const NOT_NESTING: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr", "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "tbody", "thead",
    "tfoot", "colgroup", "caption", "rb", "rt", "rp", "rtc", "html", "head", "body",
];

/// Elements whose content is text up to their end tag (`<div>` in a script is not a tag).
const RAW_TEXT: &[&str] = &["script", "style", "textarea", "title", "xmp", "noscript"];

/// Whether parsing `html` would cost more than [`WORK_LIMIT`] steps.
pub(super) fn too_deep(html: &str) -> bool {
    let bytes = html.as_bytes();
    let (mut depth, mut work) = (0u64, 0u64);
    let mut at = 0;
    while let Some(lt) = bytes[at..].iter().position(|&b| b == b'<') {
        at += lt + 1;
        let rest = &bytes[at..];
        if rest.starts_with(b"!--") {
            at += find(rest, b"-->").map_or(rest.len(), |end| end + 3);
            continue;
        }
        let closing = rest.first() == Some(&b'/');
        let name_start = usize::from(closing);
        let name_len = rest[name_start..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        if name_len == 0 {
            continue;
        }
        let name = &rest[name_start..name_start + name_len];
        let tag_end = rest.iter().position(|&b| b == b'>').unwrap_or(rest.len());
        let nests = !NOT_NESTING
            .iter()
            .any(|n| n.as_bytes().eq_ignore_ascii_case(name));
        if closing {
            depth -= u64::from(nests && depth > 0);
        } else if RAW_TEXT
            .iter()
            .any(|n| n.as_bytes().eq_ignore_ascii_case(name))
        {
            // Skip to the matching end tag (or the end of the document).
            let mut end_tag = b"</".to_vec();
            end_tag.extend(name.to_ascii_lowercase());
            at += find_ci(&rest[tag_end..], &end_tag).map_or(rest.len(), |i| tag_end + i);
            continue;
        } else if nests && rest.get(tag_end.wrapping_sub(1)) != Some(&b'/') {
            depth += 1;
            work += depth;
            if work > WORK_LIMIT {
                return true;
            }
        }
        at += tag_end.min(rest.len());
    }
    false
}

/// The text of markup too deep to parse, tags dropped (entities are left as written): what is
/// kept of such a fragment rather than nothing.
pub(super) fn strip_tags(markup: &str) -> String {
    let mut text = String::with_capacity(markup.len() / 2);
    let mut in_tag = false;
    for c in markup.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    super::one_line(&text)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn find_ci(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_shapes_pass_and_absurd_nesting_is_caught() {
        let page = format!(
            "<html><body>{}",
            "<div><p>text<br><img src=x><span>a</span></div>".repeat(20_000)
        );
        assert!(!too_deep(&page));
        let unclosed_paragraphs = "<p>para".repeat(200_000);
        assert!(!too_deep(&unclosed_paragraphs));
        let scripts = "<script>var s = '<div>';</script>".repeat(50_000);
        assert!(!too_deep(&scripts));
        assert!(too_deep(&"<div>".repeat(100_000)));
        assert!(too_deep(&"<span><b>".repeat(10_000)));
    }

    #[test]
    fn stripped_markup_keeps_its_text() {
        assert_eq!(
            strip_tags("<div><b>Deep</b> <i>H200</i></div>"),
            "Deep H200"
        );
    }
}
