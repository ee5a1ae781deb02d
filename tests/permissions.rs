//! What newswatch cannot read or write: unreadable files and folders, broken and looping
//! links, a state store in a read-only folder. Each is said once, naming the path; the rest
//! goes on; and what becomes readable is read.
//!
//! The tests run as root in CI, and root reads every file whatever its mode: the binary runs
//! without the capabilities that bypass permissions (see `common::newswatch`).

mod common;

use std::time::Duration;

use common::{Sandbox, permissions_can_bind, set_mode, wait_for_lines};

const DEEPSEEK: &str = r#"if article.mentions_all(["DeepSeek", "H200"]) { alert(article.title); }"#;

fn article(title: &str) -> String {
    format!("{title}\n\nDeepSeek buys the H200.\n")
}

fn sandbox() -> Sandbox {
    let mut s = Sandbox::new();
    s.bound_by_permissions = true;
    s.rule("deepseek", DEEPSEEK);
    s
}

#[test]
fn scan_passes_over_what_it_cannot_read_and_reads_the_rest() {
    if !permissions_can_bind() {
        return;
    }
    let s = sandbox();
    s.write("inbox/a.txt", article("a"));
    let b = s.write("inbox/b.txt", article("b"));
    set_mode(&b, 0o000);
    s.write("inbox/locked/c.txt", article("c"));
    set_mode(&s.path().join("inbox/locked"), 0o000);
    std::os::unix::fs::symlink("nowhere.txt", s.path().join("inbox/dangling.txt")).unwrap();
    s.write("inbox/zz/z.txt", article("z"));
    std::os::unix::fs::symlink("..", s.path().join("inbox/zz/loop")).unwrap();

    let run = s.run(&["scan", "--format", "json", "inbox"]);
    let titles: Vec<_> = run
        .alerts()
        .iter()
        .map(|a| a["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(titles, ["a", "z"], "{}", run.stderr);
    // One bad thing never hides the alerts of the good ones: exit 0, as DESIGN says.
    assert_eq!(run.code, 0, "{}", run.stderr);
    for (path, reason) in [
        ("inbox/b.txt", "Permission denied"),
        ("inbox/locked", "folder not readable"),
        ("inbox/dangling.txt", "broken symbolic link"),
        ("inbox/zz/loop", "symbolic link loop"),
    ] {
        let lines: Vec<_> = run.stderr.lines().filter(|l| l.contains(path)).collect();
        assert_eq!(lines.len(), 1, "one line for {path}:\n{}", run.stderr);
        assert!(lines[0].contains(reason), "{path}: {}", lines[0]);
    }

    let strict = s.run(&["scan", "--strict", "--format", "json", "inbox"]);
    assert_eq!(strict.code, 2, "{}", strict.stderr);
    assert_eq!(strict.alerts().len(), 2);

    set_mode(&s.path().join("inbox/locked"), 0o755);
    set_mode(&b, 0o644);
}

#[test]
fn the_daemon_watches_around_an_unreadable_folder_and_reads_what_becomes_readable() {
    if !permissions_can_bind() {
        return;
    }
    let s = sandbox();
    s.write(
        "newswatch.yaml",
        // The articles differ by their titles alone: one story, were copies grouped.
        "watch:\n  - path: inbox\nstate: state.db\nstories: { window: 0s }\noutputs:\n  - type: file\n    path: alerts.jsonl\n",
    );
    let locked = s.path().join("inbox/locked");
    s.write("inbox/locked/c.txt", article("c"));
    std::fs::create_dir(s.path().join("inbox/zz")).unwrap();
    set_mode(&locked, 0o000);
    let alerts = s.path().join("alerts.jsonl");

    // It used to refuse to start: "cannot watch: Permission denied".
    let d = s.watch(&[]);
    d.wait_for_log(
        "inbox/locked: skipped: folder not readable",
        Duration::from_secs(20),
    );

    // Folders beside the unreadable one are watched, also those notify had not reached.
    s.write("inbox/zz/z.txt", article("z"));
    wait_for_lines(&alerts, 1, Duration::from_secs(20));

    // A file that cannot be read is said once, and read once it can be.
    let tmp = s.write("inbox/.b.tmp", article("b"));
    set_mode(&tmp, 0o000);
    std::fs::rename(&tmp, s.path().join("inbox/b.txt")).unwrap();
    d.wait_for_log(
        "inbox/b.txt: skipped: cannot read it",
        Duration::from_secs(20),
    );
    set_mode(&s.path().join("inbox/b.txt"), 0o644);
    wait_for_lines(&alerts, 2, Duration::from_secs(20));

    // The folder made readable is walked, and watched from then on.
    set_mode(&locked, 0o755);
    wait_for_lines(&alerts, 3, Duration::from_secs(20));
    s.write("inbox/locked/d.txt", article("d"));
    let got = wait_for_lines(&alerts, 4, Duration::from_secs(20));

    let mut titles: Vec<_> = got
        .iter()
        .map(|a| a["message"].as_str().unwrap().to_string())
        .collect();
    titles.sort();
    assert_eq!(titles, ["b", "c", "d", "z"]);
    let log = d.log();
    assert_eq!(log.matches("inbox/b.txt").count(), 1, "{log}");
    assert_eq!(log.matches("inbox/locked").count(), 1, "{log}");
    assert!(!log.contains("cannot watch"), "{log}");
}

#[test]
fn a_state_store_that_cannot_be_written_is_refused_with_what_to_do() {
    if !permissions_can_bind() {
        return;
    }
    let s = sandbox();
    std::fs::create_dir(s.path().join("inbox")).unwrap();
    let ro = s.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    set_mode(&ro, 0o555);
    s.write(
        "newswatch.yaml",
        "watch:\n  - path: inbox\nstate: ro/state.db\n",
    );

    let mut child = common::newswatch(true)
        .arg("watch")
        .current_dir(s.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "still running");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("ro/state.db: cannot open it for writing (Permission denied"),
        "{stderr}"
    );

    let scan = s.run(&["scan", "--state", "ro/scan.db", "inbox"]);
    assert_eq!(scan.code, 2, "{}", scan.stderr);
    assert!(
        scan.stderr
            .contains("ro/scan.db: cannot open it for writing"),
        "{}",
        scan.stderr
    );
    set_mode(&ro, 0o755);
}

#[test]
fn an_unreadable_rules_subfolder_or_broken_link_costs_only_itself() {
    if !permissions_can_bind() {
        return;
    }
    let s = sandbox();
    s.write("rules/private/secret.rhai", "alert(\"secret\");\n");
    set_mode(&s.path().join("rules/private"), 0o000);
    std::os::unix::fs::symlink("gone.rhai", s.path().join("rules/dangling.rhai")).unwrap();
    s.write("inbox/a.txt", article("a"));

    let check = s.run(&["check"]);
    assert_eq!(check.code, 1, "{}{}", check.stdout, check.stderr);
    for (path, reason) in [
        ("rules/private", "folder not readable"),
        ("rules/dangling.rhai", "broken symbolic link"),
    ] {
        assert!(
            check
                .stdout
                .lines()
                .any(|l| l.contains(path) && l.contains(reason)),
            "{path}: {}",
            check.stdout
        );
    }
    // The other rules still run.
    let run = s.run(&["scan", "--format", "json", "inbox"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.rules(), ["deepseek"]);
    set_mode(&s.path().join("rules/private"), 0o755);
}
