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

/// The lines of `run.stdout` about `file` (rule warnings left out).
fn problems<'a>(run: &'a common::Run, file: &str) -> Vec<&'a str> {
    run.stdout.lines().filter(|l| l.starts_with(file)).collect()
}

#[test]
fn check_rejects_the_config_values_that_watch_and_scan_reject() {
    let s = Sandbox::new();
    s.rule("good", "//! Always.\nalert(\"x\");");
    s.write(
        "cf.yaml",
        r#"watch:
  - path: inbox
  - path: ""
outputs:
  - type: file
    path: out/alerts.jsonl
  - type: webhook
    url: "not a url"
  - type: webhook
    url: ""
  - type: webhook
    url: ftp://x
"#,
    );
    let run = s.run(&["check", "--config", "cf.yaml"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        problems(&run, "cf.yaml"),
        [
            "cf.yaml:3:5: watch[1].path: empty path: give a file or folder",
            "cf.yaml:8:5: outputs[1].url: webhook url \"not a url\" must start with http:// or https://",
            "cf.yaml:10:5: outputs[2].url: webhook url \"\" must start with http:// or https://",
            "cf.yaml:12:5: outputs[3].url: webhook url \"ftp://x\" must start with http:// or https://",
        ],
        "{}",
        run.stdout
    );
    // Checking has no side effects: the file output is not created.
    assert!(!s.path().join("out").exists());
    // The daemon and scan refuse the same config with the same first problem.
    let first = "cf.yaml:3:5: watch[1].path: empty path";
    for args in [
        &["watch", "--config", "cf.yaml"][..],
        &["scan", "--config", "cf.yaml", "rules"],
    ] {
        let run = s.run(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(first), "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("and 3 more problem(s)"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn check_lists_every_problem_of_a_config_in_file_order() {
    let s = Sandbox::new();
    s.rule("good", "//! Always.\nalert(\"x\");");
    s.write(
        "cf.yaml",
        r#"watch:
  - path: inbox
    include: ["*.txt", "[bad"]
limits: { max_file_size: 16MiB, rule_timeout: banana }
outputs:
  - type: file
  - type: stdout
    url: http://127.0.0.1/
  - type: command
    command: [notify-send]
    rules: ["{unclosed"]
unknown: 1
"#,
    );
    let run = s.run(&["check", "--config", "cf.yaml"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let found: Vec<_> = problems(&run, "cf.yaml")
        .iter()
        .map(|l| l.split(": ").take(2).collect::<Vec<_>>().join(": "))
        .collect();
    assert_eq!(
        found,
        [
            "cf.yaml:3:24: watch[0].include[1]",
            "cf.yaml:4:47: limits.rule_timeout",
            "cf.yaml:6:5: outputs[0]",
            "cf.yaml:8:5: outputs[1].url",
            "cf.yaml:11:13: outputs[2].rules[0]",
            "cf.yaml:12:1: unknown",
        ],
        "{}",
        run.stdout
    );
    assert!(run.stderr.starts_with("6 problem(s)"), "{}", run.stderr);
}

#[test]
fn bad_values_in_flow_and_block_mappings_name_their_key_and_position() {
    let s = Sandbox::new();
    s.rule("good", "//! Always.\nalert(\"x\");");
    for (yaml, expected) in [
        (
            "limits: { rule_timeout: banana }\n",
            "c.yaml:1:25: limits.rule_timeout: invalid duration \"banana\": expected e.g. 250ms, 10s, 5m, 2h, 7d",
        ),
        (
            "throttle: { per_rule: 5x }\n",
            "c.yaml:1:23: throttle.per_rule: invalid duration unit \"x\" in \"5x\": use ms, s, m, h or d",
        ),
        (
            "rules: ./rules\nlimits:\n  max_file_size: 16MiB\n  rule_timeout: banana\n",
            "c.yaml:4:17: limits.rule_timeout: invalid duration \"banana\": expected e.g. 250ms, 10s, 5m, 2h, 7d",
        ),
        (
            "limits: {max_file_size: 12 parsecs}\n",
            "c.yaml:1:25: limits.max_file_size: invalid size unit \"parsecs\" in \"12 parsecs\": use B, KiB, MiB, GiB, KB, MB or GB",
        ),
    ] {
        s.write("c.yaml", yaml);
        let run = s.run(&["check", "--config", "c.yaml"]);
        assert_eq!(run.code, 1, "{yaml}: {}", run.stdout);
        assert_eq!(problems(&run, "c.yaml"), [expected], "{yaml}");
    }
}

#[test]
fn problems_found_after_parsing_point_at_their_key() {
    let s = Sandbox::new();
    s.rule("good", "//! Always.\nalert(\"x\");");
    s.write(
        "cf.yaml",
        r#"# Outputs for the team.
rules: ./rules
outputs:
  - type: stdout

  - type: command
    command: ["notify-send", "newswatch"]
    min_severity: high
  - type: webhook
    url: http://127.0.0.1:9000/alerts
  - type: webhook
    url: http://127.0.0.1:9001/alerts
    timeout: 5s
    min_severity: critical
    tags: [chips]
    headers:
      X-Team: news
      Authorization: "Bearer ${NEWSWATCH_TEST_SURELY_UNSET}"
  - { type: webhook, url: "http://x/", headers: { X-Id: "${NEWSWATCH_TEST_SURELY_UNSET}" } }
"#,
    );
    // An unset variable is a warning for `check` (exit 0): only the commands that deliver
    // need its value.
    let run = s.run(&["check", "--config", "cf.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let unset = "environment variable NEWSWATCH_TEST_SURELY_UNSET is not set";
    let need = "(watch, scan --deliver and fetch need it)";
    assert_eq!(
        problems(&run, "cf.yaml"),
        [
            format!(
                "cf.yaml:18:7: warning: outputs[3].headers.Authorization: {unset} (used as ${{NEWSWATCH_TEST_SURELY_UNSET}}): set it, or write the value {need}"
            ),
            format!(
                "cf.yaml:19:51: warning: outputs[4].headers.X-Id: {unset} (used as ${{NEWSWATCH_TEST_SURELY_UNSET}}): set it, or write the value {need}"
            ),
        ],
        "{}",
        run.stdout
    );
    s.write(
        "cf.yaml",
        "outputs:\n  - type: stdout\n  - type: file\n    min_severity: high\n",
    );
    let run = s.run(&["check", "--config", "cf.yaml", "--snippets"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.starts_with(
            "cf.yaml:3:5: outputs[1]: an output of type file needs `path` (e.g. `path: alerts.jsonl`)\n  |\n3 |   - type: file\n  |     ^\n"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn limits_too_large_to_honour_are_problems_and_huge_durations_do_not_crash() {
    let s = Sandbox::new();
    s.write("rules/x.rhai", "//! Every article.\nalert(\"x\");\n");
    s.write("big.yaml", "limits:\n  max_file_size: 8GiB\n");
    let run = s.run(&["check", "--config", "big.yaml"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("big.yaml:2:3: limits.max_file_size:"),
        "{}",
        run.stdout
    );
    // A timeout longer than time goes is no timeout: the scan runs, no panic.
    s.write(
        "huge.yaml",
        "limits:\n  rule_timeout: 200000000000000d\nretry:\n  max: 100000000000000d\n",
    );
    s.write("a.txt", "Title\n\nbody\n");
    let run = s.run(&["scan", "--config", "huge.yaml", "--format", "json", "a.txt"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.alerts().len(), 1);
}

#[test]
fn a_string_limit_too_small_for_the_articles_is_a_problem() {
    let s = Sandbox::new();
    s.write("rules/x.rhai", "//! Every article.\nalert(\"x\");\n");
    s.write(
        "small.yaml",
        "limits:\n  max_file_size: 1MiB\n  rule_max_string_size: 1MiB\n",
    );
    let run = s.run(&["check", "--config", "small.yaml"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "small.yaml:3:3: limits.rule_max_string_size: 1048576 bytes is less than twice"
        ),
        "{}",
        run.stdout
    );
    s.write(
        "fits.yaml",
        "limits:\n  max_file_size: 1MiB\n  rule_max_string_size: 2MiB\n",
    );
    assert_eq!(s.run(&["check", "--config", "fits.yaml"]).code, 0);
}

#[test]
fn article_inside_a_function_or_closure_is_a_compile_error_with_its_position() {
    let s = Sandbox::new();
    s.write(
        "rules/closure.rhai",
        "//! Broken.\nlet f = |x| article.title + x;\nalert(f.call(\"!\"));\n",
    );
    s.write(
        "rules/function.rhai",
        "//! Broken.\nfn t() { article.title }\nalert(t());\n",
    );
    s.write(
        "rules/passed.rhai",
        "//! Fine.\nlet f = |a, x| a.title + x;\nfn t(a) { a.title }\nalert(f.call(article, t(article)));\n",
    );
    let run = s.run(&["check"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("rules/closure.rhai:2:13: `article` is not visible"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("rules/function.rhai:2:10: `article` is not visible"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("passed.rhai"), "{}", run.stdout);
}
