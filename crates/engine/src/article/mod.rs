//! Ingest: bytes of a file to [`Article`]s.
//!
//! This is the first stage after the sources: it refuses binary files, hands the bytes to the
//! parser of the file's format, and detects each article's language. It knows nothing of
//! rules. Each format is one file in this folder exposing `parse(bytes) -> Result<Parsed,
//! String>` (decoding its text with `decode`, which can see the charset the format
//! declares), listed once in `FORMATS`; adding a format is adding that file and its line. Whatever the
//! format, `published` is then brought to one form here (see `date`).

mod budget;
mod date;
mod decode;
mod email;
mod extract;
mod feed;
mod feed_fallback;
mod feed_repair;
mod feed_xml;
mod html;
mod html_guard;
mod html_repair;
mod html_text;
mod iso2022kr;
mod json;
mod lang;
mod markdown;
mod plain;
mod read;

pub use budget::DEFAULT_INGEST_TIMEOUT;
pub use read::{read_file, read_to_limit};

use budget::Budget;

use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::Error;

/// One article: what rules see as `article`.
///
/// Build one in memory with [`Article::new`] and the `with_*` methods, or read files with
/// [`ingest`].
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Article {
    /// The headline (one line).
    pub title: String,
    /// The text of the article, paragraphs separated by blank lines.
    pub body: String,
    /// The article's own URL: a page's canonical link, a feed item's link.
    pub url: Option<String>,
    /// Publication time in RFC 3339, UTC (`2024-05-06T07:08:09Z`), whatever form the file
    /// wrote it in; `None` when absent or unreadable.
    pub published: Option<String>,
    /// The watched folder's name or the feed's title.
    pub source: Option<String>,
    /// The file the article came from.
    pub path: Option<String>,
    /// ISO 639-1 language code, when the source said; rules detect it on first use of
    /// `article.lang` otherwise (see [`detect_lang`]).
    pub lang: Option<String>,
    /// Extra fields (front matter, JSON fields, …).
    pub meta: Map<String, Value>,
}

impl Article {
    /// An article with a title and a body; every other field empty.
    ///
    /// ```
    /// use newswatch_engine::Article;
    ///
    /// let a = Article::new("Nvidia's H200", "DeepSeek's next model.").with_source("inbox");
    /// assert_eq!(a.source.as_deref(), Some("inbox"));
    /// assert_eq!(a.sha256().len(), 64);
    /// ```
    pub fn new(title: impl Into<String>, body: impl Into<String>) -> Article {
        Article {
            title: title.into(),
            body: body.into(),
            ..Article::default()
        }
    }

    /// This article with its URL.
    pub fn with_url(mut self, url: impl Into<String>) -> Article {
        self.url = Some(url.into());
        self
    }

    /// This article with its source (a folder's name, a feed's title).
    pub fn with_source(mut self, source: impl Into<String>) -> Article {
        self.source = Some(source.into());
        self
    }

    /// This article with the path of the file it came from.
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

/// What a parser read from one file: its articles, and what it had to skip or repair on the
/// way (each a short phrase; [`ingest`] prefixes the file's name).
#[derive(Debug, Default)]
pub struct Parsed {
    /// The articles read, in the file's order.
    pub articles: Vec<Article>,
    /// What was skipped or repaired, each a short phrase.
    pub warnings: Vec<String>,
}

/// Warnings kept per file: a file that repeats one fault a million times says so in
/// [`MAX_WARNINGS`] lines and a count, not a million.
const MAX_WARNINGS: usize = 100;

/// Warnings of one kind being collected, at most [`MAX_WARNINGS`] of them, the rest counted.
#[derive(Default)]
pub(crate) struct Capped {
    kept: Vec<String>,
    more: usize,
}

impl Capped {
    /// Adds a warning (made only if it is kept).
    pub(crate) fn push(&mut self, warning: impl FnOnce() -> String) {
        if self.kept.len() < MAX_WARNINGS {
            self.kept.push(warning());
        } else {
            self.more += 1;
        }
    }

