//! The guard against html5ever itself: real shapes pass, hostile ones are caught, and the
//! model's depth follows the parser's on tag soup.

use std::borrow::Cow;

use super::stack::Tree;
use super::*;

fn work(html: &str) -> u64 {
    Tree::new().run(neutralize(html.into()).as_bytes())
}

#[test]
fn formatting_elements_are_renamed_and_restored() {
    let page = "<P><B>x</b><bdi>y</bdi><a\nhref=z>w</A><font>\u{FDD0}</font>";
    let marked = neutralize(page.into());
    assert_eq!(
        marked,
        "<P><B\u{FDD0}>x</b\u{FDD0}><bdi>y</bdi><a\u{FDD0}\nhref=z>w</A\u{FDD0}><font\u{FDD0}>\u{FDD0}\u{FDD0}</font\u{FDD0}>"
    );
    assert_eq!(unmark(marked.into_owned()), page);
    assert_eq!(unmark("a\u{FDD0}b".into()), "ab");
    assert!(matches!(neutralize("<p>x</p>".into()), Cow::Borrowed(_)));
}

#[test]
fn real_shapes_pass_and_absurd_nesting_is_caught() {
    let page = format!(
        "<html><body>{}",
        "<div><p>text<br><img src=x><span>a</span></div>".repeat(20_000)
    );
    assert!(check(&page).is_ok());
    assert!(work(&page) < 2 * page.len() as u64, "{}", work(&page));
    let sloppy = format!(
        "<ul>{}</ul><table>{}</table>",
        "<li><p>item".repeat(5_000),
        "<tr><td>a<td>b".repeat(5_000)
    );
    assert!(work(&sloppy) < 2 * sloppy.len() as u64, "{}", work(&sloppy));
    assert!(check(&"<p>para".repeat(200_000)).is_ok());
    assert!(check(&"<script>var s = '<div>';</script>".repeat(50_000)).is_ok());
    assert!(check(&"<div>".repeat(100_000)).is_err());
    assert!(check(&"<div><b>".repeat(10_000)).is_err());
    // Inline elements open without a walk: deep, but read in linear time.
    assert!(check(&"<span><b>".repeat(10_000)).is_ok());
    // End tags that match nothing walk the whole stack each.
    let spans = format!("{}{}", "<span>".repeat(3_000), "</x>".repeat(20_000));
    assert!(check(&spans).is_err());
    // A span cannot close past a div.
    let unclosable = "<span><div></span>".repeat(5_000);
    assert!(check(&unclosable).is_err());
}

#[test]
fn raw_text_and_comments_are_not_markup() {
    let deep = format!("{}{}", "<span>".repeat(2_000), "</x>".repeat(10_000));
    assert!(check(&deep).is_err());
    for hidden in [
        format!("<script>{deep}</script>"),
        format!("<script><!--<script></script>{deep}</script>"),
        format!("<style>{deep}</style><title>{deep}</title>"),
        format!("<!-- {deep} --><!-->"),
        format!("<textarea>{deep}</TEXTAREA >"),
    ] {
        assert!(check(&hidden).is_ok(), "{}", &hidden[..40]);
    }
    // In SVG, a style is markup; an HTML element ends the SVG.
    assert!(check(&format!("<svg><style>{deep}")).is_err());
    assert!(check(&format!("<svg><p><style>{deep}</style>")).is_ok());
    // Raw text without its end is markup to the model (the parser would read it as text
    // to the end: better too much than too little).
    assert!(check(&format!("<p><style>{deep}")).is_err());
    // The end of a script is where the standard says, whatever quotes are in it.
    assert!(check(&format!("<script>'<a x=\"</script>{deep}")).is_err());
}

