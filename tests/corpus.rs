//! The shipped rules and the matcher on the real corpus (`NEWSWATCH_CORPUS`).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{Sandbox, corpus, repo};

fn scan_with_shipped_rules(paths: &[&str]) -> common::Run {
    let s = Sandbox::new();
    let rules = repo().join("rules");
    let mut args = vec![
        "scan",
        "--format",
        "json",
        "--rules",
        rules.to_str().unwrap(),
    ];
    args.extend_from_slice(paths);
    s.run(&args)
}

#[test]
fn seed_article_raises_the_deepseek_h200_alert() {
    let Some(corpus) = corpus() else { return };
    let seed = corpus.join("seed");
    let run = scan_with_shipped_rules(&[seed.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let alerts = run.alerts();
    let alert = alerts
        .iter()
        .find(|a| a["rule"] == "deepseek_h200")
        .expect("the seed must raise deepseek_h200");
    assert_eq!(alert["severity"], "high");
    assert_eq!(
        alert["message"],
        "DeepSeek and H200 together: Nvidia : DeepSeek pourrait acquérir des puces H200"
    );
    assert_eq!(alert["tags"], serde_json::json!(["chips", "china"]));
    assert_eq!(alert["article"]["source"], "seed");
    let terms: Vec<_> = alert["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["term"].clone())
        .collect();
    assert_eq!(terms, ["DeepSeek", "H200"]);
}

#[test]
fn deepseek_h200_is_silent_on_the_rest_of_the_corpus() {
    let Some(corpus) = corpus() else { return };
    let dirs: Vec<String> = ["bbc", "fr", "intl"]
        .iter()
        .map(|d| corpus.join(d).display().to_string())
        .collect();
    let args: Vec<&str> = dirs.iter().map(String::as_str).collect();
    let run = scan_with_shipped_rules(&args);
    assert!(run.code < 2, "{}", run.stderr);
    assert!(!run.rules().iter().any(|r| r == "deepseek_h200"));
}

/// Document counts per rule over `corpus/bbc/**/*.txt`.
fn bbc_counts(s: &Sandbox, corpus: &std::path::Path) -> BTreeMap<String, usize> {
    let run = s.run(&[
        "scan",
        "--format",
        "json",
        corpus.join("bbc").to_str().unwrap(),
    ]);
    assert!(run.code < 2, "{}", run.stderr);
    let mut docs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for a in run.alerts() {
        let path = a["article"]["path"].as_str().unwrap().to_string();
        if path.ends_with(".txt") {
            docs.entry(a["rule"].as_str().unwrap().into())
                .or_default()
                .insert(path);
        }
    }
    docs.into_iter()
        .map(|(rule, paths)| (rule, paths.len()))
        .collect()
}

#[test]
fn bbc_whole_word_counts_match_the_corpus_readme() {
    let Some(corpus) = corpus() else { return };
    let s = Sandbox::new();
    for term in ["chip", "China", "Microsoft", "Google", "Nvidia"] {
        s.rule(
            term,
            &format!("if article.mentions(\"{term}\") {{ alert(\"{term}\"); }}"),
        );
    }
    s.rule(
        "both",
        r#"if article.mentions_all(["Microsoft", "Google"]) { alert("both"); }"#,
    );
    let counts = bbc_counts(&s, &corpus);
    let expected: BTreeMap<String, usize> = [
        ("chip", 35),
        ("China", 92),
        ("Microsoft", 85),
        ("Google", 37),
        ("both", 13),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(counts, expected, "Nvidia must be absent");
}

#[test]
fn french_counts_handle_accents_and_nfd() {
    let Some(corpus) = corpus() else { return };
    let s = Sandbox::new();
    s.rule(
        "deces",
        r#"if article.mentions("décédé à") { alert("x"); }"#,
    );
    s.rule("nvidia", r#"if article.mentions("Nvidia") { alert("x"); }"#);
    let run = s.run(&[
        "scan",
        "--format",
        "json",
        corpus.join("fr/orangesum/txt").to_str().unwrap(),
    ]);
    let mut by_rule: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in run.alerts() {
        by_rule
            .entry(a["rule"].as_str().unwrap().into())
            .or_default()
            .push(
                a["article"]["path"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .into(),
            );
    }
    assert_eq!(by_rule["deces"].len(), 2, "{by_rule:?}");
    assert!(
        by_rule["deces"].contains(&"3678.txt".to_string()),
        "the NFD article"
    );
    assert_eq!(by_rule["nvidia"], ["2622.txt"]);
}
