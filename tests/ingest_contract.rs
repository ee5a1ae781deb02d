//! DESIGN.md's ingest contract, through the real binary (`newswatch scan --format json`) on
//! files written to a sandbox: `published` is RFC 3339 whatever the format wrote (an
//! unreadable date is dropped with a warning), a `.json` file of JSON Lines is read line by
//! line, one element of a type feed-rs refuses does not lose an Atom feed's entries, and
//! ISO-2022-KR text is decoded.

mod common;

use common::{Run, Sandbox, corpus};
use serde_json::Value;

/// Alerts once per article with its title as the message and the fields checked here.
const EVERY: &str = r#"alert(#{ message: article.title, body: article.body,
    published: article.published });"#;

fn sandbox(files: &[(&str, &[u8])]) -> Sandbox {
    let s = Sandbox::new();
    s.rule("every", EVERY);
    for (rel, content) in files {
        s.write(&format!("inbox/{rel}"), content);
    }
    s
}

fn scan(s: &Sandbox) -> Run {
    let run = s.run(&["scan", "--format", "json", "inbox"]);
    assert!(run.code < 2, "{}", run.stderr);
    run
}

/// The `every` alert whose article has `title`.
fn titled<'a>(alerts: &'a [Value], title: &str) -> &'a Value {
    alerts
        .iter()
        .find(|a| a["rule"] == "every" && a["message"] == title)
        .unwrap_or_else(|| panic!("no article titled {title:?} in {alerts:#?}"))
}

fn published(alerts: &[Value], title: &str) -> Value {
    titled(alerts, title)["fields"]["published"].clone()
}

#[test]
fn published_is_rfc3339_utc_whatever_the_format_wrote() {
    let s = sandbox(&[
        (
            "dump.json",
            br#"[{"title":"json date only","date":"2024-05-06"},
                {"title":"json rfc 2822","published":"Tue, 01 Jul 2003 10:52:37 +0200"},
                {"title":"json offset","published":"2024-05-06T07:08:09.5-01:30"}]"#,
        ),
        (
            "lines.jsonl",
            b"{\"title\":\"jsonl space\",\"date\":\"2025-01-02 10:00:30\"}\n",
        ),
        (
            "a.md",
            b"---\ntitle: md date only\npublished: 2025-01-02\n---\nBody.\n",
        ),
        (
            "b.md",
            b"---\ntitle: md date and time\ndate: 2025-01-02 10:00\n---\nBody.\n",
        ),
        (
            "page.html",
            b"<html><head><title>html time</title></head><body><article><p>Text</p>\
              <time datetime=\"2026-11-21\">21 Nov</time></article></body></html>",
        ),
        (
            "letter.eml",
            b"Subject: eml offset\r\nDate: Mon, 23 Nov 2026 08:30:00 +0100\r\n\r\nText.\r\n",
        ),
        (
            "feed.rss",
            b"<rss version=\"2.0\"><channel><title>F</title><item><title>rss item</title>\
              <pubDate>Tue, 02 Jan 2024 10:00:00 +0200</pubDate></item></channel></rss>",
        ),
    ]);
    let run = scan(&s);
    assert_eq!(run.stderr, "", "every date here is readable");
    let alerts = run.alerts();
    for (title, expected) in [
        ("json date only", "2024-05-06T00:00:00Z"),
        ("json rfc 2822", "2003-07-01T08:52:37Z"),
        ("json offset", "2024-05-06T08:38:09Z"),
        ("jsonl space", "2025-01-02T10:00:30Z"),
        ("md date only", "2025-01-02T00:00:00Z"),
        ("md date and time", "2025-01-02T10:00:00Z"),
        ("html time", "2026-11-21T00:00:00Z"),
        ("eml offset", "2026-11-23T07:30:00Z"),
        ("rss item", "2024-01-02T08:00:00Z"),
    ] {
        assert_eq!(published(&alerts, title), expected, "{title}");
    }
}

