//! Output identity: a queue belongs to one output's whole configuration, never to its name.
//!
//! Two webhooks whose URLs differ only in a secret query (`?token=a`, `?token=b`) share a name
//! (`webhook http://…/hook…`). When a queue was known by that name, removing the first output
//! from the config handed its pending alerts to the second endpoint. The receiver here is a
//! real HTTP server on 127.0.0.1 that records every request by path and query.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Sandbox;

const WAIT: Duration = Duration::from_secs(20);

/// One request the receiver got: the path with its query, the alert's message, the status
/// it answered.
#[derive(Clone, Debug)]
struct Request {
    target: String,
    message: String,
    status: u16,
}

/// An HTTP server answering every POST with the current `status`.
struct Receiver {
    port: u16,
    status: Arc<AtomicU16>,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Receiver {
    fn start(status: u16) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let status = Arc::new(AtomicU16::new(status));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (answer, seen) = (status.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                let _ = reader.read_line(&mut request_line);
                let mut len = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; len];
                let _ = reader.read_exact(&mut body);
                let alert: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let status = answer.load(Ordering::SeqCst);
                seen.lock().unwrap().push(Request {
                    target: request_line
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or("")
                        .to_string(),
                    message: alert["message"].as_str().unwrap_or("").to_string(),
                    status,
                });
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        Receiver {
            port,
            status,
            requests,
        }
    }

