//! Outputs and delivery: webhook, command, desktop, filters, throttle, ordering, retries across
//! outages and restarts. The HTTP receiver is a real server on 127.0.0.1, in the test.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Sandbox, json_lines, wait_for_lines};

const WAIT: Duration = Duration::from_secs(20);

/// A small HTTP server: answers each POST with the next status of `script` (then 200), after
/// `delay`; records the bodies of the requests it answered 2xx and the headers of all.
struct Receiver {
    port: u16,
    delivered: Arc<Mutex<Vec<serde_json::Value>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    fn start(script: Vec<u16>, delay: Duration) -> Receiver {
        Receiver::on(TcpListener::bind("127.0.0.1:0").unwrap(), script, delay)
    }

    fn on(listener: TcpListener, script: Vec<u16>, delay: Duration) -> Receiver {
        let port = listener.local_addr().unwrap().port();
        let delivered = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (d, r) = (delivered.clone(), requests.clone());
        std::thread::spawn(move || {
            let mut script = script.into_iter();
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                let mut len = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    head.push_str(&line);
                }
                let mut body = vec![0; len];
                let _ = reader.read_exact(&mut body);
                std::thread::sleep(delay);
                let status = script.next().unwrap_or(200);
                r.lock().unwrap().push(head);
                if (200..300).contains(&status) {
                    d.lock()
                        .unwrap()
                        .push(serde_json::from_slice(&body).unwrap());
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        Receiver {
            port,
            delivered,
            requests,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/alerts", self.port)
    }

    fn delivered(&self) -> Vec<serde_json::Value> {
        self.delivered.lock().unwrap().clone()
    }

    /// Waits until `n` alerts were delivered (then a little longer to catch repeats).
    fn wait_for(&self, n: usize, timeout: Duration) -> Vec<serde_json::Value> {
        let start = Instant::now();
        while self.delivered().len() < n {
            assert!(
                start.elapsed() < timeout,
                "only {} of {n} delivered",
                self.delivered().len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(500));
        self.delivered()
    }
}

/// A port with nothing listening (yet).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A sandbox with an inbox, a rule alerting on every article (severity from the title's first
/// word when it is one), and the given outputs section.
fn sandbox(outputs: &str, extra: &str) -> Sandbox {
    let s = Sandbox::new();
    s.rule(
        "every",
        r#"let sev = article.title.split(" ")[0];
           if !["info", "low", "medium", "high", "critical"].contains(sev) { sev = "medium"; }
           alert(#{ message: article.title, severity: sev, tags: [article.source] });"#,
    );
    std::fs::create_dir(s.path().join("inbox")).unwrap();
    s.write(
        "newswatch.yaml",
        format!("watch:\n  - path: inbox\nstate: state.db\nretry: {{ initial: 200ms, max: 1s }}\n{extra}outputs:\n{outputs}"),
    );
    s
}

fn messages(alerts: &[serde_json::Value]) -> Vec<String> {
    alerts
        .iter()
        .map(|a| a["message"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_webhook_that_is_down_then_up_gets_every_alert_once_in_order() {
    let port = free_port();
    let s = sandbox(
        &format!(
            "  - type: webhook\n    url: http://127.0.0.1:{port}/alerts\n    headers: {{ X-Token: \"${{NW_TEST_TOKEN}}\" }}\n  - type: file\n    path: alerts.jsonl\n"
        ),
        "",
    );
    let d = s.watch_env(&[], &[("NW_TEST_TOKEN", "s3cret")]);
    for i in 0..3 {
        s.write(&format!("inbox/{i}.txt"), format!("Story {i}\n\nbody\n"));
        std::thread::sleep(Duration::from_millis(150));
    }
    wait_for_lines(&s.path().join("alerts.jsonl"), 3, WAIT);
    std::thread::sleep(Duration::from_millis(500));
    let receiver = Receiver::on(
        TcpListener::bind(("127.0.0.1", port)).unwrap(),
        vec![],
        Duration::ZERO,
    );
    let got = receiver.wait_for(3, WAIT);
    assert_eq!(
        messages(&got),
        ["Story 0", "Story 1", "Story 2"],
        "once each, in order"
    );
    assert!(
        receiver.requests.lock().unwrap()[0].contains("s3cret"),
        "headers with ${{VAR}}"
    );
    drop(d);
    let history = s.run(&["alerts", "--format", "json"]).alerts();
    for a in &history {
        let webhook = a["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["output"].as_str().unwrap().starts_with("webhook"))
            .unwrap();
        assert_eq!(webhook["status"], "delivered", "{a}");
    }
}

#[test]
fn deliveries_survive_a_daemon_restart_while_the_receiver_is_down() {
    let port = free_port();
    let s = sandbox(
        &format!("  - type: webhook\n    url: http://127.0.0.1:{port}/\n"),
        "",
    );
    let d = s.watch(&[]);
    s.write("inbox/a.txt", "Before restart\n\nbody\n");
    d.wait_for_log("failed (attempt 1)", WAIT);
    assert_eq!(d.stop_with("TERM").0, 0);

    let text = s.run(&["alerts", "--format", "text"]).stdout;
    assert!(text.contains("pending after"), "{text}");
    let receiver = Receiver::on(
        TcpListener::bind(("127.0.0.1", port)).unwrap(),
        vec![],
        Duration::ZERO,
    );
    let d = s.watch(&[]);
    assert_eq!(messages(&receiver.wait_for(1, WAIT)), ["Before restart"]);
    drop(d);
}

#[test]
fn a_slow_or_failing_output_does_not_delay_the_others() {
    let slow = Receiver::start(vec![], Duration::from_secs(3));
    let failing = Receiver::start(vec![500, 500, 503], Duration::ZERO);
    let s = sandbox(
        &format!(
            "  - type: webhook\n    url: {}\n  - type: webhook\n    url: {}\n  - type: file\n    path: alerts.jsonl\n",
            slow.url(),
            failing.url()
        ),
        "",
    );
    let d = s.watch(&[]);
    let start = Instant::now();
    s.write("inbox/a.txt", "First\n\nbody\n");
    s.write("inbox/b.txt", "Second\n\nbody\n");
    wait_for_lines(&s.path().join("alerts.jsonl"), 2, WAIT);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "file output waited {:?}",
        start.elapsed()
    );
    let got = failing.wait_for(2, WAIT);
    assert_eq!(got.len(), 2, "retried after 500s, delivered once each");
    assert_eq!(slow.wait_for(2, WAIT).len(), 2);
    drop(d);
}

#[test]
fn a_command_output_gets_article_text_as_data_never_as_code() {
    let s = sandbox(
        "  - type: command\n    command: [\"sh\", \"-c\", \"cat >> stdin.jsonl; printf '%s|%s|%s\\\\n' \\\"$NEWSWATCH_TITLE\\\" \\\"$NEWSWATCH_RULE\\\" \\\"$NEWSWATCH_SEVERITY\\\" >> env.txt\"]\n",
        "",
    );
    let d = s.watch(&[]);
    let title = "high $(touch pwned) `touch pwned2`; touch pwned3 && echo x";
    s.write("inbox/evil.txt", format!("{title}\n\nbody\n"));
    let got = wait_for_lines(&s.path().join("stdin.jsonl"), 1, WAIT);
    assert_eq!(got[0]["article"]["title"], title);
    let env = std::fs::read_to_string(s.path().join("env.txt")).unwrap();
    assert_eq!(env, format!("{title}|every|high\n"));
    for f in ["pwned", "pwned2", "pwned3", "inbox/pwned"] {
        assert!(
            !s.path().join(f).exists(),
            "{f} was created: the title ran as code"
        );
    }
    drop(d);
}

#[test]
fn a_failing_or_hanging_command_is_retried() {
    let s = sandbox(
        "  - type: command\n    command: [\"sh\", \"-c\", \"n=$(cat count 2>/dev/null || echo 0); echo $((n+1)) > count; [ $n -ge 2 ] && cat >> got.jsonl\"]\n  - type: command\n    timeout: 300ms\n    command: [\"sleep\", \"5\"]\n",
        "",
    );
    let d = s.watch(&[]);
    s.write("inbox/a.txt", "Retried\n\nbody\n");
    let got = wait_for_lines(&s.path().join("got.jsonl"), 1, WAIT);
    assert_eq!(messages(&got), ["Retried"]);
    d.wait_for_log("killed after the timeout of 300ms", WAIT);
    assert!(
        d.log().contains("exited with exit status: 1"),
        "{}",
        d.log()
    );
    drop(d);
}

#[test]
fn filters_choose_what_each_output_receives() {
    let s = sandbox(
        "  - type: file\n    path: high.jsonl\n    min_severity: high\n  - type: file\n    path: tagged.jsonl\n    tags: [elsewhere]\n  - type: file\n    path: rules.jsonl\n    rules: [\"ev*\"]\n  - type: file\n    path: none.jsonl\n    rules: [\"other/*\"]\n",
        "",
    );
    let d = s.watch(&[]);
    s.write("inbox/a.txt", "low news\n\nbody\n");
    s.write("inbox/b.txt", "critical news\n\nbody\n");
    s.write("inbox/c.txt", "high news\n\nbody\n");
    let all = wait_for_lines(&s.path().join("rules.jsonl"), 3, WAIT);
    assert_eq!(all.len(), 3);
    let mut high = messages(&json_lines(&s.path().join("high.jsonl")));
    high.sort();
    assert_eq!(high, ["critical news", "high news"]);
    assert!(
        json_lines(&s.path().join("tagged.jsonl")).is_empty(),
        "tags are the inbox's name"
    );
    assert!(json_lines(&s.path().join("none.jsonl")).is_empty());
    drop(d);
}

#[test]
fn throttle_delivers_the_first_alert_per_window_and_records_the_rest() {
    let s = sandbox(
        "  - type: file\n    path: alerts.jsonl\n",
        "throttle: { per_rule: 1h }\n",
    );
    let d = s.watch(&[]);
    for i in 0..3 {
        s.write(&format!("inbox/{i}.txt"), format!("Story {i}\n\nbody\n"));
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(json_lines(&s.path().join("alerts.jsonl")).len(), 1);
    drop(d);
    let history = s.run(&["alerts", "--format", "json"]).alerts();
    assert_eq!(
        history.len(),
        3,
        "suppressed alerts are recorded, not dropped"
    );
    assert_eq!(
        history.iter().filter(|a| a["suppressed"] == true).count(),
        2
    );
    assert_eq!(history[0]["suppressed_count"], 2);
    let text = s.run(&["alerts", "--format", "text"]).stdout;
    assert!(
        text.contains("2 later alerts of this rule suppressed"),
        "{text}"
    );
}

#[test]
fn scan_uses_the_configured_outputs_and_retries_through_its_state() {
    let port = free_port();
    let s = sandbox(
        &format!("  - type: webhook\n    url: http://127.0.0.1:{port}/\n  - type: stdout\n"),
        "",
    );
    s.write("inbox/a.txt", "Scanned\n\nbody\n");
    // Receiver down: the alert is printed and queued in the state.
    let first = s.run(&[
        "scan",
        "--deliver",
        "--format",
        "json",
        "--state",
        "scan.db",
        "inbox",
    ]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(first.alerts().len(), 1, "stdout is printed once, not twice");
    let receiver = Receiver::on(
        TcpListener::bind(("127.0.0.1", port)).unwrap(),
        vec![],
        Duration::ZERO,
    );
    std::thread::sleep(Duration::from_millis(300));
    let second = s.run(&[
        "scan",
        "--deliver",
        "--format",
        "json",
        "--state",
        "scan.db",
        "inbox",
    ]);
    assert_eq!(second.code, 1, "nothing new");
    assert_eq!(
        messages(&receiver.wait_for(1, WAIT)),
        ["Scanned"],
        "delivered by the next run"
    );
    // Without state: delivered directly.
    s.write("inbox/b.txt", "Direct\n\nbody\n");
    let third = s.run(&["scan", "--deliver", "--format", "json", "inbox/b.txt"]);
    assert_eq!(third.code, 0);
    assert_eq!(messages(&receiver.wait_for(2, WAIT))[1], "Direct");
}

#[test]
fn a_desktop_output_without_a_session_bus_fails_at_start() {
    let s = sandbox("  - type: desktop\n", "");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .arg("watch")
        .current_dir(s.path())
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("XDG_RUNTIME_DIR", s.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("desktop notifications are unavailable"),
        "{err}"
    );
}

#[test]
fn a_clean_stop_records_the_delivery_in_hand_so_a_restart_does_not_repeat_it() {
    // Each delivery takes 300 ms: a stop almost always lands in the middle of one.
    let s = sandbox(
        "  - type: command\n    command: [\"sh\", \"-c\", \"cat >> got.jsonl; sleep 0.3\"]\n",
        "",
    );
    let got = s.path().join("got.jsonl");
    let d = s.watch(&[]);
    for i in 0..6 {
        s.write(&format!("inbox/{i}.txt"), format!("Article {i}\n\nbody\n"));
    }
    wait_for_lines(&got, 1, WAIT);
    let (code, took) = d.stop_with("TERM");
    assert_eq!(code, 0);
    assert!(took < Duration::from_secs(2), "took {took:?}");

    let d = s.watch(&[]);
    wait_for_lines(&got, 6, WAIT);
    // Time for a repeat to show.
    std::thread::sleep(Duration::from_millis(1000));
    let all = json_lines(&got);
    let mut ids: Vec<_> = all.iter().map(|a| a["id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6);
    assert_eq!(all.len(), 6, "an alert was delivered twice:\n{}", d.log());
}

/// Whether process `pid` (from a file the command wrote) is gone or a zombie, within `WAIT`.
fn ends(pid_file: &std::path::Path) {
    let start = Instant::now();
    let pid = loop {
        if let Ok(pid) = std::fs::read_to_string(pid_file)
            && !pid.trim().is_empty()
        {
            break pid.trim().to_string();
        }
        assert!(start.elapsed() < WAIT, "the command never ran");
        std::thread::sleep(Duration::from_millis(20));
    };
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let state = status
            .lines()
            .find(|l| l.starts_with("State:"))
            .unwrap_or("");
        if state.is_empty() || state.contains('Z') {
            return;
        }
        assert!(start.elapsed() < WAIT, "{pid_file:?}: still runs: {state}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A command that starts a child of its own and waits: `pid` and `child` name them.
const FAMILY: &str = "[\"sh\", \"-c\", \"sleep 30 & echo $! > child; echo $$ > pid; wait\"]";

#[test]
fn a_stop_does_not_leave_a_running_command_behind() {
    let s = sandbox(
        &format!("  - type: command\n    timeout: 60s\n    command: {FAMILY}\n"),
        "",
    );
    let d = s.watch(&[]);
    s.write("inbox/a.txt", "Slow\n\nbody\n");
    while !s.path().join("pid").exists() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (code, took) = d.stop_with("TERM");
    assert_eq!(code, 0);
    assert!(took < Duration::from_secs(2), "took {took:?}");
    // Gone, or a zombie waiting for init to reap it: the command and what it started.
    ends(&s.path().join("pid"));
    ends(&s.path().join("child"));
}

#[test]
fn a_command_timing_out_is_ended_with_what_it_started() {
    let s = sandbox(
        &format!("  - type: command\n    timeout: 300ms\n    command: {FAMILY}\n"),
        "",
    );
    let d = s.watch(&[]);
    s.write("inbox/a.txt", "Slow\n\nbody\n");
    d.wait_for_log("killed after the timeout of 300ms", WAIT);
    ends(&s.path().join("pid"));
    ends(&s.path().join("child"));
}

#[test]
fn a_command_writing_much_on_stderr_is_not_blocked() {
    // More than a pipe holds, before it reads its input.
    let s = sandbox(
        "  - type: command\n    timeout: 10s\n    command: [\"sh\", \"-c\", \"head -c 300000 /dev/zero >&2; cat >> got.jsonl\"]\n",
        "",
    );
    let d = s.watch(&[]);
    s.write("inbox/a.txt", "Chatty\n\nbody\n");
    let got = wait_for_lines(&s.path().join("got.jsonl"), 1, WAIT);
    assert_eq!(messages(&got), ["Chatty"]);
    assert!(!d.log().contains("killed after"), "{}", d.log());
}

#[test]
fn scan_without_state_tries_an_output_that_is_down_once_not_per_alert() {
    let port = free_port();
    let s = sandbox(
        &format!("  - type: webhook\n    url: http://127.0.0.1:{port}/\n"),
        "",
    );
    for i in 0..20 {
        s.write(&format!("inbox/{i:02}.txt"), format!("Alert {i}\n\nbody\n"));
    }
    let start = Instant::now();
    let run = s.run(&["scan", "--deliver", "--format", "json", "inbox"]);
    // Three quick attempts for the first alert; the 19 others are counted, not tried.
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(run.alerts().len(), 20, "printed all the same");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr.matches("not delivered").count(),
        1,
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("19 more alerts not sent to it"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_secret_in_a_webhook_url_stays_out_of_logs_and_the_state() {
    let port = free_port();
    let s = sandbox(
        "  - type: webhook\n    url: http://127.0.0.1:${HOOK_PORT}/hook?token=${HOOK_TOKEN}\n",
        "",
    );
    let port = port.to_string();
    let env = [("HOOK_PORT", port.as_str()), ("HOOK_TOKEN", "s3cr3t-t0ken")];
    let d = s.watch_env(&[], &env);
    s.write("inbox/a.txt", "Secret\n\nbody\n");
    d.wait_for_log("failed (attempt 1)", WAIT);
    let log = d.log();
    drop(d);
    assert!(
        log.contains("webhook http://127.0.0.1:${HOOK_PORT}/hook?token=${HOOK_TOKEN}"),
        "{log}"
    );
    assert!(!log.contains("s3cr3t"), "{log}");
    let history = s.run(&["alerts", "--format", "json"]);
    assert!(!history.stdout.contains("s3cr3t"), "{}", history.stdout);
    for file in ["state.db", "state.db-wal"] {
        let bytes = std::fs::read(s.path().join(file)).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("s3cr3t"),
            "{file}"
        );
    }
}

#[test]
fn deliveries_queued_for_an_output_the_config_dropped_are_kept_and_said() {
    let port = free_port();
    let s = sandbox(
        &format!("  - type: webhook\n    url: http://127.0.0.1:{port}/\n"),
        "",
    );
    let d = s.watch(&[]);
    s.write("inbox/a.txt", "Queued\n\nbody\n");
    d.wait_for_log("failed (attempt 1)", WAIT);
    drop(d);
    s.write(
        "newswatch.yaml",
        "watch:\n  - path: inbox\nstate: state.db\noutputs:\n  - type: file\n    path: alerts.jsonl\n",
    );
    let d = s.watch(&[]);
    d.wait_for_log(
        &format!("1 alerts wait for output \"webhook http://127.0.0.1:{port}/\""),
        WAIT,
    );
}
