//! Inputs the fuzzers (`fuzz/`, see the README) once crashed on, kept as regression tests: each
//! runs through the same code as its fuzz target, in the normal test suite.

use std::path::{Path, PathBuf};

use newswatch_engine::{Article, Limits, Ruleset};

fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

const NAMES: &[&str] = &[
    "a.txt", "a", "a.md", "a.html", "a.htm", "a.json", "a.jsonl", "a.ndjson", "a.xml", "a.rss",
    "a.atom", "a.eml",
];

#[test]
fn ingest_regressions() {
    for path in inputs("ingest") {
        let data = std::fs::read(&path).unwrap();
        let Some((&pick, bytes)) = data.split_first() else {
            continue;
        };
        // Every name, not only the one the fuzzer picked: the input is interesting for all.
        let _ = pick;
        for name in NAMES {
            let _ = newswatch_engine::ingest(bytes, Path::new(name));
        }
    }
}

#[test]
fn evaluate_regressions() {
    let rules = Ruleset::from_sources(
        [
            (
                "all",
                r#"if article.mentions_all(["DeepSeek", "H200"]) { alert("both"); }"#,
            ),
            (
                "near",
                r#"if article.near("a", "b", 3) || article.same_sentence("x", "y*") { alert("near"); }"#,
            ),
            (
                "term",
                r#"let w = article.title; if w.len() < 40 && article.mentions(w) { alert("self"); }"#,
            ),
            (
                "regex",
                r#"if article.matches("(?i)h\\d{3}") { alert(#{ message: article.title, key: article.body }); }"#,
            ),
        ],
        Limits::default(),
    );
    for path in inputs("evaluate") {
        let data = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&data);
        let (title, body) = text.split_once('\n').unwrap_or((&text, ""));
        let _ = rules.evaluate(
            &Article::new(title, body),
            std::time::SystemTime::UNIX_EPOCH,
        );
    }
}
