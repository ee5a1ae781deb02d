//! Markdown (`.md`): optional YAML front matter (`title`, `url`, `published`, `tags`, anything
//! else into `meta`), then the first `# ` heading as the title, else the first line. Front
//! matter that is not valid YAML is reported and left out; the text after it is still the
//! article.

use serde_yaml::Value;

use super::{Article, Parsed, decode, plain};

pub(super) fn parse(bytes: &[u8]) -> Result<Parsed, String> {
    let text = decode::decode(bytes, None);
    let (front, rest) = split_front_matter(&text);
    let mut warnings = Vec::new();
    let fields = match front.map(front_matter) {
        Some(Ok(fields)) => fields,
        Some(Err(e)) => {
            warnings.push(format!("{e}; read without it"));
            Default::default()
        }
        None => Default::default(),
    };
    // `title: 1984` is a title too, not a number.
    let title = fields.get("title").and_then(|v| match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    });
    let mut article = if let Some(title) = title {
        Article::new(title, rest.trim())
    } else if let Some((title, body)) = heading(rest) {
        Article::new(title, body)
    } else {
        let (title, body) = plain::split_title(rest);
        Article::new(title, body)
    };
    for (key, json) in fields {
        match (key.as_str(), json) {
            ("title", v) if v.is_string() || v.is_number() || v.is_boolean() => {}
            ("url", serde_json::Value::String(s)) => article.url = Some(s),
            ("published" | "date", serde_json::Value::String(s)) => article.published = Some(s),
            (_, json) => {
                article.meta.insert(key, json);
            }
        }
    }
    Ok(Parsed {
        articles: vec![article],
        warnings,
    })
}

fn front_matter(yaml: &str) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let map: serde_yaml::Mapping = match serde_yaml::from_str(yaml) {
        Ok(Value::Mapping(map)) => map,
        Ok(Value::Null) => return Ok(Default::default()),
        Ok(_) => return Err("front matter is not a map of fields".into()),
        Err(e) => return Err(format!("front matter is not valid YAML ({e})")),
    };
    Ok(map
        .into_iter()
        .filter_map(|(k, v)| {
            let key = k.as_str()?.to_string();
            Some((
                key,
                serde_json::to_value(&v).unwrap_or(serde_json::Value::Null),
            ))
        })
        .collect())
}

/// Splits `---\n…\n---` front matter from the rest. Without a closing `---` there is no front
/// matter and the whole text is the document.
fn split_front_matter(text: &str) -> (Option<&str>, &str) {
    let text = text.trim_start_matches('\u{feff}');
    let Some(after) = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
    else {
        return (None, text);
    };
    let mut offset = 0;
    for line in after.split_inclusive('\n') {
        if line.trim_end() == "---" || line.trim_end() == "..." {
            return (Some(&after[..offset]), &after[offset + line.len()..]);
        }
        offset += line.len();
    }
    (None, text)
}

/// The first ATX level-1 heading as title, and the text without it as body.
fn heading(text: &str) -> Option<(&str, String)> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if let Some(title) = line.strip_prefix("# ") {
            let body = format!("{}{}", &text[..offset], &text[offset + line.len()..]);
            return Some((
                title.trim().trim_end_matches('#').trim(),
                body.trim().to_string(),
            ));
        }
        offset += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_and_heading() {
        let md = "---\ntitle: From front matter\nurl: https://example.com/a\ntags: [ai, chips]\nauthor: Ann\n---\n# Heading\n\nBody text.\n";
        let a = &parse(md.as_bytes()).unwrap().articles[0];
        assert_eq!(a.title, "From front matter");
        assert_eq!(a.url.as_deref(), Some("https://example.com/a"));
        assert_eq!(a.meta["tags"], serde_json::json!(["ai", "chips"]));
        assert_eq!(a.meta["author"], "Ann");
        let a = &parse(b"Intro line\n# The title\nBody").unwrap().articles[0];
        assert_eq!(a.title, "The title");
        assert_eq!(a.body, "Intro line\nBody");
    }

    #[test]
    fn unterminated_front_matter_is_text() {
        let a = &parse(b"---\ntitle: x\nno end").unwrap().articles[0];
        assert_eq!(a.title, "---");
    }

    #[test]
    fn malformed_front_matter_is_reported_and_the_text_kept() {
        let parsed = parse(b"---\ntitle: [unclosed\n---\n# Real title\n\nBody.\n").unwrap();
        assert_eq!(parsed.articles[0].title, "Real title");
        assert_eq!(parsed.articles[0].body, "Body.");
        assert_eq!(parsed.warnings.len(), 1);
        assert!(
            parsed.warnings[0].starts_with("front matter is not valid YAML"),
            "{:?}",
            parsed.warnings
        );
    }
}
