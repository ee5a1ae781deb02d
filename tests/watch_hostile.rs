//! The daemon against a hostile or shifting file system: FIFOs and devices where articles
//! were, watched and rules folders swapped by `mv` or deleted and recreated, a stop while a
//! large rule compiles. Checked on the real binary in a temp dir, each in bounded time.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Sandbox, json_lines, wait_for_lines};

const EVERY: &str = "alert(#{ message: article.title });";
const WAIT: Duration = Duration::from_secs(20);

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

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(
        unsafe { libc::mkfifo(c.as_ptr(), 0o644) },
        0,
        "mkfifo {path:?}"
    );
}

/// Waits (at most `within`) for an alert titled `title`; returns how long it took.
fn alert_within(out: &Path, title: &str, within: Duration, log: impl Fn() -> String) -> Duration {
    let start = Instant::now();
    loop {
        if json_lines(out).iter().any(|a| a["message"] == title) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "no alert {title:?} within {within:?}:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn files_replaced_by_fifos_and_devices_block_nothing() {
    let s = sandbox();
    let out = s.path().join("alerts.jsonl");
    let d = s.watch(&[]);
    let inbox = s.path().join("inbox");
    for i in 0..40 {
        // Written, closed, and at once replaced by a FIFO nobody writes to.
        let file = inbox.join(format!("f{i}.txt"));
        std::fs::write(&file, format!("F{i}\n\nbody\n")).unwrap();
        let fifo = s.path().join(format!("fifo{i}"));
        mkfifo(&fifo);
        std::fs::rename(&fifo, &file).unwrap();
        // And a FIFO made in place, with an article's name.
        mkfifo(&inbox.join(format!("p{i}.txt")));
    }
    // A link to a character device, and (as root) to /proc/kmsg: a regular file that blocks.
    std::os::unix::fs::symlink("/dev/zero", inbox.join("zero.txt")).unwrap();
    if Path::new("/proc/kmsg").exists() {
        std::os::unix::fs::symlink("/proc/kmsg", inbox.join("kmsg.txt")).unwrap();
    }
    // A SIGHUP walks everything again: FIFOs found by a walk block nothing either.
    d.signal("HUP");
    d.wait_for_log("config reloaded", WAIT);
    std::thread::sleep(Duration::from_millis(300));
    s.write("inbox/canary.txt", "Canary\n\nbody\n");
    let took = alert_within(&out, "Canary", Duration::from_secs(5), || d.log());
    eprintln!("canary alert after {took:?}");
    // And again, after the walk's FIFOs have been handed out.
    s.write("inbox/canary2.txt", "Canary two\n\nbody\n");
    alert_within(&out, "Canary two", Duration::from_secs(5), || d.log());
    let (code, took) = d.stop_with("TERM");
    assert_eq!(code, 0);
    assert!(took < Duration::from_secs(2), "stop took {took:?}");
}

/// Articles built to stall a parser (each once took minutes or gigabytes) land with a harmless
/// one behind them: every worker may hold a hostile one, and the harmless one still alerts
/// within 10 s (each hostile file is refused by the parsers' bounds or the 5 s ingest timeout).
#[test]
fn hostile_articles_stall_nothing() {
    let s = common::canary_sandbox();
    let out = s.path().join("alerts.jsonl");
    let d = s.watch(&[]);
    let mut attributes = String::from("<html><body><p ");
    for i in 0..400_000 {
        attributes.push_str(&format!("a{i}=x "));
    }
    let mut nested = String::from("<html><body>");
    for i in 0..9_000 {
        nested.push_str(&format!("<article><p>{i} DeepSeek bought H200 boards.</p>"));
    }
    let mut tiny = String::from("[");
    for i in 0..1_000_000 {
        tiny.push_str(&format!("{{\"t\":{i}}},"));
    }
    tiny.push_str("{}]");
    let hostile = [
        ("attributes.html", attributes.into_bytes()),
        ("nested.html", nested.into_bytes()),
        (
            "brackets.md",
            format!("---\ntitle: {}\n---\n# T\n", "[".repeat(150_000)).into_bytes(),
        ),
        ("tiny.json", tiny.into_bytes()),
        ("tags.html", "x<br>".repeat(3_300_000).into_bytes()),
    ];
    for (name, bytes) in &hostile {
        std::fs::write(s.path().join("inbox").join(name), bytes).unwrap();
    }
    std::thread::sleep(Duration::from_millis(100));
    s.write("inbox/canary.txt", "Canary\n\nbody\n");
    let took = alert_within(&out, "Canary", Duration::from_secs(10), || d.log());
    eprintln!("canary alert after {took:?}");
    // Every hostile file was dealt with, and said so.
    for (name, _) in &hostile {
        d.wait_for_log(name, WAIT);
    }
    let peak = d.peak_memory();
    eprintln!("daemon peak memory after the hostile articles: {peak}");
    eprintln!("{}", d.log());
    let (code, _) = d.stop_with("TERM");
    assert_eq!(code, 0);
}

#[test]
fn a_watched_folder_swapped_by_mv_is_watched_again() {
    let s = sandbox();
    let out = s.path().join("alerts.jsonl");
    let d = s.watch(&[]);
    s.write("inbox/a.txt", "A\n\nbody\n");
    wait_for_lines(&out, 1, WAIT);

    // `mv inbox inbox.old && mv inbox.new inbox`, the new folder holding a file already.
    s.write("inbox.new/b.txt", "B\n\nbody\n");
    std::fs::rename(s.path().join("inbox"), s.path().join("inbox.old")).unwrap();
    std::fs::rename(s.path().join("inbox.new"), s.path().join("inbox")).unwrap();
    alert_within(&out, "B", Duration::from_secs(5), || d.log());
    // Replaced, or (looked at between the two `mv`s) gone then back: said either way.
    let log = d.log();
    assert!(
        log.contains("watched folder inbox was replaced")
            || log.contains("watched folder inbox is back"),
        "{log}"
    );
    s.write("inbox/c.txt", "C\n\nbody\n");
    alert_within(&out, "C", Duration::from_secs(5), || d.log());
    // What is written to the old folder is not the watched folder's any more.
    s.write("inbox.old/x.txt", "X\n\nbody\n");

    // Deleted, then recreated.
    std::fs::remove_dir_all(s.path().join("inbox")).unwrap();
    d.wait_for_log("is gone", WAIT);
    std::fs::create_dir(s.path().join("inbox")).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    s.write("inbox/d.txt", "D\n\nbody\n");
    alert_within(&out, "D", Duration::from_secs(5), || d.log());
    assert!(
        d.log().contains("watched folder inbox is back"),
        "{}",
        d.log()
    );
    std::thread::sleep(Duration::from_millis(500));
    let titles: Vec<_> = json_lines(&out)
        .iter()
        .map(|a| a["message"].as_str().unwrap().to_string())
        .collect();
    assert!(!titles.contains(&"X".to_string()), "{titles:?}");
    let (code, _) = d.stop_with("TERM");
    assert_eq!(code, 0);
}

#[test]
fn a_rules_folder_swapped_by_mv_still_reloads() {
    let s = sandbox();
    std::fs::remove_file(s.path().join("rules/every.rhai")).unwrap();
    s.rule("tag", r#"alert("v1: " + article.title);"#);
    let out = s.path().join("alerts.jsonl");
    let d = s.watch(&[]);
    s.write("inbox/a.txt", "A\n\nbody\n");
    alert_within(&out, "v1: A", WAIT, || d.log());

    s.write("rules.new/tag.rhai", r#"alert("v2: " + article.title);"#);
    std::fs::rename(s.path().join("rules"), s.path().join("rules.old")).unwrap();
    std::fs::rename(s.path().join("rules.new"), s.path().join("rules")).unwrap();
    d.wait_for_log("rules reloaded", WAIT);
    std::thread::sleep(Duration::from_millis(300));
    s.write("inbox/b.txt", "B\n\nbody\n");
    alert_within(&out, "v2: B", Duration::from_secs(5), || d.log());

    // An edit in the new folder reloads; one in the old folder does not.
    s.rule("tag", r#"alert("v3: " + article.title);"#);
    let start = Instant::now();
    for i in 0.. {
        s.write(&format!("inbox/c{i}.txt"), format!("C{i}\n\nbody\n"));
        std::thread::sleep(Duration::from_millis(400));
        if json_lines(&out)
            .iter()
            .any(|a| a["message"] == format!("v3: C{i}"))
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "no reload after an edit in the new rules folder:\n{}",
            d.log()
        );
    }
    std::fs::write(
        s.path().join("rules.old/tag.rhai"),
        r#"alert("old: " + article.title);"#,
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    s.write("inbox/d.txt", "D\n\nbody\n");
    alert_within(&out, "v3: D", Duration::from_secs(5), || d.log());
    let (code, _) = d.stop_with("TERM");
    assert_eq!(code, 0);
}

/// One rule of `lines` branches: slow to compile (see tests/watch_reload.rs).
fn big_rule(lines: usize) -> String {
    let mut s = String::from("if article.mentions(\"zork\") {\n");
    for i in 0..lines {
        s.push_str(&format!(
            "    if article.mentions(\"zork{i}\") {{ alert(#{{ message: \"big {i}\" }}); }}\n"
        ));
    }
    s.push_str("}\n");
    s
}

/// Branches of [`big_rule`] that compile in about `target` here.
fn calibrated(s: &Sandbox, target: Duration) -> usize {
    const PROBE: usize = 4000;
    s.write("probe/big.rhai", big_rule(PROBE));
    let start = Instant::now();
    let run = s.run(&["check", "--rules", "probe", "--config", "/dev/null"]);
    let took = start.elapsed();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let lines = PROBE as f64 * target.as_secs_f64() / took.as_secs_f64();
    (lines as usize).clamp(PROBE, 400_000)
}

#[test]
fn a_stop_during_a_long_rules_compile_takes_under_two_seconds() {
    let s = sandbox();
    let lines = calibrated(&s, Duration::from_secs(6));
    let d = s.watch(&[]);
    s.write("big.rhai", big_rule(lines));
    std::fs::rename(s.path().join("big.rhai"), s.path().join("rules/big.rhai")).unwrap();
    // Past the rules folder's quiet time: the compile is under way.
    std::thread::sleep(Duration::from_millis(800));
    assert!(!d.log().contains("rules reloaded"), "compiled too fast");
    let (code, took) = d.stop_with("TERM");
    eprintln!("stop during a compile took {took:?}");
    assert_eq!(code, 0);
    assert!(took < Duration::from_secs(2), "stop took {took:?}");
}

#[test]
fn a_stop_during_a_long_sighup_reload_takes_under_two_seconds() {
    let s = sandbox();
    let lines = calibrated(&s, Duration::from_secs(6));
    s.write("rules/big.rhai", big_rule(lines));
    let d = s.watch_env(&[], &[]);
    d.signal("HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert!(!d.log().contains("config reloaded"), "compiled too fast");
    let (code, took) = d.stop_with("TERM");
    eprintln!("stop during a SIGHUP reload took {took:?}");
    assert_eq!(code, 0);
    assert!(took < Duration::from_secs(2), "stop took {took:?}");
}

/// A tmpfs of `size` mounted on a new folder, unmounted when dropped; `None` (skipped, said)
/// where mounting is not allowed.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            common::skip("cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Fills the file system of `path` (a new file there) until it has no room left.
fn fill(path: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let block = vec![b'x'; 4096];
    while f.write_all(&block).is_ok() {}
    let _ = f.sync_all();
}

#[test]
fn files_missed_while_the_state_disk_was_full_are_read_again_soon() {
    let s = sandbox();
    let Some(disk) = Tmpfs::mount(&s.path().join("disk"), "2m") else {
        return;
    };
    s.write(
        "newswatch.yaml",
        // The 30 articles below are copies of one story, grouped were stories on.
        "watch:\n  - path: inbox\nstate: disk/state.db\nstories: { window: 0s }\noutputs:\n  - type: file\n    path: alerts.jsonl\n",
    );
    let out = s.path().join("alerts.jsonl");
    let d = s.watch(&[]);
    s.write("inbox/a.txt", "A\n\nbody\n");
    alert_within(&out, "A", WAIT, || d.log());

    fill(&disk.0.join("filler"));
    for i in 0..30 {
        s.write(
            &format!("inbox/full{i}.txt"),
            format!("Full {i}\n\n{}\n", "words ".repeat(50 + i)),
        );
    }
    d.wait_for_log("read again by a walk in 5s", WAIT);
    std::fs::remove_file(disk.0.join("filler")).unwrap();
    let start = Instant::now();
    let lines = wait_for_lines(&out, 31, Duration::from_secs(15));
    eprintln!("read again {:?} after the disk had room", start.elapsed());
    assert_eq!(lines.len(), 31, "{}", d.log());
    let (code, _) = d.stop_with("TERM");
    assert_eq!(code, 0);
    drop(disk);
}
