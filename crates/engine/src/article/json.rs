//! JSON (`.json`: an object or an array of objects) and JSON Lines (`.jsonl`, `.ndjson`, and a
//! `.json` file that is not one JSON value but starts with a line holding an object: one object
//! per line), as scrapers dump articles.
//!
//! `title` is the title; the body is the first of `body`, `content`, `text`, `description`,
//! `summary` and `article` that is a non-empty string (read as HTML when it holds markup);
//! `url` or `link` is the url, `published` or `date` the publication time; every other scalar
//! field (and array of scalars, such as tags) goes to `meta`. A JSON Feed (`version`
//! `https://jsonfeed.org/…`) is read as a feed. serde_json refuses nesting deeper than 128
//! levels, so no document can exhaust the stack.

use serde_json::{Map, Value};

use super::{Article, Budget, Capped, Parsed, decode, feed, html};

const BODY_KEYS: &[&str] = &[
    "body",
    "content",
    "text",
    "description",
    "summary",
    "article",
];

pub(super) fn parse(bytes: &[u8], budget: &Budget) -> Result<Parsed, String> {
    let text = decode::decode(bytes, None);
    let document = match read_document(&text, budget) {
        Ok(document) => document,
        // The array's reading was stopped between two items.
        Err(_) if budget.spent() => return Err(budget.check().unwrap_err()),
        // DESIGN lets a `.json` file hold one object per line, as exporters name JSON Lines.
        Err(_) if first_line_is_object(&text) => return lines(&text, budget),
        Err(e) => return Err(format!("malformed JSON ({e})")),
    };
    match document {
        Document::Object(object) if is_json_feed(&object) => feed::parse(bytes, budget),
        Document::Object(object) => Ok(vec![article(Value::Object(object), budget)?].into()),
        Document::Array(parsed) => Ok(parsed),
        Document::Other => Err("JSON is neither an object nor an array of objects".into()),
    }
}

/// A `.json` document as read: an array's items are made articles one by one as they are
/// read, so that no tree of the whole document is held (a 15 MB array of small objects took
/// 1 GB as a tree).
enum Document {
    Object(Map<String, Value>),
    Array(Parsed),
    Other,
}

fn read_document(text: &str, budget: &Budget) -> Result<Document, serde_json::Error> {
    use serde::Deserializer as _;
    let mut reader = serde_json::Deserializer::from_str(text);
    let document = (&mut reader).deserialize_any(DocumentVisitor { budget })?;
    reader.end()?;
    Ok(document)
}

/// Reads the document, checking the budget between an array's items.
struct DocumentVisitor<'b> {
    budget: &'b Budget,
}

impl<'de> serde::de::Visitor<'de> for DocumentVisitor<'_> {
    type Value = Document;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object or an array of objects")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Document, A::Error> {
        let object =
            serde::Deserialize::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
        Ok(Document::Object(object))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut items: A) -> Result<Document, A::Error> {
        let mut parsed = Parsed::default();
        let mut skipped = Capped::default();
        let mut at = 0;
        while let Some(item) = items.next_element::<Value>()? {
            at += 1;
            if self.budget.spent() {
                return Err(serde::de::Error::custom("the ingest timeout ran out"));
            }
            match article(item, self.budget) {
                Ok(a) => parsed.articles.push(a),
                Err(why) => skipped.push(|| format!("item {at}: {why}")),
            }
        }
        parsed.warnings = skipped.finish("items skipped");
        Ok(Document::Array(parsed))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Document, E> {
        Ok(Document::Other)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Document, E> {
        Ok(Document::Other)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Document, E> {
        Ok(Document::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Document, E> {
        Ok(Document::Other)
    }

    fn visit_str<E>(self, _: &str) -> Result<Document, E> {
        Ok(Document::Other)
    }

    fn visit_unit<E>(self) -> Result<Document, E> {
        Ok(Document::Other)
    }
}

pub(super) fn parse_lines(bytes: &[u8], budget: &Budget) -> Result<Parsed, String> {
    lines(&decode::decode(bytes, None), budget)
}

/// Whether a document that is not one JSON value starts with a line that is a whole object:
/// JSON Lines, not a pretty-printed document cut short.
fn first_line_is_object(text: &str) -> bool {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| matches!(serde_json::from_str(l), Ok(Value::Object(_))))
}

fn lines(text: &str, budget: &Budget) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    let mut skipped = Capped::default();
    let mut first = None;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        budget.check()?;
        let item = serde_json::from_str(line).map_err(|e| format!("malformed JSON ({e})"));
        match item.and_then(|item| article(item, budget)) {
            Ok(a) => parsed.articles.push(a),
            Err(why) => {
                let warning = format!("line {}: {why}", i + 1);
                first.get_or_insert_with(|| warning.clone());
                skipped.push(|| warning);
            }
        }
    }
    if parsed.articles.is_empty()
        && let Some(first) = first
    {
        return Err(first);
    }
    parsed.warnings = skipped.finish("lines skipped");
    Ok(parsed)
}

fn is_json_feed(object: &Map<String, Value>) -> bool {
    object
        .get("version")
        .and_then(Value::as_str)
        .is_some_and(|v| v.starts_with("https://jsonfeed.org/version/"))
}

fn article(item: Value, budget: &Budget) -> Result<Article, String> {
    let Value::Object(mut fields) = item else {
        return Err("not a JSON object".into());
    };
    let mut take = |keys: &[&str]| {
        let key = keys.iter().find(|k| {
            fields
                .get(**k)
                .and_then(Value::as_str)
                .is_some_and(|s| !s.trim().is_empty())
        })?;
        match fields.remove(*key) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        }
    };
    let title = take(&["title"]).map(|t| super::one_line(&t));
    let body = take(BODY_KEYS).map(|b| {
        if looks_like_html(&b) {
            html::to_text(&b, budget)
        } else {
            b.trim().to_string()
        }
    });
    let url = take(&["url", "link"]);
    let published = take(&["published", "date"]);
    if title.is_none() && body.is_none() {
        return Err("a JSON object without a title or body field".into());
    }
    let mut a = Article::new(title.unwrap_or_default(), body.unwrap_or_default());
    a.url = url;
    a.published = published;
    a.meta = fields
        .into_iter()
        .filter(|(_, v)| scalar_or_list(v))
        .collect();
    Ok(a)
}

