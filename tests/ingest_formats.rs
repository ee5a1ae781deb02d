//! Ingest of every input format, through the real binary: fixtures in
//! `tests/fixtures/ingest/` are copied into a sandbox and scanned with small rules, and the
//! alerts' articles (title, body, url, published, lang, source, sha256) are checked exactly.

mod common;

use std::time::{Duration, Instant};

use common::{Run, Sandbox, repo};
use serde_json::{Value, json};

/// Alerts once per article, carrying every field of the article.
const EVERY: &str = r#"alert(#{ message: "seen", body: article.body, lang: article.lang,
    published: article.published, meta: article.meta });"#;

const DEEPSEEK_H200: &str = r#"if article.mentions_all(["DeepSeek", "H200"]) { alert(#{ message: article.title, severity: "high" }); }"#;

fn fixture(rel: &str) -> Vec<u8> {
    let path = repo().join("tests/fixtures/ingest").join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A sandbox with `rules` and the fixtures copied to `inbox/`, under their file names.
fn sandbox(rules: &[(&str, &str)], fixtures: &[&str]) -> Sandbox {
    let s = Sandbox::new();
    for (name, source) in rules {
        s.rule(name, source);
    }
    for rel in fixtures {
        let name = rel.rsplit('/').next().unwrap();
        s.write(&format!("inbox/{name}"), fixture(rel));
    }
    s
}

fn scan(s: &Sandbox, paths: &[&str]) -> Run {
    let mut args = vec!["scan", "--format", "json"];
    args.extend_from_slice(paths);
    s.run(&args)
}

/// The alerts of one rule, in output order.
fn of_rule(run: &Run, rule: &str) -> Vec<Value> {
    run.alerts()
        .into_iter()
        .filter(|a| a["rule"] == rule)
        .collect()
}

/// stderr lines (warnings and skips), in order.
fn problems(run: &Run) -> Vec<String> {
    run.stderr.lines().map(str::to_string).collect()
}

#[test]
fn html_page_gives_its_visible_text_and_metadata() {
    let s = sandbox(
        &[
            ("every", EVERY),
            ("deepseek_h200", DEEPSEEK_H200),
            // Only in hidden elements, forms, asides, noscript and scripts: must stay silent.
            (
                "hidden",
                r#"if article.mentions_any(["Huawei", "tracking", "Accueil", "Chip News"]) { alert("leak"); }"#,
            ),
        ],
        &["html/deepseek.html"],
    );
    let run = scan(&s, &["inbox"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "", "no warning for a clean page");
    let every = of_rule(&run, "every");
    assert_eq!(every.len(), 1);
    let a = &every[0];
    assert_eq!(
        a["article"]["title"],
        "Nvidia : DeepSeek pourrait acquérir des puces H200"
    );
    assert_eq!(
        a["article"]["url"],
        "https://news.example.com/deepseek-h200"
    );
    assert_eq!(a["article"]["path"], "inbox/deepseek.html");
    assert_eq!(a["article"]["source"], "inbox");
    assert_eq!(
        a["fields"]["body"],
        "Nvidia : DeepSeek pourrait acquérir des puces H200\n\n\
         Pékin aurait autorisé la startup chinoise DeepSeek à acheter les puces H200 de Nvidia.\n\n\
         Le groupe américain\nne commente pas.",
        "&nbsp; is a space, <br> a line break"
    );
    assert_eq!(a["fields"]["published"], "2026-11-20T09:00:00Z");
    assert_eq!(a["fields"]["lang"], "fr");
    assert_eq!(a["fields"]["meta"], json!({"site_name": "Chip News"}));
    // <b>Deep</b><b>Seek</b> is the word DeepSeek.
    let hits = of_rule(&run, "deepseek_h200");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["severity"], "high");
    assert!(of_rule(&run, "hidden").is_empty(), "{}", run.stdout);
}

#[test]
fn htm_page_without_article_reads_main_and_fallback_metadata() {
    let s = sandbox(&[("every", EVERY)], &["html/plain-page.htm"]);
    let run = scan(&s, &["inbox"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let a = &run.alerts()[0];
    assert_eq!(a["article"]["title"], "Export controls tighten");
    assert_eq!(a["article"]["url"], "https://example.org/export");
    assert_eq!(
        a["fields"]["body"],
        "Export rules\n\nThe H200 ships to China with a licence.\n\nChip H200\n\n21 Nov"
    );
    assert_eq!(a["fields"]["published"], "2026-11-21T00:00:00Z");
    assert_eq!(a["fields"]["lang"], "en");
}

#[test]
fn a_redownloaded_feed_alerts_on_its_new_item_only() {
    let s = sandbox(&[("every", EVERY)], &[]);
    s.write("inbox/wire.rss", fixture("feeds/wire-monday.rss"));
    let monday = s.run(&["scan", "--format", "json", "--state", "state.db", "inbox"]);
    assert_eq!(monday.code, 0, "{}", monday.stderr);
    let first = monday.alerts();
    let titles: Vec<_> = first
        .iter()
        .map(|a| a["article"]["title"].clone())
        .collect();
    assert_eq!(
        titles,
        [
            "DeepSeek trains on H200 clusters",
            "Huawei ships Ascend chips"
        ]
    );
    let a = &first[0];
    assert_eq!(a["article"]["url"], "https://wire.example.com/1");
    assert_eq!(
        a["article"]["source"], "Chip Wire",
        "a feed's title is the source"
    );
    assert_eq!(a["article"]["path"], "inbox/wire.rss");
    assert_eq!(a["fields"]["body"], "The DeepSeek lab runs H200 boards.");
    assert_eq!(a["fields"]["published"], "2026-11-20T09:00:00Z");
    assert_eq!(a["fields"]["meta"], json!({"id": "wire-1"}));
    assert_ne!(
        first[0]["article"]["sha256"], first[1]["article"]["sha256"],
        "each item has its own content hash"
    );

    // The same feed downloaded again the next day, with one new item on top.
    s.write("inbox/wire.rss", fixture("feeds/wire-tuesday.rss"));
    let tuesday = s.run(&["scan", "--format", "json", "--state", "state.db", "inbox"]);
    assert_eq!(tuesday.code, 0, "{}", tuesday.stderr);
    let new = tuesday.alerts();
    assert_eq!(new.len(), 1, "{}", tuesday.stdout);
    assert_eq!(
        new[0]["article"]["title"],
        "DeepSeek orders more H200 boards"
    );
    assert_eq!(
        new[0]["fields"]["body"],
        "A second order of H200 for DeepSeek."
    );
}

#[test]
fn atom_in_latin1_and_json_feed_are_read() {
    let s = sandbox(
        &[("every", EVERY), ("deepseek_h200", DEEPSEEK_H200)],
        &["feeds/latin1.atom", "feeds/feed.json"],
    );
    let run = scan(&s, &["inbox"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let every = of_rule(&run, "every");
    let json_feed = &every[0];
    assert_eq!(json_feed["article"]["title"], "DeepSeek and H200");
    assert_eq!(json_feed["article"]["source"], "JSON Chips");
    assert_eq!(json_feed["article"]["url"], "https://json.example.com/1");
    assert_eq!(json_feed["fields"]["body"], "Both DeepSeek and the H200.");
    assert_eq!(json_feed["fields"]["published"], "2026-11-23T10:00:00Z");
    let atom = &every[1];
    assert_eq!(atom["article"]["title"], "DeepSeek et la puce H200 à Pékin");
    assert_eq!(atom["article"]["source"], "Puces & Cie");
    assert_eq!(atom["article"]["url"], "https://puces.example.fr/a");
    assert_eq!(
        atom["fields"]["body"],
        "La société chinoise achète des H200."
    );
    assert_eq!(atom["fields"]["published"], "2026-11-22T07:00:00Z");
    assert_eq!(of_rule(&run, "deepseek_h200").len(), 2);
}

#[test]
fn an_entity_expansion_bomb_is_refused_quickly_and_others_still_alert() {
    let s = sandbox(
        &[("deepseek_h200", DEEPSEEK_H200)],
        &["feeds/bomb.xml", "feeds/wire-monday.rss"],
    );
    let started = Instant::now();
    let run = scan(&s, &["inbox"]);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        problems(&run),
        [
            "warn: inbox/bomb.xml: skipped: refused: its DTD declares entities built from other entities (an entity-expansion bomb); DTD entities are never expanded"
        ]
    );
    assert_eq!(run.alerts().len(), 1);
    assert_eq!(run.alerts()[0]["article"]["path"], "inbox/wire-monday.rss");
}

#[test]
fn json_objects_arrays_and_lines() {
    let s = sandbox(
        &[("every", EVERY)],
        &[
            "json/articles.json",
            "json/one.json",
            "json/feed-dump.jsonl",
        ],
    );
    let run = scan(&s, &["inbox"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let every = run.alerts();
    let titles: Vec<_> = every
        .iter()
        .map(|a| a["article"]["title"].clone())
        .collect();
    assert_eq!(
        titles,
        [
            "DeepSeek buys H200 boards",
            "Unrelated",
            "Line one: DeepSeek",
            "Line three",
            "A single DeepSeek story"
        ]
    );
    let a = &every[0];
    assert_eq!(a["fields"]["body"], "The DeepSeek deal covers H200 parts.");
    assert_eq!(a["article"]["url"], "https://json.example.com/a");
    assert_eq!(a["fields"]["published"], "2026-11-24T00:00:00Z");
    assert_eq!(
        a["fields"]["meta"],
        json!({"author": "Ann", "tags": ["chips", "china"]}),
        "scalars and lists of scalars go to meta, objects do not"
    );
    assert_eq!(every[1]["article"]["url"], "https://json.example.com/b");
    assert_eq!(every[2]["fields"]["body"], "H200 orders grow.");
    assert_eq!(every[3]["fields"]["body"], "Plain words.");
    assert_eq!(every[4]["fields"]["body"], "It mentions the H200 once.");
    assert_eq!(every[4]["fields"]["published"], "2026-11-25T12:00:00Z");
    assert_eq!(every[4]["fields"]["meta"], json!({"score": 3}));
    assert_eq!(
        problems(&run),
        [
            "warn: inbox/feed-dump.jsonl: line 2: malformed JSON (EOF while parsing a value at line 1 column 46)"
        ]
    );
}

#[test]
fn malformed_json_is_one_line_naming_the_file_and_others_still_alert() {
    let s = sandbox(
        &[("deepseek_h200", DEEPSEEK_H200)],
        &["json/broken.json", "json/one.json"],
    );
    s.write("inbox/deep.json", "[".repeat(100_000));
    let run = scan(&s, &["inbox"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        problems(&run),
        [
            "warn: inbox/broken.json: skipped: malformed JSON (EOF while parsing an object at line 2 column 0)",
            "warn: inbox/deep.json: skipped: malformed JSON (recursion limit exceeded at line 1 column 128)",
        ]
    );
    assert_eq!(run.rules(), ["deepseek_h200"]);
    let strict = s.run(&["scan", "--strict", "--format", "json", "inbox"]);
    assert_eq!(strict.code, 2, "--strict makes a skipped file an error");
}

#[test]
fn markdown_with_malformed_front_matter_is_kept_and_reported() {
    let s = sandbox(
        &[("deepseek_h200", DEEPSEEK_H200)],
        &["md/bad-front-matter.md"],
    );
    let run = scan(&s, &["inbox"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.alerts()[0]["article"]["title"], "Notes on DeepSeek");
    let lines = problems(&run);
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].starts_with("warn: inbox/bad-front-matter.md: front matter is not valid YAML ("),
        "{lines:?}"
    );
    assert!(lines[0].ends_with("); read without it"), "{lines:?}");
}

#[test]
fn email_newsletters_decode_subject_and_body() {
    let s = sandbox(
        &[("every", EVERY), ("deepseek_h200", DEEPSEEK_H200)],
        &["eml/newsletter.eml", "eml/html-only.eml"],
    );
    let run = scan(&s, &["inbox"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let every = of_rule(&run, "every");
    let html = &every[0];
    assert_eq!(html["article"]["title"], "HTML only");
    assert_eq!(
        html["fields"]["body"],
        "The DeepSeek lab bought H200 boards."
    );
    let letter = &every[1];
    assert_eq!(
        letter["article"]["title"],
        "Lettre des puces : DeepSeek et le H200 à Pékin"
    );
    assert_eq!(
        letter["fields"]["body"],
        "Cette semaine, DeepSeek achète des H200 à Pékin.\n\nBonne lecture."
    );
    assert_eq!(letter["fields"]["published"], "2026-11-23T07:30:00Z");
    assert_eq!(letter["fields"]["lang"], "fr");
    assert_eq!(
        letter["fields"]["meta"],
        json!({"from": "Chip Letter <letter@example.com>", "message_id": "letter-42@example.com"})
    );
    assert_eq!(of_rule(&run, "deepseek_h200").len(), 2);
}

#[test]
fn legacy_encodings_match_rules_like_utf8() {
    let s = sandbox(
        &[
            ("deepseek_h200", DEEPSEEK_H200),
            (
                "pekin",
                r#"if article.mentions("pekin") { alert("Pékin"); }"#,
            ),
            (
                "nvidia_ja",
                r#"if article.mentions("エヌビディア") { alert("ja"); }"#,
            ),
        ],
        &[
            "encodings/latin1-fr.txt",
            "encodings/shift_jis.txt",
            "encodings/shift_jis-meta.html",
            "encodings/koi8-r.txt",
            "encodings/lying-gb2312.html",
            "encodings/utf16le-bom.txt",
            "encodings/utf16be-nobom.xml",
        ],
    );
    let run = scan(&s, &["inbox"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "");
    let titles: Vec<(String, String)> = of_rule(&run, "deepseek_h200")
        .iter()
        .map(|a| {
            let path = a["article"]["path"].as_str().unwrap();
            (path.to_string(), a["message"].as_str().unwrap().to_string())
        })
        .collect();
    let expected = [
        ("inbox/koi8-r.txt", "Новости о чипах"),
        ("inbox/latin1-fr.txt", "DeepSeek à Pékin"),
        ("inbox/lying-gb2312.html", "标题"),
        ("inbox/shift_jis-meta.html", "半導体ニュース"),
        ("inbox/shift_jis.txt", "エヌビディアの半導体"),
        ("inbox/utf16be-nobom.xml", "DeepSeek wide"),
        ("inbox/utf16le-bom.txt", "DeepSeek en UTF-16"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect();
    assert_eq!(titles, expected);
    let paths = |rule| -> Vec<Value> {
        of_rule(&run, rule)
            .iter()
            .map(|a| a["article"]["path"].clone())
            .collect()
    };
    assert_eq!(paths("pekin"), ["inbox/latin1-fr.txt"]);
    assert_eq!(
        paths("nvidia_ja"),
        ["inbox/shift_jis-meta.html", "inbox/shift_jis.txt"]
    );
}

/// Mostly-ASCII English in Windows-1252 (typographic quotes, `£`) is read as Windows-1252, so
/// the shipped `ai_funding` rule sees `£2,900m` (read as Windows-1250 it was `Ł2,900m`); a
/// declared charset newswatch cannot decode is named in a warning before the bytes are read in
/// the one detected.
#[test]
fn western_text_keeps_its_pound_signs_and_unknown_charsets_are_named() {
    let ai_funding = std::fs::read_to_string(repo().join("rules/ai_funding.rhai")).unwrap();
    let s = sandbox(
        &[("ai_funding", &ai_funding), ("every", EVERY)],
        &["encodings/windows-1252-en.txt", "encodings/ibm855.xml"],
    );
    let run = scan(&s, &["inbox"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let funding = of_rule(&run, "ai_funding");
    assert_eq!(funding.len(), 1, "{}", run.stdout);
    assert_eq!(
        funding[0]["message"],
        "AI funding: AI start-up raises £2,900m"
    );
    let every = of_rule(&run, "every");
    let text = every
        .iter()
        .find(|a| a["article"]["path"] == "inbox/windows-1252-en.txt")
        .unwrap();
    assert_eq!(
        text["fields"]["body"],
        "The London artificial intelligence start-up said on Monday it had raised £2,900m in new \
         funding, and that “demand for our AI models” would keep growing. Its chief executive’s \
         stake is worth about £400m."
    );
    assert_eq!(
        run.stderr.trim(),
        "warn: inbox/ibm855.xml: declares the charset \"IBM855\", which newswatch cannot decode: \
         read as windows-1255 (detected)"
    );
}

#[test]
fn binary_and_oversized_files_are_skipped_with_one_line_each() {
    let s = sandbox(&[("deepseek_h200", DEEPSEEK_H200)], &["json/one.json"]);
    s.write("inbox/image.html", b"GIF89a\x01\x00\x01\x00\x00\xff\x00,");
    s.write(
        "inbox/big.txt",
        format!("DeepSeek H200\n\n{}", "x".repeat(4096)),
    );
    s.write("small.yaml", "limits: { max_file_size: 1KiB }\n");
    let run = s.run(&[
        "scan",
        "--format",
        "json",
        "--config",
        "small.yaml",
        "inbox",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        problems(&run),
        [
            "warn: inbox/big.txt: skipped: 4111 bytes is over the size limit of 1024 bytes (raise limits.max_file_size to read it)",
            "warn: inbox/image.html: skipped: binary file (NUL byte at offset 7)",
        ]
    );
    assert_eq!(run.alerts().len(), 1);
}

#[test]
fn a_page_with_stray_nul_bytes_past_its_start_is_read_without_them() {
    let s = sandbox(&[("deepseek_h200", DEEPSEEK_H200)], &["json/one.json"]);
    // A page saved with a few NUL bytes in its scripts' text, as some crawlers leave them.
    let filler = "<p>Filler paragraph of the page around the story, repeated.</p>\n".repeat(160);
    let page = format!(
        "<html><head><title>H200 story</title></head><body>{filler}<script>x\0y</script>\
         <article><p>DeepSeek may buy Nvidia's H200 boards, people fa\0miliar with it said.</p>\
         </article></body></html>"
    );
    assert!(page.find('\0').unwrap() > 8192);
    s.write("inbox/page.html", page);
    let run = scan(&s, &["inbox"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(problems(&run), Vec::<String>::new());
    let alerts = run.alerts();
    let page_alert = alerts
        .iter()
        .find(|a| {
            a["article"]["path"]
                .as_str()
                .unwrap()
                .ends_with("page.html")
        })
        .expect("the page alerts");
    assert_eq!(page_alert["article"]["title"], "H200 story");
}

#[test]
fn absurdly_nested_html_is_refused_in_bounded_time() {
    let s = sandbox(&[("deepseek_h200", DEEPSEEK_H200)], &["json/one.json"]);
    s.write(
        "inbox/deep.html",
        format!("{}DeepSeek H200", "<div>".repeat(100_000)),
    );
    let started = Instant::now();
    let run = scan(&s, &["inbox"]);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        problems(&run),
        ["warn: inbox/deep.html: skipped: refused: HTML nested far deeper than any real page"]
    );
    assert_eq!(run.alerts().len(), 1);
}

#[test]
fn folders_read_every_supported_extension() {
    let s = sandbox(&[("every", EVERY)], &[]);
    let article = "<html><title>t</title><body>x</body></html>";
    for name in ["a.html", "b.htm", "c.HTML"] {
        s.write(&format!("inbox/{name}"), article);
    }
    s.write("inbox/d.xml", fixture("feeds/wire-monday.rss"));
    s.write("inbox/e.rss", fixture("feeds/wire-monday.rss"));
    s.write("inbox/f.atom", fixture("feeds/latin1.atom"));
    s.write("inbox/g.json", fixture("json/one.json"));
    s.write("inbox/h.jsonl", fixture("json/one.json"));
    s.write("inbox/i.ndjson", fixture("json/one.json"));
    s.write("inbox/j.eml", fixture("eml/html-only.eml"));
    s.write("inbox/k.txt", "t\n");
    s.write("inbox/l.md", "# t\n");
    s.write("inbox/m", "t\n");
    s.write("inbox/n.pdf", "t\n");
    s.write("inbox/o.png", "t\n");
    let run = scan(&s, &["inbox"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut files: Vec<String> = run
        .alerts()
        .iter()
        .map(|a| a["article"]["path"].as_str().unwrap().to_string())
        .collect();
    files.dedup();
    assert_eq!(
        files,
        [
            "inbox/a.html",
            "inbox/b.htm",
            "inbox/c.HTML",
            "inbox/d.xml",
            "inbox/e.rss",
            "inbox/f.atom",
            "inbox/g.json",
            "inbox/h.jsonl",
            "inbox/i.ndjson",
            "inbox/j.eml",
            "inbox/k.txt",
            "inbox/l.md",
            "inbox/m",
        ]
    );
}

#[test]
fn the_library_ingests_bytes_on_its_own() {
    let bytes = fixture("feeds/wire-tuesday.rss");
    let articles =
        newswatch_engine::ingest(&bytes, std::path::Path::new("feeds/wire.rss")).unwrap();
    assert_eq!(articles.len(), 3);
    assert_eq!(articles[0].title, "DeepSeek orders more H200 boards");
    assert_eq!(articles[0].path.as_deref(), Some("feeds/wire.rss"));
    assert_eq!(articles[0].source.as_deref(), Some("Chip Wire"));
    let parsed = newswatch_engine::article::ingest_with_warnings(
        &fixture("json/feed-dump.jsonl"),
        std::path::Path::new("dump.jsonl"),
    )
    .unwrap();
    assert_eq!(parsed.articles.len(), 2);
    assert_eq!(parsed.warnings.len(), 1);
    let err = newswatch_engine::ingest(b"{", std::path::Path::new("x.json")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "x.json: skipped: malformed JSON (EOF while parsing an object at line 1 column 1)"
    );
}
