//! Plain text (`.txt` and files without an extension): the first non-empty line is the title,
//! the rest is the body.

use super::{Article, Budget, Parsed, decode};

/// Plain text is read in one linear pass: the budget is not needed.
pub(super) fn parse(bytes: &[u8], _: &Budget) -> Result<Parsed, String> {
    let text = decode::decode(bytes, None);
    let (title, body) = split_title(&text);
    Ok(vec![Article::new(title, body)].into())
}

/// Splits off the first non-empty line as the title; the body is what follows, trimmed.
pub(super) fn split_title(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    let (title, body) = text.split_once('\n').unwrap_or((text, ""));
    (title.trim(), body.trim())
}
