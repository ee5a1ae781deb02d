//! Repairs of damaged markup that a browser's parser would turn into a page without a body.
//!
//! A `<title>` is read as raw text up to its `</title>`: a page whose `</title>` is missing or
//! mangled (`</titlevalue="true" -->`, as truncated saves and crawlers' rewrites leave it) is
//! one long title and no body at all, by the standard's rules. Lenient parsers (libxml2, which
//! most extraction tools use) close the title at the next tag instead; so does [`close_title`].

use std::borrow::Cow;

/// Finds `needle` (lowercase ASCII) in `hay` ignoring ASCII case, from `from`.
fn find_ci(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = needle[0];
    let mut at = from;
    while at + needle.len() <= hay.len() {
        let i = at
            + hay[at..]
                .iter()
                .position(|b| b.to_ascii_lowercase() == first)?;
        if hay.len() >= i + needle.len() && hay[i..i + needle.len()].eq_ignore_ascii_case(needle) {
            return Some(i);
        }
        at = i + 1;
    }
    None
}

/// Whether `b` ends a tag name.
fn ends_name(b: Option<&u8>) -> bool {
    matches!(
        b,
        None | Some(b'\t' | b'\n' | b'\x0c' | b'\r' | b' ' | b'/' | b'>')
    )
}

/// `html` with its first `<title>` closed before the next tag when no `</title>` closes it:
/// borrowed when the title is closed (or there is none). One scan of the page.
pub(super) fn close_title(html: Cow<'_, str>) -> Cow<'_, str> {
    let bytes = html.as_bytes();
    // The first `<title` start tag, and the end of that tag.
    let mut at = 0;
    let open_end = loop {
        let Some(i) = find_ci(bytes, b"<title", at) else {
            return html;
        };
        at = i + 6;
        if ends_name(bytes.get(at)) {
            match bytes[at..].iter().position(|&b| b == b'>') {
                Some(gt) => break at + gt + 1,
                None => return html,
            }
        }
    };
    // Its closing tag: `</title` ending the name, as the tokenizer wants it.
    let mut at = open_end;
    while let Some(i) = find_ci(bytes, b"</title", at) {
        if ends_name(bytes.get(i + 7)) {
            return html;
        }
        at = i + 7;
    }
    // No closing tag: the title ends where the next tag starts (or the page ends).
    let close = bytes[open_end..]
        .iter()
        .position(|&b| b == b'<')
        .map_or(bytes.len(), |p| open_end + p);
    let mut out = String::with_capacity(html.len() + 8);
    out.push_str(&html[..close]);
    out.push_str("</title>");
    out.push_str(&html[close..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closes_a_title_left_open_before_the_next_tag() {
        let page = "<html><head><title>News - Ne(x >= 1)\n<script>x()</script></head>\
                    <body><p>Story</p></body></html>";
        let fixed = close_title(Cow::Borrowed(page));
        assert!(
            fixed.contains("<title>News - Ne(x >= 1)\n</title><script>"),
            "{fixed}"
        );
    }

    #[test]
    fn a_mangled_end_tag_does_not_close_it() {
        let page = "<title id=\"t\">Oil</titlevalue=\"true\" -->\n<body><p>Story</p>";
        let fixed = close_title(Cow::Borrowed(page));
        assert!(fixed.starts_with("<title id=\"t\">Oil</title></titlevalue=\"true\" -->"));
    }

    #[test]
    fn a_closed_title_or_none_is_left_as_it_is() {
        for page in [
            "<TITLE>Oil</TITLE ><body>x",
            "<body>no title",
            "<titles>x",
            "<title",
        ] {
            assert!(matches!(close_title(Cow::Borrowed(page)), Cow::Borrowed(_)));
        }
    }
}
