//! Outputs and the state store against hostile conditions: a partial line left in the file of
//! a `file` output, the file rotated away, article fields a program's environment cannot hold,
//! a state file that is some other SQLite database.

mod common;

use std::time::Duration;

use common::{Sandbox, json_lines, wait_for_lines};

const WAIT: Duration = Duration::from_secs(20);

/// A sandbox with an inbox, a rule alerting on every article (its title as the message), and
/// the given outputs section.
fn sandbox(outputs: &str) -> Sandbox {
    common::every_article_sandbox("{ initial: 200ms, max: 1s }", outputs)
}

#[test]
fn a_partial_line_in_the_file_is_left_alone_and_the_next_alert_is_a_line_of_its_own() {
    let s = sandbox("  - type: file\n    path: alerts.jsonl\n");
    let partial = r#"{"id":"cut short by a full di"#;
    s.write("alerts.jsonl", partial);
    s.write("inbox/a.txt", "After the crash\n\nbody\n");
    let run = s.run(&[
        "scan",
        "--deliver",
        "--format",
        "json",
        "--state",
        "state.db",
        "inbox",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(s.path().join("alerts.jsonl")).unwrap();
    assert!(text.ends_with('\n'), "{text:?}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], partial, "the partial line alone on its line");
    assert_eq!(lines.len(), 2, "{text:?}");
    for line in &lines[1..] {
        let alert: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
        assert_eq!(alert["message"], "After the crash");
    }
}

#[test]
fn a_file_renamed_away_is_followed_by_a_new_file_at_its_path() {
    let s = sandbox("  - type: file\n    path: alerts.jsonl\n");
    let d = s.watch(&[]);
    let live = s.path().join("alerts.jsonl");
    let rotated = s.path().join("alerts.jsonl.1");
    s.write("inbox/1.txt", "Before rotation\n\nbody\n");
    wait_for_lines(&live, 1, WAIT);
    std::fs::rename(&live, &rotated).unwrap();
    s.write("inbox/2.txt", "After rotation\n\nbody\n");
    let got = wait_for_lines(&live, 1, WAIT);
    drop(d);
    let messages = |v: &[serde_json::Value]| -> Vec<String> {
        v.iter()
            .map(|a| a["message"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(messages(&got), ["After rotation"]);
    assert_eq!(messages(&json_lines(&rotated)), ["Before rotation"]);
}

#[test]
fn a_command_gets_alerts_whose_fields_no_environment_can_hold() {
    let s = sandbox(
        "  - type: command\n    timeout: 10s\n    command: [\"sh\", \"-c\", \"cat >> got.jsonl; printf '%s' \\\"$NEWSWATCH_TITLE\\\" | wc -c >> lengths.txt\"]\n",
    );
    let nul = serde_json::json!({ "title": "Nul\u{0}byte", "body": "a title with a NUL byte" });
    let long_title = format!("Long {}", "é".repeat(100 * 1024));
    let long = serde_json::json!({ "title": long_title, "body": "a 200 KiB title" });
    s.write("inbox/nul.json", nul.to_string());
    s.write("inbox/long.json", long.to_string());
    let run = s.run(&[
        "scan",
        "--deliver",
        "--format",
        "json",
        "--state",
        "state.db",
        "inbox",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let got = json_lines(&s.path().join("got.jsonl"));
    assert_eq!(
        got.len(),
        2,
        "both alerts reach the program: {}",
        run.stderr
    );
    let titles: Vec<&str> = got
        .iter()
        .map(|a| a["article"]["title"].as_str().unwrap())
        .collect();
    assert!(
        titles
            .iter()
            .any(|t| t.starts_with("Long ") && t.len() > 200 * 1024),
        "the whole title on stdin"
    );
    assert!(titles.iter().any(|t| t.starts_with("Nul")), "{titles:?}");
    // The environment holds the title cut to a bound, the NUL byte dropped.
    let lengths = std::fs::read_to_string(s.path().join("lengths.txt")).unwrap();
    let lengths: Vec<usize> = lengths.lines().map(|l| l.trim().parse().unwrap()).collect();
    assert_eq!(lengths.len(), 2, "{lengths:?}");
    assert!(lengths.iter().all(|&n| n <= 33 * 1024), "{lengths:?}");
}

#[test]
fn a_sqlite_file_of_something_else_is_refused_by_name_and_left_as_it_is() {
    let s = sandbox("  - type: file\n    path: alerts.jsonl\n");
    let db = s.path().join("other.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("CREATE TABLE foo(x); INSERT INTO foo VALUES (1);")
            .unwrap();
    }
    let before = std::fs::read(&db).unwrap();
    s.write("inbox/a.txt", "Anything\n\nbody\n");
    let run = s.run(&[
        "scan",
        "--deliver",
        "--format",
        "json",
        "--state",
        "other.db",
        "inbox",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("other.db"), "{}", run.stderr);
    assert!(
        run.stderr.contains("not a newswatch state"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read(&db).unwrap(), before, "the file is unchanged");
    assert!(!s.path().join("other.db-wal").exists());
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}