    fn url(&self, query: &str) -> String {
        format!("http://127.0.0.1:{}/hook?{query}", self.port)
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// The messages of the requests to `target`, answered with a 2xx or not.
    fn messages(&self, target: &str, delivered: bool) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| r.target == target && (200..300).contains(&r.status) == delivered)
            .map(|r| r.message)
            .collect()
    }

    /// Waits until `done` holds for the requests so far.
    fn wait_until(&self, what: &str, done: impl Fn(&[Request]) -> bool) {
        let start = Instant::now();
        while !done(&self.requests()) {
            assert!(
                start.elapsed() < WAIT,
                "{what}: requests so far {:?}",
                self.requests()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A sandbox with a rule alerting on every article, tagged with the title's first word in
/// lower case (`A story` → `a`).
fn sandbox() -> Sandbox {
    let s = Sandbox::new();
    s.rule(
        "every",
        r#"alert(#{ message: article.title, tags: [article.title.split(" ")[0].to_lower()] });"#,
    );
    std::fs::create_dir(s.path().join("inbox")).unwrap();
    s
}

fn config(s: &Sandbox, outputs: &str) {
    s.write(
        "newswatch.yaml",
        format!(
            "watch:\n  - path: inbox\nstate: state.db\nretry: {{ initial: 200ms, max: 1s }}\noutputs:\n{outputs}"
        ),
    );
}

fn webhook(url: &str, tag: &str) -> String {
    format!("  - type: webhook\n    url: {url}\n    tags: [{tag}]\n")
}

#[test]
fn removing_an_output_never_hands_its_queue_to_one_named_alike() {
    let receiver = Receiver::start(500);
    let (a, b) = (receiver.url("token=a"), receiver.url("token=b"));
    let s = sandbox();
    config(&s, &(webhook(&a, "a") + &webhook(&b, "b")));
    let d = s.watch(&[]);
    s.write("inbox/a.txt", "A story\n\nbody\n");
    s.write("inbox/b.txt", "B story\n\nbody\n");
    // Each endpoint is tried with its own alert, and fails: both stay queued.
    receiver.wait_until("a failed delivery to each", |r| {
        r.iter().any(|r| r.target == "/hook?token=a")
            && r.iter().any(|r| r.target == "/hook?token=b")
    });
    assert_eq!(d.stop_with("TERM").0, 0);
    let name = format!("webhook http://127.0.0.1:{}/hook…", receiver.port);

    // The first output leaves the config; the receiver is back.
    config(&s, &webhook(&b, "b"));
    receiver.status.store(200, Ordering::SeqCst);
    let d = s.watch(&[]);
    receiver.wait_until("the second endpoint's alert delivered", |r| {
        r.iter()
            .any(|r| r.target == "/hook?token=b" && r.status == 200)
    });
    // Time for a wrong delivery to show.
    std::thread::sleep(Duration::from_millis(1500));
    let log = d.log();
    drop(d);

    assert_eq!(
        receiver.messages("/hook?token=b", true),
        ["B story"],
        "exactly its own alerts, once: {:?}\n{log}",
        receiver.requests()
    );
    for r in receiver.requests() {
        assert!(
            !(r.target == "/hook?token=b" && r.message == "A story"),
            "the first output's alert was sent to the second endpoint: {r:?}\n{log}"
        );
        assert!(
            r.target == "/hook?token=a" || r.target == "/hook?token=b",
            "{r:?}"
        );
    }
    assert!(receiver.messages("/hook?token=a", true).is_empty());
    assert!(
        log.contains(&format!("1 alerts wait for output {name:?}")),
        "the first output's queue is said to wait, by its name:\n{log}"
    );

    // The first output's alert still waits, shown by the output's last name.
    let history = s.run(&["alerts", "--format", "json"]);
    assert_eq!(history.code, 0, "{}", history.stderr);
    let status = |message: &str| {
        let alert = history
            .alerts()
            .into_iter()
            .find(|a| a["message"] == message)
            .unwrap_or_else(|| panic!("no {message:?} in {}", history.stdout));
        let deliveries = alert["deliveries"].as_array().unwrap().clone();
        assert_eq!(deliveries.len(), 1, "{alert}");
        (
            deliveries[0]["output"].as_str().unwrap().to_string(),
            deliveries[0]["status"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(status("A story"), (name.clone(), "pending".to_string()));
    assert_eq!(status("B story"), (name, "delivered".to_string()));
    // Secrets stay out of the state: its keys are hashes.
    for file in ["state.db", "state.db-wal"] {
        let bytes = std::fs::read(s.path().join(file)).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("token="),
            "{file}"
        );
    }
}

#[test]
fn a_name_is_what_logs_and_alerts_show_and_renaming_keeps_the_queue() {
    let receiver = Receiver::start(500);
    let s = sandbox();
    s.write("articles/a.txt", "A story\n\nbody\n");
    let named = |name: &str| {
        format!(
            "  - type: webhook\n    name: {name}\n    url: {}\n",
            receiver.url("token=s3cr3t")
        )
    };
    config(&s, &named("team-hook"));
    let first = s.run(&[
        "scan",
        "--deliver",
        "--format",
        "json",
        "--state",
        "state.db",
        "articles",
    ]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first.stderr.contains("output team-hook: delivery of alert"),
        "{}",
        first.stderr
    );
    let text = s.run(&["alerts", "--format", "text"]);
    assert!(
        text.stdout.contains("team-hook → pending after 1 attempts"),
        "{}",
        text.stdout
    );
    assert!(!text.stdout.contains("s3cr3t"), "{}", text.stdout);

    // Renamed, with the receiver back: the same queue, now shown by the new name.
    config(&s, &named("ops-hook"));
    receiver.status.store(200, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(1300)); // past the retry's backoff
    let second = s.run(&[
        "scan",
        "--deliver",
        "--format",
        "json",
        "--state",
        "state.db",
        "articles",
    ]);
    assert_eq!(second.code, 1, "nothing new: {}", second.stderr);
    assert_eq!(
        receiver.messages("/hook?token=s3cr3t", true),
        ["A story"],
        "{:?}",
        receiver.requests()
    );
    let history = s.run(&["alerts", "--format", "json"]).alerts();
    assert_eq!(history.len(), 1);
    let deliveries = history[0]["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 1, "{}", history[0]);
    assert_eq!(deliveries[0]["output"], "ops-hook");
    assert_eq!(deliveries[0]["status"], "delivered");

    // Two outputs given one name are a config error, found by `check` too.
    config(
        &s,
        &(named("ops-hook") + "  - type: stdout\n    name: ops-hook\n"),
    );
    let check = s.run(&["check"]);
    assert_eq!(check.code, 1, "{}", check.stderr);
    assert!(
        check.stdout.contains(
            "outputs[1].name: \"ops-hook\" is already the name of outputs[0]: give each output its own name"
        ),
        "{}",
        check.stdout
    );
}

#[test]
fn an_upgrade_carries_queues_kept_under_names_over_to_their_outputs() {
    let receiver = Receiver::start(200);
    let s = sandbox();
    std::fs::create_dir(s.path().join("nothing")).unwrap();
    config(&s, &webhook(&receiver.url("token=a"), "a"));
    // A state as a newswatch before stable keys left it: schema 3, the queue keyed by the
    // output's name, one alert pending.
    let alert = serde_json::json!({
        "id": "0123456789abcdef0123456789abcdef", "time": "2026-01-01T00:00:00Z", "rule": "every",
        "severity": "medium", "message": "Queued before the upgrade", "tags": ["a"], "fields": {},
        "article": { "path": null, "title": "t", "url": null, "source": null, "sha256": "0" },
        "matches": [],
    });
    let db = rusqlite::Connection::open(s.path().join("state.db")).unwrap();
    db.execute_batch(
        "CREATE TABLE alerts (id TEXT PRIMARY KEY, time TEXT NOT NULL, rule TEXT NOT NULL,
             severity TEXT NOT NULL, json TEXT NOT NULL,
             suppressed INTEGER NOT NULL DEFAULT 0, suppressed_count INTEGER NOT NULL DEFAULT 0,
             throttle_group TEXT);
         CREATE TABLE files (path TEXT PRIMARY KEY, size INTEGER NOT NULL,
             mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL);
         CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, alert_id TEXT NOT NULL,
             output TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
             attempts INTEGER NOT NULL DEFAULT 0, first_try_ms INTEGER,
             next_try_ms INTEGER NOT NULL DEFAULT 0, last_error TEXT, done_ms INTEGER,
             UNIQUE (output, alert_id));
         PRAGMA user_version = 3;",
    )
    .unwrap();
    db.execute(
        "INSERT INTO alerts (id, time, rule, severity, json) VALUES (?1, ?2, 'every', 'medium', ?3)",
        [
            alert["id"].as_str().unwrap(),
            alert["time"].as_str().unwrap(),
            &alert.to_string(),
        ],
    )
    .unwrap();
    let name = format!("webhook http://127.0.0.1:{}/hook…", receiver.port);
    db.execute(
        "INSERT INTO outbox (alert_id, output) VALUES (?1, ?2)",
        [alert["id"].as_str().unwrap(), &name],
    )
    .unwrap();
    drop(db);

    let scan = s.run(&[
        "scan",
        "--deliver",
        "--format",
        "json",
        "--state",
        "state.db",
        "nothing",
    ]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    assert_eq!(
        receiver.messages("/hook?token=a", true),
        ["Queued before the upgrade"],
        "{}",
        scan.stderr
    );
    let history = s.run(&["alerts", "--format", "json"]).alerts();
    assert_eq!(history[0]["deliveries"][0]["output"], name.as_str());
    assert_eq!(history[0]["deliveries"][0]["status"], "delivered");
}
