//! HTML (`.html`, `.htm`): a saved web page, parsed with html5ever (through `scraper`) the way a
//! browser parses it, and turned into the text a reader sees.
//!
//! Title: `og:title`, else `<title>`, else the first `<h1>`. Body: the story's text, as the
//! extractor finds it (see `extract`: paragraphs score the elements around them, class names,
//! roles and link text weigh, boilerplate inside the story is left out); when it finds none,
//! the visible text of the page's `<article>` (the one with the most text), else `<main>`,
//! else `<body>`. Visible means without scripts, styles, navigation, headers, footers, asides,
//! forms and hidden elements.
//! Text is laid out as it is shown: inline elements join without a space
//! (`<b>Deep</b><b>Seek</b>` is `DeepSeek`), block elements are separated by a blank line,
//! `<br>` by a line break. [`to_text`] does the same for HTML fragments of feeds, JSON and mail.
//!
//! The parser is only given pages within the bounds `html_guard` checks (and with formatting
//! elements renamed, see there), and the page is then read in one walk of its tree: reading is
//! linear in the page, however its elements nest.

use std::borrow::Cow;

use ego_tree::NodeId;
use ego_tree::iter::Edge;
use html5ever::tendril::{StrTendril, TendrilSink};
use html5ever::{QualName, local_name, ns};
use scraper::{ElementRef, Html, HtmlTreeSink, Node};
use serde_json::Value;

pub(super) use super::html_text::{
    Gap, Layout, TextOut, Visit, gap_around, hidden_by_attributes, lay_out,
};
use super::html_text::{hidden, visible_text};
use super::{Article, Budget, Parsed, decode, html_guard, html_repair};

/// Bytes given to the parser at a time, between checks of the budget: html5ever cannot be
/// stopped inside a chunk, and within the guard's bounds a chunk costs it milliseconds.
const CHUNK: usize = 64 * 1024;

pub(super) fn parse(bytes: &[u8], budget: &Budget) -> Result<Parsed, String> {
    let html = html_repair::close_title(html_guard::neutralize(decode::decode(
        bytes,
        decode::html_charset(bytes),
    )));
    html_guard::check(&html)?;
    let doc = parse_within(&html, Kind::Document, budget)?;
    drop(html);
    let page = Page::read(&doc);
    let text_of = |id: Option<NodeId>| {
        id.and_then(|id| doc.tree.get(id))
            .and_then(ElementRef::wrap)
            .map(visible_text)
    };
    let title = page
        .og_title
        .clone()
        .or_else(|| text_of(page.title.map(|(id, _)| id)).map(|t| super::one_line(&t)))
        .or_else(|| text_of(page.h1.map(|(id, _)| id)).map(|t| super::one_line(&t)))
        .unwrap_or_default();
    let body = match super::extract::main_text(&doc, budget)? {
        Some(body) => Some(body),
        None => text_of(page.article.map(|(id, _, _)| id)),
    }
    .or_else(|| text_of(page.main.map(|(id, _)| id)))
    .or_else(|| text_of(page.body.map(|(id, _)| id)))
    .unwrap_or_else(|| visible_text(doc.root_element()));
    drop(doc);
    let (title, body) = (html_guard::unmark(title), html_guard::unmark(body));
    if title.is_empty() && body.is_empty() {
        return Err("no title and no visible text in the page".into());
    }
    let mut article = Article::new(title, body);
    let [url, published, description, site_name, author] = [
        page.canonical.or(page.og_url),
        page.published.or(page.time),
        page.description,
        page.site_name,
        page.author,
    ]
    .map(|v| v.map(html_guard::unmark));
    article.url = url;
    article.published = published;
    for (key, value) in [
        ("description", description),
        ("site_name", site_name),
        ("author", author),
    ] {
        if let Some(value) = value {
            article.meta.insert(key.into(), Value::String(value));
        }
    }
    Ok(vec![article].into())
}

/// The visible text of an HTML fragment (a feed item's content, an email's HTML part). Text
/// without markup or entities is only trimmed; markup beyond what the parser is given (see
/// `html_guard`) loses its tags.
pub(super) fn to_text(fragment: &str, budget: &Budget) -> String {
    if !fragment.contains(['<', '&']) {
        return fragment.trim().to_string();
    }
    let html = html_guard::neutralize(Cow::Borrowed(fragment));
    if html_guard::check(&html).is_err() {
        return html_guard::strip_tags(fragment);
    }
    match parse_within(&html, Kind::Fragment, budget) {
        Ok(doc) => html_guard::unmark(visible_text(doc.root_element())),
        // The file is refused at its next item; until then this costs one linear pass.
        Err(_) => html_guard::strip_tags(fragment),
    }
}

/// What the parser is given: a whole page, or a fragment read as the content of a `<body>`.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Document,
    Fragment,
}

