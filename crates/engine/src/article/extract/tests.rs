//! Hand-written pages, one per case the extractor must get right. Each story is long enough
//! (several paragraphs of prose) to be scored as one, and the page around it is what sites put
//! there: menus, comments, related stories, teasers, sharing tools.

use super::super::{Article, Budget, html};

fn page(html: &str) -> Article {
    html::parse(html.as_bytes(), &Budget::unlimited())
        .unwrap()
        .articles
        .remove(0)
}

/// Paragraphs of a story about a harbour: prose with commas, none of it links.
fn story(n: usize) -> String {
    (1..=n)
        .map(|i| {
            format!(
                "<p>Paragraph {i} of the harbour story: the council voted on Tuesday, after a long \
                 debate, to rebuild the old pier, which storms had damaged twice, and the work \
                 starts in spring.</p>"
            )
        })
        .collect()
}

/// A site's menu, as a list of links.
const MENU: &str = r#"<div class="menu"><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li>
<li><a href="/sport">Sport</a></li><li><a href="/weather">Weather</a></li></ul></div>"#;

fn assert_story(body: &str, n: usize) {
    for i in 1..=n {
        assert!(
            body.contains(&format!("Paragraph {i} of the harbour story")),
            "paragraph {i} missing from {body:?}"
        );
    }
}

#[test]
fn comments_are_dropped() {
    let a = page(&format!(
        r#"<html><head><title>Harbour</title></head><body>{MENU}
        <div class="story">{}</div>
        <div id="comments"><h3>12 comments</h3>
          <div class="comment"><p>Reader one says: this is the best news, finally, after years of waiting for the pier.</p></div>
          <div class="comment"><p>Reader two says: a waste of money, as usual, and nobody asked the fishermen.</p></div>
        </div></body></html>"#,
        story(5)
    ));
    assert_story(&a.body, 5);
    assert!(!a.body.contains("Reader"), "{}", a.body);
    assert!(!a.body.contains("12 comments"), "{}", a.body);
    assert!(!a.body.contains("Sport"), "{}", a.body);
}

#[test]
fn sidebar_and_related_list_are_dropped() {
    let a = page(&format!(
        r#"<body>{MENU}<div id="wrap">
        <div class="main-text">{}</div>
        <div class="sidebar"><h4>Most read</h4><p>Weather: rain all week, with storms, again, says the office.</p></div>
        <div class="box"><h4>Related stories</h4><ul>
          <li><a href="/a">Pier closed after the first storm damaged its deck</a></li>
          <li><a href="/b">Council delays the vote on the harbour budget again</a></li>
          <li><a href="/c">Fishermen protest against the new harbour fees</a></li></ul></div>
        </div></body>"#,
        story(4)
    ));
    assert_story(&a.body, 4);
    assert!(!a.body.contains("Most read"), "{}", a.body);
    assert!(!a.body.contains("rain all week"), "{}", a.body);
    assert!(!a.body.contains("Pier closed"), "{}", a.body);
    assert!(!a.body.contains("Related stories"), "{}", a.body);
}

#[test]
fn the_story_beats_a_teaser_article() {
    // The old rule took the longest `<article>`; a page of teasers has several, and the story
    // may be the one not marked up as an article at all.
    let teaser = r#"<article class="teaser"><h3><a href="/other">Another story entirely</a></h3>
        <p>A short teaser for a different story, with a link.</p></article>"#;
    let a = page(&format!(
        r#"<body>{MENU}<div class="page">{teaser}{teaser}
        <div class="content"><h1>Harbour pier to be rebuilt</h1>{}</div>{teaser}</div></body>"#,
        story(4)
    ));
    assert!(
        a.body.starts_with("Harbour pier to be rebuilt"),
        "{}",
        a.body
    );
    assert_story(&a.body, 4);
    assert!(!a.body.contains("Another story"), "{}", a.body);
}

