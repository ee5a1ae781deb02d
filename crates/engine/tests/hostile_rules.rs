//! Rules written to hurt: each must be stopped or bounded, named in its error, and cost the
//! other rules nothing.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

use newswatch_engine::memory::MeteredAlloc;
use newswatch_engine::{Article, Limits, Ruleset};

#[global_allocator]
static ALLOC: MeteredAlloc = MeteredAlloc::system();

fn run(source: &str, article: &Article) -> newswatch_engine::Evaluation {
    let rules = Ruleset::from_sources(
        [("hostile", source), ("canary", r#"alert("still here");"#)],
        Limits::default(),
    );
    assert!(rules.diagnostics().is_empty(), "{:?}", rules.diagnostics());
    let eval = rules.evaluate(article, UNIX_EPOCH).unwrap();
    assert!(
        eval.alerts.iter().any(|a| a.rule == "canary"),
        "the other rule ran"
    );
    eval
}

#[test]
fn replace_is_refused_before_it_allocates_past_the_string_limit() {
    // 256 KiB replaced in itself would need 64 GiB: refused at once, not after an abort.
    let started = Instant::now();
    let eval = run(
        r#"let s = "a"; s.pad(262144, 'a'); s.replace("a", s); alert("built");"#,
        &Article::new("t", "b"),
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let e = &eval.errors[0];
    assert_eq!(e.rule, "hostile");
    assert!(e.limit, "{e}");
    assert!(
        e.to_string()
            .contains("replace() result over its size limit"),
        "{e}"
    );
}

#[test]
fn same_sentence_is_linear_in_the_occurrences() {
    // Every "a" in one sentence and every "b" in another: a pairwise search is 10^10 steps.
    let body = format!("{}. {}.", "a ".repeat(100_000), "b ".repeat(100_000));
    let article = Article::new("t", body);
    let started = Instant::now();
    let eval = run(
        r#"if article.same_sentence("a", "b") { alert("same"); }"#,
        &article,
    );
    assert!(eval.errors.is_empty(), "{:?}", eval.errors);
    assert!(!eval.alerts.iter().any(|a| a.rule == "hostile"));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_long_api_call_honours_the_deadline() {
    // One call over a long list of terms: the deadline is checked inside it.
    let mut limits = Limits::default();
    limits.timeout = Duration::from_millis(20);
    limits.max_operations = u64::MAX / 2;
    let rules = Ruleset::from_sources(
        [(
            "slow",
            r#"let terms = []; terms.pad(90000, "word"); loop { article.mentions_all(terms); }"#,
        )],
        limits,
    );
    let article = Article::new("t", "word ".repeat(50_000));
    let started = Instant::now();
    let eval = rules.evaluate(&article, UNIX_EPOCH).unwrap();
    assert!(eval.errors[0].limit, "{}", eval.errors[0]);
    assert!(
        eval.errors[0].to_string().contains("limits.rule_timeout"),
        "{}",
        eval.errors[0]
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn alert_fields_nest_at_most_32_levels() {
    let eval = run(
        r#"let m = #{}; for i in 0..40 { m = #{ inner: m }; } alert(#{ message: "deep", deep: m });"#,
        &Article::new("t", "b"),
    );
    let e = &eval.errors[0];
    assert!(e.to_string().contains("nests deeper than 32 levels"), "{e}");
    let eval = run(
        r#"let m = #{}; for i in 0..30 { m = #{ inner: m }; } alert(#{ message: "ok", deep: m });"#,
        &Article::new("t", "b"),
    );
    assert!(eval.errors.is_empty(), "{:?}", eval.errors);
}

#[test]
fn print_is_bounded_per_rule_and_article() {
    let rules = Ruleset::from_sources(
        [
            ("loud", r#"for i in 0..10000 { print(article.body); }"#),
            ("quiet", r#"print("hello");"#),
        ],
        Limits::default(),
    );
    let printed = Arc::new(Mutex::new(Vec::<(String, usize)>::new()));
    let mut scanner = rules.scanner();
    let sink = printed.clone();
    scanner.on_print(move |rule, text| sink.lock().unwrap().push((rule.to_string(), text.len())));
    for _ in 0..2 {
        scanner
            .scan(&Article::new("t", "x".repeat(1000)), UNIX_EPOCH)
            .unwrap();
    }
    let printed = printed.lock().unwrap();
    let loud: usize = printed
        .iter()
        .filter(|(r, _)| r == "loud")
        .map(|(_, n)| n)
        .sum();
    // 16 KiB and one line saying the rest was dropped, per article.
    assert!(loud <= 2 * (16 * 1024 + 200), "{loud}");
    assert!(loud >= 2 * 16 * 1024, "{loud}");
    assert_eq!(printed.iter().filter(|(r, _)| r == "quiet").count(), 2);
}

#[test]
fn patterns_built_from_articles_do_not_accumulate() {
    let rules = Ruleset::from_sources(
        [(
            "pattern",
            r#"if article.matches(article.title) { alert("m"); }"#,
        )],
        Limits::default(),
    );
    let mut scanner = rules.scanner();
    // Each pattern is new (compiling one costs milliseconds): the scanner keeps a bounded few.
    for i in 0..200 {
        let title = format!("{i}{}", "x?".repeat(50));
        let eval = scanner.scan(&Article::new(title, "b"), UNIX_EPOCH).unwrap();
        assert!(eval.errors.is_empty(), "{:?}", eval.errors);
    }
}

/// Rhai bounds each string, not how many a rule holds: 120 variables of 16 MiB each pass its
/// limits (2 GiB; two workers doing it aborted a daemon under a 2 GiB address space). The
/// meter stops the rule at its memory budget, and what it held is freed.
#[test]
fn many_large_strings_are_stopped_at_the_memory_budget() {
    let mut source = String::from("let s = \"x\";\nwhile s.len() < 16000000 { s += s; }\n");
    for i in 0..120 {
        source.push_str(&format!("let v{i} = s + \"{i}\";\n"));
    }
    source.push_str("alert(\"survived\");");
    let before = newswatch_engine::memory::thread_allocated();
    let eval = run(&source, &Article::new("t", "b"));
    assert!(eval.alerts.iter().all(|a| a.rule != "hostile"));
    let error = &eval.errors[0];
    assert_eq!(error.rule, "hostile");
    assert!(
        error
            .to_string()
            .contains("allocated more than 256 MiB (limits.rule_max_memory)"),
        "{error}"
    );
    let left = newswatch_engine::memory::thread_allocated() - before;
    assert!(
        left < 64 << 20,
        "{left} bytes still held after the rule stopped"
    );
}
