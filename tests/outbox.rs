//! `newswatch outbox`: a delivery refused by the receiver is `failed`, shown by `outbox list`
//! and `alerts`, and delivered once retried while the daemon runs; `drop` removes deliveries
//! and keeps their alerts; the backlog of a webhook whose URL changed while the daemon was
//! stopped is moved to the new one with `retry --to`. The receivers are real HTTP servers on
//! 127.0.0.1; the daemon is the real binary in a temp dir.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::Sandbox;
use common::receiver::{Answer, Receiver};

/// A sandbox with an inbox, a rule alerting on every article (its title as the message), a
/// slow retry (a delivery retried by the daemon itself would wait 30 s), and one webhook.
fn sandbox(url: &str) -> Sandbox {
    let s = Sandbox::new();
    s.rule(
        "every",
        r#"alert(#{ message: article.title, severity: "high" });"#,
    );
    std::fs::create_dir(s.path().join("inbox")).unwrap();
    configure(&s, url);
    s
}

fn configure(s: &Sandbox, url: &str) {
    s.write(
        "newswatch.yaml",
        format!(
            "watch:\n  - path: inbox\nstate: state.db\nretry: {{ initial: 30s, max: 60s }}\noutputs:\n  - type: webhook\n    url: {url}\n"
        ),
    );
}

/// `newswatch outbox ARGS --format json`, each line parsed.
fn outbox_list(s: &Sandbox, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["outbox", "list", "--format", "json"];
    all.extend(args);
    let run = s.run(&all);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.alerts()
}

