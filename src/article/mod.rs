//! Ingest: bytes of a file to [`Article`]s.
//!
//! This is the first stage after the sources: it decodes bytes to text and parses the file's
//! format. It knows nothing of rules. Each format is one file in this folder exposing
//! `parse(text) -> Result<Vec<Article>, String>`, listed once in [`FORMATS`]; adding a format is
//! adding that file and its line.

mod decode;
mod markdown;
mod plain;

use std::path::Path;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::Error;

/// One article: what rules see as `article`.
///
/// Build one in memory with [`Article::new`] and the `with_*` methods, or read files with
/// [`ingest`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Article {
    pub title: String,
    pub body: String,
    pub url: Option<String>,
    /// Publication time as the source gave it (RFC 3339 when known).
    pub published: Option<String>,
    /// The watched folder's name or the feed's title.
    pub source: Option<String>,
    /// The file the article came from.
    pub path: Option<String>,
    /// ISO 639-1 language code, when known.
    pub lang: Option<String>,
    /// Extra fields (front matter, JSON fields, …).
    pub meta: Map<String, Value>,
}

impl Article {
    /// An article with a title and a body; every other field empty.
    pub fn new(title: impl Into<String>, body: impl Into<String>) -> Article {
        Article {
            title: title.into(),
            body: body.into(),
            ..Article::default()
        }
    }

    pub fn with_url(mut self, url: impl Into<String>) -> Article {
        self.url = Some(url.into());
        self
    }

    pub fn with_source(mut self, source: impl Into<String>) -> Article {
        self.source = Some(source.into());
        self
    }

    pub fn with_path(mut self, path: impl Into<String>) -> Article {
        self.path = Some(path.into());
        self
    }

    /// SHA-256 (hex) of the title, a newline and the body: the identity of the content,
    /// whatever file it was saved in.
    pub fn sha256(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.title.as_bytes());
        h.update(b"\n");
        h.update(self.body.as_bytes());
        format!("{:x}", h.finalize())
    }
}

type Parse = fn(&str) -> Result<Vec<Article>, String>;

/// File extensions (lowercase, `""` for none) and their parsers.
const FORMATS: &[(&[&str], Parse)] = &[
    (&["txt", "text", ""], plain::parse),
    (&["md", "markdown"], markdown::parse),
];

fn parser_for(path: &Path) -> Option<Parse> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    FORMATS
        .iter()
        .find(|(exts, _)| exts.contains(&ext.as_str()))
        .map(|(_, parse)| *parse)
}

/// Whether files named like `path` are read when a folder is scanned or watched.
pub fn is_supported(path: &Path) -> bool {
    parser_for(path).is_some()
}

/// Reads the articles in `bytes`, the content of the file `path`, choosing the format by the
/// file's extension (plain text for unknown ones). `path` is recorded in each article; `source`
/// is left to the caller.
pub fn ingest(bytes: &[u8], path: &Path) -> Result<Vec<Article>, Error> {
    let text = decode::decode(bytes).map_err(|e| Error::Binary {
        path: path.to_path_buf(),
        offset: e.offset,
    })?;
    let parse = parser_for(path).unwrap_or(plain::parse);
    let mut articles = parse(&text).map_err(|message| Error::Malformed {
        path: path.to_path_buf(),
        message,
    })?;
    let shown = path.display().to_string();
    for a in &mut articles {
        a.path = Some(shown.clone());
    }
    Ok(articles)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_title_and_body() {
        let a = ingest(
            b"\n\nHeadline here\n\nFirst paragraph.\n",
            Path::new("x/a.txt"),
        )
        .unwrap();
        assert_eq!(a[0].title, "Headline here");
        assert_eq!(a[0].body, "First paragraph.");
        assert_eq!(a[0].path.as_deref(), Some("x/a.txt"));
    }

    #[test]
    fn binary_is_refused() {
        assert!(matches!(
            ingest(b"PK\x03\x04\0\0", Path::new("a.txt")),
            Err(Error::Binary { offset: 4, .. })
        ));
    }
}
