//! The tokenizer's side of the guard: attributes counted per tag, whatever the context.

use super::{MAX_ATTRIBUTE_WORK, MAX_ATTRIBUTES, MAX_MERGED_ATTRIBUTES, ends_name};

/// The states of the HTML tokenizer inside a tag (the standard's names).
#[derive(Clone, Copy, PartialEq)]
pub(super) enum InTag {
    TagName,
    BeforeAttributeName,
    AttributeName,
    AfterAttributeName,
    BeforeAttributeValue,
    DoubleQuoted,
    SingleQuoted,
    Unquoted,
    AfterQuotedValue,
    SelfClosing,
}

pub(super) const IN_TAG: usize = 10;

/// One way the tokenizer may be inside a tag: how many attributes the tag has so far, and how
/// many the repeated `<html>`/`<body>` tags before it had.
#[derive(Clone, Copy)]
pub(super) struct Path {
    attributes: u32,
    merged: u32,
}

/// Checks the attribute bounds, in one pass over the bytes, for every way html5ever could
/// tokenize them. Where a tag starts depends on the tree builder (text in a `<script>` is not
/// markup, unless the script is in SVG …), so a tag is assumed to possibly start at every `<`
/// followed by a letter, and the tokenizer's state inside a tag is followed from each of them:
/// paths in the same state are merged, keeping the largest counts, so at most twenty paths (ten
/// states, `<html>`/`<body>` or not) are followed at a time, whatever the page.
pub(super) fn attributes(bytes: &[u8]) -> Result<(), String> {
    use InTag::*;
    // The paths followed: state, whether the tag is `<html>`/`<body>`, counts.
    let mut live: Vec<(InTag, bool, Path)> = Vec::with_capacity(2 * IN_TAG);
    let mut next = Vec::with_capacity(2 * IN_TAG);
    // Adds a path, merged with one in the same state.
    pub(super) fn add(
        paths: &mut Vec<(InTag, bool, Path)>,
        state: InTag,
        merging: bool,
        path: Path,
    ) {
        match paths
            .iter_mut()
            .find(|(s, m, _)| *s == state && *m == merging)
        {
            Some((_, _, kept)) => {
                kept.attributes = kept.attributes.max(path.attributes);
                kept.merged = kept.merged.max(path.merged);
            }
            None => paths.push((state, merging, path)),
        }
    }
    // The largest count of merged attributes on a path that is between tags.
    let mut outside = 0u32;
    // The parser's comparisons of attribute names so far: the square of each tag's count.
    let mut work = 0u64;
    let mut i = 0;
    while i < bytes.len() {
        // Where nothing can happen, skip: between tags to the next `<`, inside quoted values
        // to the next quote or `<` (never the byte after a `<`: it may be an end tag's `/`).
        let after_lt = i > 0 && bytes[i - 1] == b'<';
        let quoted = live
            .iter()
            .all(|(state, _, _)| matches!(state, DoubleQuoted | SingleQuoted));
        if !after_lt && quoted {
            let in_tag = !live.is_empty();
            let wanted = |&b: &u8| b == b'<' || (in_tag && (b == b'"' || b == b'\''));
            match bytes[i..].iter().position(wanted) {
                Some(skip) => i += skip,
                None => break,
            }
        }
        let b = bytes[i];
        if !live.is_empty() {
            next.clear();
            // The most attributes of a tag ending here, whichever path it was read on.
            let mut ended = 0u32;
            for &(state, merging, mut path) in &live {
                let to = match step(state, b) {
                    Step::To(to) => to,
                    Step::NewAttribute => {
                        path.attributes += 1;
                        if path.attributes > MAX_ATTRIBUTES {
                            return Err(format!(
                                "refused: an HTML tag with more than {MAX_ATTRIBUTES} attributes"
                            ));
                        }
                        AttributeName
                    }
                    Step::End => {
                        let merged = path.merged + if merging { path.attributes } else { 0 };
                        if merged > MAX_MERGED_ATTRIBUTES {
                            return Err(format!(
                                "refused: repeated <html> and <body> tags with more than \
                                 {MAX_MERGED_ATTRIBUTES} attributes"
                            ));
                        }
                        outside = outside.max(merged);
                        ended = ended.max(path.attributes);
                        continue;
                    }
                };
                add(&mut next, to, merging, path);
            }
            std::mem::swap(&mut live, &mut next);
            work += u64::from(ended) * u64::from(ended);
            if work > MAX_ATTRIBUTE_WORK {
                return Err(format!(
                    "refused: HTML tags with too many attributes in all (over \
                     {MAX_ATTRIBUTE_WORK} comparisons of their names)"
                ));
            }
        }
        // A tag may start here: `<` + letter (a start tag) or `</` + letter (an end tag,
        // whose attributes html5ever also reads; it merges nothing).
        let letter_next = bytes.get(i + 1).is_some_and(u8::is_ascii_alphabetic);
        let start = (b == b'<' && letter_next) || (b == b'/' && after_lt && letter_next);
        if start {
            let name = &bytes[i + 1..];
            let merging = b == b'<'
                && name.len() >= 4
                && (name[..4].eq_ignore_ascii_case(b"html")
                    || name[..4].eq_ignore_ascii_case(b"body"))
                && ends_name(name.get(4));
            let path = Path {
                attributes: 0,
                merged: outside,
            };
            add(&mut live, TagName, merging, path);
        }
        i += 1;
    }
    Ok(())
}