/// The one delivery of the alert with this message, as `alerts --format json` shows it.
fn delivery_of(s: &Sandbox, message: &str) -> serde_json::Value {
    let run = s.run(&["alerts", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let alert = run
        .alerts()
        .into_iter()
        .find(|a| a["message"] == message)
        .unwrap_or_else(|| panic!("no alert {message:?}"));
    alert["deliveries"][0].clone()
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    start.elapsed()
}

#[test]
fn a_refused_alert_is_failed_listed_and_delivered_once_retried() {
    let accept = Arc::new(AtomicBool::new(false));
    let receiver = Receiver::start({
        let accept = accept.clone();
        move |message| match message {
            "Refused" if !accept.load(Ordering::SeqCst) => Answer {
                body: "{\"error\": \"no such channel\"}",
                ..Answer::status(400)
            },
            _ => Answer::ok(),
        }
    });
    let s = sandbox(&receiver.url());
    let d = s.watch(&[]);
    // One at a time: the order alerts are raised in is the order they are written.
    for (file, message) in [("1.txt", "First"), ("2.txt", "Refused"), ("3.txt", "Third")] {
        s.write(&format!("inbox/{file}"), format!("{message}\n\nbody\n"));
        receiver.wait_for(message);
    }
    assert_eq!(receiver.messages(), ["First", "Refused", "Third"]);

    let listed = outbox_list(&s, &[]);
    assert_eq!(listed.len(), 1, "{listed:?}");
    let failed = &listed[0];
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["title"], "Refused");
    assert_eq!(failed["rule"], "every");
    assert_eq!(failed["output"], format!("webhook {}", receiver.url()));
    assert_eq!(failed["in_config"], true);
    assert_eq!(failed["attempts"], 1);
    let error = failed["last_error"].as_str().unwrap();
    assert!(
        error.contains("HTTP 400") && error.contains("no such channel"),
        "{error}"
    );
    assert_eq!(outbox_list(&s, &["--status", "pending"]).len(), 0);
    assert_eq!(outbox_list(&s, &["--output", "nothing"]).len(), 0);
    let text = s.run(&["outbox", "--format", "text"]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout.contains("failed") && text.stdout.contains("HTTP 400"),
        "{}",
        text.stdout
    );
    let shown = delivery_of(&s, "Refused");
    assert_eq!(shown["status"], "failed");
    assert!(shown["last_error"].as_str().unwrap().contains("HTTP 400"));

    // Retried while the daemon runs: delivered within a couple of seconds once accepted.
    accept.store(true, Ordering::SeqCst);
    let id = failed["id"].to_string();
    let retry = s.run(&["outbox", "retry", &id]);
    assert_eq!(retry.code, 0, "{}", retry.stderr);
    let took = wait_until("the retried delivery", Duration::from_secs(10), || {
        receiver.count("Refused") == 2
    });
    assert!(took < Duration::from_secs(3), "took {took:?}");
    wait_until("its record", Duration::from_secs(5), || {
        delivery_of(&s, "Refused")["status"] == "delivered"
    });
    assert!(outbox_list(&s, &[]).is_empty());
    // Nothing failed is left; a delivered or unknown id is refused, and nothing changes.
    let none = s.run(&["outbox", "retry", "--failed"]);
    assert_eq!(none.code, 0, "{}", none.stderr);
    assert!(none.stdout.contains("nothing to retry"), "{}", none.stdout);
    let delivered = s.run(&["outbox", "retry", &id]);
    assert_eq!(delivered.code, 2);
    assert!(
        delivered.stderr.contains("already delivered"),
        "{}",
        delivered.stderr
    );
    let unknown = s.run(&["outbox", "drop", "9999"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("no queued delivery 9999"),
        "{}",
        unknown.stderr
    );
    assert_eq!(
        receiver.messages(),
        ["First", "Refused", "Third", "Refused"]
    );
    drop(d);
}

#[test]
fn drop_removes_deliveries_and_keeps_their_alerts() {
    let receiver = Receiver::start(|_| Answer::status(503));
    let s = sandbox(&receiver.url());
    s.write("inbox/1.txt", "Stuck\n\nbody\n");
    s.write("inbox/2.txt", "Behind\n\nbody\n");
    // `scan --state` queues through the outbox: the failures wait there.
    let scan = s.run(&[
        "scan",
        "--deliver",
        "inbox",
        "--state",
        "state.db",
        "--format",
        "json",
    ]);
    assert_eq!(scan.code, 0, "{}", scan.stderr);
    let listed = outbox_list(&s, &["--status", "pending"]);
    assert_eq!(listed.len(), 2, "{listed:?}");
    let ids: Vec<String> = listed.iter().map(|d| d["id"].to_string()).collect();
    let dropped = s.run(&["outbox", "drop", &ids[0], &ids[1]]);
    assert_eq!(dropped.code, 0, "{}", dropped.stderr);
    assert!(dropped.stdout.contains("dropped 2"), "{}", dropped.stdout);
    assert!(outbox_list(&s, &[]).is_empty());
    let alerts = s.run(&["alerts", "--format", "json"]).alerts();
    assert_eq!(alerts.len(), 2, "the alerts stay");
    assert!(
        alerts
            .iter()
            .all(|a| a["deliveries"] == serde_json::json!([]))
    );
    // Dropped is gone: neither a retry nor the next scan makes it.
    assert_eq!(s.run(&["outbox", "retry", &ids[0]]).code, 2);
    let again = s.run(&[
        "scan",
        "--deliver",
        "inbox",
        "--state",
        "state.db",
        "--format",
        "json",
    ]);
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert_eq!(receiver.count("Stuck"), 1);
}

#[test]
fn a_renamed_webhooks_backlog_is_moved_with_retry_to() {
    let old = Receiver::start(|_| Answer::status(503));
    let new = Receiver::start(|_| Answer::ok());
    let s = sandbox(&old.url());
    let d = s.watch(&[]);
    s.write("inbox/1.txt", "One\n\nbody\n");
    old.wait_for("One");
    s.write("inbox/2.txt", "Two\n\nbody\n");
    // Two alerts wait in the old webhook's queue (the first for its retry in 30 s).
    wait_until("two pending", Duration::from_secs(10), || {
        outbox_list(&s, &["--status", "pending"]).len() == 2
    });
    let (code, _) = d.stop_with("TERM");
    assert_eq!(code, 0);

    // The URL fixed while the daemon is stopped: the old queue is no output's now.
    configure(&s, &new.url());
    let old_name = format!("webhook {}", old.url());
    let new_name = format!("webhook {}", new.url());
    let listed = outbox_list(&s, &[]);
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(
        listed
            .iter()
            .all(|d| d["output"] == old_name.as_str() && d["in_config"] == false),
        "{listed:?}"
    );
    let text = s.run(&["outbox", "--format", "text"]);
    assert!(
        text.stdout.contains("(not in the config)"),
        "{}",
        text.stdout
    );
    // Retried where it is, the backlog would still wait for an output that is gone.
    let stay = s.run(&["outbox", "retry", "--output", &old_name]);
    assert_eq!(stay.code, 0, "{}", stay.stderr);
    assert!(stay.stdout.contains("--to NAME"), "{}", stay.stdout);
    let nowhere = s.run(&["outbox", "retry", "--output", &old_name, "--to", "nope"]);
    assert_eq!(nowhere.code, 2);
    assert!(nowhere.stderr.contains(&new_name), "{}", nowhere.stderr);

    let d = s.watch(&[]);
    d.wait_for_log("which the config no longer has", Duration::from_secs(10));
    let moved = s.run(&["outbox", "retry", "--output", &old_name, "--to", &new_name]);
    assert_eq!(moved.code, 0, "{}", moved.stderr);
    assert!(moved.stdout.contains("moved 2"), "{}", moved.stdout);
    let took = wait_until("the backlog delivered", Duration::from_secs(10), || {
        new.messages().len() == 2
    });
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_eq!(new.messages(), ["One", "Two"], "in the order raised");
    wait_until("recorded", Duration::from_secs(5), || {
        outbox_list(&s, &[]).is_empty()
    });
    assert_eq!(delivery_of(&s, "Two")["output"], new_name.as_str());
    assert_eq!(old.count("Two"), 0);
    drop(d);
}