#[test]
fn an_unreadable_date_is_dropped_with_one_warning_and_the_article_kept() {
    let s = sandbox(&[
        (
            "when.json",
            br#"{"title":"Vague","body":"DeepSeek news.","date":"yesterday"}"#,
        ),
        (
            "front.md",
            b"---\ntitle: Vague too\npublished: last week\n---\nBody.\n",
        ),
    ]);
    let run = scan(&s);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let alerts = run.alerts();
    assert_eq!(published(&alerts, "Vague"), Value::Null);
    assert_eq!(titled(&alerts, "Vague")["fields"]["body"], "DeepSeek news.");
    assert_eq!(published(&alerts, "Vague too"), Value::Null);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", run.stderr);
    for (file, value) in [("when.json", "yesterday"), ("front.md", "last week")] {
        let line = lines.iter().find(|l| l.contains(file)).unwrap();
        assert!(line.contains(&format!("{value:?}")), "{line}");
        assert!(!line.contains("skipped"), "{line}");
    }
}

#[test]
fn a_json_file_of_json_lines_is_read_line_by_line() {
    let s = sandbox(&[
        (
            "export.json",
            b"{\"title\":\"First line\",\"body\":\"one\",\"date\":\"2024-05-06\"}\n\
              {\"title\":\"Second line\",\"body\":\"two\"}\n\n{\"title\":\"Third line\"}\r\n",
        ),
        (
            "damaged.json",
            b"{\"title\":\"Good line\"}\n{\"title\": \n{\"title\":\"Also good\"}\n",
        ),
        // One pretty-printed object cut short is still a malformed file, not JSON Lines.
        ("broken.json", b"{\n  \"title\": \"Cut\",\n  \"body\": "),
    ]);
    let run = scan(&s);
    let alerts = run.alerts();
    let mut titles: Vec<&str> = alerts
        .iter()
        .map(|a| a["message"].as_str().unwrap())
        .collect();
    titles.sort();
    assert_eq!(
        titles,
        [
            "Also good",
            "First line",
            "Good line",
            "Second line",
            "Third line"
        ]
    );
    assert_eq!(published(&alerts, "First line"), "2024-05-06T00:00:00Z");
    assert_eq!(titled(&alerts, "Second line")["fields"]["body"], "two");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", run.stderr);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("damaged.json: line 2: malformed JSON")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("broken.json: skipped: malformed JSON")),
        "{lines:?}"
    );
}

/// An Atom feed with a feed-level `<rights>` of a MIME type feed-rs refuses, an entry whose
/// title has an empty type, a base64 title (as feedparser's tests have), and a valid entry.
const ODD_ATOM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Chip wire</title>
  <rights type="application/octet-stream">PHA+wqkgQ2hpcCB3aXJlPC9wPg==</rights>
  <entry><title type="">Odd but readable</title><summary>Nothing to see.</summary></entry>
  <entry><title type="application/octet-stream">RXhhbXBsZSA8Yj5BdG9tPC9iPg==</title></entry>
  <entry>
    <title>DeepSeek orders H200 boards</title>
    <link href="https://example.com/deepseek-h200"/>
    <updated>2026-11-22T07:00:00Z</updated>
    <content type="html">&lt;p&gt;DeepSeek buys the H200.&lt;/p&gt;</content>
  </entry>
</feed>"#;

#[test]
fn an_atom_element_of_unsupported_type_does_not_lose_the_feed() {
    let s = sandbox(&[("wire.atom", ODD_ATOM.as_bytes())]);
    s.rule(
        "deepseek_h200",
        &std::fs::read_to_string(common::repo().join("rules/deepseek_h200.rhai")).unwrap(),
    );
    let run = scan(&s);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let alerts = run.alerts();
    let hits: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["rule"] == "deepseek_h200")
        .collect();
    assert_eq!(hits.len(), 1, "{alerts:#?}\n{}", run.stderr);
    assert_eq!(hits[0]["severity"], "high");
    assert_eq!(hits[0]["article"]["source"], "Chip wire");
    let entry = titled(&alerts, "DeepSeek orders H200 boards");
    assert_eq!(entry["fields"]["body"], "DeepSeek buys the H200.");
    assert_eq!(entry["fields"]["published"], "2026-11-22T07:00:00Z");
    assert_eq!(
        titled(&alerts, "Odd but readable")["fields"]["body"],
        "Nothing to see."
    );
    // Base64 text, as the type said, is read decoded (Atom's rule for non-text types).
    titled(&alerts, "Example Atom");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(lines[0].contains("wire.atom"), "{}", lines[0]);
    assert!(!lines[0].contains("skipped"), "{}", lines[0]);
}

