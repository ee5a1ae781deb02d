//! Rules are untrusted: runaway and malicious rules are stopped within their budget, reported
//! with their name, and never stop the other rules or the scan.

mod common;

use std::time::{Duration, Instant};

use common::Sandbox;

const GOOD: &str = r#"if article.mentions("hello") { alert("good"); }"#;

/// Hostile rules by name, and what stderr must say about each.
const HOSTILE: &[(&str, &str, &str)] = &[
    // Debug builds may hit the time budget before the operation budget: either stops them.
    ("loop_forever", "loop {}", "stopped after"),
    (
        "while_true",
        "let i = 0; while true { i += 1; }",
        "stopped after",
    ),
    (
        "string_doubling",
        r#"let s = "x"; loop { s += s; }"#,
        "size limit",
    ),
    (
        "array_doubling",
        "let a = [1]; loop { a += a; }",
        "size limit",
    ),
    (
        "huge_pad",
        r#"let s = "x"; s.pad(2000000000, "y");"#,
        "size limit",
    ),
    ("recursion", "fn f(x) { f(x + 1) } f(1);", "nested deeper"),
    ("sleeper", "sleep(100);", "sleep is not available"),
    (
        "big_range",
        "for i in range(0, 9223372036854775807) { }",
        "stopped after",
    ),
    ("fn_ptr_eval", r#"let f = Fn("eval"); f.call("1");"#, "eval"),
];

#[test]
fn runaway_rules_are_stopped_and_others_still_run() {
    let s = Sandbox::new();
    s.rule("good", GOOD);
    for (name, source, _) in HOSTILE {
        s.rule(name, source);
    }
    s.write("inbox/a.txt", "hello\n");
    s.write("inbox/b.txt", "hello again\n");
    let started = Instant::now();
    let run = s.run(&["scan", "--format", "json", "inbox"]);
    let took = started.elapsed();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.rules(), ["good", "good"], "{}", run.stderr);
    for (name, _, reason) in HOSTILE {
        let line = run
            .stderr
            .lines()
            .find(|l| l.contains(&format!("rule {name}:")))
            .unwrap_or_else(|| panic!("no report for {name}:\n{}", run.stderr));
        assert!(line.contains(reason), "{name}: {line}");
        assert!(
            line.contains(&format!("rules/{name}.rhai:")),
            "{name}: {line}"
        );
    }
    // Budgets are 250 ms each at most; two articles, nine runaway rules, two threads.
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

#[test]
fn a_rule_that_runs_too_long_is_stopped_by_the_wall_clock() {
    let s = Sandbox::new();
    s.rule("good", GOOD);
    // Map inserts are cheap in operations but slow: only the timeout stops this one.
    s.rule(
        "slow",
        "let m = #{}; let i = 0; loop { m[`k${i % 5000}`] = i; i += 1; }",
    );
    s.write(
        "newswatch.yaml",
        "limits: { rule_timeout: 100ms, rule_max_operations: 1000000000 }\n",
    );
    s.write("a.txt", "hello\n");
    let started = Instant::now();
    let run = s.run(&["scan", "--format", "json", "a.txt"]);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(run.rules(), ["good"]);
    assert!(run.stderr.contains("rule slow:"), "{}", run.stderr);
    assert!(run.stderr.contains("rule_timeout"), "{}", run.stderr);
}

#[test]
fn eval_import_and_typos_are_compile_errors() {
    let s = Sandbox::new();
    s.rule("good", GOOD);
    s.rule("uses_eval", r#"eval("alert(\"x\")");"#);
    s.rule("uses_import", r#"import "/etc/passwd" as p;"#);
    s.rule("typo", r#"if artcle.mentions("x") { alert("y"); }"#);
    s.write("a.txt", "hello\n");
    let run = s.run(&["scan", "--format", "json", "a.txt"]);
    assert_eq!(run.rules(), ["good"]);
    assert!(
        run.stderr.contains("rules/uses_eval.rhai:1:1:"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("rules/uses_import.rhai:1:1:"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("rules/typo.rhai:1:4: Undefined variable: artcle"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_rule_cannot_change_the_article_for_the_next_rule() {
    let s = Sandbox::new();
    s.rule("a_clobber", "article = 5;");
    s.rule("b_good", GOOD);
    s.write("a.txt", "hello\n");
    let run = s.run(&["scan", "--format", "json", "a.txt"]);
    assert_eq!(run.rules(), ["b_good"], "{}", run.stderr);
}

#[test]
fn alert_storms_are_capped_per_rule_and_article() {
    let s = Sandbox::new();
    s.rule(
        "storm",
        r#"for i in 0..1000 { alert(#{ message: `n${i}`, key: `${i}` }); }"#,
    );
    s.write("a.txt", "x\n");
    let run = s.run(&["scan", "--format", "json", "a.txt"]);
    assert_eq!(run.alerts().len(), 100);
    assert!(
        run.stderr.contains("rule storm raised 900 more alerts"),
        "{}",
        run.stderr
    );
}

#[test]
fn repeated_failures_of_one_rule_are_summarised() {
    let s = Sandbox::new();
    s.rule("fails", r#"throw "always";"#);
    for i in 0..10 {
        s.write(&format!("inbox/{i}.txt"), "x\n");
    }
    let run = s.run(&["scan", "inbox"]);
    assert_eq!(run.code, 1);
    let lines = run
        .stderr
        .lines()
        .filter(|l| l.contains("rule fails"))
        .count();
    assert_eq!(lines, 4, "three errors then a summary:\n{}", run.stderr);
    assert!(
        run.stderr.contains("failed on 7 more articles"),
        "{}",
        run.stderr
    );
    assert_eq!(s.run(&["scan", "--strict", "inbox"]).code, 2);
}

#[test]
fn closures_cannot_capture_the_article() {
    let s = Sandbox::new();
    s.rule("good", GOOD);
    s.rule(
        "closure",
        "let f = |x| x + article.title; alert(f.call(\"a\"));",
    );
    s.rule("fn_scope", "fn leak() { article.title } alert(leak());");
    s.write("a.txt", "hello\n");
    let run = s.run(&["scan", "--format", "json", "a.txt"]);
    assert_eq!(run.rules(), ["good"], "{}", run.stderr);
    assert!(
        run.stderr.contains("rules/closure.rhai:1:"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("fn_scope"), "{}", run.stderr);
}

#[test]
fn memory_stays_bounded_under_allocation_attacks() {
    let s = Sandbox::new();
    s.rule("good", GOOD);
    for (name, source, _) in HOSTILE
        .iter()
        .filter(|(n, ..)| n.contains("doubling") || *n == "huge_pad")
    {
        s.rule(name, source);
    }
    s.rule(
        "map_growth",
        "let m = #{}; let i = 0; loop { m[`k${i}`] = i; i += 1; }",
    );
    s.write("a.txt", "hello\n");
    // The whole process, with every attack at once, must fit in 1 GiB of address space.
    let bin = env!("CARGO_BIN_EXE_newswatch");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v 1048576 && exec '{bin}' scan --format json a.txt"
        ))
        .current_dir(s.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"rule\":\"good\""));
    for name in [
        "string_doubling",
        "array_doubling",
        "huge_pad",
        "map_growth",
    ] {
        assert!(
            stderr.contains(&format!("rule {name}:")),
            "{name}: {stderr}"
        );
    }
}
