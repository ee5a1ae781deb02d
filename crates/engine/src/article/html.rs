//! HTML (`.html`, `.htm`): a saved web page, parsed with html5ever (through `scraper`) the way a
//! browser parses it, and turned into the text a reader sees.
//!
//! Title: `og:title`, else `<title>`, else the first `<h1>`. Body: the visible text of the
//! page's `<article>` (the one with the most text), else `<main>`, else `<body>`. Visible means
//! without scripts, styles, navigation, headers, footers, asides, forms and hidden elements.
//! Text is laid out as it is shown: inline elements join without a space
//! (`<b>Deep</b><b>Seek</b>` is `DeepSeek`), block elements are separated by a blank line,
//! `<br>` by a line break. [`to_text`] does the same for HTML fragments of feeds, JSON and mail.

use std::sync::LazyLock;

use ego_tree::iter::Edge;
use scraper::{ElementRef, Html, Node, Selector};
use serde_json::Value;

use super::{Article, Parsed, decode, html_depth};

pub(super) fn parse(bytes: &[u8]) -> Result<Parsed, String> {
    let text = decode::decode(bytes, decode::html_charset(bytes));
    if html_depth::too_deep(&text) {
        return Err("refused: HTML nested far deeper than any real page".into());
    }
    let doc = Html::parse_document(&text);
    let title = content(&doc, &SELECT.og_title)
        .or_else(|| first_text(&doc, &SELECT.title))
        .or_else(|| first_text(&doc, &SELECT.h1))
        .unwrap_or_default();
    let body = body_text(&doc);
    if title.is_empty() && body.is_empty() {
        return Err("no title and no visible text in the page".into());
    }
    let mut article = Article::new(title, body);
    article.url = attr(&doc, &SELECT.canonical, "href").or_else(|| content(&doc, &SELECT.og_url));
    article.published =
        content(&doc, &SELECT.published).or_else(|| attr(&doc, &SELECT.time, "datetime"));
    for (key, selector) in [
        ("description", &SELECT.description),
        ("site_name", &SELECT.site_name),
        ("author", &SELECT.author),
    ] {
        if let Some(value) = content(&doc, selector) {
            article.meta.insert(key.into(), Value::String(value));
        }
    }
    Ok(vec![article].into())
}

/// The visible text of an HTML fragment (a feed item's content, an email's HTML part). Text
/// without markup or entities is only trimmed; markup too deeply nested to parse loses its tags.
pub(super) fn to_text(fragment: &str) -> String {
    if !fragment.contains(['<', '&']) {
        return fragment.trim().to_string();
    }
    if html_depth::too_deep(fragment) {
        return html_depth::strip_tags(fragment);
    }
    visible_text(Html::parse_fragment(fragment).root_element())
}

/// The CSS selectors the page is read with, parsed once.
struct Selectors {
    og_title: Selector,
    title: Selector,
    h1: Selector,
    canonical: Selector,
    og_url: Selector,
    published: Selector,
    time: Selector,
    description: Selector,
    site_name: Selector,
    author: Selector,
    article: Selector,
    main: Selector,
    body: Selector,
}

