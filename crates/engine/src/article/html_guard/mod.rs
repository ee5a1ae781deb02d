//! What stands between a hostile page and the HTML parser.
//!
//! html5ever follows the HTML standard, and the standard's parser is not linear on every input:
//! its tokenizer checks each attribute of a tag against the ones before it, its tree builder
//! walks the stack of open elements for many tags, and its "active formatting elements" (`<b>`,
//! `<i>`, `<a>`, `<font>` … left open) are cloned again into every later paragraph. A page
//! built for it costs minutes and gigabytes. Nothing can stop html5ever once it runs, so this
//! module decides beforehand, in linear time, with bounds no real page comes near:
//!
//! - [`neutralize`] renames the formatting elements (`<b>` becomes `<b\u{FDD0}>`, an element of
//!   no special kind) so that the parser has no formatting elements to clone or re-nest. They
//!   are inline either way, so the text a reader sees is the same; [`unmark`] undoes the
//!   renaming in every string read from the page (a title that spells `<b>` keeps it).
//! - [`check`] refuses a page with more than [`MAX_TAGS`] tags (the parser's tree costs about
//!   150 bytes per node), a tag with more than [`MAX_ATTRIBUTES`] attributes, more than
//!   [`MAX_MERGED_ATTRIBUTES`] attributes on repeated `<html>` and `<body>` tags (each is merged
//!   into the first one by a sorted insertion), or nesting that would make the tree builder walk
//!   its stack more than a few steps per byte (see [`work_limit`]).
//!
//! A refusal is a message saying which bound, starting with `refused:`.

use std::borrow::Cow;

mod attributes;
mod elements;
mod stack;
#[cfg(test)]
mod tests;
mod tokens;

use attributes::attributes;
use stack::Tree;

/// Tags (`<` followed by a letter, `/`, `!` or `?`) a page may have: a 16 MiB page of real
/// text has about 700,000; each costs the parser's tree one to three nodes of ~150 bytes.
pub(super) const MAX_TAGS: usize = 1_000_000;

/// Attributes one tag may have. html5ever compares each new attribute's name with every one
/// before it in the tag: a tag with 500,000 attributes takes minutes, and one at this bound
/// about 20 ms (a 64 KiB chunk holds four such tags at most, so the budget is still checked
/// every 80 ms). Real tags have a few dozen, but the guard counts every way the page could be
/// tokenized: a `<` followed by a letter in a script's text, and the words after it up to the
/// next `>`, may be a tag — a saved news page reached 1,500. So the bound is well above that.
pub(super) const MAX_ATTRIBUTES: u32 = 4096;

/// The comparisons of attribute names (the square of each tag's count, summed) a page may
/// cost the parser: about 70 ms, sixteen tags of 2,048 attributes. A real page's phantom tags
/// (above) cost a few million.
pub(super) const MAX_ATTRIBUTE_WORK: u64 = 16 * 2048 * 2048;

/// Attributes that repeated `<html>` and `<body>` tags may carry in all: each is added to the
/// first tag's element by an insertion into a sorted list.
pub(super) const MAX_MERGED_ATTRIBUTES: u32 = 1024;

/// The stack-walk steps allowed for a page of `len` bytes: real pages cost one or two steps a
/// byte (30 elements deep, a tag every 25 bytes); this allows eight, and four million for any
/// page. A 16 MiB page at the limit parses in about two seconds.
pub(super) fn work_limit(len: usize) -> u64 {
    8 * len as u64 + 4_000_000
}

/// The noncharacter that marks a renamed formatting element (and is doubled where the page
/// itself has one, so that [`unmark`] can tell them apart).
const MARK: char = '\u{FDD0}';
const MARK_UTF8: &[u8] = "\u{FDD0}".as_bytes();

/// The elements the standard calls formatting elements.
const FORMATTING: &[&str] = &[
    "a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u",
];

/// Bytes that end a tag name.
fn ends_name(b: Option<&u8>) -> bool {
    matches!(
        b,
        None | Some(b'\t' | b'\n' | b'\x0c' | b'\r' | b' ' | b'/' | b'>')
    )
}

/// `html` with every formatting element's tag renamed (in start and end tags, wherever it
/// stands: a `<b>` in a script or an attribute value is renamed too, and [`unmark`] restores
/// it), and each [`MARK`] of the page doubled. Borrowed when there is nothing to rename.
pub(super) fn neutralize(html: Cow<'_, str>) -> Cow<'_, str> {
    let bytes = html.as_bytes();
    let mut edits = Vec::new();
    let mut at = 0;
    while let Some(found) = bytes[at..]
        .iter()
        .position(|&b| b == b'<' || b == MARK_UTF8[0])
    {
        let i = at + found;
        at = i + 1;
        if bytes[i] == b'<' {
            let name = i + 1 + usize::from(bytes.get(i + 1) == Some(&b'/'));
            let rest = &bytes[name..];
            if let Some(f) = FORMATTING.iter().find(|f| {
                rest.len() >= f.len()
                    && rest[..f.len()].eq_ignore_ascii_case(f.as_bytes())
                    && ends_name(rest.get(f.len()))
            }) {
                edits.push(name + f.len());
            }
        } else if bytes[i..].starts_with(MARK_UTF8) {
            edits.push(i);
        }
    }
    if edits.is_empty() {
        return html;
    }
    let mut out = String::with_capacity(html.len() + edits.len() * MARK_UTF8.len());
    let mut copied = 0;
    for edit in edits {
        out.push_str(&html[copied..edit]);
        out.push(MARK);
        copied = edit;
    }
    out.push_str(&html[copied..]);
    Cow::Owned(out)
}

/// `text` read from a page that went through [`neutralize`], as the page wrote it: a lone
/// [`MARK`] is one the renaming put in, a pair is one of the page's own.
pub(super) fn unmark(text: String) -> String {
    if !text.contains(MARK) {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut marks = 0usize;
    for c in text.chars() {
        if c == MARK {
            marks += 1;
            continue;
        }
        out.extend(std::iter::repeat_n(MARK, marks / 2));
        marks = 0;
        out.push(c);
    }
    out.extend(std::iter::repeat_n(MARK, marks / 2));
    out
}

/// Whether html5ever may read `html` (already [`neutralize`]d): `Err` names the bound it is
/// beyond.
pub(super) fn check(html: &str) -> Result<(), String> {
    let bytes = html.as_bytes();
    let tags = bytes
        .iter()
        .zip(&bytes[1.min(bytes.len())..])
        .filter(|&(&lt, &next)| {
            lt == b'<' && (next.is_ascii_alphabetic() || b"/!?".contains(&next))
        })
        .count();
    if tags > MAX_TAGS {
        return Err(format!(
            "refused: {tags} HTML tags, more than the {MAX_TAGS} a page is read with"
        ));
    }
    attributes(bytes)?;
    // A walk is never longer than the elements open, each tag opens at most four (with the
    // ones it implies), there are at most twice as many tokens as tags, and a token walks the
    // stack a few times at most: with few tags the model need not run (most HTML in feeds,
    // JSON and mail).
    let at_most = 32 * (tags as u64 + 1).pow(2);
    if at_most > work_limit(bytes.len()) && Tree::new().run(bytes) > work_limit(bytes.len()) {
        return Err("refused: HTML nested far deeper than any real page".into());
    }
    Ok(())
}

/// The text of markup the parser is not given, tags dropped (entities are left as written):
/// what is kept of such a fragment rather than nothing.
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