/// `html` parsed as `Html::parse_document` or `Html::parse_fragment` would, but fed to the
/// parser [`CHUNK`] bytes at a time so that the budget is checked between chunks.
fn parse_within(html: &str, kind: Kind, budget: &Budget) -> Result<Html, String> {
    let mut parser = match kind {
        Kind::Document => {
            html5ever::parse_document(HtmlTreeSink::new(Html::new_document()), Default::default())
        }
        Kind::Fragment => html5ever::parse_fragment(
            HtmlTreeSink::new(Html::new_fragment()),
            Default::default(),
            QualName::new(None, ns!(html), local_name!("body")),
            Vec::new(),
            false,
        ),
    };
    let mut rest = html;
    while !rest.is_empty() {
        budget.check()?;
        let mut end = rest.len().min(CHUNK);
        while !rest.is_char_boundary(end) {
            end += 1;
        }
        parser.process(StrTendril::from_slice(&rest[..end]));
        rest = &rest[end..];
    }
    budget.check()?;
    Ok(parser.finish())
}

/// What one walk over a parsed page finds: the metadata (each the first non-empty value in the
/// page's order, as the CSS selectors in the comments would find it) and which element holds
/// the title and the body. The walk is linear in the page, however its elements nest: the
/// length of each element's visible text is put together from its children's (see [`Frag`]),
/// so no text is laid out twice.
#[derive(Default)]
struct Page {
    /// `meta[property="og:title"], meta[name="og:title"]`
    og_title: Option<String>,
    /// `link[rel~="canonical"][href]`
    canonical: Option<String>,
    /// `meta[property="og:url"]`
    og_url: Option<String>,
    /// `meta[property="article:published_time"]`
    published: Option<String>,
    /// `time[datetime]`
    time: Option<String>,
    /// `meta[name="description"], meta[property="og:description"]`
    description: Option<String>,
    /// `meta[property="og:site_name"]`
    site_name: Option<String>,
    /// `meta[name="author"]`
    author: Option<String>,
    /// The first `<title>`, then `<h1>`, with visible text other than white space.
    title: Option<(NodeId, usize)>,
    h1: Option<(NodeId, usize)>,
    /// The `<article>` with the longest visible text (the last of equals): its id, its place
    /// in the page's order and the length.
    article: Option<(NodeId, usize, usize)>,
    /// The first `<main>`, then `<body>`, with visible text.
    main: Option<(NodeId, usize)>,
    body: Option<(NodeId, usize)>,
}

impl Page {
    fn read(doc: &Html) -> Page {
        let mut page = Page::default();
        // Per open element: its place in the page's order, and the text of its children so
        // far, laid out outside and inside a `<pre>`.
        let mut open: Vec<(usize, [Frag; 2])> = Vec::new();
        let mut order = 0;
        for edge in doc.tree.root().traverse() {
            match edge {
                Edge::Open(node) => match node.value() {
                    Node::Element(e) => {
                        page.metadata(e);
                        open.push((order, [Frag::default(); 2]));
                        order += 1;
                    }
                    Node::Text(text) => {
                        if let Some((_, children)) = open.last_mut() {
                            for (pre, frag) in children.iter_mut().enumerate() {
                                *frag = frag.then(Frag::of_text(text, pre == 1));
                            }
                        }
                    }
                    _ => {}
                },
                Edge::Close(node) => {
                    let Node::Element(e) = node.value() else {
                        continue;
                    };
                    let (at, children) = open.pop().expect("opened");
                    let frags = if hidden(e) {
                        [Frag::default(); 2]
                    } else {
                        let gap = Frag::gap(gap_around(e.name()));
                        let in_pre = e.name() == "pre";
                        [false, true]
                            .map(|pre| gap.then(children[usize::from(pre || in_pre)]).then(gap))
                    };
                    if let Some((_, parent)) = open.last_mut() {
                        for (pre, frag) in parent.iter_mut().enumerate() {
                            *frag = frag.then(frags[pre]);
                        }
                    }
                    page.candidate(e.name(), node.id(), at, frags[0]);
                }
            }
        }
        page
    }

    /// Keeps what an element whose whole text is laid out as `text` may be for the page.
    fn candidate(&mut self, name: &str, id: NodeId, at: usize, text: Frag) {
        let first = |slot: &mut Option<(NodeId, usize)>, ok: bool| {
            if ok && slot.is_none_or(|(_, before)| at < before) {
                *slot = Some((id, at));
            }
        };
        match name {
            "article" if text.len > 0 => {
                let longest = self.article.is_none_or(|(_, before, len)| {
                    text.len > len || (text.len == len && at > before)
                });
                if longest {
                    self.article = Some((id, at, text.len));
                }
            }
            "main" => first(&mut self.main, text.any),
            "body" => first(&mut self.body, text.any),
            "title" => first(&mut self.title, text.solid),
            "h1" => first(&mut self.h1, text.solid),
            _ => {}
        }
    }

