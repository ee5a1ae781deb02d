//! `newswatch silence`: a silence added while the daemon runs mutes the matching alerts — they
//! are recorded with `silenced_by`, never delivered — and no others; once it is expired (by
//! `silence expire`, or at its end) new alerts are delivered again and the silenced ones never.

mod common;

use std::time::Duration;

use common::{Sandbox, json_lines, wait_for_lines};

/// Two rules — `chips/h200` (high, tagged `chips`) and `funding` (low) — and a file output.
fn sandbox() -> Sandbox {
    let s = Sandbox::new();
    s.rule(
        "chips/h200",
        r#"if article.mentions("H200") { alert(#{ message: article.title, severity: "high", tags: ["chips"] }); }"#,
    );
    s.rule(
        "funding",
        r#"if article.mentions("funding") { alert(#{ message: article.title, severity: "low" }); }"#,
    );
    std::fs::create_dir(s.path().join("inbox")).unwrap();
    s.write(
        "newswatch.yaml",
        "watch:\n  - path: inbox\nstate: state.db\noutputs:\n  - type: file\n    path: alerts.jsonl\n",
    );
    s
}

fn delivered(s: &Sandbox) -> Vec<String> {
    json_lines(&s.path().join("alerts.jsonl"))
        .iter()
        .map(|a| a["message"].as_str().unwrap().to_string())
        .collect()
}

/// `alerts --format json`: each alert's message and `silenced_by`.
fn silenced_by(s: &Sandbox) -> Vec<(String, serde_json::Value)> {
    let run = s.run(&["alerts", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.alerts()
        .into_iter()
        .map(|a| {
            (
                a["message"].as_str().unwrap().to_string(),
                a["silenced_by"].clone(),
            )
        })
        .collect()
}

fn silences(s: &Sandbox, all: bool) -> Vec<serde_json::Value> {
    let mut args = vec!["silence", "list", "--format", "json"];
    if all {
        args.push("--all");
    }
    let run = s.run(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.alerts()
}

/// Adds a silence; returns its id.
fn add(s: &Sandbox, args: &[&str]) -> i64 {
    let mut all = vec!["silence", "add"];
    all.extend(args);
    let run = s.run(&all);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let id = run
        .stdout
        .strip_prefix("silence ")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|id| id.parse().ok());
    id.unwrap_or_else(|| panic!("no id in {:?}", run.stdout))
}

#[test]
fn a_silence_added_while_the_daemon_runs_mutes_matching_alerts_only() {
    let s = sandbox();
    let alerts = s.path().join("alerts.jsonl");
    let d = s.watch(&[]);
    s.write("inbox/a.txt", "H200 one\n\nbody\n");
    wait_for_lines(&alerts, 1, Duration::from_secs(20));

    let id = add(
        &s,
        &[
            "--rule",
            "chips/*",
            "--for",
            "2h",
            "--comment",
            "conference week",
        ],
    );
    // The daemon reads silences within a second.
    std::thread::sleep(Duration::from_millis(1500));
    s.write("inbox/b.txt", "H200 two\n\nbody\n");
    s.write("inbox/c.txt", "funding three\n\nbody\n");
    wait_for_lines(&alerts, 2, Duration::from_secs(20));
    let recorded = silenced_by(&s);
    assert_eq!(recorded.len(), 3, "{recorded:?}");
    assert!(
        recorded.contains(&("H200 two".into(), serde_json::json!(id))),
        "{recorded:?}"
    );
    assert!(
        recorded.contains(&("funding three".into(), serde_json::Value::Null)),
        "{recorded:?}"
    );
    assert_eq!(delivered(&s), ["H200 one", "funding three"]);
    let text = s.run(&["alerts", "--format", "text"]);
    assert!(
        text.stdout.contains(&format!("silenced by silence {id}")),
        "{}",
        text.stdout
    );

    let listed = silences(&s, false);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], id);
    assert_eq!(listed[0]["active"], true);
    assert_eq!(listed[0]["rules"], serde_json::json!(["chips/*"]));
    assert_eq!(listed[0]["comment"], "conference week");
    assert_eq!(listed[0]["silenced"], 1);
    let text = s.run(&["silence", "list", "--format", "text"]);
    assert!(
        text.stdout.contains("active until") && text.stdout.contains("conference week"),
        "{}",
        text.stdout
    );

    // Expired: new alerts are delivered; the silenced one never is.
    let expired = s.run(&["silence", "expire", &id.to_string()]);
    assert_eq!(expired.code, 0, "{}", expired.stderr);
    assert!(silences(&s, false).is_empty());
    assert_eq!(silences(&s, true)[0]["active"], false);
    std::thread::sleep(Duration::from_millis(1500));
    s.write("inbox/d.txt", "H200 four\n\nbody\n");
    wait_for_lines(&alerts, 3, Duration::from_secs(20));
    assert_eq!(delivered(&s), ["H200 one", "funding three", "H200 four"]);
    let (code, _) = d.stop_with("TERM");
    assert_eq!(code, 0);
    let d = s.watch(&[]);
    std::thread::sleep(Duration::from_millis(1000));
    drop(d);
    assert!(!delivered(&s).contains(&"H200 two".to_string()));
    assert_eq!(s.run(&["silence", "expire", "99"]).code, 2);
}

#[test]
fn a_silence_ends_by_itself_and_what_it_silenced_stays_silenced() {
    let s = sandbox();
    let id = add(
        &s,
        &[
            "--tag",
            "chips",
            "--min-severity",
            "high",
            "--for",
            "2s",
            "--comment",
            "a short one",
        ],
    );
    s.write("inbox/b.txt", "H200 two\n\nbody\n");
    let scan = |file: &str| {
        s.run(&[
            "scan",
            "--deliver",
            file,
            "--state",
            "state.db",
            "--format",
            "json",
        ])
    };
    assert_eq!(scan("inbox/b.txt").code, 0);
    assert!(delivered(&s).is_empty(), "silenced: not delivered");
    std::thread::sleep(Duration::from_millis(2200));
    assert!(silences(&s, false).is_empty(), "ended");
    let all = silences(&s, true);
    assert_eq!(all[0]["active"], false);
    assert_eq!(all[0]["silenced"], 1);
    s.write("inbox/d.txt", "H200 four\n\nbody\n");
    assert_eq!(scan("inbox/d.txt").code, 0);
    assert_eq!(scan("inbox/b.txt").code, 1, "recorded: not again");
    assert_eq!(delivered(&s), ["H200 four"]);
    assert_eq!(
        silenced_by(&s),
        [
            ("H200 two".to_string(), serde_json::json!(id)),
            ("H200 four".to_string(), serde_json::Value::Null)
        ]
    );
}

#[test]
fn a_silence_needs_a_comment_a_matcher_and_at_most_30_days() {
    let s = sandbox();
    let refused = |args: &[&str], says: &str| {
        let mut all = vec!["silence", "add"];
        all.extend(args);
        let run = s.run(&all);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stdout);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    };
    refused(&["--comment", "all"], "at least one of --rule");
    refused(&["--rule", "x"], "--comment");
    refused(
        &["--rule", "x", "--comment", "long", "--for", "31d"],
        "at most 30d",
    );
    refused(&["--rule", "[", "--comment", "bad"], "invalid rule glob");
    refused(
        &["--rule", "x", "--comment", "c", "--min-severity", "huge"],
        "invalid severity",
    );
    assert!(silences(&s, true).is_empty());
    add(&s, &["--rule", "*", "--comment", "everything, said so"]);
    let listed = silences(&s, false);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["rules"], serde_json::json!(["*"]));
}