pub(super) enum Step {
    To(InTag),
    NewAttribute,
    End,
}

/// One byte of the tokenizer inside a tag (html5ever's `tokenizer/mod.rs`; a carriage return
/// is a line feed by then). Bytes of a multi-byte character are "anything else" one by one,
/// which leads to the same states as the character.
pub(super) fn step(state: InTag, b: u8) -> Step {
    use InTag::*;
    let space = matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ');
    match state {
        TagName => match b {
            _ if space => Step::To(BeforeAttributeName),
            b'/' => Step::To(SelfClosing),
            b'>' => Step::End,
            _ => Step::To(TagName),
        },
        BeforeAttributeName => match b {
            _ if space => Step::To(BeforeAttributeName),
            b'/' => Step::To(SelfClosing),
            b'>' => Step::End,
            _ => Step::NewAttribute,
        },
        AttributeName => match b {
            _ if space => Step::To(AfterAttributeName),
            b'/' => Step::To(SelfClosing),
            b'>' => Step::End,
            b'=' => Step::To(BeforeAttributeValue),
            _ => Step::To(AttributeName),
        },
        AfterAttributeName => match b {
            _ if space => Step::To(AfterAttributeName),
            b'/' => Step::To(SelfClosing),
            b'=' => Step::To(BeforeAttributeValue),
            b'>' => Step::End,
            _ => Step::NewAttribute,
        },
        BeforeAttributeValue => match b {
            _ if space => Step::To(BeforeAttributeValue),
            b'"' => Step::To(DoubleQuoted),
            b'\'' => Step::To(SingleQuoted),
            b'>' => Step::End,
            _ => Step::To(Unquoted),
        },
        DoubleQuoted => match b {
            b'"' => Step::To(AfterQuotedValue),
            _ => Step::To(DoubleQuoted),
        },
        SingleQuoted => match b {
            b'\'' => Step::To(AfterQuotedValue),
            _ => Step::To(SingleQuoted),
        },
        Unquoted => match b {
            _ if space => Step::To(BeforeAttributeName),
            b'>' => Step::End,
            _ => Step::To(Unquoted),
        },
        // Anything else is reconsumed before an attribute name.
        AfterQuotedValue | SelfClosing => match b {
            _ if space => Step::To(BeforeAttributeName),
            b'/' => Step::To(SelfClosing),
            b'>' => Step::End,
            _ => Step::NewAttribute,
        },
    }
}
