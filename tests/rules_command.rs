//! `newswatch rules` and rules switched off: `disabled:` in the config and `//! disabled` in a
//! rule keep a rule compiled and listed but never evaluated.

mod common;

use common::Sandbox;

fn sandbox() -> Sandbox {
    let s = Sandbox::new();
    s.rule(
        "chips/h200",
        "//! The H200.\nif article.mentions_all([\"DeepSeek\", \"H200\"]) { alert(\"h200\"); }",
    );
    s.rule(
        "chips/ascend",
        "//! Huawei's Ascend.\nif article.mentions(\"Ascend\") { alert(\"ascend\"); }",
    );
    s.rule(
        "paused",
        "//! Paused for now.\n//! disabled\nif article.mentions(\"DeepSeek\") { alert(\"paused\"); }",
    );
    s.write(
        "rules/chips/h200.test.yaml",
        "- name: both\n  article: { title: DeepSeek, body: H200 }\n  expect: [{ message: h200 }]\n\
         - name: wrong on purpose\n  article: { title: nothing }\n  expect: [{ message: h200 }]\n",
    );
    s.write("a.txt", "DeepSeek buys H200 and Ascend chips\n\nbody\n");
    s
}

#[test]
fn rules_lists_every_rule_with_its_state_terms_and_tests() {
    let s = sandbox();
    s.write("newswatch.yaml", "disabled: [\"chips/asc*\"]\n");
    let run = s.run(&["rules", "--format", "json", "--tests"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rules: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = rules.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["chips/ascend", "chips/h200", "paused"]);
    let enabled: Vec<bool> = rules
        .iter()
        .map(|r| r["enabled"].as_bool().unwrap())
        .collect();
    assert_eq!(enabled, [false, true, false]);
    assert_eq!(rules[1]["description"], "The H200.");
    assert_eq!(rules[1]["terms"], serde_json::json!(["DeepSeek", "H200"]));
    assert!(
        rules[1]["file"]
            .as_str()
            .unwrap()
            .ends_with("rules/chips/h200.rhai")
    );
    assert_eq!(
        rules[1]["tests"],
        serde_json::json!({ "passed": 1, "failed": 1 })
    );
    let text = s.run(&["rules", "--format", "text"]);
    assert!(text.stdout.contains("off  chips/ascend"), "{}", text.stdout);
    assert!(text.stdout.contains("on   chips/h200"), "{}", text.stdout);
}

#[test]
fn rules_switched_off_never_run() {
    let s = sandbox();
    // Without a config, only the rule whose description says so is off.
    let run = s.run(&["scan", "--format", "json", "a.txt"]);
    assert_eq!(run.rules(), ["chips/ascend", "chips/h200"]);
    s.write("newswatch.yaml", "disabled: [\"chips/*\"]\n");
    let run = s.run(&["scan", "--format", "json", "a.txt"]);
    assert_eq!(run.code, 1, "no rule on: {}", run.stderr);
    assert!(run.alerts().is_empty());
    // Explaining a rule that is off says so, rather than that it does not exist.
    let explain = s.run(&["explain", "chips/h200", "a.txt"]);
    assert_eq!(explain.code, 2);
    assert!(
        explain.stderr.contains("rule chips/h200 is switched off"),
        "{}",
        explain.stderr
    );
    // A bad glob is a config error at its place.
    s.write("newswatch.yaml", "disabled: [\"chips/[\"]\n");
    let check = s.run(&["check"]);
    assert_eq!(check.code, 1);
    assert!(
        check
            .stdout
            .contains("newswatch.yaml:1:12: disabled[0]: invalid glob"),
        "{}",
        check.stdout
    );
}
