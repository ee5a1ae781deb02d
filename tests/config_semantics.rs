//! What the config means for the commands that read it: `scan` delivers only with `--deliver`
//! (trying a rule never runs anyone's scripts), an unset `${VAR}` stops only the commands that
//! deliver, and a duration without a unit is an error with a hint, never silently seconds.

mod common;

use std::process::Output;

use common::{Sandbox, newswatch};

/// A sandbox whose config has a command output that appends each alert to `ran.jsonl`, and a
/// webhook whose token comes from `${NEWSWATCH_TEST_TOKEN}`.
fn sandbox() -> Sandbox {
    let s = Sandbox::new();
    s.rule("every", "//! Every article.\nalert(article.title);");
    s.write("inbox/a.txt", "Tried\n\nbody\n");
    s.write(
        "newswatch.yaml",
        "outputs:\n\
         \x20 - type: command\n\
         \x20   command: [\"sh\", \"-c\", \"cat >> ran.jsonl; echo >> ran.jsonl\"]\n\
         \x20 - type: webhook\n\
         \x20   url: http://127.0.0.1:9/hook\n\
         \x20   headers: { Authorization: \"Bearer ${NEWSWATCH_TEST_TOKEN}\" }\n\
         \x20   min_severity: critical\n",
    );
    s
}

fn run(s: &Sandbox, args: &[&str], token: Option<&str>) -> Output {
    let mut command = newswatch(false);
    command
        .args(args)
        .current_dir(s.path())
        .env("NO_COLOR", "1");
    match token {
        Some(token) => command.env("NEWSWATCH_TEST_TOKEN", token),
        None => command.env_remove("NEWSWATCH_TEST_TOKEN"),
    };
    command.output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn scan_delivers_only_with_deliver() {
    let s = sandbox();
    let ran = s.path().join("ran.jsonl");
    let tried = run(&s, &["scan", "--format", "json", "inbox"], Some("t"));
    assert_eq!(tried.status.code(), Some(0), "{}", stderr(&tried));
    assert!(String::from_utf8_lossy(&tried.stdout).contains("\"Tried\""));
    assert!(!ran.exists(), "scan without --deliver ran the command");
    // With --state, alerts are recorded, still not delivered nor queued for a daemon.
    let recorded = run(&s, &["scan", "--state", "s.db", "inbox"], Some("t"));
    assert_eq!(recorded.status.code(), Some(0), "{}", stderr(&recorded));
    assert!(
        !ran.exists(),
        "scan --state without --deliver ran the command"
    );
    let delivered = run(&s, &["scan", "--deliver", "inbox"], Some("t"));
    assert_eq!(delivered.status.code(), Some(0), "{}", stderr(&delivered));
    let lines = std::fs::read_to_string(&ran).unwrap();
    assert_eq!(lines.lines().filter(|l| l.contains("Tried")).count(), 1);
}

#[test]
fn an_unset_variable_stops_only_the_commands_that_deliver() {
    let s = sandbox();
    let need = "environment variable NEWSWATCH_TEST_TOKEN is not set";
    // Reading, trying and explaining need no secrets.
    for args in [
        &["scan", "--format", "json", "inbox"][..],
        &["alerts", "--state", "s.db"],
        &["explain", "every", "inbox/a.txt"],
        &["test"],
    ] {
        let out = run(&s, args, None);
        assert_ne!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains(need), "{args:?}: {}", stderr(&out));
    }
    // `check` warns, with the place, and exits 0.
    let check = run(&s, &["check"], None);
    assert_eq!(check.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        stdout.contains("newswatch.yaml:6:16: warning: outputs[1].headers.Authorization: environment variable NEWSWATCH_TEST_TOKEN is not set"),
        "{stdout}"
    );
    // Delivering needs it: exit 2 naming it, nothing delivered.
    for args in [&["scan", "--deliver", "inbox"][..], &["watch"]] {
        let out = run(&s, args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(need), "{args:?}: {}", stderr(&out));
    }
    assert!(!s.path().join("ran.jsonl").exists());
}

#[test]
fn a_duration_without_a_unit_is_an_error_with_a_hint() {
    let s = Sandbox::new();
    s.rule("every", "//! Every article.\nalert(article.title);");
    s.write("newswatch.yaml", "limits:\n  rule_timeout: 250\n");
    let check = s.run(&["check"]);
    assert_eq!(check.code, 1);
    assert!(
        check
            .stdout
            .contains("newswatch.yaml:2:17: limits.rule_timeout: the duration 250 has no unit: write 250ms or 250s"),
        "{}",
        check.stdout
    );
    s.write("a.txt", "T\n\nb\n");
    let scan = s.run(&["scan", "a.txt"]);
    assert_eq!(scan.code, 2, "a config error stops the scan");
    assert!(scan.stderr.contains("has no unit"), "{}", scan.stderr);
    let alerts = s.run(&["alerts", "--since", "10"]);
    assert_eq!(alerts.code, 2);
    assert!(
        alerts.stderr.contains("write 10ms or 10s"),
        "{}",
        alerts.stderr
    );
}
