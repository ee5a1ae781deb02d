//! Delivery against hostile conditions: a receiver refusing an alert for good, a program that
//! cannot start or says an alert will never do, the state refusing to record a delivery made,
//! SIGHUPs while an output is slow, a program leaving a child behind holding its pipes, and
//! file names that differ only in bytes that are not UTF-8. The receiver is a real HTTP server
//! on 127.0.0.1; the daemon is the real binary in a temp dir.

mod common;

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::receiver::{Answer, Receiver};
use common::{Sandbox, json_lines, wait_for_lines};

const WAIT: Duration = Duration::from_secs(20);

/// A sandbox with an inbox, a rule alerting on every article (its title as the message), a
/// slow retry (a delivery retried would hold its queue for 30 s), and the given outputs.
fn sandbox(outputs: &str) -> Sandbox {
    common::every_article_sandbox("{ initial: 30s, max: 60s }", outputs)
}

/// `newswatch alerts --format json`: each alert's message with its one delivery.
fn deliveries(s: &Sandbox) -> Vec<(String, serde_json::Value)> {
    let run = s.run(&["alerts", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.alerts()
        .into_iter()
        .map(|a| {
            let d = a["deliveries"][0].clone();
            (a["message"].as_str().unwrap().to_string(), d)
        })
        .collect()
}

fn delivery_of(s: &Sandbox, message: &str) -> serde_json::Value {
    deliveries(s)
        .into_iter()
        .find(|(m, _)| m == message)
        .unwrap_or_else(|| panic!("no alert {message:?}"))
        .1
}

#[test]
fn a_webhook_refusing_an_alert_fails_it_for_good_and_the_queue_goes_on() {
    let receiver = Receiver::start(|message| match message {
        "Refused" => Answer {
            body: "{\"error\": \"field title is not allowed here\"}",
            ..Answer::status(400)
        },
        _ => Answer::ok(),
    });
    let s = sandbox(&format!("  - type: webhook\n    url: {}\n", receiver.url()));
    let d = s.watch(&[]);
    s.write("inbox/1.txt", "Refused\n\nbody\n");
    receiver.wait_for("Refused");
    s.write("inbox/2.txt", "Accepted\n\nbody\n");
    // Were the refusal retried, the next alert would wait 30 s behind it.
    receiver.wait_for("Accepted");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(receiver.count("Refused"), 1, "not retried");
    let log = d.log();
    let line = log
        .lines()
        .find(|l| l.contains("failed for good"))
        .unwrap_or_else(|| panic!("no failure logged:\n{log}"));
    assert!(
        line.contains(&format!("webhook {}", receiver.url())),
        "{line}"
    );
    assert!(line.contains("HTTP 400"), "{line}");
    assert!(line.contains("field title is not allowed here"), "{line}");
    drop(d);

    let refused = delivery_of(&s, "Refused");
    assert_eq!(refused["status"], "failed", "{refused}");
    let error = refused["last_error"].as_str().unwrap();
    assert!(
        error.contains("HTTP 400") && error.contains("not allowed"),
        "{error}"
    );
    assert_eq!(delivery_of(&s, "Accepted")["status"], "delivered");
    let text = s.run(&["alerts", "--format", "text"]);
    assert!(
        text.stdout.contains("→ failed") && text.stdout.contains("HTTP 400"),
        "{}",
        text.stdout
    );
}

#[test]
fn a_webhook_answering_429_is_retried_not_before_its_retry_after() {
    let times = Arc::new(Mutex::new(Vec::new()));
    let seen = times.clone();
    let receiver = Receiver::start(move |_| {
        let mut times = seen.lock().unwrap();
        times.push(Instant::now());
        if times.len() == 1 {
            return Answer {
                headers: "Retry-After: 3\r\n",
                body: "slow down",
                ..Answer::status(429)
            };
        }
        Answer::ok()
    });
    let s = Sandbox::new();
    s.rule("every", r#"alert(#{ message: article.title });"#);
    std::fs::create_dir(s.path().join("inbox")).unwrap();
    // Without the receiver's word, the retry would come after 100 ms.
    s.write(
        "newswatch.yaml",
        format!(
            "watch:\n  - path: inbox\nstate: state.db\nretry: {{ initial: 100ms, max: 200ms }}\noutputs:\n  - type: webhook\n    url: {}\n",
            receiver.url()
        ),
    );
    let d = s.watch(&[]);
    s.write("inbox/1.txt", "Later\n\nbody\n");
    let start = Instant::now();
    while receiver.count("Later") < 2 {
        assert!(start.elapsed() < WAIT, "not retried:\n{}", d.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    let times = times.lock().unwrap().clone();
    let waited = times[1] - times[0];
    assert!(
        waited >= Duration::from_millis(2900),
        "retried after {waited:?}"
    );
    assert!(d.log().contains("HTTP 429"), "{}", d.log());
}

#[test]
fn a_command_that_cannot_start_fails_at_once_for_every_alert() {
    let s = sandbox("  - type: command\n    command: [\"./no-such-program\", \"--notify\"]\n");
    let d = s.watch(&[]);
    s.write("inbox/1.txt", "First\n\nbody\n");
    s.write("inbox/2.txt", "Second\n\nbody\n");
    let start = Instant::now();
    loop {
        let all = deliveries(&s);
        if all.len() == 2 && all.iter().all(|(_, d)| d["status"] == "failed") {
            for (_, d) in &all {
                let error = d["last_error"].as_str().unwrap();
                assert!(error.contains("no-such-program: cannot run"), "{error}");
                assert_eq!(d["attempts"], 1, "{d}");
            }
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "not failed at once: {all:?}\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(d.log().contains("failed for good"), "{}", d.log());
}

#[test]
fn an_exit_code_listed_as_permanent_fails_that_alert_and_the_next_is_delivered() {
    let s = sandbox(
        "  - type: command\n    permanent_exit_codes: [3, 64]\n    command: [\"sh\", \"-c\", \"case \\\"$NEWSWATCH_MESSAGE\\\" in Poison*) echo 'cannot take this one' >&2; exit 3;; esac; cat >> got.jsonl\"]\n",
    );
    let d = s.watch(&[]);
    s.write("inbox/1.txt", "Poison pill\n\nbody\n");
    std::thread::sleep(Duration::from_millis(500));
    s.write("inbox/2.txt", "Wholesome\n\nbody\n");
    let got = wait_for_lines(&s.path().join("got.jsonl"), 1, WAIT);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["message"], "Wholesome");
    drop(d);
    let poison = delivery_of(&s, "Poison pill");
    assert_eq!(poison["status"], "failed", "{poison}");
    let error = poison["last_error"].as_str().unwrap();
    assert!(
        error.contains("exit status: 3") && error.contains("cannot take this one"),
        "{error}"
    );

    // Only commands have exit codes, and only failures are listed.
    s.write(
        "bad.yaml",
        "outputs:\n  - type: stdout\n    permanent_exit_codes: [3]\n  - type: command\n    command: [\"true\"]\n    permanent_exit_codes: [0]\n",
    );
    let check = s.run(&["check", "--config", "bad.yaml"]);
    assert_ne!(check.code, 0);
    let said = format!("{}{}", check.stdout, check.stderr);
    assert!(
        said.contains("outputs[0].permanent_exit_codes") && said.contains("does not apply"),
        "{said}"
    );
    assert!(
        said.contains("outputs[1].permanent_exit_codes[0]") && said.contains("1 to 255"),
        "{said}"
    );
}

/// Sets the file size limit of process `pid` (0: no write to any file succeeds).
fn set_file_size_limit(pid: u32, limit: Option<u64>) {
    let limit = limit.unwrap_or(libc::RLIM_INFINITY);
    let rlimit = libc::rlimit {
        rlim_cur: limit,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: prlimit reads `rlimit`, a live struct, and writes nothing (old is null).
    let done = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_FSIZE,
            &rlimit,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(done, 0, "prlimit: {}", std::io::Error::last_os_error());
}

#[test]
fn a_delivery_whose_record_fails_is_not_made_again() {
    use std::os::unix::process::CommandExt;
    let daemon_pid = Arc::new(Mutex::new(0u32));
    let pid = daemon_pid.clone();
    // The state's disk is "full" from the moment the receiver has the alert: the daemon's
    // writes to any file fail (EFBIG), so it cannot record the delivery it made.
    let receiver = Receiver::start(move |_| {
        set_file_size_limit(*pid.lock().unwrap(), Some(0));
        Answer::ok()
    });
    let s = sandbox(&format!("  - type: webhook\n    url: {}\n", receiver.url()));
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_newswatch"));
    command
        .arg("watch")
        .current_dir(s.path())
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        // A pipe, not a file: the log must not be cut by the file size limit.
        .stderr(std::process::Stdio::piped());
    // SAFETY: between fork and exec only signal(), which is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    let mut child = command.spawn().unwrap();
    *daemon_pid.lock().unwrap() = child.id();
    let log = Arc::new(Mutex::new(String::new()));
    let mut pipe = child.stderr.take().unwrap();
    let written = log.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = pipe.read(&mut buf) {
            written
                .lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let log = move || log.lock().unwrap().clone();
    let start = Instant::now();
    while !log().contains("watching") {
        assert!(start.elapsed() < WAIT, "not started:\n{}", log());
        std::thread::sleep(Duration::from_millis(20));
    }
    s.write("inbox/1.txt", "Delivered once\n\nbody\n");
    receiver.wait_for("Delivered once");
    std::thread::sleep(Duration::from_secs(15));
    assert_eq!(
        receiver.messages(),
        ["Delivered once"],
        "delivered again:\n{}",
        log()
    );
    let said = log();
    let failures: Vec<&str> = said
        .lines()
        .filter(|l| l.contains("but could not record it"))
        .collect();
    assert!(
        !failures.is_empty() && failures[0].contains("retrying the record in 1s"),
        "{said}"
    );
    assert!(
        failures.len() <= 6,
        "once per backoff step, not a loop:\n{said}"
    );
    // The disk has room again: the delivery is recorded, not made again.
    set_file_size_limit(child.id(), None);
    let start = Instant::now();
    while !log().contains("recorded the delivery of alert") {
        assert!(start.elapsed() < Duration::from_secs(70), "{}", log());
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(receiver.messages(), ["Delivered once"]);
    assert_eq!(delivery_of(&s, "Delivered once")["status"], "delivered");
}

#[test]
fn sighups_while_an_output_is_slow_never_start_a_second_delivery_thread() {
    let receiver = Receiver::start(|_| Answer {
        delay: Duration::from_secs(2),
        ..Answer::ok()
    });
    let s = sandbox(&format!("  - type: webhook\n    url: {}\n", receiver.url()));
    let d = s.watch(&[]);
    s.write("inbox/1.txt", "First\n\nbody\n");
    s.write("inbox/2.txt", "Second\n\nbody\n");
    receiver.wait_for("First");
    for _ in 0..5 {
        d.signal("HUP");
        std::thread::sleep(Duration::from_millis(300));
    }
    receiver.wait_for("Second");
    s.write("inbox/3.txt", "Third\n\nbody\n");
    receiver.wait_for("Third");
    // Time for a second thread, if there were one, to deliver a head again.
    std::thread::sleep(Duration::from_secs(5));
    let mut got = receiver.messages();
    got.sort();
    assert_eq!(got, ["First", "Second", "Third"], "{}", d.log());
    assert!(d.log().contains("SIGHUP: config reloaded"), "{}", d.log());
}

/// How many descriptors process `pid` has open.
fn descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

#[test]
fn a_command_leaving_a_child_behind_neither_leaks_nor_blocks() {
    let s = sandbox(
        "  - type: command\n    command: [\"sh\", \"-c\", \"echo $$ >> groups; sleep 30 & cat >> got.jsonl\"]\n",
    );
    let d = s.watch(&[]);
    s.write("inbox/warmup.txt", "Warm-up\n\nbody\n");
    wait_for_lines(&s.path().join("got.jsonl"), 1, WAIT);
    let before = descriptors(d.pid());
    let start = Instant::now();
    for i in 0..20 {
        s.write(&format!("inbox/{i:02}.txt"), format!("Alert {i}\n\nbody\n"));
    }
    let got = wait_for_lines(&s.path().join("got.jsonl"), 21, WAIT);
    let took = start.elapsed();
    let after = descriptors(d.pid());
    // What the programs left running: ended here, by process group.
    let groups = std::fs::read_to_string(s.path().join("groups")).unwrap_or_default();
    for group in groups.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        // SAFETY: killpg only sends a signal.
        unsafe {
            libc::killpg(group, libc::SIGKILL);
        }
    }
    assert_eq!(got.len(), 21);
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert!(
        after < before + 5,
        "descriptors {before} before, {after} after 20 alerts"
    );
    drop(d);
}

#[test]
fn file_names_differing_only_in_a_byte_that_is_not_utf8_are_two_files() {
    use std::os::unix::ffi::OsStrExt;
    let s = sandbox("  - type: file\n    path: alerts.jsonl\n");
    let d = s.watch(&[]);
    // The same size and mtime, so that only the path tells them apart; written outside the
    // inbox and renamed in, so that the daemon sees them complete with that mtime.
    let stamp = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let name = |byte: u8| {
        std::ffi::OsStr::from_bytes(&[b'a', byte, b'.', b't', b'x', b't']).to_os_string()
    };
    let out = s.path().join("alerts.jsonl");
    for (n, (byte, title)) in [(0xff, "First DeepSeek"), (0xfe, "Other DeepSeek")]
        .into_iter()
        .enumerate()
    {
        let staged = s.path().join(name(byte));
        std::fs::write(&staged, format!("{title}\n\nbody\n")).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&staged)
            .unwrap()
            .set_modified(stamp)
            .unwrap();
        std::fs::rename(&staged, s.path().join("inbox").join(name(byte))).unwrap();
        wait_for_lines(&out, n + 1, WAIT);
    }
    let titles: Vec<String> = json_lines(&out)
        .iter()
        .map(|a| a["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(titles, ["First DeepSeek", "Other DeepSeek"], "{}", d.log());
    drop(d);
    assert_inbox_files_recorded(&s.path().join("state.db"), 2);
}

/// The state records `n` files, their paths as bytes.
fn assert_inbox_files_recorded(state: &Path, n: usize) {
    let conn = rusqlite::Connection::open(state).unwrap();
    let kinds: Vec<String> = conn
        .prepare("SELECT typeof(path) FROM files")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(kinds, vec!["blob".to_string(); n]);
}
