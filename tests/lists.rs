//! Term lists shared by rules (`rules/lists/NAME.txt`, `list("NAME")`): used by several rules,
//! seen by the prefilter, checked statically, reloaded by the daemon when edited.

mod common;

use std::time::Duration;

use common::{Sandbox, json_lines};

fn sandbox() -> Sandbox {
    let s = Sandbox::new();
    s.write(
        "rules/lists/chips.txt",
        "# AI chips\nH200\nAscend 910\n\nBlackwell\n",
    );
    s.rule(
        "chips",
        "//! A chip.\nif article.mentions_any(list(\"chips\")) { alert(\"chip\"); }",
    );
    s.rule(
        "chips_in_china",
        "//! A chip and China.\nif article.mentions_any(list(\"chips\")) && article.mentions(\"China\") { alert(\"china\"); }",
    );
    s
}

#[test]
fn rules_share_a_list_and_the_prefilter_sees_its_terms() {
    let s = sandbox();
    s.write("a.txt", "Exports\n\nChina wants the Ascend 910.\n");
    s.write("b.txt", "Weather\n\nRain in China.\n");
    let run = s.run(&["scan", "--format", "json", "a.txt", "b.txt"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.rules(), ["chips", "chips_in_china"]);
    let explain = s.run(&["explain", "chips", "b.txt"]);
    assert!(
        explain.stdout.contains("prefilter: would skip the rule: none of its alternatives holds: \"h200\" is not in the article"),
        "{}",
        explain.stdout
    );
    assert!(
        explain
            .stdout
            .contains("mentions_any([\"H200\", \"Ascend 910\", \"Blackwell\"]) → false"),
        "{}",
        explain.stdout
    );
}

#[test]
fn a_missing_list_is_a_check_problem_at_the_call() {
    let s = sandbox();
    s.rule(
        "typo",
        "//! Typo.\nif article.mentions_any(list(\"chipz\")) { alert(\"x\"); }",
    );
    let check = s.run(&["check"]);
    assert_eq!(check.code, 1);
    assert!(
        check.stdout.contains(
            "rules/typo.rhai:2:30: no list \"chipz\": add rules/lists/chipz.txt (one term per line); did you mean `chips`?"
        ),
        "{}",
        check.stdout
    );
}

#[test]
fn editing_a_list_reloads_the_rules_that_use_it() {
    let s = sandbox();
    std::fs::create_dir(s.path().join("inbox")).unwrap();
    s.write(
        "newswatch.yaml",
        "watch:\n  - path: inbox\nstate: state.db\noutputs:\n  - type: file\n    path: alerts.jsonl\n",
    );
    let d = s.watch(&[]);
    s.write("rules/lists/chips.txt", "H200\nGaudi 3\n");
    d.wait_for_log("rules reloaded", Duration::from_secs(20));
    s.write("inbox/a.txt", "Intel\n\nThe Gaudi 3 ships.\n");
    let out = s.path().join("alerts.jsonl");
    let start = std::time::Instant::now();
    while !json_lines(&out).iter().any(|a| a["rule"] == "chips") {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no alert after the list changed:\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (code, _) = d.stop_with("TERM");
    assert_eq!(code, 0);
}