    /// The warnings kept, and one that counts the others as `what` (`"items skipped"`).
    pub(crate) fn finish(mut self, what: &str) -> Vec<String> {
        if self.more > 0 {
            self.kept.push(format!("and {} more {what}", self.more));
        }
        self.kept
    }
}

impl From<Vec<Article>> for Parsed {
    fn from(articles: Vec<Article>) -> Parsed {
        Parsed {
            articles,
            warnings: Vec::new(),
        }
    }
}

/// A format's parser: the file's bytes to articles, or why none could be read (`refused: …`
/// when the budget ran out).
type Parse = fn(&[u8], &Budget) -> Result<Parsed, String>;

/// The formats newswatch reads. A file's format is chosen by its extension
/// ([`Format::of_path`]); bytes without a name (standard input) can have theirs told by their
/// content ([`Format::sniff`]), or be given one ([`IngestOptions::format`]).
///
/// ```
/// use std::path::Path;
/// use newswatch_engine::article::Format;
///
/// assert_eq!(Format::of_path(Path::new("wire.rss")), Some(Format::Feed));
/// assert_eq!(Format::sniff(b"<!DOCTYPE html><title>H200</title>"), Format::Html);
/// assert_eq!("jsonl".parse::<Format>(), Ok(Format::JsonLines));
/// assert!("pdf".parse::<Format>().unwrap_err().contains("text, markdown, html"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// Plain text: the first line is the title.
    Text,
    /// Markdown, with optional YAML front matter.
    Markdown,
    /// An HTML page.
    Html,
    /// An RSS, Atom or RDF feed (XML), or a JSON Feed.
    Feed,
    /// JSON: an object, an array of objects (or JSON Lines, or a JSON Feed).
    Json,
    /// JSON Lines: one object per line.
    JsonLines,
    /// An e-mail message (RFC 5322).
    Email,
}

impl Format {
    /// Every format, in the order their names are listed.
    pub const ALL: &[Format] = &[
        Format::Text,
        Format::Markdown,
        Format::Html,
        Format::Feed,
        Format::Json,
        Format::JsonLines,
        Format::Email,
    ];