fn scalar_or_list(v: &Value) -> bool {
    match v {
        Value::Object(_) | Value::Null => false,
        Value::Array(items) => items
            .iter()
            .all(|i| !matches!(i, Value::Object(_) | Value::Array(_))),
        _ => true,
    }
}

/// Scrapers store bodies as text or as HTML; a closing tag or `<br` tells them apart.
fn looks_like_html(text: &str) -> bool {
    text.contains("</") || text.contains("<br") || text.contains("<p>")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parser without a deadline.
    fn parse(bytes: &[u8]) -> Result<Parsed, String> {
        super::parse(bytes, &Budget::unlimited())
    }

    #[test]
    fn object_and_array_fields() {
        let json = br#"[{"title":" A\n title ","content":"<p>The <b>Deep</b><b>Seek</b> story</p>","link":"https://e.com/a",
            "date":"2024-01-02","author":"Ann","tags":["ai","chips"],"nested":{"x":1},"summary":"kept in meta"},
            {"text":"Body only"}, 42, {"nothing": true}]"#;
        let parsed = parse(json).unwrap();
        let a = &parsed.articles[0];
        assert_eq!(a.title, "A title");
        assert_eq!(a.body, "The DeepSeek story");
        assert_eq!(a.url.as_deref(), Some("https://e.com/a"));
        assert_eq!(a.published.as_deref(), Some("2024-01-02"));
        assert_eq!(a.meta["author"], "Ann");
        assert_eq!(a.meta["tags"], serde_json::json!(["ai", "chips"]));
        assert_eq!(a.meta["summary"], "kept in meta");
        assert!(!a.meta.contains_key("nested"));
        assert_eq!(parsed.articles[1].body, "Body only");
        assert_eq!(
            parsed.warnings,
            [
                "item 3: not a JSON object",
                "item 4: a JSON object without a title or body field"
            ]
        );
    }

    #[test]
    fn lines_skip_bad_lines_and_malformed_documents_fail() {
        let parsed = parse_lines(
            b"{\"title\":\"one\"}\n\n{broken\n{\"title\":\"two\"}\n",
            &Budget::unlimited(),
        )
        .unwrap();
        assert_eq!(parsed.articles.len(), 2);
        assert_eq!(parsed.warnings.len(), 1);
        assert!(parsed.warnings[0].starts_with("line 3: malformed JSON"));
        assert!(
            parse(b"{\"title\": ")
                .unwrap_err()
                .starts_with("malformed JSON")
        );
        let parsed = parse(b"{\"title\":\"one\"}\n{\"title\":\"two\"}\n").unwrap();
        assert_eq!(parsed.articles.len(), 2, "a .json file of JSON Lines");
        assert!(parse(b"{\"title\":\n\"cut\"").is_err());
        let deep = "[".repeat(100_000);
        assert!(parse(deep.as_bytes()).is_err());
    }
}