#[test]
fn a_page_without_article_or_main() {
    // An old page: a layout table, the story as text broken by `<br>`s in a cell.
    let text = (1..=4)
        .map(|i| {
            format!(
                "Paragraph {i} of the harbour story: the council voted on Tuesday, after a long \
                 debate, to rebuild the old pier, which storms had damaged twice.<br><br>"
            )
        })
        .collect::<String>();
    let a = page(&format!(
        r#"<html><body><table><tr>
        <td class="nav"><a href="/">Home</a><br><a href="/news">News</a><br><a href="/about">About us</a></td>
        <td><font size="2"><b>Harbour pier to be rebuilt</b><br><br>{text}</font></td>
        </tr></table><div class="footer">Copyright 2008 The Harbour Gazette. All rights reserved.</div></body></html>"#
    ));
    assert_story(&a.body, 4);
    assert!(a.body.contains("Harbour pier to be rebuilt"), "{}", a.body);
    assert!(!a.body.contains("About us"), "{}", a.body);
    assert!(!a.body.contains("Copyright"), "{}", a.body);
}

#[test]
fn lists_quotes_and_headings_of_the_story_are_kept() {
    let a = page(&format!(
        r#"<body>{MENU}<article><h1>Harbour pier to be rebuilt</h1>{}
        <h2>What changes</h2>
        <ul><li>A longer pier, of stone</li><li>Lights along the deck</li><li>A new ferry stop</li></ul>
        <blockquote><p>It is the biggest project the harbour has seen in fifty years, and it is overdue.</p></blockquote>
        <h3>When</h3>{}</article></body>"#,
        story(3),
        "<p>The work starts in spring and should take, if the weather allows, two summers.</p>"
    ));
    assert_story(&a.body, 3);
    for kept in [
        "Harbour pier to be rebuilt",
        "What changes",
        "A longer pier, of stone",
        "Lights along the deck",
        "A new ferry stop",
        "It is the biggest project",
        "When",
        "two summers",
    ] {
        assert!(a.body.contains(kept), "{kept:?} missing from {}", a.body);
    }
    assert!(!a.body.contains("Weather"), "{}", a.body);
}

#[test]
fn a_story_in_several_sections_is_read_whole() {
    // Steps of a how-to, each in its own wrapper: the story is all of them.
    let step = |i: usize| {
        format!(
            r#"<section class="step"><h2>Step {i}</h2><div class="step-body"><p>Paragraph {i} of the harbour story: the council voted on Tuesday, after a long debate, to rebuild the old pier, which storms had damaged twice, and so on.</p></div></section>"#
        )
    };
    let steps: String = (1..=4).map(step).collect();
    let a = page(&format!(
        r#"<body>{MENU}<div class="steps">{steps}</div></body>"#
    ));
    assert_story(&a.body, 4);
    assert!(a.body.contains("Step 4"), "{}", a.body);
}

#[test]
fn short_sharing_tools_and_link_lists_inside_the_story_are_dropped() {
    let a = page(&format!(
        r#"<body><div class="article-body">{}
        <div class="share-tools"><a href="/f">Facebook</a> <a href="/t">Twitter</a> <a href="/m">Email this story</a></div>
        <div><a href="/tag/pier">Pier</a>, <a href="/tag/council">Council</a>, <a href="/tag/harbour">Harbour</a>, <a href="/tag/storms">Storms</a></div>
        {}</div></body>"#,
        story(2),
        "<p>Paragraph 3 of the harbour story: the council voted on Tuesday, after a long debate, to rebuild the old pier.</p>"
    ));
    assert_story(&a.body, 3);
    assert!(!a.body.contains("Facebook"), "{}", a.body);
    assert!(!a.body.contains("Email this story"), "{}", a.body);
    assert!(!a.body.contains("Storms"), "{}", a.body);
}

#[test]
fn a_page_of_little_text_keeps_it() {
    // Nothing reaches a paragraph's length: the text there is, without the links around it.
    let a = page(
        r#"<body><ul><li><a href="/">Home</a></li><li><a href="/faq">FAQ</a></li><li><a href="/c">Contact</a></li><li><a href="/s">Search</a></li></ul>
        <div><h2>Closed today</h2><p>The office is closed.</p></div></body>"#,
    );
    assert!(a.body.contains("Closed today"), "{}", a.body);
    assert!(a.body.contains("The office is closed."), "{}", a.body);
}