/// The model's deepest stack is never much below the depth of the tree html5ever builds
/// (where an element's depth is the stack's when it was inserted), on random tag soups.
#[test]
fn the_model_follows_the_parser_on_tag_soup() {
    const WORDS: &[&str] = &[
        "div",
        "p",
        "span",
        "li",
        "ul",
        "ol",
        "dd",
        "dt",
        "dl",
        "table",
        "tr",
        "td",
        "th",
        "tbody",
        "thead",
        "caption",
        "col",
        "colgroup",
        "b",
        "i",
        "a",
        "font",
        "nobr",
        "em",
        "svg",
        "math",
        "foreignObject",
        "desc",
        "mi",
        "annotation-xml",
        "g",
        "title",
        "style",
        "script",
        "textarea",
        "select",
        "option",
        "optgroup",
        "button",
        "h1",
        "h2",
        "form",
        "template",
        "pre",
        "br",
        "img",
        "hr",
        "input",
        "xmp",
        "noscript",
        "iframe",
        "object",
        "applet",
        "marquee",
        "body",
        "html",
        "head",
        "frameset",
        "noframes",
        "listing",
        "ruby",
        "rt",
        "section",
        "article",
        "main",
        "x",
        "y",
    ];
    // `SOUP_ROUNDS`, `SOUP_SEED` and `SOUP_LEN` explore further.
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let mut seed = env("SOUP_SEED", 0x2545_f491_4f6c_dd1d);
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for round in 0..env("SOUP_ROUNDS", 3_000) {
        let mut page = String::new();
        for _ in 0..next(env("SOUP_LEN", 200) as usize) + 20 {
            let word = WORDS[next(WORDS.len())];
            match next(10) {
                0..=4 => page.push_str(&format!("<{word}>")),
                5..=7 => page.push_str(&format!("</{word}>")),
                8 => page.push_str("text "),
                _ => page.push_str(
                    [
                        "<!-- c -->",
                        "<!-->",
                        "<![CDATA[<div>]]>",
                        "<br/>",
                        "<svg/>",
                        "<p x='>'>",
                    ][next(6)],
                ),
            }
        }
        let marked = neutralize(Cow::Borrowed(&page));
        let mut tree = Tree::new();
        tree.run(marked.as_bytes());
        let doc = scraper::Html::parse_document(&marked);
        let built = doc
            .tree
            .root()
            .descendants()
            .map(|n| n.ancestors().filter(|a| a.value().is_element()).count())
            .max()
            .unwrap_or(0);
        // The model starts with html and body open; a template's content is a fragment
        // node in the tree, not an element on the stack.
        assert!(
            tree.deepest + 4 >= built,
            "round {round}: model {} < tree {built} for {page}",
            tree.deepest
        );
    }
}

#[test]
fn attributes_are_bounded_whatever_the_context() {
    let many = |n: usize| {
        (0..n)
            .map(|i| format!("a{i}=x"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(check(&format!("<p {}>x", many(4000))).is_ok());
    assert!(check(&format!("<p {}>x", many(4200))).is_err());
    // A `>` in a quoted value does not end the tag; a `<` in one may start one.
    assert!(check(&format!("<p x=\">\" {}>x", many(4200))).is_err());
    assert!(check(&format!("<p x=\"<i {}>\">", many(4200))).is_err());
    assert!(check(&format!("<script><p {}></script>", many(4200))).is_err());
    assert!(check(&format!("</p {}>", many(4200))).is_err());
    assert!(check(&format!("x</p {}>", many(4000))).is_ok());
    let bodies = format!("<body {}>", many(300)).repeat(4);
    assert!(check(&bodies).is_err());
    assert!(check(&format!("<div {}>", many(300)).repeat(4)).is_ok());
    // Within the bound one by one, too many in all.
    assert!(check(&format!("<p {}>x</p>", many(2000)).repeat(16)).is_ok());
    let all = check(&format!("<p {}>x</p>", many(2000)).repeat(17)).unwrap_err();
    assert!(all.contains("too many attributes in all"), "{all}");
}

#[test]
fn stripped_markup_keeps_its_text() {
    assert_eq!(
        strip_tags("<div><b>Deep</b> <i>H200</i></div>"),
        "Deep H200"
    );
}
