//! `scan -` reads standard input in the format its content shows — an HTML page, an XML feed,
//! JSON or JSON Lines, an e-mail message, else plain text — and `--stdin-format FMT` forces
//! one. Through the real binary, with stdin piped.

mod common;

use common::{Run, Sandbox, repo};
use serde_json::Value;

/// Alerts once per article with its body and publication time.
const EVERY: &str =
    r#"alert(#{ message: article.title, body: article.body, published: article.published });"#;

fn sandbox() -> Sandbox {
    let s = Sandbox::new();
    s.rule("every", EVERY);
    s
}

fn scan(s: &Sandbox, extra: &[&str], stdin: &[u8]) -> Run {
    let mut args = vec!["scan", "--format", "json"];
    args.extend_from_slice(extra);
    args.push("-");
    s.run_with_stdin(&args, Some(stdin))
}

/// (title, body, url, published, source) of each article.
fn articles(run: &Run) -> Vec<(String, String, Value, Value, Value)> {
    assert!(run.code < 2, "{}", run.stderr);
    run.alerts()
        .iter()
        .map(|a| {
            assert_eq!(a["article"]["path"], "-");
            (
                a["article"]["title"].as_str().unwrap().to_string(),
                a["fields"]["body"].as_str().unwrap().to_string(),
                a["article"]["url"].clone(),
                a["fields"]["published"].clone(),
                a["article"]["source"].clone(),
            )
        })
        .collect()
}

const PAGE: &str = r#"<!DOCTYPE html>
<html><head><title>H200 exports</title><link rel="canonical" href="https://news.example.com/h200">
<meta property="article:published_time" content="2026-12-05T09:00:00Z"></head>
<body><nav>Home</nav><article><h1>H200 exports</h1><p>DeepSeek may buy <b>H200</b> boards.</p></article></body></html>"#;

const FEED: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Chip Wire</title>
<item><title>AT&T orders H200 boards</title><link>https://wire.example.com/1</link>
<description>&lt;p&gt;A large order.&lt;/p&gt;</description><pubDate>Sat, 05 Dec 2026 10:00:00 GMT</pubDate></item>
<item><title>Second item</title><link>https://wire.example.com/2</link><description>Small.</description></item>
</channel></rss>"#;

const MAIL: &str = "From: Chip Letter <news@example.com>\r\nTo: reader@example.com\r\n\
Subject: =?UTF-8?B?UMOpa2luIGFuZCB0aGUgSDIwMA==?=\r\nDate: Sat, 5 Dec 2026 11:00:00 +0000\r\n\
MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe letter's text.\r\n";

#[test]
fn an_html_page_is_read_as_a_page() {
    let run = scan(&sandbox(), &[], PAGE.as_bytes());
    let read = articles(&run);
    assert_eq!(read.len(), 1);
    let (title, body, url, published, source) = &read[0];
    assert_eq!(title, "H200 exports");
    // The story's text, without the page's navigation (how the extractor lays out the rest
    // is its business, not stdin's).
    assert!(body.ends_with("DeepSeek may buy H200 boards."), "{body}");
    assert!(!body.contains("Home"), "{body}");
    assert_eq!(url, "https://news.example.com/h200");
    assert_eq!(published, "2026-12-05T09:00:00Z");
    assert_eq!(source, "stdin");
}

#[test]
fn a_feed_is_read_item_by_item() {
    let run = scan(&sandbox(), &[], FEED.as_bytes());
    assert_eq!(
        articles(&run),
        [
            (
                "AT&T orders H200 boards".to_string(),
                "A large order.".to_string(),
                Value::from("https://wire.example.com/1"),
                Value::from("2026-12-05T10:00:00Z"),
                Value::from("Chip Wire"),
            ),
            (
                "Second item".to_string(),
                "Small.".to_string(),
                Value::from("https://wire.example.com/2"),
                Value::Null,
                Value::from("Chip Wire"),
            ),
        ]
    );
    // The bare `&` was repaired, and said so, naming stdin.
    assert!(
        run.stderr
            .starts_with("warn: -: malformed XML, repaired: 1 bare `&` escaped"),
        "{}",
        run.stderr
    );
}