#[test]
fn hostile_shapes_are_read_in_one_pass() {
    // Deep nesting of scored paragraphs and very wide pages: linear, no panic.
    let deep = format!("<body>{}{}</body>", "<div>".repeat(1_000), story(3));
    assert_story(&page(&deep).body, 3);
    let wide = format!("<body>{}</body>", story(1).repeat(20_000));
    assert!(page(&wide).body.len() > 1_000_000);
    let empty_classes = format!(
        "<body>{}</body>",
        r#"<div class="" id=""><p class="comment sidebar">x</p></div>"#.repeat(1_000)
    );
    let _ = html::parse(empty_classes.as_bytes(), &Budget::unlimited());
}

#[test]
fn a_page_whose_content_is_a_data_table_reads_the_table() {
    // A roster: short cells, none of them a paragraph, in a table with header cells.
    let rows: String = (1..=12)
        .map(|i| {
            format!(
                "<tr><td>{i}</td><td><a href=\"/p/{i}\">Player Number{i}</a></td><td>R/R</td>\
                 <td>6'2\"</td><td>190lbs</td><td>7/10/89</td></tr>"
            )
        })
        .collect();
    let a = page(&format!(
        r#"<html><head><title>Roster</title></head><body>{MENU}
        <div class="main"><h2>Roster &amp; Staff</h2><section><h4>Pitchers</h4>
        <table class="data"><thead><tr><th>#</th><th>Name</th><th>B/T</th><th>Ht</th>
        <th>Wt</th><th>DOB</th></tr></thead><tbody>{rows}</tbody></table></section></div>
        <div class="footer-links"><p>The Official Site of the Club, with all rights reserved.</p></div>
        </body></html>"#
    ));
    for i in 1..=12 {
        assert!(a.body.contains(&format!("Player Number{i}")), "{}", a.body);
    }
    assert!(a.body.contains("Pitchers"), "{}", a.body);
    assert!(!a.body.contains("Official Site"), "{}", a.body);
}

#[test]
fn posts_of_text_cut_by_line_breaks_outweigh_their_icons() {
    // A forum thread: each post a table with icons (post, quote) and its text in a `<span>`
    // cut by `<br>`, no `<p>` anywhere; beside it, each poster's details.
    let posts: String = (1..=12)
        .map(|i| {
            format!(
                r#"<tr><td class="row1"><b>member{i}</b><br>Chief Captain<br>Joined: Jun 26, 2004<br>
                Posts: 5342<br>Location: England</td><td class="row1"><table><tr>
                <td><img src="post.gif" alt="Post">Posted: Wed Feb 02, 2005</td>
                <td><img src="quote.gif" alt="Quote"></td></tr>
                <tr><td colspan="2"><span class="postbody">Post {i} says: I want to know what
                graphics cards and processor everyone is using.<br><br>512mb ram<br>2.8 ghz</span>
                </td></tr></table></td></tr>"#
            )
        })
        .collect();
    let a = page(&format!(
        r#"<html><body>{MENU}<table class="forumline"><tr><th>Author</th><th>Message</th></tr>
        {posts}</table></body></html>"#
    ));
    for i in 1..=12 {
        let said = format!("Post {i} says");
        assert!(a.body.contains(&said), "{said} missing from {}", a.body);
    }
}

#[test]
fn text_that_class_names_hide_is_left_out() {
    // A skip link for screen readers and a collapsed box, in a page whose `<body>` its
    // scripts show once loaded (that one is read).
    let a = page(&format!(
        r##"<html><body class="hidden">{MENU}<div class="story">
        <a class="hidden" href="#more">Continue reading the main story</a>{}
        <span class="sr-only visually-hidden">Skip to the next section</span>{}</div></body></html>"##,
        story(3),
        story(2)
    ));
    assert_story(&a.body, 2);
    assert!(!a.body.contains("Continue reading"), "{}", a.body);
    assert!(!a.body.contains("Skip to"), "{}", a.body);
}

#[test]
fn a_class_that_hides_on_small_screens_only_is_read() {
    let a = page(&format!(
        r#"<html><body>{MENU}<div class="story hidden-xs">{}</div></body></html>"#,
        story(4)
    ));
    assert_story(&a.body, 4);
}
