//! Tools for rule authors: `test`, `init`, `completions`.

mod common;

use common::{Sandbox, repo};

#[test]
fn shipped_rules_pass_their_tests_and_none_is_untested() {
    let s = Sandbox::new();
    let rules = repo().join("rules");
    let run = s.run(&["test", "--rules", rules.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.contains("0 failed, 0 untested"),
        "{}",
        run.stdout
    );
    for rule in ["deepseek_h200", "export_controls", "ai_funding"] {
        let cases: Vec<_> = run
            .stdout
            .lines()
            .filter(|l| l.starts_with(&format!("ok      {rule}:")))
            .collect();
        assert!(
            cases.len() >= 2,
            "{rule} needs a case that fires and one that does not"
        );
    }
}

#[test]
fn failures_say_what_was_expected_and_what_came() {
    let s = Sandbox::new();
    s.rule("chips", r#"if article.mentions("H200") { alert(#{ message: "chip", severity: "high", chip: "H200" }); }"#);
    s.write(
        "rules/chips.test.yaml",
        r#"
- name: passes
  article: { title: "The H200", body: "" }
  expect: [{ severity: high, fields: { chip: H200 } }]
- name: wrong severity
  article: { title: "The H200", body: "" }
  expect: [{ severity: low }]
- name: expected nothing
  article: { title: "The H200", body: "" }
  expect: []
- name: from a file
  article: articles/a.txt
  expect: [{ message: chip }]
"#,
    );
    s.write("rules/articles/a.txt", "Title\n\nthe h200\n");
    s.rule("lonely", "alert(\"x\");");
    let run = s.run(&["test"]);
    assert_eq!(run.code, 1);
    let out = &run.stdout;
    assert!(out.contains("ok      chips: passes"), "{out}");
    assert!(out.contains("ok      chips: from a file"), "{out}");
    assert!(out.contains("FAILED  chips: wrong severity"), "{out}");
    assert!(
        out.contains("alert 1: severity: expected \"low\", got \"high\""),
        "{out}"
    );
    assert!(out.contains("FAILED  chips: expected nothing"), "{out}");
    assert!(out.contains("expected 0 alert(s), got 1"), "{out}");
    assert!(out.contains("untested lonely"), "{out}");
    assert!(out.contains("2 passed, 2 failed, 1 untested"), "{out}");
    let filtered = s.run(&["test", "passes"]);
    assert_eq!(filtered.code, 0, "{}", filtered.stdout);
    assert!(
        filtered.stdout.contains("1 passed, 0 failed"),
        "{}",
        filtered.stdout
    );
}

#[test]
fn malformed_test_files_name_file_and_line() {
    let s = Sandbox::new();
    s.rule("r", "alert(\"x\");");
    s.write("rules/r.test.yaml", "- name: one\n  article: { title: t }\n  expect: [{ severity: high }]\n- name: two\n  artcle: { title: t }\n");
    let run = s.run(&["test"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("rules/r.test.yaml:5:"),
        "{}",
        run.stdout
    );
    s.write("rules/r.test.yaml", "- name: [unclosed\n");
    let run = s.run(&["test"]);
    assert!(
        run.stdout.contains("rules/r.test.yaml:1:"),
        "{}",
        run.stdout
    );
    s.write(
        "rules/r.test.yaml",
        "- name: missing file\n  article: nowhere.txt\n  expect: []\n",
    );
    let run = s.run(&["test"]);
    assert!(
        run.stdout.contains("FAILED  r: missing file") && run.stdout.contains("nowhere.txt"),
        "{}",
        run.stdout
    );
    s.write("rules/orphan.test.yaml", "[]\n");
    let run = s.run(&["test"]);
    assert!(
        run.stdout.contains("no rule orphan beside it"),
        "{}",
        run.stdout
    );
}

#[test]
fn init_then_test_then_scan_work_in_a_fresh_folder() {
    let s = Sandbox::new();
    let init = s.run(&["init", "project"]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    assert!(init.stdout.contains("newswatch test"), "{}", init.stdout);
    let p = s.path().join("project");
    for f in [
        "newswatch.yaml",
        "rules/example.rhai",
        "rules/example.test.yaml",
        "inbox",
        "examples/deepseek.txt",
    ] {
        assert!(p.join(f).exists(), "{f}");
    }
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_newswatch"))
            .args(args)
            .current_dir(&p)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = run(&["test"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 passed, 0 failed, 0 untested"), "{out}");
    let (code, out) = run(&["check"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(&["scan", "--format", "json", "examples/deepseek.txt"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("\"rule\":\"example\""), "{out}");
    // A second init keeps what is there.
    std::fs::write(p.join("rules/example.rhai"), "// mine\n").unwrap();
    let again = s.run(&["init", "project"]);
    assert!(again.stdout.contains("kept"), "{}", again.stdout);
    assert_eq!(
        std::fs::read_to_string(p.join("rules/example.rhai")).unwrap(),
        "// mine\n"
    );
}

#[test]
fn completions_are_generated() {
    let s = Sandbox::new();
    let run = s.run(&["completions", "bash"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("newswatch") && run.stdout.contains("scan"),
        "{}",
        &run.stdout[..200]
    );
}

#[test]
fn explain_traces_every_call_and_the_prefilter() {
    let s = Sandbox::new();
    let rules = repo().join("rules");
    let article = repo().join("examples/articles/h2000_boards.txt");
    let run = s.run(&[
        "explain",
        "--rules",
        rules.to_str().unwrap(),
        "deepseek_h200",
        article.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "did not fire: {}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains(r#"mentions_all(["DeepSeek", "H200"]) → false; missing: "H200""#),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("prefilter: would skip the rule: \"h200\" is not in the article"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("alerts: none"), "{}", run.stdout);
    let fires = repo().join("examples/articles/deepseek_en.txt");
    let run = s.run(&[
        "explain",
        "--rules",
        rules.to_str().unwrap(),
        "deepseek_h200",
        fires.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout
            .contains(r#"mentions_all(["DeepSeek", "H200"]) → true"#),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("alert: high"), "{}", run.stdout);
    let missing = s.run(&[
        "explain",
        "--rules",
        rules.to_str().unwrap(),
        "nope",
        fires.to_str().unwrap(),
    ]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("no rule nope") && missing.stderr.contains("deepseek_h200"),
        "{}",
        missing.stderr
    );
}

#[test]
fn check_warns_about_rules_that_can_never_fire() {
    let s = Sandbox::new();
    s.rule(
        "punct",
        "//! Punctuation only.\nif article.mentions(\"!!!\") { alert(\"x\"); }",
    );
    s.rule("dead", "//! Dead code.\nif false { alert(\"x\"); }");
    let run = s.run(&["check"]);
    assert_eq!(run.code, 0, "warnings do not fail: {}", run.stdout);
    assert!(
        run.stdout
            .contains(r#"rules/punct.rhai:1:1: warning: the term "!!!" has no letters or digits"#),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("rules/dead.rhai:1:1: warning: this rule can never raise an alert"),
        "{}",
        run.stdout
    );
}

#[test]
fn definitions_describe_the_rule_api_for_editors() {
    let s = Sandbox::new();
    let run = s.run(&["definitions", "defs"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let api = std::fs::read_to_string(s.path().join("defs/__static__.d.rhai")).unwrap();
    assert!(
        api.contains("fn mentions_all(article: Article, terms: array) -> bool;"),
        "{api}"
    );
    assert!(api.contains("fn alert(alert: map) -> ();"));
    assert!(api.contains("fn list(name: string) -> array;"), "{api}");
    assert!(!api.contains("EvalAltResult"));
    let scope = std::fs::read_to_string(s.path().join("defs/__scope__.d.rhai")).unwrap();
    assert!(scope.contains("let article: Article;"), "{scope}");
    // Not what rules may not call.
    let builtin = std::fs::read_to_string(s.path().join("defs/__builtin__.d.rhai")).unwrap();
    assert!(!builtin.contains("fn eval("), "eval is offered");
    assert!(builtin.contains("fn is_shared("), "the rest is kept");
}

#[test]
fn scan_explain_and_test_see_the_same_article_source() {
    let s = Sandbox::new();
    s.rule(
        "source",
        r#"alert(#{ message: "from " + article.source, source: article.source });"#,
    );
    s.write("a.txt", "Here\n\nbody\n");
    let scanned = s.run(&["scan", "--format", "json", "a.txt"]).alerts();
    let source = scanned[0]["fields"]["source"].as_str().unwrap().to_string();
    assert_eq!(
        source,
        s.path()
            .canonicalize()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
    );
    let explained = s.run(&["explain", "source", "a.txt"]);
    assert!(
        explained.stdout.contains(&format!("from {source}")),
        "{}",
        explained.stdout
    );
    // A test case's article file is read like scan reads it (also within its size limit).
    s.write("rules/cases/a.txt", "Here\n\nbody\n");
    s.write(
        "rules/source.test.yaml",
        "- name: a file beside the rule\n  article: cases/a.txt\n  expect: [{ message: \"from cases\" }]\n",
    );
    let tested = s.run(&["test"]);
    assert_eq!(tested.code, 0, "{}{}", tested.stdout, tested.stderr);
}

/// A distance rejection is said as one, with how far apart the terms are, by the prefilter
/// and by the `near` call itself.
#[test]
fn explain_gives_the_distance_when_near_is_false() {
    let s = Sandbox::new();
    s.rule(
        "close",
        "//! DeepSeek close to the H200.\nif article.near(\"DeepSeek\", \"H200\", 2) { alert(\"close\"); }",
    );
    s.write(
        "a.txt",
        "Chips\n\nDeepSeek said on Monday that it would buy the H200.\n",
    );
    let run = s.run(&["explain", "close", "a.txt"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    for expected in [
        "prefilter: would skip the rule: \"deepseek\" and \"h200\" are not within 2 words; at their closest 8 words are between them",
        "near(\"DeepSeek\", \"H200\", 2) → false (closest: 8 words between them)",
    ] {
        assert!(run.stdout.contains(expected), "{expected}\n{}", run.stdout);
    }
}
