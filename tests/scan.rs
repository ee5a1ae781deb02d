//! `newswatch scan`: inputs, output formats, exit codes, bad files.

mod common;

use common::Sandbox;

const HELLO: &str = r#"if article.mentions("hello") { alert("hello found"); }"#;

fn sandbox() -> Sandbox {
    let s = Sandbox::new();
    s.rule("hello", HELLO);
    s
}

#[test]
fn json_alert_has_every_field_of_the_contract() {
    let s = sandbox();
    s.write("inbox/a.txt", "Hello world\n\nSome body text.\n");
    let run = s.run(&["scan", "--format", "json", "inbox"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let alerts = run.alerts();
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    let keys: Vec<_> = a.as_object().unwrap().keys().cloned().collect();
    for key in [
        "id", "time", "rule", "severity", "message", "tags", "fields", "article", "matches",
    ] {
        assert!(keys.contains(&key.to_string()), "missing {key} in {a}");
    }
    assert_eq!(a["rule"], "hello");
    assert_eq!(a["severity"], "medium");
    assert_eq!(a["message"], "hello found");
    assert_eq!(a["tags"], serde_json::json!([]));
    assert_eq!(a["fields"], serde_json::json!({}));
    assert_eq!(a["article"]["path"], "inbox/a.txt");
    assert_eq!(a["article"]["title"], "Hello world");
    assert!(a["article"]["url"].is_null());
    assert_eq!(a["article"]["source"], "inbox");
    assert_eq!(a["article"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(a["matches"][0]["term"], "hello");
    assert!(
        a["matches"][0]["snippet"]
            .as_str()
            .unwrap()
            .contains("Hello world")
    );
    let time = a["time"].as_str().unwrap();
    assert!(time.ends_with('Z') && time.len() == 20, "{time}");
}

#[test]
fn ids_are_stable_and_shared_by_copies_of_one_article() {
    let s = sandbox();
    s.write("inbox/a.txt", "Hello world\n\nbody\n");
    s.write("inbox/copy.txt", "Hello world\n\nbody\n");
    s.write("inbox/other.txt", "Hello again\n\nbody\n");
    let first = s.run(&["scan", "--format", "json", "inbox"]).alerts();
    let second = s.run(&["scan", "--format", "json", "inbox"]).alerts();
    assert_eq!(first.len(), 3, "scan without --state reports every file");
    let ids: Vec<_> = first.iter().map(|a| a["id"].clone()).collect();
    assert_eq!(ids[0], ids[1], "same content, same id");
    assert_ne!(ids[0], ids[2]);
    let again: Vec<_> = second.iter().map(|a| a["id"].clone()).collect();
    assert_eq!(ids, again, "ids are stable across runs");
}

#[test]
fn exit_codes_follow_grep() {
    let s = sandbox();
    s.write("yes.txt", "hello\n");
    s.write("no.txt", "nothing here\n");
    assert_eq!(s.run(&["scan", "yes.txt"]).code, 0);
    assert_eq!(s.run(&["scan", "no.txt"]).code, 1);
    let missing = s.run(&["scan", "--format", "json", "yes.txt", "missing.txt"]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("missing.txt"), "{}", missing.stderr);
    assert_eq!(missing.alerts().len(), 1, "other paths are still scanned");
    let no_rules = s.run(&["scan", "--rules", "nope", "yes.txt"]);
    assert_eq!(no_rules.code, 2);
    assert!(no_rules.stderr.contains("nope"), "{}", no_rules.stderr);
}

#[test]
fn json_format_prints_only_alerts_on_stdout() {
    let s = sandbox();
    s.rule(
        "noisy",
        r#"print("chatty rule"); debug("more"); alert("x");"#,
    );
    s.rule("broken", "let x = ;");
    s.write("a.txt", "hello\n");
    s.write("b.bin", b"\0\0\0");
    let run = s.run(&["scan", "--format", "json", "a.txt", "b.bin"]);
    assert_eq!(run.code, 0);
    assert_eq!(run.rules(), ["hello", "noisy"]);
    assert!(
        run.stderr.contains("rule noisy: chatty rule"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("rule noisy: \"more\""),
        "{}",
        run.stderr
    );
}

#[test]
fn text_format_is_readable_and_uncoloured_when_piped() {
    let s = sandbox();
    s.write("a.txt", "Hello world\n\nbody\n");
    let run = s.run(&["scan", "--format", "text", "a.txt"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("hello"), "{}", run.stdout);
    assert!(run.stdout.contains("hello found"));
    assert!(run.stdout.contains("a.txt"));
    assert!(!run.stdout.contains('{'), "not JSON: {}", run.stdout);
    assert!(!run.stdout.contains('\x1b'), "no colour on a pipe");
}

#[test]
fn the_default_format_is_text_on_a_terminal_and_json_lines_on_a_pipe() {
    let s = sandbox();
    s.write("a.txt", "Hello world\n\nbody\n");
    let piped = s.run(&["scan", "a.txt"]);
    assert_eq!(piped.code, 0);
    assert_eq!(piped.alerts()[0]["rule"], "hello");

    // `script` gives the command a terminal.
    let out = std::process::Command::new("script")
        .args(["-qec"])
        .arg(format!("'{}' scan a.txt", env!("CARGO_BIN_EXE_newswatch")))
        .arg("/dev/null")
        .current_dir(s.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(shown.contains("hello found"), "{shown}");
    assert!(
        !shown.contains("{\""),
        "text, not JSON, on a terminal: {shown}"
    );
}

#[test]
fn stdin_is_one_article() {
    let s = sandbox();
    let run = s.run_with_stdin(
        &["scan", "--format", "json", "-"],
        Some(b"Title line\n\nsays hello\n"),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let a = &run.alerts()[0];
    assert_eq!(a["article"]["title"], "Title line");
    assert_eq!(a["article"]["path"], "-");
}

#[test]
fn folders_are_walked_recursively_skipping_hidden_and_unknown_files() {
    let s = sandbox();
    s.write("inbox/a.txt", "hello\n");
    s.write("inbox/deep/er/b.md", "# hello\n");
    s.write("inbox/noext", "hello\n");
    s.write("inbox/.hidden.txt", "hello\n");
    s.write("inbox/.git/c.txt", "hello\n");
    s.write("inbox/picture.jpg", "hello\n");
    let run = s.run(&["scan", "--format", "json", "inbox"]);
    let mut paths: Vec<_> = run
        .alerts()
        .iter()
        .map(|a| a["article"]["path"].as_str().unwrap().to_string())
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        ["inbox/a.txt", "inbox/deep/er/b.md", "inbox/noext"],
        "{}",
        run.stderr
    );
}

#[test]
fn bad_files_are_skipped_with_a_reason_and_strict_turns_them_into_errors() {
    let s = sandbox();
    s.write("inbox/good.txt", "hello\n");
    s.write("inbox/binary.txt", b"PK\x03\x04\0\0hello");
    s.write("inbox/latin1.txt", b"Caf\xe9 hello\n");
    s.write("newswatch.yaml", "limits:\n  max_file_size: 100\n");
    s.write("inbox/big.txt", format!("hello {}\n", "x".repeat(200)));
    let run = s.run(&["scan", "--format", "json", "inbox"]);
    assert_eq!(run.code, 0, "skipped files do not change the exit code");
    assert_eq!(
        run.alerts().len(),
        2,
        "good.txt and latin1.txt: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("binary.txt: skipped: binary file"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("big.txt: skipped"), "{}", run.stderr);
    assert!(run.stderr.contains("max_file_size"), "{}", run.stderr);
    let strict = s.run(&["scan", "--strict", "--format", "json", "inbox"]);
    assert_eq!(strict.code, 2);
    assert_eq!(strict.alerts().len(), 2, "strict still prints the alerts");
}

#[test]
fn invalid_utf8_is_replaced_not_fatal() {
    let s = sandbox();
    s.write(
        "a.txt",
        b"Title \xff\xfe\n\nfee for Mutu, a \xa315.8m hello signing\n",
    );
    let run = s.run(&["scan", "--format", "json", "a.txt"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.alerts()[0]["article"]["title"]
            .as_str()
            .unwrap()
            .contains('\u{fffd}')
    );
}

#[test]
fn bad_config_is_exit_2_with_file_line_and_column() {
    let s = sandbox();
    s.write("a.txt", "hello\n");
    s.write("custom.yaml", "limits:\n  rule_timeout: soon\n");
    let run = s.run(&["scan", "--config", "custom.yaml", "a.txt"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("custom.yaml:2:"), "{}", run.stderr);
    assert!(run.stderr.contains("soon"), "{}", run.stderr);
    assert_eq!(run.stdout, "");
}

#[test]
fn config_sets_rules_folder_and_limits() {
    let s = Sandbox::new();
    s.write(
        "elsewhere/spin.rhai",
        "let i = 0; while i < 5000 { i += 1; } alert(\"done\");",
    );
    s.write(
        "newswatch.yaml",
        "rules: elsewhere\nlimits: { rule_max_operations: 1000 }\n",
    );
    s.write("a.txt", "x\n");
    let run = s.run(&["scan", "--format", "json", "a.txt"]);
    assert_eq!(run.code, 1, "the rule is stopped at 1000 operations");
    assert!(run.stderr.contains("rule spin"), "{}", run.stderr);
    assert!(run.stderr.contains("rule_max_operations"), "{}", run.stderr);
}

#[test]
fn state_records_alerts_and_skips_ids_already_recorded() {
    let s = sandbox();
    s.write("inbox/a.txt", "hello\n\none\n");
    s.write("inbox/copy.txt", "hello\n\none\n");
    let first = s.run(&[
        "scan",
        "--format",
        "json",
        "--state",
        "state/nw.db",
        "inbox",
    ]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(first.alerts().len(), 1, "the copy has the same id");
    let second = s.run(&[
        "scan",
        "--format",
        "json",
        "--state",
        "state/nw.db",
        "inbox",
    ]);
    assert_eq!(second.code, 1, "nothing new: {}", second.stdout);
    assert_eq!(second.stdout, "");
    s.write("inbox/b.txt", "hello\n\ntwo\n");
    let third = s.run(&[
        "scan",
        "--format",
        "json",
        "--state",
        "state/nw.db",
        "inbox",
    ]);
    assert_eq!(third.alerts().len(), 1);
    assert_eq!(third.alerts()[0]["article"]["path"], "inbox/b.txt");
}

#[test]
fn a_state_file_that_is_not_a_database_is_refused_and_kept() {
    let s = sandbox();
    s.write("a.txt", "hello\n");
    let junk = "this is not a database, but someone's notes\n".repeat(100);
    let state = s.write("notes.db", &junk);
    let run = s.run(&["scan", "--state", "notes.db", "a.txt"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("notes.db"), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(state).unwrap(),
        junk,
        "never replaced"
    );
}

#[test]
fn output_is_in_input_order_however_long_each_input_takes() {
    let s = sandbox();
    // Inputs of very different sizes, so workers finish them out of order.
    let mut expected = Vec::new();
    for i in 0..300 {
        let filler = "filler words here. ".repeat(if i % 7 == 0 { 3000 } else { 1 });
        let name = format!("inbox/{i:03}.txt");
        s.write(&name, format!("Hello {i}\n\n{filler}\n"));
        expected.push(name);
    }
    let run = s.run(&["scan", "--format", "json", "inbox"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let paths: Vec<_> = run
        .alerts()
        .iter()
        .map(|a| a["article"]["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(paths, expected);
}

#[test]
fn a_closed_pipe_ends_the_scan_quietly() {
    let s = sandbox();
    for i in 0..2000 {
        s.write(&format!("inbox/{i:04}.txt"), format!("Hello {i}\n\nbody\n"));
    }
    let started = std::time::Instant::now();
    let out = std::process::Command::new("bash")
        .args([
            "-c",
            &format!(
                "set -o pipefail; '{}' scan --format json inbox | head -n 1",
                env!("CARGO_BIN_EXE_newswatch")
            ),
        ])
        .current_dir(s.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn alerts_reach_a_pipe_while_a_slow_input_is_still_being_evaluated() {
    use std::io::{BufRead, BufReader};
    let s = sandbox();
    s.rule("slow", r#"if article.mentions("slow") { loop { } }"#);
    s.write(
        "newswatch.yaml",
        "limits: { rule_timeout: 4s, rule_max_operations: 1000000000000 }\n",
    );
    s.write("inbox/a.txt", "Hello first\n\nbody\n");
    s.write("inbox/b.txt", "Slow one\n\nslow body\n");
    s.write("inbox/c.txt", "Hello last\n\nbody\n");
    let started = std::time::Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .args(["scan", "--format", "json", "inbox"])
        .current_dir(s.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let waited = started.elapsed();
    assert!(first.contains("inbox/a.txt"), "{first}");
    assert!(
        waited < std::time::Duration::from_secs(3),
        "the first alert came only after {waited:?}, with the slow input"
    );
    let rest: Vec<_> = lines.map(Result::unwrap).collect();
    assert_eq!(rest.len(), 1, "{rest:?}");
    assert!(rest[0].contains("inbox/c.txt"));
    let status = child.wait().unwrap();
    // The slow rule ran out of time: a rule error, alerts still printed.
    assert_eq!(status.code(), Some(0));
    assert!(started.elapsed() >= std::time::Duration::from_secs(4));
}

#[test]
fn files_whose_size_says_nothing_are_read_to_the_end() {
    // /proc files report size 0 but have content.
    let s = Sandbox::new();
    s.rule(
        "linux",
        r#"if article.mentions("linux") { alert("linux"); }"#,
    );
    let run = s.run(&["scan", "--format", "json", "/proc/version"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.alerts().len(), 1);
}

#[test]
fn article_text_cannot_drive_the_terminal() {
    let s = Sandbox::new();
    s.rule("every", "alert(#{ message: article.title });");
    // An OSC title change and a screen clear, in a title.
    s.write("a.txt", "Hi \x1b]0;owned\x07 there \x1b[2J\n\nbody\n");
    let run = s.run(&["scan", "--format", "text", "a.txt"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        !run.stdout.contains('\x1b') && !run.stdout.contains('\x07'),
        "{:?}",
        run.stdout
    );
    assert!(run.stdout.contains("there"), "{}", run.stdout);
    // JSON escapes them: the text is kept for programs.
    let json = s.run(&["scan", "--format", "json", "a.txt"]);
    assert_eq!(
        json.alerts()[0]["message"],
        "Hi \u{1b}]0;owned\u{7} there \u{1b}[2J"
    );
}
