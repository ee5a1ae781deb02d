//! The daemon's promises (DESIGN.md), each checked on the real binary in a temp dir.

mod common;

use std::io::Write;
use std::time::Duration;

use common::{Sandbox, json_lines, wait_for_lines};

/// Alerts on every article, with its body, so a half-read file would show as its own alert.
const EVERY: &str = "alert(#{ message: article.title, body: article.body });";
const WAIT: Duration = Duration::from_secs(20);

/// A sandbox with an inbox, the EVERY rule, and a config writing alerts to alerts.jsonl.
fn sandbox() -> Sandbox {
    let s = Sandbox::new();
    s.rule("every", EVERY);
    std::fs::create_dir(s.path().join("inbox")).unwrap();
    s.write(
        "newswatch.yaml",
        "watch:\n  - path: inbox\nstate: state.db\noutputs:\n  - type: file\n    path: alerts.jsonl\n",
    );
    s
}

fn titles(alerts: &[serde_json::Value]) -> Vec<String> {
    let mut t: Vec<String> = alerts
        .iter()
        .map(|a| a["message"].as_str().unwrap().to_string())
        .collect();
    t.sort();
    t
}

#[test]
fn catches_up_at_start_then_alerts_on_new_files_and_stops_cleanly() {
    let s = sandbox();
    s.write("inbox/before.txt", "Before start\n\nbody\n");
    let d = s.watch(&[]);
    let out = s.path().join("alerts.jsonl");
    wait_for_lines(&out, 1, WAIT);
    s.write("inbox/after.txt", "After start\n\nbody\n");
    let alerts = wait_for_lines(&out, 2, WAIT);
    assert_eq!(titles(&alerts), ["After start", "Before start"]);
    assert_eq!(alerts[1]["article"]["path"], "inbox/after.txt");
    assert_eq!(alerts[1]["article"]["source"], "inbox");
    let (code, took) = d.stop_with("TERM");
    assert_eq!(code, 0);
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[test]
fn a_file_written_in_chunks_is_evaluated_once_whole() {
    let s = sandbox();
    let d = s.watch(&[]);
    let mut f = std::fs::File::create(s.path().join("inbox/slow.txt")).unwrap();
    // Pauses longer than twice the settle time: only the close says the file is complete.
    for part in [
        "Slow title\n\n",
        "first chunk ",
        "second chunk ",
        "last chunk\n",
    ] {
        f.write_all(part.as_bytes()).unwrap();
        f.flush().unwrap();
        std::thread::sleep(Duration::from_millis(1300));
    }
    drop(f);
    wait_for_lines(&s.path().join("alerts.jsonl"), 1, WAIT);
    std::thread::sleep(Duration::from_millis(1000));
    let alerts = json_lines(&s.path().join("alerts.jsonl"));
    let bodies: std::collections::BTreeSet<_> = alerts
        .iter()
        .map(|a| a["fields"]["body"].to_string())
        .collect();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert!(bodies.iter().next().unwrap().contains("last chunk"));
    drop(d);
}

#[test]
fn write_then_rename_is_caught_and_temporary_files_ignored() {
    let s = sandbox();
    let d = s.watch(&[]);
    s.write("inbox/.partial.txt", "Temp\n\nnot yet\n");
    s.write("inbox/download.txt.part", "Part\n\nnot yet\n");
    s.write("inbox/x.tmp", "Tmp\n\nnot yet\n");
    std::fs::rename(
        s.path().join("inbox/.partial.txt"),
        s.path().join("inbox/final.txt"),
    )
    .unwrap();
    wait_for_lines(&s.path().join("alerts.jsonl"), 1, WAIT);
    std::thread::sleep(Duration::from_millis(800));
    let alerts = json_lines(&s.path().join("alerts.jsonl"));
    assert_eq!(titles(&alerts), ["Temp"]);
    assert_eq!(alerts[0]["article"]["path"], "inbox/final.txt");
    drop(d);
}

#[test]
fn files_in_new_subfolders_and_moved_in_folders_are_caught() {
    let s = sandbox();
    let d = s.watch(&[]);
    for i in 0..20 {
        s.write(
            &format!("inbox/new/deep/er/{i}.txt"),
            format!("Nested {i}\n\nbody\n"),
        );
    }
    s.write("outside/moved/a.txt", "Moved A\n\nbody\n");
    s.write("outside/moved/sub/b.md", "# Moved B\n\nbody\n");
    std::fs::rename(s.path().join("outside/moved"), s.path().join("inbox/moved")).unwrap();
    let alerts = wait_for_lines(&s.path().join("alerts.jsonl"), 22, WAIT);
    assert_eq!(alerts.len(), 22, "{:?}", titles(&alerts));
    assert!(titles(&alerts).contains(&"Moved B".to_string()));
    drop(d);
}

#[test]
fn a_burst_of_files_is_drained_without_loss() {
    let s = sandbox();
    let d = s.watch(&[]);
    let n = 3000;
    for i in 0..n {
        s.write(
            &format!("inbox/burst/{i:05}.txt"),
            format!("Burst {i}\n\nbody {i}\n"),
        );
    }
    let alerts = wait_for_lines(&s.path().join("alerts.jsonl"), n, Duration::from_secs(60));
    assert_eq!(alerts.len(), n);
    let (code, _) = d.stop_with("INT");
    assert_eq!(code, 0);
}

#[test]
fn the_same_article_under_two_names_alerts_once() {
    let s = sandbox();
    let d = s.watch(&[]);
    s.write("inbox/one.txt", "Same story\n\nsame body\n");
    wait_for_lines(&s.path().join("alerts.jsonl"), 1, WAIT);
    s.write("inbox/two.txt", "Same story\n\nsame body\n");
    s.write("inbox/three.txt", "Other story\n\nbody\n");
    let alerts = wait_for_lines(&s.path().join("alerts.jsonl"), 2, WAIT);
    assert_eq!(titles(&alerts), ["Other story", "Same story"]);
    drop(d);
}

#[test]
fn a_restart_catches_up_on_changes_without_repeating_alerts() {
    let s = sandbox();
    s.write("inbox/old.txt", "Old\n\nbody\n");
    s.write("inbox/edited.txt", "Edited v1\n\nbody\n");
    let d = s.watch(&[]);
    let out = s.path().join("alerts.jsonl");
    wait_for_lines(&out, 2, WAIT);
    assert_eq!(d.stop_with("TERM").0, 0);

    s.write("inbox/while_stopped.txt", "While stopped\n\nbody\n");
    std::thread::sleep(Duration::from_millis(20));
    s.write("inbox/edited.txt", "Edited v2\n\nbody\n");
    std::fs::remove_file(s.path().join("inbox/old.txt")).unwrap();
    let d = s.watch(&[]);
    let alerts = wait_for_lines(&out, 4, WAIT);
    assert_eq!(
        titles(&alerts),
        ["Edited v1", "Edited v2", "Old", "While stopped"],
        "each content alerts once, across the restart"
    );
    // One daemon per state: the second stops before the third starts.
    assert_eq!(d.stop_with("TERM").0, 0);
    let again = s.watch(&[]);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(json_lines(&out).len(), 4, "a third start repeats nothing");
    drop(again);
}

#[test]
fn startup_skip_records_existing_files_without_alerting() {
    let s = sandbox();
    s.write("inbox/existing.txt", "Existing\n\nbody\n");
    let config = std::fs::read_to_string(s.path().join("newswatch.yaml")).unwrap();
    s.write("newswatch.yaml", format!("{config}startup: skip\n"));
    let d = s.watch(&[]);
    std::thread::sleep(Duration::from_millis(1000));
    s.write("inbox/fresh.txt", "Fresh\n\nbody\n");
    let alerts = wait_for_lines(&s.path().join("alerts.jsonl"), 1, WAIT);
    assert_eq!(titles(&alerts), ["Fresh"]);
    drop(d);
}

#[test]
fn rules_reload_while_running_and_a_broken_rule_keeps_its_last_good_version() {
    let s = sandbox();
    std::fs::remove_file(s.path().join("rules/every.rhai")).unwrap();
    s.rule("tag", r#"alert("v1: " + article.title);"#);
    let d = s.watch(&[]);
    let out = s.path().join("alerts.jsonl");
    s.write("inbox/a.txt", "A\n\nbody\n");
    wait_for_lines(&out, 1, WAIT);

    s.rule("tag", r#"alert("v2: " + article.title);"#);
    d.wait_for_log("rules reloaded", WAIT);
    s.write("inbox/b.txt", "B\n\nbody\n");
    wait_for_lines(&out, 2, WAIT);

    s.rule("tag", "alert(\"v3: \" + article.title");
    d.wait_for_log("rules/tag.rhai:1:", WAIT);
    s.rule(
        "added",
        r#"alert(#{ message: "added: " + article.title, key: "added" + article.title });"#,
    );
    std::thread::sleep(Duration::from_millis(600));
    s.write("inbox/c.txt", "C\n\nbody\n");
    let alerts = wait_for_lines(&out, 4, WAIT);
    assert_eq!(titles(&alerts), ["added: C", "v1: A", "v2: B", "v2: C"]);

    std::fs::remove_file(s.path().join("rules/added.rhai")).unwrap();
    std::thread::sleep(Duration::from_millis(600));
    s.write("inbox/d.txt", "D\n\nbody\n");
    let alerts = wait_for_lines(&out, 5, WAIT);
    assert_eq!(alerts.len(), 5);
    assert_eq!(alerts[4]["message"], "v2: D");

    // A SIGHUP (`systemctl reload`) keeps the last good version too.
    d.signal("HUP");
    d.wait_for_log("config reloaded", WAIT);
    s.write("inbox/e.txt", "E\n\nbody\n");
    let alerts = wait_for_lines(&out, 6, WAIT);
    assert_eq!(alerts[5]["message"], "v2: E", "{}", d.log());
    drop(d);
}

#[test]
fn a_corrupt_state_file_stops_the_daemon_and_is_kept() {
    let s = sandbox();
    let junk = "not a database\n".repeat(500);
    s.write("state.db", &junk);
    let run = s.run(&["watch"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("state.db"), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(s.path().join("state.db")).unwrap(),
        junk
    );
}

#[test]
fn bad_config_is_refused_with_its_position() {
    let s = sandbox();
    s.write(
        "newswatch.yaml",
        "watch:\n  - path: inbox\n    recursve: true\n",
    );
    let run = s.run(&["watch"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("newswatch.yaml:3:5"), "{}", run.stderr);
    assert!(run.stderr.contains("recursve"), "{}", run.stderr);
}

#[test]
fn built_in_defaults_watch_a_created_inbox_and_alerts_go_to_stdout() {
    let s = Sandbox::new();
    s.rule("every", EVERY);
    let d = s.watch(&[]);
    assert!(s.path().join("inbox").is_dir(), "./inbox is created");
    s.write("inbox/a.txt", "Default run\n\nbody\n");
    let alerts = wait_for_lines(&d.stdout, 1, WAIT);
    assert_eq!(titles(&alerts), ["Default run"]);
    assert!(s.path().join("xdg-state/newswatch/state.db").is_file());
    let (code, _) = d.stop_with("TERM");
    assert_eq!(code, 0);
}

#[test]
fn alerts_command_shows_the_history() {
    let s = sandbox();
    s.rule(
        "other",
        r#"if article.mentions("special") { alert(#{ message: "special", severity: "high" }); }"#,
    );
    let d = s.watch(&[]);
    s.write("inbox/a.txt", "Plain\n\nbody\n");
    s.write("inbox/b.txt", "Special\n\nspecial body\n");
    wait_for_lines(&s.path().join("alerts.jsonl"), 3, WAIT);
    drop(d);
    let all = s.run(&["alerts", "--format", "json"]);
    assert_eq!(all.code, 0, "{}", all.stderr);
    assert_eq!(all.alerts().len(), 3);
    let other = s.run(&[
        "alerts", "--format", "json", "--rule", "other", "--since", "1h",
    ]);
    assert_eq!(other.rules(), ["other"]);
    let text = s.run(&["alerts", "--format", "text"]);
    assert!(
        text.stdout.contains("special") && text.stdout.contains("inbox/b.txt"),
        "{}",
        text.stdout
    );
    // JSON Lines by default on a pipe, like scan.
    assert_eq!(s.run(&["alerts"]).alerts().len(), 3);
    // The alert as scan prints it, in its field order, then its history.
    let line = all.stdout.lines().next().unwrap();
    let at = |key: &str| {
        line.find(&format!("\"{key}\":"))
            .unwrap_or_else(|| panic!("no {key} in {line}"))
    };
    let order = [
        "id",
        "time",
        "rule",
        "severity",
        "message",
        "tags",
        "fields",
        "article",
        "matches",
        "suppressed",
        "deliveries",
    ];
    assert!(order.windows(2).all(|k| at(k[0]) < at(k[1])), "{line}");
    // Nothing recorded yet is an empty history, not an error.
    let none = s.run(&["alerts", "--state", "missing.db"]);
    assert_eq!(none.code, 0, "{}", none.stderr);
    assert!(none.stdout.is_empty());
    assert!(none.stderr.contains("no alerts yet"), "{}", none.stderr);
    assert!(!s.path().join("missing.db").exists());
    let broken = s.write("broken.db", "not a database");
    let bad = s.run(&["alerts", "--state", broken.to_str().unwrap()]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

#[test]
fn sighup_rereads_the_config() {
    let s = sandbox();
    let d = s.watch(&[]);
    s.write("inbox/a.txt", "Before HUP\n\nbody\n");
    wait_for_lines(&s.path().join("alerts.jsonl"), 1, WAIT);
    s.write(
        "newswatch.yaml",
        "watch:\n  - path: inbox\nstate: state.db\noutputs:\n  - type: file\n    path: after-hup.jsonl\n",
    );
    d.signal("HUP");
    d.wait_for_log("config reloaded", WAIT);
    s.write("inbox/b.txt", "After HUP\n\nbody\n");
    let alerts = wait_for_lines(&s.path().join("after-hup.jsonl"), 1, WAIT);
    assert_eq!(titles(&alerts), ["After HUP"]);
    assert_eq!(json_lines(&s.path().join("alerts.jsonl")).len(), 1);
    drop(d);
}

#[test]
fn symlink_loops_and_vanishing_files_are_harmless() {
    let s = sandbox();
    std::os::unix::fs::symlink(s.path().join("inbox"), s.path().join("inbox/loop")).unwrap();
    std::os::unix::fs::symlink(
        s.path().join("nowhere.txt"),
        s.path().join("inbox/dangling.txt"),
    )
    .unwrap();
    let d = s.watch(&[]);
    for i in 0..50 {
        let p = s.write(&format!("inbox/gone{i}.txt"), "Gone\n\nbody\n");
        std::fs::remove_file(p).unwrap();
    }
    s.write("inbox/kept.txt", "Kept\n\nbody\n");
    let alerts = wait_for_lines(&s.path().join("alerts.jsonl"), 1, WAIT);
    assert!(
        titles(&alerts).contains(&"Kept".to_string()),
        "{:?}",
        titles(&alerts)
    );
    assert!(
        alerts
            .iter()
            .all(|a| a["message"] == "Kept" || a["message"] == "Gone")
    );
    let stderr = d.stderr.clone();
    let (code, _) = d.stop_with("TERM");
    assert_eq!(
        code,
        0,
        "{}",
        std::fs::read_to_string(stderr).unwrap_or_default()
    );
}

#[test]
fn deleted_and_moved_away_files_are_forgotten_and_their_alerts_kept() {
    let s = sandbox();
    let alerts = s.path().join("alerts.jsonl");
    let files = || {
        let db = rusqlite::Connection::open(s.path().join("state.db")).unwrap();
        db.query_row("SELECT count(*) FROM files", [], |r| r.get::<_, i64>(0))
            .unwrap()
    };
    let until = |what: &str, done: &dyn Fn() -> bool| {
        let start = std::time::Instant::now();
        while !done() {
            assert!(start.elapsed() < WAIT, "never {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let d = s.watch(&[]);
    s.write("inbox/a.txt", "A\n\nbody a\n");
    s.write("inbox/b.txt", "B\n\nbody b\n");
    wait_for_lines(&alerts, 2, WAIT);
    assert_eq!(files(), 2);

    std::fs::remove_file(s.path().join("inbox/a.txt")).unwrap();
    std::fs::rename(s.path().join("inbox/b.txt"), s.path().join("b.txt")).unwrap();
    until("forgotten", &|| files() == 0);

    // The same article back: read again, and its alert is not repeated (same id).
    s.write("inbox/a.txt", "A\n\nbody a\n");
    until("recorded again", &|| files() == 1);
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(json_lines(&alerts).len(), 2, "{}", d.log());
    assert_eq!(s.run(&["alerts", "--format", "json"]).alerts().len(), 2);

    // Deleted while the daemon is stopped: forgotten at the next start.
    drop(d);
    std::fs::remove_file(s.path().join("inbox/a.txt")).unwrap();
    let d = s.watch(&[]);
    assert_eq!(files(), 0);
    assert!(
        d.log()
            .contains("forgot 1 file deleted while newswatch was stopped")
    );
}

#[test]
fn sighup_applies_limits_and_rules_folders_but_keeps_a_command_line_rules_folder() {
    let s = sandbox();
    s.write(
        "other/other.rhai",
        "alert(#{ message: \"other \" + article.title });",
    );
    let d = s.watch(&[]);
    let alerts = s.path().join("alerts.jsonl");

    // A new rules folder from the config, and a smaller size limit.
    s.write(
        "newswatch.yaml",
        "watch:\n  - path: inbox\nstate: state.db\nrules: other\nlimits: { max_file_size: 100 }\noutputs:\n  - type: file\n    path: alerts.jsonl\n",
    );
    d.signal("HUP");
    d.wait_for_log("config reloaded", WAIT);
    s.write("inbox/big.txt", format!("Big\n\n{}\n", "word ".repeat(100)));
    d.wait_for_log("over the size limit of 100 bytes", WAIT);
    s.write("inbox/a.txt", "A\n\nbody\n");
    let got = wait_for_lines(&alerts, 1, WAIT);
    assert_eq!(titles(&got), ["other A"]);
    // The new folder is watched for edits; the old one no longer reloads anything.
    s.write(
        "other/other.rhai",
        "alert(#{ message: \"edited \" + article.title });",
    );
    d.wait_for_log("rules reloaded", WAIT);
    drop(d);

    // With --rules on the command line, the config's `rules:` does not replace it on SIGHUP.
    let d = s.watch(&["--rules", "rules"]);
    d.signal("HUP");
    d.wait_for_log("config reloaded", WAIT);
    s.write("inbox/b.txt", "B\n\nbody\n");
    let got = wait_for_lines(&alerts, 2, WAIT);
    assert!(
        titles(&got).contains(&"B".to_string()),
        "{:?}",
        titles(&got)
    );
}
