//! Forgiving feed reading, on fixtures written for it (`tests/fixtures/ingest/feeds/damaged/`
//! and `formats/`): each damaged feed gives exactly its complete items, with their exact title,
//! body, url and published, and one warning naming what was repaired; each older or rarer form
//! of feed (RSS 0.90, RSS in the Userland namespace, RSS 1.0 without links, Atom 0.3, Dublin
//! Core, Media RSS) gives its items without a warning.

mod common;

use std::path::Path;

use common::{Sandbox, repo};
use newswatch_engine::Article;
use newswatch_engine::article::{Parsed, ingest_with_warnings};

fn read(rel: &str) -> Parsed {
    let path = repo().join("tests/fixtures/ingest/feeds").join(rel);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ingest_with_warnings(&bytes, Path::new(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// An article as expected: title, body, url, published.
type Expected<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>);

/// Checks the articles of `rel`, their source, and its one warning (`None`: no warning), which
/// must hold each of `repaired`.
fn check(rel: &str, source: &str, expected: &[Expected], warning: Option<&[&str]>) -> Parsed {
    let parsed = read(rel);
    let got: Vec<Expected> = parsed
        .articles
        .iter()
        .map(|a: &Article| {
            (
                a.title.as_str(),
                a.body.as_str(),
                a.url.as_deref(),
                a.published.as_deref(),
            )
        })
        .collect();
    assert_eq!(got, expected, "{rel}");
    for a in &parsed.articles {
        assert_eq!(a.source.as_deref(), Some(source), "{rel}");
    }
    match warning {
        None => assert!(parsed.warnings.is_empty(), "{rel}: {:?}", parsed.warnings),
        Some(parts) => {
            assert_eq!(parsed.warnings.len(), 1, "{rel}: {:?}", parsed.warnings);
            let w = &parsed.warnings[0];
            assert!(w.starts_with("malformed XML, repaired: "), "{rel}: {w}");
            for part in parts {
                assert!(w.contains(part), "{rel}: no {part:?} in {w}");
            }
        }
    }
    parsed
}

#[test]
fn bare_ampersands_are_text() {
    check(
        "damaged/bare-ampersand.rss",
        "Telecom & Chips Daily",
        &[
            (
                "AT&T buys H200 boards for its AI cloud",
                "AT&T said R&D spending would double.",
                Some("https://telecom.example.com/story?id=1&section=chips"),
                Some("2026-11-23T08:00:00Z"),
            ),
            (
                "Q&A: what the export rules mean",
                "Answers & questions.",
                Some("https://telecom.example.com/story?id=2&section=policy"),
                Some("2026-11-23T08:30:00Z"),
            ),
        ],
        Some(&["6 bare `&` escaped"]),
    );
}

#[test]
fn stray_less_than_signs_are_text() {
    check(
        "damaged/stray-lt.rss",
        "Chip Margins",
        &[
            (
                "Revenue < forecast for the third quarter",
                "Margins fell: 52% < 60% a year ago, and 3 <4 in units.",
                Some("https://margins.example.com/q3"),
                Some("2026-11-24T07:15:00Z"),
            ),
            (
                "H200 shipments <3 analysts",
                "Shipments rose.",
                Some("https://margins.example.com/h200"),
                Some("2026-11-24T08:15:00Z"),
            ),
        ],
        Some(&["4 stray `<` escaped"]),
    );
}

#[test]
fn html_entities_are_decoded_in_every_text() {
    let parsed = check(
        "damaged/html-entities.rss",
        "Le Journal des Puces – Édition Europe",
        &[
            (
                "Le président visite l’usine de Dresde",
                "L’usine produira des puces dès 2027 : un pari à 10 milliards.",
                Some("https://puces.example.fr/dresde"),
                Some("2026-11-25T05:00:00Z"),
            ),
            (
                // Escaped once too often (`&amp;eacute;`): decoded all the same.
                "Prévisions : &bogus; et …",
                "Les prévisions changent.",
                Some("https://puces.example.fr/previsions"),
                Some("2026-11-25T06:00:00Z"),
            ),
        ],
        Some(&[
            "8 HTML entities decoded (&Eacute; &eacute; &ndash; …)",
            "1 undefined entities kept as text (&bogus;)",
        ]),
    );
    assert_eq!(
        parsed.articles[0].meta["authors"],
        serde_json::json!(["Rédaction économie"])
    );
}

#[test]
fn bad_character_references_are_replaced() {
    check(
        "damaged/bad-references.rss",
        "Wire",
        &[
            (
                "Nvidia’s H200 “sold out”",
                "Demand is high\u{fffd} and rising\u{fffd}.",
                Some("https://wire.example.com/sold-out"),
                Some("2026-11-26T10:00:00Z"),
            ),
            (
                "Café talk ☺",
                "Nothing else.",
                Some("https://wire.example.com/cafe"),
                Some("2026-11-26T11:00:00Z"),
            ),
        ],
        Some(&[
            "1 references to C1 controls read as Windows-1252",
            "3 bad character references replaced (&#0; &#233 &#xD800;)",
        ]),
    );
}

#[test]
fn items_after_the_channel_and_the_feed_are_read() {
    check(
        "damaged/items-after-channel.rss",
        "Late Items",
        &[
            (
                "Inside the channel",
                "",
                Some("https://late.example.com/1"),
                Some("2026-11-27T08:00:00Z"),
            ),
            (
                "After the channel",
                "",
                Some("https://late.example.com/2"),
                Some("2026-11-27T09:00:00Z"),
            ),
            (
                "After the feed",
                "",
                Some("https://late.example.com/3"),
                Some("2026-11-27T10:00:00Z"),
            ),
        ],
        Some(&[
            "2 items after `</channel>` read",
            "content after the end of the feed read",
        ]),
    );
}

#[test]
fn nested_cdata_is_read_as_one_section() {
    check(
        "damaged/nested-cdata.rss",
        "Double Wrapped",
        &[
            (
                "DeepSeek & the H200",
                "First wrapped paragraph.",
                Some("https://wrapped.example.com/1"),
                Some("2026-11-28T12:00:00Z"),
            ),
            (
                "Plain second item",
                "Just one section.",
                Some("https://wrapped.example.com/2"),
                Some("2026-11-28T13:00:00Z"),
            ),
        ],
        Some(&["2 nested CDATA sections read as one"]),
    );
}

#[test]
fn a_truncated_feed_gives_its_complete_items() {
    check(
        "damaged/truncated.rss",
        "Cut Off",
        &[
            (
                "Complete one",
                "Whole.",
                Some("https://cut.example.com/1"),
                Some("2026-11-29T08:00:00Z"),
            ),
            (
                "Complete two",
                "Whole too.",
                Some("https://cut.example.com/2"),
                Some("2026-11-29T09:00:00Z"),
            ),
        ],
        Some(&["cut off: read the 2 complete items before the damage"]),
    );
}

#[test]
fn elements_left_open_or_closing_nothing() {
    check(
        "damaged/unclosed-elements.rss",
        "Sloppy Generator",
        &[
            (
                "Unclosed guid",
                "Some bold text\nand a\n\nparagraph",
                Some("https://sloppy.example.com/1"),
                Some("2026-11-30T08:00:00Z"),
            ),
            (
                "Stray end tag",
                "Fine.",
                Some("https://sloppy.example.com/2"),
                Some("2026-11-30T09:00:00Z"),
            ),
            (
                "Never closed item",
                "",
                Some("https://sloppy.example.com/3"),
                Some("2026-11-30T10:00:00Z"),
            ),
            (
                "Next item",
                "",
                Some("https://sloppy.example.com/4"),
                Some("2026-11-30T11:00:00Z"),
            ),
        ],
        Some(&[
            "1 items left open closed at the next item",
            "1 elements left open closed (<guid>)",
            "1 end tags closing nothing dropped (</span>)",
        ]),
    );
}

#[test]
fn rss_090() {
    check(
        "formats/rss-090.rdf",
        "Netscape-era Chips",
        &[
            (
                "Nvidia announces a new accelerator",
                "",
                Some("http://old.example.com/nvidia"),
                None,
            ),
            (
                "DeepSeek hires engineers",
                "",
                Some("http://old.example.com/deepseek"),
                None,
            ),
        ],
        None,
    );
}

#[test]
fn rss_2_in_the_userland_namespace() {
    let parsed = check(
        "formats/userland.rss",
        "Userland Wire",
        &[(
            "H200 exports approved",
            "The licence covers two buyers.",
            Some("http://userland.example.com/h200"),
            Some("2026-12-01T09:00:00Z"),
        )],
        None,
    );
    assert_eq!(
        parsed.articles[0].meta["authors"],
        serde_json::json!(["Ann Lee"])
    );
}

#[test]
fn rss_1_items_without_links() {
    let parsed = check(
        "formats/rss1-without-links.rdf",
        "RDF Notes",
        &[
            (
                "A note without a link",
                "Huawei's Ascend boards ship in spring.",
                None,
                Some("2026-12-01T09:00:00Z"),
            ),
            (
                "A note with a link",
                "",
                Some("http://rdf.example.org/2"),
                Some("2026-12-01T11:00:00Z"),
            ),
        ],
        None,
    );
    assert_eq!(parsed.articles[0].meta["id"], "urn:note:1");
    assert_eq!(
        parsed.articles[0].meta["authors"],
        serde_json::json!(["Bo Chen"])
    );
}

#[test]
fn atom_03_base64_inline_xhtml_and_dates() {
    check(
        "formats/atom-03.atom",
        "Atom Zero Three",
        &[
            (
                "Nvidia’s Q1",
                "The H200 ships in Q1.",
                Some("http://atom03.example.com/q1"),
                // `issued` is its publication, `modified` its update.
                Some("2026-12-02T08:00:00Z"),
            ),
            (
                "Inline XHTML",
                "DeepSeek trains on it.\n\nSecond paragraph.",
                Some("http://atom03.example.com/xhtml"),
                Some("2026-12-02T08:00:00Z"),
            ),
            (
                "Escaped markup",
                "Created only.",
                None,
                Some("2026-12-02T11:00:00Z"),
            ),
        ],
        None,
    );
}

#[test]
fn dublin_core_fields_and_guid_permalinks() {
    let parsed = check(
        "formats/dublin-core.rss",
        "Dublin Core Daily",
        &[
            (
                "Export rules tighten",
                "The rules cover H200 boards.",
                // A guid is the link when it is a permalink…
                Some("https://dc.example.com/export-rules"),
                Some("2026-12-03T07:00:00Z"),
            ),
            (
                "Issued, not dated",
                "Terms only.",
                // … not when it says it is not one,
                None,
                Some("2026-12-03T08:00:00Z"),
            ),
            (
                "Modified only",
                "A guid that is no URL.",
                // … nor when it is no URL.
                None,
                Some("2026-12-03T14:00:00Z"),
            ),
        ],
        None,
    );
    let meta = &parsed.articles[0].meta;
    assert_eq!(meta["authors"], serde_json::json!(["Cy Park"]));
    assert_eq!(meta["categories"], serde_json::json!(["policy"]));
}

#[test]
fn media_titles_and_descriptions() {
    check(
        "formats/media.rss",
        "Chip Videos",
        &[
            (
                "Inside the H200 plant",
                "A tour of the line where H200 boards are tested.",
                Some("https://video.example.com/1"),
                Some("2026-12-04T12:00:00Z"),
            ),
            (
                "DeepSeek at the conference",
                "The talk, in full.",
                Some("https://video.example.com/2"),
                Some("2026-12-04T13:00:00Z"),
            ),
        ],
        None,
    );
}

#[test]
fn feeds_without_articles_say_why() {
    let empty = ingest_with_warnings(
        b"<rss version=\"2.0\"><channel><title>Quiet</title></channel></rss>",
        Path::new("quiet.rss"),
    )
    .unwrap();
    assert!(empty.articles.is_empty());
    assert_eq!(empty.warnings, ["no article: the feed holds no items"]);
    let bare = ingest_with_warnings(
        b"<rss version=\"2.0\"><channel><item><guid>x</guid></item><item/></channel></rss>",
        Path::new("bare.rss"),
    )
    .unwrap();
    assert!(bare.articles.is_empty());
    assert_eq!(
        bare.warnings,
        ["no article: its 2 items have neither a title nor text"]
    );
    // Cut off before its first item: a damaged file, skipped saying so.
    let cut = ingest_with_warnings(
        b"<rss version=\"2.0\"><channel><title>T</title><item><title>cu",
        Path::new("cut.rss"),
    )
    .unwrap_err();
    assert!(
        cut.to_string()
            .contains("skipped: malformed feed (cut off before its first complete item)"),
        "{cut}"
    );
}

/// Through the binary: a scanned folder's damaged feed alerts on every complete item, and says
/// what was repaired in one line naming the file.
#[test]
fn a_damaged_feed_in_a_scan_is_one_warning_line_and_all_its_items() {
    let s = Sandbox::new();
    s.rule("every", r#"alert(article.title);"#);
    for rel in ["damaged/html-entities.rss", "damaged/truncated.rss"] {
        let name = rel.rsplit('/').next().unwrap();
        let bytes = std::fs::read(repo().join("tests/fixtures/ingest/feeds").join(rel)).unwrap();
        s.write(&format!("inbox/{name}"), bytes);
    }
    let run = s.run(&["scan", "--format", "json", "inbox"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let titles: Vec<String> = run
        .alerts()
        .iter()
        .map(|a| a["article"]["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        titles,
        [
            "Le président visite l’usine de Dresde",
            "Prévisions : &bogus; et …",
            "Complete one",
            "Complete two"
        ]
    );
    // Warnings come from the workers as they read: in any order.
    let mut lines: Vec<&str> = run.stderr.lines().collect();
    lines.sort();
    assert_eq!(lines.len(), 2, "{}", run.stderr);
    assert!(
        lines[0].starts_with("warn: inbox/html-entities.rss: malformed XML, repaired: "),
        "{}",
        run.stderr
    );
    assert!(lines[1].starts_with("warn: inbox/truncated.rss: malformed XML, repaired: "));
}