    /// The format's name: `text`, `markdown`, `html`, `feed`, `json`, `jsonl`, `email`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Markdown => "markdown",
            Format::Html => "html",
            Format::Feed => "feed",
            Format::Json => "json",
            Format::JsonLines => "jsonl",
            Format::Email => "email",
        }
    }

    /// The file extensions (lowercase, `""` for none) of files read in this format.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Format::Text => &["txt", "text", ""],
            Format::Markdown => &["md", "markdown"],
            Format::Html => &["html", "htm", "xhtml"],
            Format::Feed => &["xml", "rss", "atom", "rdf"],
            Format::Json => &["json"],
            Format::JsonLines => &["jsonl", "ndjson"],
            Format::Email => &["eml"],
        }
    }

    fn parser(self) -> Parse {
        match self {
            Format::Text => plain::parse,
            Format::Markdown => markdown::parse,
            Format::Html => html::parse,
            Format::Feed => feed::parse,
            Format::Json => json::parse,
            Format::JsonLines => json::parse_lines,
            Format::Email => email::parse,
        }
    }

    /// The format of files named like `path`, by their extension; `None` when newswatch does
    /// not read such files in folders (they are read as plain text when named).
    pub fn of_path(path: &Path) -> Option<Format> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        Format::ALL
            .iter()
            .copied()
            .find(|f| f.extensions().contains(&ext.as_str()))
    }

    /// The format `bytes` are in, told by their content: an HTML page (a doctype, an `<html>`
    /// element or other HTML tags first), an XML feed (an `<rss>`, `<feed>`, `<rdf:RDF>` root,
    /// or any XML document), JSON (an object or array; also JSON Lines), an e-mail message
    /// (header fields, one of them a mail's own, up to a blank line), else plain text. Only the
    /// start of the bytes is looked at.
    pub fn sniff(bytes: &[u8]) -> Format {
        read::sniff(bytes)
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Format {
    type Err = String;

    /// A format by its name, or by an extension of its files (`md`, `xml`, `eml`, …), in any
    /// case; `Err` lists the names.
    fn from_str(name: &str) -> Result<Format, String> {
        let wanted = name.trim().trim_start_matches('.').to_ascii_lowercase();
        Format::ALL
            .iter()
            .copied()
            .find(|f| {
                f.name() == wanted
                    || (!wanted.is_empty() && f.extensions().contains(&wanted.as_str()))
            })
            .ok_or_else(|| {
                let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
                format!(
                    "unknown format {name:?}: the formats are {}",
                    names.join(", ")
                )
            })
    }
}

/// Whether files named like `path` are read when a folder is scanned or watched.
pub fn is_supported(path: &Path) -> bool {
    Format::of_path(path).is_some()
}

/// Reads the articles in `bytes`, the content of the file `path`, choosing the format by the
/// file's extension (plain text for unknown ones). `path` is recorded in each article; `source`
/// is left to the caller unless the file names one (a feed's title). What had to be skipped or
/// repaired inside the file is logged as a warning naming it; [`ingest_with_warnings`] returns
/// it instead.
///
/// # Bounds
///
/// Reading takes time and memory linear in the size of `bytes`, whatever they hold: each
/// parser is given only what it reads in linear time, and what would make it take longer is
/// refused or left out first, saying which bound. The bounds are on the input, not on a clock,
/// so a file is read the same way on every machine; none comes near a real file. A file of 16
/// MiB (the program's default `limits.max_file_size`) is read in at most a few seconds (release
/// build) and a few hundred MiB. Under those bounds a timeout ([`DEFAULT_INGEST_TIMEOUT`], see
/// [`IngestOptions`]) catches what they did not foresee: the HTML parser is fed 64 KiB at a
/// time and a feed's, JSON array's or JSON Lines file's items are read one by one, with the
/// clock checked in between, and a file that runs over is refused (`skipped: refused: …`).
///
/// - **HTML pages** are refused ([`Error::Malformed`], `skipped: refused: …`) with more than
///   1,000,000 tags (the parser's tree costs ~150 bytes a node), a tag with more than 4,096
///   attributes (or tags whose attributes cost the parser more comparisons in all than sixteen
///   tags of 2,048), more than 1,024 attributes on repeated `<html>` and `<body>` tags, or nesting
///   that would make the parser walk its stack of open elements more than 8 steps per byte of
///   the page (4 million steps for any page). HTML in feeds, JSON and e-mail beyond these
///   bounds is read as text without its tags. Formatting elements (`<b>`, `<i>`, `<a>`,
///   `<font>` …) are parsed as plain inline elements, so that one left open is not cloned into
///   every paragraph after it; the text read is the same.
/// - **Markdown front matter** is not read (a warning; the article is read without it, as
///   with invalid YAML) when it is over 64 KiB, when its `[` and `{`, each counting the bytes
///   after it, add up to more than 16 Mi (front matter under 4 KiB never does; 64 KiB may hold
///   256 of them), or when it has YAML aliases (`*name`) to anchors, which are not expanded.
/// - **JSON** deeper than 128 levels is malformed (serde_json's limit); **feeds** never expand
///   DTD entities, and one whose entities refer to others is refused.
///
/// ```
/// use std::path::Path;
/// use newswatch_engine::{Error, ingest};
///
/// let page = b"<html><head><title>H200 exports</title></head><body><article><p>DeepSeek.</p></article></body></html>";
/// let articles = ingest(page, Path::new("saved/h200.html")).unwrap();
/// assert_eq!(articles[0].title, "H200 exports");
/// assert_eq!(articles[0].path.as_deref(), Some("saved/h200.html"));
///
/// // Binary files are refused, with the offset of the first NUL byte.
/// let err = ingest(b"PK\x03\x04\0", Path::new("a.txt")).unwrap_err();
/// assert!(matches!(err, Error::Binary { offset: 4, .. }));
/// ```
pub fn ingest(bytes: &[u8], path: &Path) -> Result<Vec<Article>, Error> {
    let parsed = ingest_with_warnings(bytes, path)?;
    for warning in &parsed.warnings {
        tracing::warn!("{}: {warning}", path.display());
    }
    Ok(parsed.articles)
}

/// The language of an article's text as an ISO 639-1 code, `None` when unsure: what rules see
/// as `article.lang` when [`Article::lang`] is not set (it is detected on first use there, as it
/// costs about 0.2 ms per article, more than matching a few rules).
pub fn detect_lang(title: &str, body: &str) -> Option<String> {
    lang::detect(title, body)
}

/// Like [`ingest`], returning the warnings with the articles rather than logging them.
pub fn ingest_with_warnings(bytes: &[u8], path: &Path) -> Result<Parsed, Error> {
    ingest_with(bytes, path, &IngestOptions::default())
}

/// How [`ingest_with`] reads a file.
///
/// ```
/// use std::time::Duration;
/// use newswatch_engine::article::IngestOptions;
///
/// let options = IngestOptions::default().timeout(Duration::from_secs(1));
/// assert_eq!(options.timeout, Duration::from_secs(1));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct IngestOptions {
    /// How long reading one file may take before it is refused ([`Error::Malformed`],
    /// `skipped: refused: …`); [`DEFAULT_INGEST_TIMEOUT`] unless set. The parsers' input bounds
    /// keep real and hostile files far below it; it is the net for what they did not foresee.
    pub timeout: Duration,
    /// The format to read the bytes in; `None` (the default): the one of the path's extension,
    /// plain text for unknown ones. Standard input has no extension: give it
    /// [`Format::sniff`]'s.
    pub format: Option<Format>,
}