    /// Takes the metadata an element holds, where none was found before it.
    fn metadata(&mut self, e: &scraper::node::Element) {
        let value = |name: &str| e.attr(name).map(super::one_line).filter(|v| !v.is_empty());
        let keep = |slot: &mut Option<String>, matches: bool, name: &str| {
            if slot.is_none() && matches {
                *slot = value(name);
            }
        };
        match e.name() {
            "meta" => {
                let property = e.attr("property");
                let name = e.attr("name");
                let is = |attr: Option<&str>, v: &str| attr == Some(v);
                let og_title = is(property, "og:title") || is(name, "og:title");
                keep(&mut self.og_title, og_title, "content");
                keep(&mut self.og_url, is(property, "og:url"), "content");
                let published = is(property, "article:published_time");
                keep(&mut self.published, published, "content");
                let description = is(name, "description") || is(property, "og:description");
                keep(&mut self.description, description, "content");
                keep(&mut self.site_name, is(property, "og:site_name"), "content");
                keep(&mut self.author, is(name, "author"), "content");
            }
            "link" => {
                // `rel` is matched ignoring ASCII case on HTML elements, as CSS does.
                let html = &*e.name.ns == "http://www.w3.org/1999/xhtml";
                let canonical = e.attr("href").is_some()
                    && e.attr("rel").is_some_and(|rel| {
                        rel.split(['\t', '\n', '\x0c', '\r', ' ']).any(|token| {
                            token == "canonical"
                                || (html && token.eq_ignore_ascii_case("canonical"))
                        })
                    });
                keep(&mut self.canonical, canonical, "href");
            }
            "time" => keep(&mut self.time, true, "datetime"),
            _ => {}
        }
    }
}

/// The visible text of an element, laid out as [`TextOut`] does, reduced to what putting texts
/// together needs: whether there is any, its length (bytes), whether any of it is not white
/// space, and the widest breaks before its first and after its last character (the break
/// written between two texts is the widest of the two; leading and trailing ones are not
/// written). Element by element, this gives every element's text length in one walk.
#[derive(Clone, Copy, Default)]
struct Frag {
    any: bool,
    /// Without characters, the widest break seen.
    lead: Gap,
    len: usize,
    trail: Gap,
    solid: bool,
}

impl Frag {
    fn gap(gap: Gap) -> Frag {
        Frag {
            lead: gap,
            ..Frag::default()
        }
    }

    /// `self` followed by `next`.
    fn then(self, next: Frag) -> Frag {
        match (self.any, next.any) {
            (_, false) => {
                let mut out = self;
                if out.any {
                    out.trail = out.trail.max(next.lead);
                } else {
                    out.lead = out.lead.max(next.lead);
                }
                out
            }
            (false, true) => Frag {
                lead: self.lead.max(next.lead),
                ..next
            },
            (true, true) => Frag {
                any: true,
                lead: self.lead,
                len: self.len + self.trail.max(next.lead).text().len() + next.len,
                trail: next.trail,
                solid: self.solid || next.solid,
            },
        }
    }

    /// A text node's text, laid out as [`TextOut::push`] does.
    fn of_text(text: &str, pre: bool) -> Frag {
        let mut frag = Frag::default();
        // The widest break since the last character (or the start).
        let mut pending = Gap::None;
        for c in text.chars() {
            match c {
                '\n' if pre => pending = pending.max(Gap::Line),
                c if c.is_whitespace() && !pre => pending = pending.max(Gap::Space),
                c => {
                    if frag.any {
                        frag.len += pending.text().len();
                    } else {
                        frag.lead = pending;
                        frag.any = true;
                    }
                    pending = Gap::None;
                    frag.len += c.len_utf8();
                    frag.solid |= !c.is_whitespace();
                }
            }
        }
        if frag.any {
            frag.trail = pending;
        } else {
            frag.lead = pending;
        }
        frag
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(html: &str) -> Article {
        parse(html.as_bytes(), &Budget::unlimited())
            .unwrap()
            .articles
            .remove(0)
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
        assert!(
            parse(deeper.as_bytes(), &Budget::unlimited())
                .unwrap_err()
                .starts_with("refused")
        );
        assert!(
            parse(
                b"<html><body><script>x</script></body></html>",
                &Budget::unlimited()
            )
            .is_err()
        );
    }

    #[test]
    fn fragments_become_text() {
        assert_eq!(to_text("plain text ", &Budget::unlimited()), "plain text");
        assert_eq!(
            to_text("<p>One</p><p>Two &lt;3</p>", &Budget::unlimited()),
            "One\n\nTwo <3"
        );
    }
}