#[test]
fn feedparser_atom_texts_of_odd_types_are_read() {
    let Some(corpus) = corpus() else { return };
    let dir = corpus.join("feeds/feedparser/wellformed/atom10");
    let s = sandbox(&[]);
    for (file, title) in [
        ("entry_title_base64.xml", "Example Atom"),
        ("entry_title_type_empty-no-crash.xml", "evil"),
    ] {
        s.write(
            &format!("inbox/{file}"),
            std::fs::read(dir.join(file)).unwrap(),
        );
        let run = s.run(&["scan", "--format", "json", &format!("inbox/{file}")]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        titled(&run.alerts(), title);
    }
}

/// Korean words in the corpus's ISO-2022-KR files, as Python's `iso2022_kr` codec reads them.
const ISO_2022_KR: &[(&str, &[&str])] = &[
    ("_ude_iso1.txt", &["역사적", "예수", "대한민국에서는"]),
    (
        "_ude_iso2.txt",
        &["북조선", "조선민주주의인민공화국", "北朝鮮"],
    ),
];

#[test]
fn iso_2022_kr_corpus_files_decode_to_korean() {
    let Some(corpus) = corpus() else { return };
    let dir = corpus.join("encodings/chardet/iso-2022-kr");
    let files: Vec<(&str, Vec<u8>)> = ISO_2022_KR
        .iter()
        .map(|(file, _)| (*file, std::fs::read(dir.join(file)).unwrap()))
        .collect();
    let s = sandbox(
        &files
            .iter()
            .map(|(f, b)| (*f, b.as_slice()))
            .collect::<Vec<_>>(),
    );
    let run = scan(&s);
    assert_eq!(run.stderr, "");
    let alerts = run.alerts();
    for (file, words) in ISO_2022_KR {
        let alert = alerts
            .iter()
            .find(|a| a["article"]["path"].as_str().unwrap().ends_with(file))
            .unwrap();
        let text = format!("{}\n{}", alert["message"], alert["fields"]["body"]);
        assert!(
            !text.contains('\u{fffd}') && !text.contains('\u{1b}'),
            "{text}"
        );
        for word in *words {
            assert!(text.contains(word), "{file}: no {word:?} in {text}");
        }
    }
}

/// `text` in ISO-2022-KR: the header, then each run of Hangul between SO and SI as EUC-KR
/// pairs without their high bits.
fn iso_2022_kr(text: &str) -> Vec<u8> {
    let mut out = b"\x1b$)C".to_vec();
    let mut shifted = false;
    for c in text.chars() {
        // A change between ASCII and Hangul is a shift.
        if c.is_ascii() == shifted {
            out.push(if c.is_ascii() { 0x0f } else { 0x0e });
            shifted = !c.is_ascii();
        }
        let mut utf8 = [0; 4];
        let (euc, _, _) = encoding_rs::EUC_KR.encode(c.encode_utf8(&mut utf8));
        out.extend(euc.iter().map(|b| b & 0x7f));
    }
    if shifted {
        out.push(0x0f);
    }
    out
}

#[test]
fn a_hand_made_iso_2022_kr_text_decodes() {
    let text = "\n서울 뉴스: DeepSeek H200\n\n한국어 본문입니다. Plain ASCII too.\n";
    let bytes = iso_2022_kr(text);
    assert!(bytes.iter().all(u8::is_ascii), "the encoding is 7-bit");
    let s = sandbox(&[("korean.txt", &bytes)]);
    let run = scan(&s);
    assert_eq!(run.stderr, "");
    let alerts = run.alerts();
    let a = titled(&alerts, "서울 뉴스: DeepSeek H200");
    assert_eq!(a["fields"]["body"], "한국어 본문입니다. Plain ASCII too.");
}

#[test]
fn a_front_matter_title_that_yaml_reads_as_a_number_is_the_title() {
    let s = sandbox(&[(
        "1984.md",
        b"---\ntitle: 1984\n---\n# Not the title\n\nBig Brother.\n",
    )]);
    let alerts = scan(&s).alerts();
    let a = titled(&alerts, "1984");
    assert!(
        a["fields"]["body"]
            .as_str()
            .unwrap()
            .contains("# Not the title"),
        "{a}"
    );
}
