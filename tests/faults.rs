//! Resource faults and repeated errors: a full disk under an output, a rule failing on every
//! article. Clear errors, retries with backoff (no busy loop), logs that do not flood.

mod common;

use std::time::Duration;

use common::{Sandbox, wait_for_lines};

#[test]
fn an_output_on_a_full_disk_is_retried_with_backoff_and_others_go_on() {
    let s = Sandbox::new();
    s.rule(
        "every",
        "//! Every article.\nalert(#{ message: article.title });",
    );
    std::fs::create_dir(s.path().join("inbox")).unwrap();
    s.write(
        "newswatch.yaml",
        "watch:\n  - path: inbox\nstate: state.db\nretry: { initial: 300ms, max: 1s }\noutputs:\n  - type: file\n    path: /dev/full\n  - type: file\n    path: ok.jsonl\n",
    );
    let d = s.watch(&[]);
    s.write("inbox/a.txt", "Full disk\n\nbody\n");
    wait_for_lines(&s.path().join("ok.jsonl"), 1, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(3));
    let log = d.log();
    let failures = log
        .lines()
        .filter(|l| l.contains("/dev/full") && l.contains("failed"))
        .count();
    assert!(failures >= 2, "retried:\n{log}");
    assert!(log.contains("No space left on device"), "{log}");
    drop(d);
    let history = s.run(&["alerts", "--format", "json"]).alerts();
    let full = history[0]["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["output"] == "file /dev/full")
        .unwrap()
        .clone();
    assert_eq!(full["status"], "pending", "kept for later, not dropped");
    let attempts = full["attempts"].as_u64().unwrap();
    assert!(
        (2..=8).contains(&attempts),
        "backoff, not a busy loop: {attempts} attempts in ~3 s"
    );
    assert!(
        full["last_error"]
            .as_str()
            .unwrap()
            .contains("No space left")
    );
}

#[test]
fn a_rule_failing_on_every_article_is_logged_once_then_counted() {
    let s = Sandbox::new();
    s.rule("fails", "//! Always fails.\nthrow \"broken on purpose\";");
    s.rule(
        "every",
        "//! Every article.\nalert(#{ message: article.title });",
    );
    std::fs::create_dir(s.path().join("inbox")).unwrap();
    s.write(
        "newswatch.yaml",
        "watch:\n  - path: inbox\nstate: state.db\noutputs:\n  - type: file\n    path: alerts.jsonl\n",
    );
    let d = s.watch(&[]);
    for i in 0..40 {
        s.write(&format!("inbox/{i}.txt"), format!("Story {i}\n\nbody\n"));
    }
    wait_for_lines(&s.path().join("alerts.jsonl"), 40, Duration::from_secs(30));
    let stderr = d.stderr.clone();
    let (code, _) = d.stop_with("TERM");
    assert_eq!(code, 0);
    let log = std::fs::read_to_string(stderr).unwrap();
    let lines: Vec<_> = log.lines().filter(|l| l.contains("rule fails")).collect();
    assert_eq!(lines.len(), 2, "one line, then a count:\n{log}");
    assert!(lines[0].contains("broken on purpose"), "{log}");
    assert!(lines[1].contains("and 38 more like it"), "{log}");
}
