//! Markdown (`.md`): optional YAML front matter (`title`, `url`, `published`, `tags`, anything
//! else into `meta`), then the first `# ` heading as the title, else the first line. Front
//! matter that is not valid YAML is reported and left out; the text after it is still the
//! article.
//!
//! The YAML parser (libyaml, through `serde_yaml`) is not linear on every input: each token
//! costs it a walk over the flow collections (`[`, `{`) open around it, so 150 KB of `[` take
//! minutes; and `serde_yaml` expands aliases (`*name`) into copies of what they name, so 20 KB
//! of aliases to one long list become gigabytes. Front matter is therefore read only within
//! bounds no real front matter comes near ([`bounded`]); beyond them it is reported and left
//! out like invalid YAML, and the article is read without it.

use serde_yaml::Value;

use super::{Article, Budget, Parsed, decode, plain};

/// Reading is bounded by [`bounded`] front matter and linear otherwise: the budget is not needed.
pub(super) fn parse(bytes: &[u8], _: &Budget) -> Result<Parsed, String> {
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

/// Front matter larger than this is not read.
pub(super) const MAX_FRONT_MATTER: usize = 64 << 10;

/// The flow-collection work front matter may cost the parser: each `[` or `{` counts the bytes
/// after it (every token after it may be inside it). Any front matter under 4 KiB is within it;
/// 64 KiB may hold 256 brackets. Front matter at the bound parses in about 0.1 s.
pub(super) const MAX_FLOW_WORK: u64 = 16 << 20;

/// Whether the YAML parser may be given `yaml`: at most [`MAX_FRONT_MATTER`] bytes, at most
/// [`MAX_FLOW_WORK`], and no aliases (`*name`) to anchors (`&name`), whose expansion has no
/// bound in `serde_yaml` but the number of aliases times what they name. Each check takes every
/// byte that could be what it looks for (a bracket or an alias in a quoted string too): it is
/// never below what the parser does.
fn bounded(yaml: &str) -> Result<(), String> {
    if yaml.len() > MAX_FRONT_MATTER {
        return Err(format!(
            "front matter of {} bytes is over the {} KiB read",
            yaml.len(),
            MAX_FRONT_MATTER >> 10
        ));
    }
    let work: u64 = yaml
        .bytes()
        .enumerate()
        .filter(|(_, b)| matches!(b, b'[' | b'{'))
        .map(|(at, _)| (yaml.len() - at) as u64)
        .sum();
    if work > MAX_FLOW_WORK {
        return Err("front matter nests or opens more `[` and `{` than it is read with".into());
    }
    // An anchor or alias is `&` or `*` and a name (letters, digits, `-`, `_`) where a node may
    // start: at the start, after white space, a flow indicator or `:`. An alias expands only
    // if an anchor has its name.
    let bytes = yaml.as_bytes();
    let named = |indicator: u8| {
        (0..bytes.len()).filter_map(move |at| {
            let starts = at == 0
                || matches!(
                    bytes[at - 1],
                    b' ' | b'\t' | b'\n' | b'\r' | b'[' | b'{' | b',' | b':'
                );
            let name = bytes[at + 1..]
                .iter()
                .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                .count();
            (bytes[at] == indicator && starts && name > 0).then(|| &bytes[at + 1..at + 1 + name])
        })
    };
    let anchors: std::collections::HashSet<&[u8]> = named(b'&').collect();
    if !anchors.is_empty() && named(b'*').any(|alias| anchors.contains(alias)) {
        return Err("front matter uses YAML aliases (`*name`), which are not expanded".into());
    }
    Ok(())
}

fn front_matter(yaml: &str) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    bounded(yaml)?;
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

    /// The parser without a deadline.
    fn parse(bytes: &[u8]) -> Result<Parsed, String> {
        super::parse(bytes, &Budget::unlimited())
    }

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
    fn front_matter_beyond_the_bounds_is_reported_and_the_text_kept() {
        let read = |front: &str| {
            let md = format!("---\n{front}\n---\n# Real title\n\nBody.\n");
            let parsed = parse(md.as_bytes()).unwrap();
            let article = &parsed.articles[0];
            if !parsed.warnings.is_empty() {
                assert_eq!(article.body, "Body.");
            }
            (article.title.clone(), parsed.warnings)
        };
        let (title, warnings) = read(&format!("title: {}", "[".repeat(150_000)));
        assert_eq!(title, "Real title");
        assert_eq!(
            warnings,
            ["front matter of 150008 bytes is over the 64 KiB read; read without it"]
        );
        let (_, warnings) = read(&format!("title: {}", "{".repeat(30_000)));
        assert!(warnings[0].contains("more `[` and `{`"), "{warnings:?}");
        let aliases = format!("a: &a [{}]\nb: [{}]", "x,".repeat(100), "*a,".repeat(100));
        let (_, warnings) = read(&aliases);
        assert!(warnings[0].contains("aliases"), "{warnings:?}");
        // Within the bounds: brackets in small front matter, `*` and `&` in text.
        let (title, warnings) = read(&format!(
            "title: \"Why *this* & &that\"\ntags: {}",
            "[a, {b: c}], ".repeat(200)
        ));
        assert_eq!(title, "Real title");
        assert!(warnings[0].contains("not valid YAML"), "{warnings:?}");
        let (title, warnings) = read("title: \"Why *this* & &that\"\ntags: [[a], {b: c}]");
        assert_eq!(title, "Why *this* & &that");
        assert!(warnings.is_empty());
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
