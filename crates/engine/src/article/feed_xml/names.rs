//! Names and kinds of the elements the repair pass meets: which hold text (HTML escaped in
//! them), which hold markup to keep, which never hold elements.

pub(super) fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':' || b >= 0x80
}

pub(super) fn is_name_byte(b: u8) -> bool {
    is_name_start(b) || b.is_ascii_digit() || b == b'-' || b == b'.'
}

pub(super) fn local(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, l)| l)
}

/// Whether `name` is one of `names`, in any case.
pub(super) fn is_one_of(name: &str, names: &[&str]) -> bool {
    names.iter().any(|n| name.eq_ignore_ascii_case(n))
}

/// Text elements of feeds.
pub(super) const TEXT_ELEMENTS: &[&str] = &[
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
pub(super) fn is_text_element<'v>(name: &str, attr: impl Fn(&str) -> Option<&'v str>) -> bool {
    let (prefix, l) = name.rsplit_once(':').unwrap_or(("", name));
    let text = is_one_of(l, TEXT_ELEMENTS)
        // `media:content` holds elements; Atom's `content` text.
        || (l.eq_ignore_ascii_case("content")
            && !prefix.eq_ignore_ascii_case("media")
            && attr("url").is_none());
    text && !is_markup(&attr)
}

/// Whether an element's content is XML markup to keep: XHTML, or an XML media type.
pub(super) fn is_markup<'v>(attr: &impl Fn(&str) -> Option<&'v str>) -> bool {
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
pub(super) const LEAF_ELEMENTS: &[&str] = &[
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
pub(super) fn holds_end_tag(text: &str, name: &str) -> bool {
    text.match_indices("</").any(|(i, _)| {
        let rest = &text[i + 2..];
        rest.get(..name.len())
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
            && rest[name.len()..].trim_start().starts_with('>')
    })
}

/// HTML elements without content, often written without their end (`<br>`).
pub(super) fn is_void(name: &str) -> bool {
    ["br", "hr", "img", "wbr"]
        .iter()
        .any(|v| name.eq_ignore_ascii_case(v))
}
