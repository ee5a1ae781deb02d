//! Email (`.eml`), as newsletters are saved: parsed with `mail-parser`, which decodes RFC 2047
//! headers, quoted-printable and base64 bodies and their charsets.
//!
//! The subject is the title; the body is the first `text/plain` body part, else the first HTML
//! part as text; `published` is the `Date:` header in RFC 3339; the sender and the message id
//! go to `meta`.

use mail_parser::{MessageParser, PartType};
use serde_json::Value;

use super::{Article, Budget, Parsed, html};

pub(super) fn parse(bytes: &[u8], budget: &Budget) -> Result<Parsed, String> {
    let message = MessageParser::default()
        .parse(bytes)
        .filter(|m| !m.headers().is_empty())
        .ok_or("not an email message (no headers)")?;
    let title = message.subject().map(super::one_line).unwrap_or_default();
    let part_text = |id: &u32| match &message.part(*id)?.body {
        PartType::Text(text) => Some(text.replace("\r\n", "\n").trim().to_string()),
        PartType::Html(markup) => Some(html::to_text(markup, budget)),
        _ => None,
    };
    // mail-parser lists an HTML-only message's HTML part among the text parts too: prefer a real
    // text/plain part wherever it is, then any HTML part.
    let plain = message
        .text_body
        .iter()
        .filter(|id| matches!(message.part(**id).map(|p| &p.body), Some(PartType::Text(_))))
        .find_map(part_text);
    let body = plain
        .or_else(|| message.html_body.iter().find_map(part_text))
        .unwrap_or_default();
    budget.check()?;
    if title.is_empty() && body.is_empty() {
        return Err("email without subject or text".into());
    }
    let mut a = Article::new(title, body);
    a.published = message.date().map(|d| d.to_rfc3339());
    if let Some(from) = message.from().and_then(|f| f.first()) {
        let shown = match (from.name(), from.address()) {
            (Some(name), Some(address)) => format!("{name} <{address}>"),
            (name, address) => name.or(address).unwrap_or_default().to_string(),
        };
        a.meta.insert("from".into(), Value::String(shown));
    }
    if let Some(id) = message.message_id() {
        a.meta
            .insert("message_id".into(), Value::String(id.to_string()));
    }
    Ok(vec![a].into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parser without a deadline.
    fn parse(bytes: &[u8]) -> Result<Parsed, String> {
        super::parse(bytes, &Budget::unlimited())
    }

    #[test]
    fn encoded_subject_and_quoted_printable_body() {
        let eml = b"From: \"Chip Letter\" <news@example.com>\r\nSubject: =?UTF-8?B?UMOpa2luIGV0IGxlcyBwdWNlcw==?=\r\n\
Date: Tue, 2 Jan 2024 10:00:00 +0000\r\nMessage-ID: <1@example.com>\r\nMIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
DeepSeek ach=E8te des H200 =\r\nce mois-ci.\r\n";
        let a = &parse(eml).unwrap().articles[0];
        assert_eq!(a.title, "Pékin et les puces");
        assert_eq!(a.body, "DeepSeek achète des H200 ce mois-ci.");
        assert_eq!(a.published.as_deref(), Some("2024-01-02T10:00:00Z"));
        assert_eq!(a.meta["from"], "Chip Letter <news@example.com>");
        assert_eq!(a.meta["message_id"], "1@example.com");
    }

    #[test]
    fn html_only_messages_are_read_as_text() {
        let eml = b"Subject: Hi\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\
PHA+VGhlIDxiPkRlZXA8L2I+PGI+U2VlazwvYj4gbmV3czwvcD48c2NyaXB0PngoKTwvc2NyaXB0Pg==\r\n";
        let a = &parse(eml).unwrap().articles[0];
        assert_eq!(a.body, "The DeepSeek news");
        assert!(parse(b"").is_err());
    }
}
