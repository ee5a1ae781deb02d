//! `newswatch check`: every problem as FILE:LINE:COL: message, exit 0/1.

mod common;

use common::{Sandbox, repo};

#[test]
fn shipped_rules_check_clean() {
    let s = Sandbox::new();
    let rules = repo().join("rules");
    let run = s.run(&["check", "--rules", rules.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.stdout, "");
}

#[test]
fn every_broken_rule_is_listed_with_its_position() {
    let s = Sandbox::new();
    s.rule("good", r#"alert("x");"#);
    s.rule("syntax", "if article.mentions(\"x\" {\n}");
    s.rule("sub/typo", "\n\n   let y = artcle.title;");
    s.write("rules/notes.txt", "not a rule");
    let run = s.run(&["check"]);
    assert_eq!(run.code, 1);
    let lines: Vec<_> = run
        .stdout
        .lines()
        .filter(|l| !l.contains("warning"))
        .collect();
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    assert!(
        lines[0].starts_with("rules/sub/typo.rhai:3:12: "),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("rules/syntax.rhai:1:25: "),
        "{}",
        lines[1]
    );
}

#[test]
fn config_problems_are_reported_by_check() {
    let s = Sandbox::new();
    s.rule("good", r#"alert("x");"#);
    s.write(
        "newswatch.yaml",
        "watch:\n  - path: inbox\n    recursive: maybe\n",
    );
    let run = s.run(&["check"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.starts_with("newswatch.yaml:3:"),
        "{}",
        run.stdout
    );
    let bad_output = s.write("bad_output.yaml", "outputs:\n  - type: file\n");
    let run = s.run(&["check", "--config", bad_output.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("needs `path`"), "{}", run.stdout);
}

#[test]
fn missing_rules_folder_is_a_problem() {
    let s = Sandbox::new();
    let run = s.run(&["check", "--rules", "absent"]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("absent"), "{}", run.stdout);
}

#[test]
fn snippets_show_the_line_and_a_caret_and_warnings_do_not_fail() {
    let s = Sandbox::new();
    s.rule("undocumented", r#"alert("x");"#);
    let run = s.run(&["check"]);
    assert_eq!(run.code, 0, "warnings only: {}", run.stdout);
    assert!(
        run.stdout
            .contains("rules/undocumented.rhai:1:1: warning: no description"),
        "{}",
        run.stdout
    );
    s.rule("syntax", "//! Broken.\nif article.mentions(\"x\" {\n}");
    let run = s.run(&["check", "--snippets"]);
    assert_eq!(run.code, 1);
    let expected = "rules/syntax.rhai:2:25: ";
    let at = run
        .stdout
        .find(expected)
        .unwrap_or_else(|| panic!("{}", run.stdout));
    let after: Vec<_> = run.stdout[at..].lines().take(4).collect();
    assert_eq!(
        after[2], "2 | if article.mentions(\"x\" {",
        "{}",
        run.stdout
    );
    assert_eq!(
        after[3],
        format!("  | {}^", " ".repeat(24)),
        "{}",
        run.stdout
    );
}
