//! The prefilter never changes a result: for generated and hand-written rule sets, over the BBC
//! and French corpora and a few crafted articles, every article's alerts (minus their `time`),
//! errors and notes are the same with the prefilter on and off.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use newswatch_engine::{Article, Evaluation, Limits, Ruleset, ingest};
use rayon::prelude::*;
use serde_json::Value;

/// Rules that probe the analysis: negations, `||`, early returns, non-literal arguments,
/// prefixes, phrases, CJK, accents, effects before the condition, loops, counts, errors.
const TRICKY: &[(&str, &str)] = &[
    (
        "and",
        r#"if article.mentions_all(["Microsoft", "Google"]) { alert("both"); }"#,
    ),
    ("not", r#"if !article.mentions("the") { alert("no the"); }"#),
    (
        "not_and",
        r#"if !article.mentions("zebra") && article.mentions("said") { alert("x"); }"#,
    ),
    (
        "or_title",
        r#"if article.in_title("China") || article.mentions("Beijing") { alert("x"); }"#,
    ),
    (
        "early_return",
        r#"if !article.mentions_any(["Microsoft", "Google"]) { return; }
           alert(#{ message: "tech", n: article.count("Microsoft") });"#,
    ),
    (
        "return_value",
        r#"if article.mentions("economy") { return article.count("growth"); } alert("no economy");"#,
    ),
    (
        "title_term",
        r#"let t = article.title; if article.mentions(t) { alert("title"); }"#,
    ),
    (
        "built_term",
        r#"let w = "gov" + "ernment"; if article.mentions(w) { alert(w); }"#,
    ),
    (
        "prefix",
        r#"if article.mentions("chip*") { alert("chips"); }"#,
    ),
    (
        "prefix_phrase",
        r#"if article.mentions("prime minist*") { alert("pm"); }"#,
    ),
    (
        "phrase",
        r#"if article.mentions("Prime Minister") && !article.mentions("Tony Blair") { alert("pm"); }"#,
    ),
    (
        "across_fields",
        r#"if article.mentions("news today") { alert("x"); }"#,
    ),
    (
        "cjk",
        r#"if article.mentions("中国") || article.mentions("深度求索") { alert("cjk"); }"#,
    ),
    (
        "accents",
        r#"if article.mentions("État") || article.mentions("décédé à") { alert("x"); }"#,
    ),
    (
        "pekin",
        r#"if article.mentions_any(["Pékin", "pekin", "PEKIN"]) { alert("x"); }"#,
    ),
    (
        "print_first",
        r#"print("checking"); if article.mentions("Nvidia") { alert("x"); }"#,
    ),
    (
        "count",
        r#"if article.count("year") >= 3 { alert(#{ message: "years", n: article.count("year") }); }"#,
    ),
    (
        "count_zero",
        r#"if article.count("the") == 0 { alert("no the"); }"#,
    ),
    (
        "near",
        r#"if article.near("prime", "minister", 0) { alert("pm"); }"#,
    ),
    (
        "near_far",
        r#"if article.near("China", "growth", 10) { alert("x"); }"#,
    ),
    (
        "sentence",
        r#"if article.same_sentence("Microsoft", "Google") { alert("x"); }"#,
    ),
    (
        "loop",
        r#"for c in ["Microsoft", "Google", "Apple"] {
               if article.mentions(c) && article.mentions("search") { alert(c); return; }
           }"#,
    ),
    (
        "loop_all",
        r#"let firms = ["Microsoft", "Google", "Apple"];
           for c in firms { if article.in_title(c) { alert(#{ message: c, key: c }); } }"#,
    ),
    (
        "throws",
        r#"if article.mentions("football") { throw "boom"; }"#,
    ),
    (
        "throw_after",
        r#"if article.mentions("rugby") { alert("r"); } if article.mentions("cricket") { throw "c"; }"#,
    ),
    (
        "bad_near",
        r#"if article.mentions("election") && article.near("vote", "poll", -1) { alert("x"); }"#,
    ),
    (
        "matches",
        r#"if article.mentions("shares") && article.matches("\\d+%") { alert("pct"); }"#,
    ),
    (
        "matches_only",
        r#"if article.matches("(?i)blair") { alert("x"); }"#,
    ),
    (
        "function",
        r#"fn has(a, t) { a.mentions(t) } if has(article, "music") { alert("x"); }"#,
    ),
    (
        "storm",
        r#"if article.mentions("film") { for i in 0..150 { alert(#{ message: `n${i}`, key: `${i}` }); } }"#,
    ),
    (
        "let_list",
        r#"let teams = ["Chelsea", "Arsenal", "Liverpool"];
           if article.mentions_any(teams) && !article.in_title("football") {
               alert(#{ message: "team", key: article.title });
           }"#,
    ),
    (
        "else_if",
        r#"if article.mentions("bank") { if article.mentions("rates") { alert("a"); } else { alert("b"); } }
           else if article.mentions("tax") { alert("c"); }"#,
    ),
    (
        "alias",
        r#"let a2 = article; if a2.mentions("games") { alert("g"); }"#,
    ),
    (
        "assign_before",
        r#"let n = 0; n += article.count("the"); if article.mentions("olympic*") { alert(#{ message: "o", n: n }); }"#,
    ),
    (
        "empty_term",
        r#"if article.mentions("!!!") || article.mentions("") { alert("x"); }"#,
    ),
    (
        "wide_word",
        "if article.mentions(\"\u{FDFA}\") { alert(\"x\"); }",
    ),
    (
        "spellings",
        r#"if article.mentions("MICROSOFT") && article.mentions("microsoft") { alert("x"); }"#,
    ),
    (
        "digits",
        r#"if article.mentions("2004") && article.mentions("£") { alert("x"); }"#,
    ),
    ("nothing", r#"let x = 1;"#),
];

/// Articles that corpora do not have: a phrase across title and body, NFD accents, CJK with
/// marks, elisions, a compatibility character that folds to several words.
fn crafted() -> Vec<Article> {
    [
        ("Big news", "today the markets fell"),
        (
            "Il est",
            "de\u{301}ce\u{301}de\u{301} a\u{300} Pékin, selon l'État.",
        ),
        (
            "英伟达",
            "英伟达向深度求索出售H200芯片。中国市场。か\u{3099}",
        ),
        (
            "Chips",
            "DeepSeek-V3 and l'H200; chipmakers, chip, CHIPS. Prime ministers.",
        ),
        ("\u{FDFA}", "\u{FDFA} prime minister"),
        ("", ""),
    ]
    .into_iter()
    .map(|(t, b)| Article::new(t, b))
    .collect()
}

/// Every article under `dir`, ingested as `newswatch scan` would.
fn articles(dir: &Path) -> Vec<Article> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if newswatch_engine::article::is_supported(&path) {
                files.push(path);
            }
        }
    }
    files.sort();
    files
        .iter()
        .filter_map(|f| ingest(&std::fs::read(f).ok()?, f).ok())
        .flatten()
        .collect()
}

/// What an evaluation shows: alerts as JSON without `time`, errors and notes as text.
fn shown(eval: Evaluation) -> (Vec<Value>, Vec<String>, Vec<String>) {
    let alerts = eval
        .alerts
        .iter()
        .map(|a| {
            let mut v = serde_json::to_value(a).unwrap();
            v.as_object_mut().unwrap().remove("time");
            v
        })
        .collect();
    let errors = eval.errors.iter().map(|e| e.to_string()).collect();
    (alerts, errors, eval.notes)
}

/// Checks that the rules `make` builds give the same results with and without the prefilter
/// on every article; returns how many (rule, article) pairs the prefilter let through, and how
/// many alerts were raised.
fn same_with_and_without(make: impl Fn() -> Ruleset, articles: &[Article]) -> (usize, usize) {
    let on = make().with_prefilter(true);
    let off = make().with_prefilter(false);
    assert!(on.has_prefilter() && !off.has_prefilter());
    articles
        .par_iter()
        .map(|a| {
            let with = shown(on.evaluate(a, std::time::SystemTime::UNIX_EPOCH).unwrap());
            let without = shown(off.evaluate(a, std::time::SystemTime::UNIX_EPOCH).unwrap());
            assert_eq!(with, without, "{:?}: {:?}", a.path, a.title);
            assert_eq!(off.candidates(a).len(), off.rules().len());
            (on.candidates(a).len(), with.0.len())
        })
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
}

fn tricky() -> Ruleset {
    let rules = Ruleset::from_sources(TRICKY.iter().copied(), Limits::default());
    assert!(rules.diagnostics().is_empty(), "{:?}", rules.diagnostics());
    rules
}

#[test]
fn tricky_rules_on_crafted_articles() {
    let articles = crafted();
    let (ran, alerts) = same_with_and_without(tricky, &articles);
    assert!(alerts > 10, "{alerts}");
    assert!(ran < TRICKY.len() * articles.len(), "{ran}");
}

#[test]
fn tricky_rules_on_the_corpora() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let mut all = articles(&corpus.join("bbc"));
    all.extend(articles(&corpus.join("fr")));
    all.extend(articles(&corpus.join("intl")));
    let pairs = TRICKY.len() * all.len();
    let (ran, alerts) = same_with_and_without(tricky, &all);
    assert!(alerts > 1_000, "{alerts}");
    // Most of these rules are built to defeat the analysis; the others still skip a lot.
    assert!(ran * 10 < pairs * 7, "ran {ran} of {pairs}");
}

/// `bench/gen_rules.py` next to the corpus (`$NEWSWATCH_CORPUS/../bench`): `N` two-word rules
/// of a seed.
fn generated(corpus: &Path, n: usize, seed: u64) -> Option<(tempfile::TempDir, PathBuf)> {
    let script = corpus.join("../bench/gen_rules.py");
    let out = tempfile::tempdir().unwrap();
    let status = Command::new("python3")
        .arg(&script)
        .arg(corpus.join("bbc"))
        .arg(out.path())
        .arg(n.to_string())
        .arg(seed.to_string())
        .stdout(std::process::Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => {
            let rules = out.path().join("rules");
            Some((out, rules))
        }
        _ => {
            common::skip(&format!(
                "{} did not run (python3 missing?)",
                script.display()
            ));
            None
        }
    }
}

#[test]
fn generated_rules_on_the_corpora() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let mut all = articles(&corpus.join("bbc"));
    all.extend(articles(&corpus.join("fr")));
    for seed in [7, 11] {
        let Some((_dir, rules)) = generated(&corpus, 100, seed) else {
            return;
        };
        let load = || Ruleset::load(&rules).unwrap();
        assert_eq!(load().rules().len(), 100);
        let (ran, alerts) = same_with_and_without(load, &all);
        assert!(alerts > 100, "seed {seed}: {alerts} alerts");
        // Two-word rules: only the ones whose rarer word occurs are even looked at, and only
        // the ones with both words run.
        assert_eq!(ran, alerts, "seed {seed}");
        assert!(ran * 100 < 100 * all.len(), "seed {seed}: ran {ran}");
    }
}

/// `newswatch scan --format json` with `NEWSWATCH_PREFILTER` set to `prefilter`.
fn scan(rules: &Path, paths: &[PathBuf], prefilter: &str) -> (Vec<Value>, Vec<String>) {
    let out = Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .args(["scan", "--format", "json", "--rules"])
        .arg(rules)
        .args(paths)
        .env("NEWSWATCH_PREFILTER", prefilter)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let alerts = stdout
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("time");
            v
        })
        .collect();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut problems: Vec<String> = stderr
        .lines()
        .filter(|l| l.contains("rule "))
        .map(|l| l.split_once("rule ").unwrap().1.to_string())
        .collect();
    problems.sort();
    (alerts, problems)
}