#[test]
fn json_and_json_lines() {
    let object = r#"{"title": "One", "body": "<p>DeepSeek</p>", "url": "https://j.example.com/1", "published": "2026-12-05"}"#;
    let run = scan(&sandbox(), &[], object.as_bytes());
    assert_eq!(
        articles(&run),
        [(
            "One".to_string(),
            "DeepSeek".to_string(),
            Value::from("https://j.example.com/1"),
            Value::from("2026-12-05T00:00:00Z"),
            Value::from("stdin"),
        )]
    );
    let lines = "{\"title\": \"A\", \"body\": \"a\"}\n{\"title\": \"B\", \"body\": \"b\"}\n";
    let titles: Vec<String> = articles(&scan(&sandbox(), &[], lines.as_bytes()))
        .into_iter()
        .map(|a| a.0)
        .collect();
    assert_eq!(titles, ["A", "B"]);
}

#[test]
fn an_email_is_read_as_a_message() {
    let run = scan(&sandbox(), &[], MAIL.as_bytes());
    assert_eq!(
        articles(&run),
        [(
            "Pékin and the H200".to_string(),
            "The letter's text.".to_string(),
            Value::Null,
            Value::from("2026-12-05T11:00:00Z"),
            Value::from("stdin"),
        )]
    );
}

#[test]
fn anything_else_is_plain_text() {
    let text = "Nvidia: the H200 ships\n\nDate: next week, says the report.\n";
    let run = scan(&sandbox(), &[], text.as_bytes());
    assert_eq!(
        articles(&run),
        [(
            "Nvidia: the H200 ships".to_string(),
            "Date: next week, says the report.".to_string(),
            Value::Null,
            Value::Null,
            Value::from("stdin"),
        )]
    );
}

#[test]
fn stdin_format_forces_the_format() {
    // The page read as plain text: its first line is the title.
    let run = scan(&sandbox(), &["--stdin-format", "text"], PAGE.as_bytes());
    assert_eq!(articles(&run)[0].0, "<!DOCTYPE html>");
    // Markdown is never sniffed, only asked for; an extension names its format too.
    let md = "---\ntitle: From front matter\n---\n# Heading\n\nText.\n";
    for name in ["markdown", "md"] {
        let run = scan(&sandbox(), &["--stdin-format", name], md.as_bytes());
        assert_eq!(articles(&run)[0].0, "From front matter", "{name}");
    }
    let run = scan(&sandbox(), &[], md.as_bytes());
    assert_eq!(articles(&run)[0].0, "---");
    // A feed given as HTML is a page.
    let run = scan(&sandbox(), &["--stdin-format", "html"], FEED.as_bytes());
    assert_eq!(articles(&run).len(), 1);
    // Files keep the format of their extension.
    let s = sandbox();
    s.write("page.txt", PAGE);
    let run = s.run(&[
        "scan",
        "--format",
        "json",
        "--stdin-format",
        "html",
        "page.txt",
    ]);
    assert_eq!(run.alerts()[0]["article"]["title"], "<!DOCTYPE html>");
}

#[test]
fn an_unknown_stdin_format_is_exit_2_listing_the_formats() {
    let run = scan(&sandbox(), &["--stdin-format", "pdf"], b"x");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "unknown format \"pdf\": the formats are text, markdown, html, feed, json, jsonl, email"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
}

#[test]
fn the_shipped_deepseek_rule_sees_a_piped_page_as_a_page() {
    let s = Sandbox::new();
    s.rule(
        "deepseek_h200",
        &std::fs::read_to_string(repo().join("rules/deepseek_h200.rhai")).unwrap(),
    );
    let run = s.run_with_stdin(&["scan", "--format", "json", "-"], Some(PAGE.as_bytes()));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.alerts()[0]["article"]["title"], "H200 exports");
}

#[test]
fn explain_reads_a_piped_page_as_a_page() {
    let s = sandbox();
    let run = s.run_with_stdin(&["explain", "every", "-"], Some(PAGE.as_bytes()));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("H200 exports"), "{}", run.stdout);
    assert!(!run.stdout.contains("<!DOCTYPE"), "{}", run.stdout);
}