static SELECT: LazyLock<Selectors> = LazyLock::new(|| {
    // Constant selectors, covered by the tests: they parse.
    let css = |css| Selector::parse(css).expect("constant selector");
    Selectors {
        og_title: css(r#"meta[property="og:title"], meta[name="og:title"]"#),
        title: css("title"),
        h1: css("h1"),
        canonical: css(r#"link[rel~="canonical"][href]"#),
        og_url: css(r#"meta[property="og:url"]"#),
        published: css(r#"meta[property="article:published_time"]"#),
        time: css("time[datetime]"),
        description: css(r#"meta[name="description"], meta[property="og:description"]"#),
        site_name: css(r#"meta[property="og:site_name"]"#),
        author: css(r#"meta[name="author"]"#),
        article: css("article"),
        main: css("main"),
        body: css("body"),
    }
});

/// The first non-empty value of `name` on elements matching `selector`, white space collapsed.
fn attr(doc: &Html, selector: &Selector, name: &str) -> Option<String> {
    doc.select(selector)
        .filter_map(|e| e.attr(name))
        .map(super::one_line)
        .find(|v| !v.is_empty())
}

fn content(doc: &Html, selector: &Selector) -> Option<String> {
    attr(doc, selector, "content")
}

/// The visible text of the first matching element that has some, on one line.
fn first_text(doc: &Html, selector: &Selector) -> Option<String> {
    doc.select(selector)
        .map(|e| super::one_line(&visible_text(e)))
        .find(|t| !t.is_empty())
}

/// The body text: the `<article>` with the most text, else `<main>`, else `<body>`.
fn body_text(doc: &Html) -> String {
    let best_article = doc
        .select(&SELECT.article)
        .map(visible_text)
        .max_by_key(String::len)
        .filter(|t| !t.is_empty());
    best_article
        .or_else(|| first_text_block(doc, &SELECT.main))
        .or_else(|| first_text_block(doc, &SELECT.body))
        .unwrap_or_else(|| visible_text(doc.root_element()))
}

fn first_text_block(doc: &Html, selector: &Selector) -> Option<String> {
    doc.select(selector)
        .map(visible_text)
        .find(|t| !t.is_empty())
}

/// Elements whose content a reader does not see as the article's text.
const EXCLUDED: &[&str] = &[
    "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
    "button", "select", "textarea", "input", "iframe", "object", "embed", "svg", "math", "canvas",
    "audio", "video", "head", "dialog",
];

/// Elements shown as blocks: their text is a paragraph of its own.
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "blockquote",
    "body",
    "caption",
    "center",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hgroup",
    "hr",
    "html",
    "legend",
    "li",
    "main",
    "menu",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tbody",
    "tfoot",
    "thead",
    "tr",
    "ul",
];

/// Table cells sit side by side: separated by a space, never glued.
const CELLS: &[&str] = &["td", "th"];

fn hidden(e: &scraper::node::Element) -> bool {
    if EXCLUDED.contains(&e.name()) || e.attr("hidden").is_some() {
        return true;
    }
    if e.attr("aria-hidden")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    {
        return true;
    }
    e.attr("style").is_some_and(|style| {
        let style: String = style
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        style.contains("display:none") || style.contains("visibility:hidden")
    })
}

/// The text a reader sees under `root`. The walk is iterative (`traverse`), so deeply nested
/// pages cannot overflow the stack.
fn visible_text(root: ElementRef) -> String {
    let mut out = TextOut::default();
    let mut skipping = None;
    let mut pre = 0usize;
    for edge in root.traverse() {
        match edge {
            Edge::Open(node) if skipping.is_none() => match node.value() {
                Node::Text(text) => out.push(text, pre > 0),
                Node::Element(e) if hidden(e) => skipping = Some(node.id()),
                Node::Element(e) => {
                    out.gap(gap_around(e.name()));
                    pre += usize::from(e.name() == "pre");
                }
                _ => {}
            },
            Edge::Open(_) => {}
            Edge::Close(node) => {
                if skipping.is_some() {
                    if skipping == Some(node.id()) {
                        skipping = None;
                    }
                    continue;
                }
                if let Node::Element(e) = node.value() {
                    out.gap(gap_around(e.name()));
                    pre -= usize::from(e.name() == "pre");
                }
            }
        }
    }
    out.text
}

/// The break an element puts before and after its content.
fn gap_around(name: &str) -> Gap {
    if BLOCKS.contains(&name) {
        Gap::Paragraph
    } else if name == "br" {
        Gap::Line
    } else if CELLS.contains(&name) {
        Gap::Space
    } else {
        Gap::None
    }
}

#[derive(Clone, Copy, Default, PartialEq, PartialOrd)]
enum Gap {
    #[default]
    None,
    Space,
    Line,
    Paragraph,
}

/// Text being laid out: runs of white space collapse to one space, and a break is written
/// only between two pieces of text (never leading or trailing), the widest one winning.
#[derive(Default)]
struct TextOut {
    text: String,
    pending: Gap,
}

impl TextOut {
    fn gap(&mut self, gap: Gap) {
        if gap > self.pending {
            self.pending = gap;
        }
    }

    fn push(&mut self, text: &str, pre: bool) {
        for c in text.chars() {
            match c {
                '\n' if pre => self.gap(Gap::Line),
                c if c.is_whitespace() && !pre => self.gap(Gap::Space),
                c => {
                    if !self.text.is_empty() {
                        self.text.push_str(match self.pending {
                            Gap::None => "",
                            Gap::Space => " ",
                            Gap::Line => "\n",
                            Gap::Paragraph => "\n\n",
                        });
                    }
                    self.pending = Gap::None;
                    self.text.push(c);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(html: &str) -> Article {
        parse(html.as_bytes()).unwrap().articles.remove(0)
    }

    #[test]
    fn inline_elements_join_and_blocks_separate() {
        let a = page(
            "<title>T</title><body><p>The <b>Deep</b><b>Seek</b> model&nbsp;&amp; the\n  <i>H200</i>.</p><p>Second<br>line</p><div>Third</div></body>",
        );
        assert_eq!(
            a.body,
            "The DeepSeek model & the H200.\n\nSecond\nline\n\nThird"
        );
    }

    #[test]
    fn hidden_and_chrome_elements_are_left_out() {
        let a = page(
            r#"<body><nav>Menu</nav><header>Site</header><script>var x = "code";</script>
            <style>p { color: red }</style><p>Seen</p><p hidden>No1</p><p style="display: none">No2</p>
            <p aria-hidden="true">No3</p><form>No4</form><aside>No5</aside><footer>No6</footer>
            <noscript>No7</noscript><p>Also seen</p></body>"#,
        );
        assert_eq!(a.body, "Seen\n\nAlso seen");
    }

    #[test]
    fn title_url_and_date_come_from_metadata() {
        let a = page(
            r#"<html><head><title>Page title</title><meta property="og:title" content="OG &amp; title">
            <link rel="canonical" href="https://example.com/a"><meta property="og:url" content="https://example.com/og">
            </head><body><h1>Heading</h1><article><time datetime="2025-01-02T03:04:05Z">Jan 2</time><p>Text</p></article></body></html>"#,
        );
        assert_eq!(a.title, "OG & title");
        assert_eq!(a.url.as_deref(), Some("https://example.com/a"));
        assert_eq!(a.published.as_deref(), Some("2025-01-02T03:04:05Z"));
        assert_eq!(a.body, "Jan 2\n\nText");
        assert_eq!(page("<title> A\n  B </title>x").title, "A B");
        assert_eq!(page("<h1>The <em>head</em></h1><p>x</p>").title, "The head");
    }

    #[test]
    fn the_longest_article_is_the_body_else_main_else_body() {
        let a = page(
            "<body><article>Teaser</article><article><p>The real story is longer.</p></article></body>",
        );
        assert_eq!(a.body, "The real story is longer.");
        let a = page("<body><p>Outside</p><main><p>Inside</p></main></body>");
        assert_eq!(a.body, "Inside");
    }

    #[test]
    fn deep_nesting_and_empty_pages_do_not_fail_badly() {
        let deep = format!("{}deep text", "<span>".repeat(2_000));
        assert_eq!(page(&deep).body, "deep text");
        let deeper = format!("{}deep text", "<div>".repeat(100_000));
        assert!(parse(deeper.as_bytes()).unwrap_err().starts_with("refused"));
        assert!(parse(b"<html><body><script>x</script></body></html>").is_err());
    }

    #[test]
    fn fragments_become_text() {
        assert_eq!(to_text("plain text "), "plain text");
        assert_eq!(to_text("<p>One</p><p>Two &lt;3</p>"), "One\n\nTwo <3");
    }
}