#[test]
fn the_environment_switch_gives_the_same_scan() {
    let s = common::Sandbox::new();
    for (name, source) in TRICKY {
        s.rule(name, source);
    }
    let mut paths = Vec::new();
    for (i, a) in crafted().iter().enumerate() {
        paths.push(s.write(
            &format!("in/{i}.txt"),
            format!("{}\n\n{}\n", a.title, a.body),
        ));
    }
    match common::corpus_dir() {
        Ok(corpus) => paths.push(corpus.join("fr")),
        Err(why) => common::note(&format!(
            "note: {} without corpus/fr: {why}",
            common::test_name()
        )),
    }
    let rules = s.path().join("rules");
    let on = scan(&rules, &paths, "on");
    let off = scan(&rules, &paths, "off");
    assert!(on.0.len() > 20, "{}", on.0.len());
    assert_eq!(on, off);
}

#[test]
fn every_constructor_builds_it_and_reload_keeps_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.rhai"),
        r#"if article.mentions("x") { alert("x"); }"#,
    )
    .unwrap();
    let from_env = std::env::var("NEWSWATCH_PREFILTER").map_or(true, |v| v != "off");
    let loaded = Ruleset::load(dir.path()).unwrap();
    assert_eq!(loaded.has_prefilter(), from_env);
    let sources = Ruleset::from_sources([("a", "alert(\"a\");")], Limits::default());
    assert_eq!(sources.has_prefilter(), from_env);
    for on in [true, false] {
        let set = Ruleset::load(dir.path()).unwrap().with_prefilter(on);
        assert_eq!(set.reload(dir.path()).unwrap().has_prefilter(), on);
    }
    let article = Article::new("x", "");
    let set = loaded.with_prefilter(true);
    assert_eq!(
        set.evaluate(&article, std::time::SystemTime::UNIX_EPOCH)
            .unwrap()
            .alerts
            .len(),
        1
    );
    assert!(set.candidates(&Article::new("y", "")).is_empty());
}
