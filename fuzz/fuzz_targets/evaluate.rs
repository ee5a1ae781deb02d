//! Rules over arbitrary articles, and arbitrary terms over fixed articles: matching, snippets
//! and the Rhai API must never panic whatever the text (mixed scripts, marks, odd breaks).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use newswatch_engine::{Article, Limits, Ruleset};

static RULES: LazyLock<Ruleset> = LazyLock::new(|| {
    Ruleset::from_sources(
        [
            ("all", r#"if article.mentions_all(["DeepSeek", "H200"]) { alert("both"); }"#),
            ("any", r#"if article.mentions_any(["chip*", "深度求索", "décédé à", "l'H200"]) { alert("any"); }"#),
            ("near", r#"if article.near("a", "b", 3) || article.same_sentence("x", "y*") { alert("near"); }"#),
            ("count", r#"if article.count("the") > 2 && article.in_title("news") { alert(#{ message: "c", n: article.count("the") }); }"#),
            ("regex", r#"if article.matches("(?i)h\\d{3}") { alert(#{ message: article.title, key: article.body }); }"#),
            ("fields", r#"let t = article.text; let m = article.meta; if t.len() > 10 { alert(`${article.lang} ${article.url}`); }"#),
            ("term", r#"let w = article.title; if w.len() < 40 && article.mentions(w) { alert("self"); }"#),
        ],
        Limits::default(),
    )
});

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (title, body) = text.split_once('\n').unwrap_or((&text, ""));
    let _ = RULES.evaluate(&Article::new(title, body), std::time::SystemTime::UNIX_EPOCH);
});