impl Default for IngestOptions {
    fn default() -> IngestOptions {
        IngestOptions {
            timeout: DEFAULT_INGEST_TIMEOUT,
            format: None,
        }
    }
}

impl IngestOptions {
    /// These options with another timeout.
    pub fn timeout(mut self, timeout: Duration) -> IngestOptions {
        self.timeout = timeout;
        self
    }

    /// These options reading the bytes as `format`, whatever the path's extension.
    ///
    /// ```
    /// use std::path::Path;
    /// use newswatch_engine::article::{Format, IngestOptions, ingest_with};
    ///
    /// let page = b"<html><head><title>H200</title></head><body><p>DeepSeek.</p></body></html>";
    /// let sniffed = IngestOptions::default().format(Format::sniff(page));
    /// let parsed = ingest_with(page, Path::new("-"), &sniffed).unwrap();
    /// assert_eq!(parsed.articles[0].title, "H200");
    /// ```
    pub fn format(mut self, format: Format) -> IngestOptions {
        self.format = Some(format);
        self
    }
}

/// Like [`ingest_with_warnings`], with the given options.
pub fn ingest_with(bytes: &[u8], path: &Path, options: &IngestOptions) -> Result<Parsed, Error> {
    let budget = Budget::new(options.timeout);
    decode::check_text(bytes).map_err(|e| Error::Binary {
        path: path.to_path_buf(),
        offset: e.offset,
    })?;
    let format = options
        .format
        .or_else(|| Format::of_path(path))
        .unwrap_or(Format::Text);
    let mut parsed = format.parser()(bytes, &budget).map_err(|message| Error::Malformed {
        path: path.to_path_buf(),
        message: format!("skipped: {message}"),
    })?;
    // A charset the file declares and newswatch cannot decode: said before what was read.
    let declared = match format {
        Format::Html => Some(decode::Declaration::Html),
        Format::Feed => Some(decode::Declaration::Xml),
        _ => None,
    };
    if let Some(warning) = declared.and_then(|d| decode::unsupported_charset(bytes, d)) {
        parsed.warnings.insert(0, warning);
    }
    let shown = path.display().to_string();
    // `lang` stays as the format gave it (or `None`): detection costs more than matching a
    // few rules, so rules get it on first use of `article.lang`, and embedders call
    // `detect_lang` when they want it.
    let mut dates = Capped::default();
    for a in &mut parsed.articles {
        a.path = Some(shown.clone());
        // Every format's date goes through here, so `published` has one form whatever wrote
        // it; an unreadable one is dropped, not passed on for rules to trip over.
        if let Some(value) = a.published.take() {
            a.published = date::normalize(&value);
            if a.published.is_none() {
                dates.push(|| format!("unreadable date {value:?} left out of `published`"));
            }
        }
    }
    parsed
        .warnings
        .extend(dates.finish("unreadable dates left out of `published`"));
    Ok(parsed)
}

/// `text` on one line: runs of white space (line breaks included) as single spaces, none at
/// the ends — for titles and other one-line fields, whatever the format did with them.
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
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
