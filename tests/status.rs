//! One daemon per state, and `newswatch status`: on the real binary in temp dirs.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{Run, Sandbox, json_lines, wait_for_lines};

const WAIT: Duration = Duration::from_secs(20);

/// A sandbox with an inbox, a rule alerting on every article, and a config recording in
/// state.db and writing alerts to alerts.jsonl (plus `extra` outputs).
fn sandbox(extra: &str) -> Sandbox {
    let s = Sandbox::new();
    s.rule("every", "alert(article.title);");
    std::fs::create_dir(s.path().join("inbox")).unwrap();
    s.write(
        "newswatch.yaml",
        format!(
            "watch:\n  - path: inbox\nstate: state.db\noutputs:\n  - type: file\n    path: alerts.jsonl\n{extra}"
        ),
    );
    s
}

/// `newswatch status --format json`: the exit code and the document.
fn status(s: &Sandbox) -> (i32, serde_json::Value, Run) {
    let run = s.run(&["status", "--format", "json"]);
    let doc = serde_json::from_str(run.stdout.trim()).unwrap_or(serde_json::Value::Null);
    (run.code, doc, run)
}

/// Polls `status` until `ok` holds of it; panics with the last one after [`WAIT`].
fn status_until(
    s: &Sandbox,
    ok: impl Fn(i32, &serde_json::Value) -> bool,
) -> (i32, serde_json::Value) {
    let start = Instant::now();
    loop {
        let (code, doc, run) = status(s);
        if ok(code, &doc) {
            return (code, doc);
        }
        assert!(
            start.elapsed() < WAIT,
            "status never got there: exit {code}\n{}\n{}",
            run.stdout,
            run.stderr
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_second_daemon_on_one_state_is_refused_naming_the_first_and_a_kill_9_frees_the_state() {
    let s = sandbox("");
    let first = s.watch(&[]);
    let second = s.run(&["watch"]);
    assert_eq!(second.code, 2, "{}", second.stderr);
    assert!(
        second
            .stderr
            .contains(&format!("another newswatch watch (pid {}", first.pid())),
        "{}",
        second.stderr
    );
    assert!(second.stderr.contains("state.db"), "{}", second.stderr);
    // The first goes on as if nothing happened.
    s.write("inbox/a.txt", "First still works\n\nbody\n");
    wait_for_lines(&s.path().join("alerts.jsonl"), 1, WAIT);

    let (code, _) = first.stop_with("KILL");
    assert_eq!(code, -1, "killed by the signal");
    let third = s.watch(&[]);
    s.write("inbox/b.txt", "After the kill\n\nbody\n");
    let alerts = wait_for_lines(&s.path().join("alerts.jsonl"), 2, WAIT);
    assert_eq!(alerts.len(), 2);
    let (code, doc, _) = status(&s);
    assert_eq!(doc["daemon"]["pid"], third.pid(), "{doc}");
    assert_eq!(code, 0, "{doc}");
}

#[test]
fn status_of_a_state_that_does_not_exist_is_2_and_creates_nothing() {
    let s = sandbox("");
    let run = s.run(&["status", "--format", "json"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("could not read the state"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(!s.path().join("state.db").exists());
    assert!(!s.path().join("state.db.lock").exists());
}

#[test]
fn status_of_a_healthy_running_daemon_is_0_and_1_once_it_stopped() {
    let s = sandbox("");
    let d = s.watch(&["--log-level", "debug"]);
    s.write("inbox/a.txt", "One\n\nbody\n");
    s.write("inbox/b.txt", "Two\n\nbody\n");
    s.write("inbox/c.txt.part", "Partial\n\nbody\n");
    wait_for_lines(&s.path().join("alerts.jsonl"), 2, WAIT);
    // At debug level, one line per file looked at, with what was done and why.
    d.wait_for_log(
        "evaluated inbox/a.txt: 1 article(s), 1 alert(s), 1 new",
        WAIT,
    );
    d.wait_for_log(
        "c.txt.part: newswatch's own file, hidden or temporary",
        WAIT,
    );
    let (code, doc) = status_until(&s, |_, doc| {
        doc["since_start"]["articles_evaluated"] == 2 && doc["outputs"][0]["delivered"] == 2
    });
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["running"], true);
    assert_eq!(doc["healthy"], true);
    assert_eq!(doc["daemon"]["pid"], d.pid());
    assert_eq!(doc["daemon"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["rules"]["loaded"], 1);
    assert_eq!(doc["rules"]["broken"], 0);
    assert_eq!(doc["counts"]["alerts"], 2);
    assert_eq!(doc["counts"]["files"], 2);
    assert_eq!(doc["since_start"]["alerts_raised"], 2);
    assert!(
        doc["last_article"]["path"]
            .as_str()
            .unwrap()
            .starts_with("inbox/"),
        "{doc}"
    );
    assert_eq!(doc["outputs"][0]["name"], "file alerts.jsonl");
    assert_eq!(doc["outputs"][0]["pending"], 0);
    assert_eq!(doc["outputs"][0]["failed"], 0);
    assert_eq!(doc["silences"], serde_json::json!([]));
    assert_eq!(doc["feeds"], serde_json::json!([]));

    // The text form, for people, says the same.
    let text = s.run(&["status", "--format", "text"]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout.contains(&format!("running, pid {}", d.pid())),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("file alerts.jsonl"), "{}", text.stdout);

    let pid = d.pid();
    let (code, _) = d.stop_with("TERM");
    assert_eq!(code, 0);
    let (code, doc, _) = status(&s);
    assert_eq!(code, 1, "{doc}");
    assert_eq!(doc["running"], false);
    assert_eq!(doc["daemon"], serde_json::Value::Null);
    assert_eq!(
        doc["heartbeat"]["pid"], pid,
        "the last heartbeat is the stopped daemon's"
    );
    assert!(
        doc["problems"][0]
            .as_str()
            .unwrap()
            .contains("no daemon is running"),
        "{doc}"
    );
    // The daemon's last word is kept: counters as it stopped.
    assert_eq!(doc["since_start"]["articles_evaluated"], 2);
}

#[test]
fn a_failed_delivery_needs_attention() {
    // A program that does not exist: the delivery fails for good at once.
    let s = sandbox("  - type: command\n    command: [\"/nonexistent/newswatch-test-program\"]\n");
    let _d = s.watch(&[]);
    s.write("inbox/a.txt", "Undeliverable\n\nbody\n");
    let (code, doc) = status_until(&s, |_, doc| {
        doc["outputs"]
            .as_array()
            .is_some_and(|o| o.iter().any(|o| o["failed"] == 1))
    });
    assert_eq!(code, 1, "{doc}");
    assert_eq!(doc["running"], true);
    assert_eq!(doc["healthy"], false);
    let problems = doc["problems"].to_string();
    assert!(problems.contains("failed deliveries"), "{doc}");
    assert!(problems.contains("newswatch-test-program"), "{doc}");
}

#[test]
fn a_broken_rule_needs_attention() {
    let s = sandbox("");
    s.rule("broken", "let x = ;");
    let _d = s.watch(&[]);
    let (code, doc) = status_until(&s, |_, doc| doc["running"] == true);
    assert_eq!(code, 1, "{doc}");
    assert_eq!(doc["rules"]["loaded"], 1);
    assert_eq!(doc["rules"]["broken_names"], serde_json::json!(["broken"]));
    assert!(
        doc["problems"]
            .to_string()
            .contains("rule broken does not compile"),
        "{doc}"
    );
}

#[test]
fn scan_on_a_state_a_daemon_holds_records_and_the_daemon_delivers_each_alert_once() {
    let s = sandbox("");
    let d = s.watch(&[]);
    // Articles the daemon sees, and the same ones plus others that only the scan sees.
    for i in 0..5 {
        s.write(&format!("inbox/{i}.txt"), format!("Shared {i}\n\nbody\n"));
        s.write(&format!("other/{i}.txt"), format!("Shared {i}\n\nbody\n"));
        s.write(
            &format!("other/only{i}.txt"),
            format!("Scan only {i}\n\nbody\n"),
        );
    }
    let out = s.path().join("alerts.jsonl");
    wait_for_lines(&out, 5, WAIT);
    let scan = s.run(&[
        "scan",
        "--deliver",
        "other",
        "--state",
        "state.db",
        "--format",
        "json",
    ]);
    assert_eq!(scan.code, 0, "{}", scan.stderr);
    assert!(
        scan.stderr
            .contains(&format!("newswatch watch (pid {}) holds state.db", d.pid())),
        "{}",
        scan.stderr
    );
    assert_eq!(
        scan.stderr.matches("leaves their delivery").count(),
        1,
        "said once: {}",
        scan.stderr
    );
    // The scan's new alerts are delivered by the daemon, within its idle poll.
    let alerts = wait_for_lines(&out, 10, WAIT);
    let mut by_id: BTreeMap<String, usize> = BTreeMap::new();
    for a in &alerts {
        *by_id
            .entry(a["id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(by_id.len(), 10, "{alerts:?}");
    assert!(by_id.values().all(|&n| n == 1), "{by_id:?}");

    // Once the daemon is stopped, a scan delivers itself; what was delivered is not again.
    let (code, _) = d.stop_with("TERM");
    assert_eq!(code, 0);
    s.write("other/late.txt", "Late one\n\nbody\n");
    let scan = s.run(&[
        "scan",
        "--deliver",
        "other",
        "--state",
        "state.db",
        "--format",
        "json",
    ]);
    assert_eq!(scan.code, 0, "{}", scan.stderr);
    assert!(!scan.stderr.contains("holds"), "{}", scan.stderr);
    let alerts = json_lines(&out);
    assert_eq!(alerts.len(), 11, "{alerts:?}");
    assert_eq!(alerts[10]["message"], "Late one");
}

#[test]
fn a_daemon_started_while_a_scan_delivers_waits_for_it_and_repeats_nothing() {
    // A slow command output: the scan holds the state while it delivers.
    let s = sandbox(
        "  - type: command\n    command: [\"sh\", \"-c\", \"cat >> delivered.txt; echo >> delivered.txt; sleep 1.5\"]\n",
    );
    s.write("other/a.txt", "Scanned\n\nbody\n");
    let mut scan = common::newswatch(false)
        .args([
            "scan",
            "--deliver",
            "other",
            "--state",
            "state.db",
            "--format",
            "json",
        ])
        .current_dir(s.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = s.path().join("state.db.lock");
    let start = Instant::now();
    while !std::fs::read_to_string(&lock).is_ok_and(|t| t.contains("\"scan\"")) {
        assert!(start.elapsed() < WAIT, "the scan never took the lock");
        std::thread::sleep(Duration::from_millis(10));
    }
    let d = s.watch(&[]);
    // Its lock is released as it ends.
    assert_eq!(scan.wait().unwrap().code(), Some(0));
    assert!(
        d.log()
            .contains(&format!("waiting for newswatch scan (pid {})", scan.id())),
        "{}",
        d.log()
    );
    std::thread::sleep(Duration::from_millis(1500));
    let delivered = std::fs::read_to_string(s.path().join("delivered.txt")).unwrap();
    assert_eq!(
        delivered.lines().filter(|l| !l.trim().is_empty()).count(),
        1,
        "{delivered}"
    );
    let (code, doc, _) = status(&s);
    assert_eq!(code, 0, "{doc}");
}
