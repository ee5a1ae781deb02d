//! Helpers for integration tests: run the real binary in a temp dir, find the corpus.
#![allow(dead_code)]

pub mod feed_server;
pub mod receiver;
pub mod syndicate;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A temp dir with a `rules/` folder, where the binary runs.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    /// Run the binary so that file permissions bind it (see [`newswatch`]).
    pub bound_by_permissions: bool,
}

/// How to start the binary. With `bound_by_permissions` and the tests running as root — who
/// reads and writes every file whatever its mode — it runs under `setpriv` without the two
/// capabilities that bypass permission checks, so that `chmod 000` means what it says.
pub fn newswatch(bound_by_permissions: bool) -> Command {
    if bound_by_permissions && is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--bounding-set", "-dac_override,-dac_read_search", "--"])
            .arg(env!("CARGO_BIN_EXE_newswatch"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_newswatch"))
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
    })
}

/// Whether [`newswatch`] can be bound by permissions here: false (with a note on stderr) where
/// running as root without `setpriv`, or where `setpriv` may not drop capabilities.
pub fn permissions_can_bind() -> bool {
    if !is_root() {
        return true;
    }
    let dir = tempfile::tempdir().unwrap();
    let locked = dir.path().join("locked");
    std::fs::write(&locked, "x").unwrap();
    set_mode(&locked, 0o000);
    let ok = Command::new("setpriv")
        .args([
            "--bounding-set",
            "-dac_override,-dac_read_search",
            "--",
            "cat",
        ])
        .arg(&locked)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| !s.success());
    if !ok {
        eprintln!(
            "note: running as root and `setpriv` cannot drop capabilities: permission checks not tested"
        );
    }
    ok
}

/// `chmod MODE PATH`.
pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// What a run of the binary gave.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout parsed as JSON Lines; panics (with the output) if any line is not JSON.
    pub fn alerts(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {l}\n{}", self.stderr))
            })
            .collect()
    }

    /// Rule names of the alerts, in order.
    pub fn rules(&self) -> Vec<String> {
        self.alerts()
            .iter()
            .map(|a| a["rule"].as_str().unwrap().to_string())
            .collect()
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rules")).unwrap();
        Sandbox {
            dir,
            bound_by_permissions: false,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `content` to `rel` (creating folders) and returns its path.
    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        path
    }

    /// Writes the rule `rules/NAME.rhai`.
    pub fn rule(&self, name: &str, source: &str) -> &Sandbox {
        self.write(&format!("rules/{name}.rhai"), source);
        self
    }

    /// Runs `newswatch ARGS` in the sandbox.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, None)
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Run {
        let mut child = newswatch(self.bound_by_permissions)
            .args(args)
            .current_dir(self.path())
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut pipe = child.stdin.take().unwrap();
        if let Some(bytes) = stdin {
            pipe.write_all(bytes).unwrap();
        }
        drop(pipe);
        let Output {
            status,
            stdout,
            stderr,
        } = child.wait_with_output().unwrap();
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }
}

/// The repository root (for `rules/` and `examples/`).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The article corpus, which is not part of this repository: the folder `NEWSWATCH_CORPUS`
/// names (a relative path is relative to the repository root) — the only way tests reach it.
/// `None` when the variable is unset or empty or names no folder: the calling test is then
/// skipped, and says so in one line of `cargo test`'s output (see [`skip`]).
pub fn corpus() -> Option<PathBuf> {
    match corpus_dir() {
        Ok(dir) => Some(dir),
        Err(why) => {
            skip(&why);
            None
        }
    }
}

/// The folder `NEWSWATCH_CORPUS` names, or why there is none (see [`corpus`]); says nothing.
pub fn corpus_dir() -> Result<PathBuf, String> {
    let Some(dir) = std::env::var_os("NEWSWATCH_CORPUS").filter(|d| !d.is_empty()) else {
        return Err("NEWSWATCH_CORPUS is not set".into());
    };
    let dir = repo().join(dir);
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(format!(
            "NEWSWATCH_CORPUS={} is not a folder",
            dir.display()
        ))
    }
}

/// What [`skip`] lines start with.
pub const SKIPPED: &str = "skipped:";

/// Says, in one line naming the running test, that it is skipped and why (see [`note`]).
pub fn skip(why: &str) {
    note(&format!("{SKIPPED} {}: {why}", test_name()));
}

/// Lines for the end of the run (see [`note`]).
static NOTES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// One line that a plain `cargo test` shows even when the test passes. The harness captures
/// what tests `print!` and drops it when they pass, and a line written straight to stderr
/// lands in the middle of its `test NAME ... ok` lines; so the line waits for the end of the
/// run and is written then — sorted with the others, after the `test result:` line of this
/// test binary.
pub fn note(line: &str) {
    static AT_EXIT: std::sync::Once = std::sync::Once::new();
    NOTES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(line.to_string());
    // SAFETY: `print_notes` is an `extern "C" fn()` that never unwinds.
    AT_EXIT.call_once(|| assert_eq!(unsafe { libc::atexit(print_notes) }, 0));
}

/// Writes the [`note`]s to stderr when the test binary exits: with `write(2)` itself, since
/// thread-locals that `std`'s stderr relies on may be gone by then.
extern "C" fn print_notes() {
    let mut lines = std::mem::take(
        &mut *NOTES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    lines.sort();
    let mut text = String::new();
    for line in lines {
        text.push_str(&line);
        text.push('\n');
    }
    let mut bytes = text.as_bytes();
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a live buffer of this length.
        let n = unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
        if n <= 0 {
            return;
        }
        bytes = &bytes[n as usize..];
    }
}

/// The running test's name: the harness names each test's thread after it.
pub fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string()
}

/// A running `newswatch watch`, its stdout and stderr going to files in the sandbox.
pub struct Daemon {
    child: std::process::Child,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

impl Sandbox {
    /// Starts `newswatch watch ARGS` and waits until it has loaded its rules.
    pub fn watch(&self, args: &[&str]) -> Daemon {
        self.watch_env(args, &[])
    }

    /// Like [`Sandbox::watch`], with extra environment variables.
    pub fn watch_env(&self, args: &[&str], env: &[(&str, &str)]) -> Daemon {
        self.watch_with(args, env, |_| {})
    }

    /// Like [`Sandbox::watch_env`], with `setup` applied to the command before it starts
    /// (resource limits, say).
    pub fn watch_with(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        setup: impl FnOnce(&mut Command),
    ) -> Daemon {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let stdout = self.path().join(format!("daemon{n}.out"));
        let stderr = self.path().join(format!("daemon{n}.err"));
        let mut command = newswatch(self.bound_by_permissions);
        command
            .arg("watch")
            .args(args)
            .current_dir(self.path())
            .env_remove("RUST_LOG")
            .env("XDG_STATE_HOME", self.path().join("xdg-state"))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap());
        setup(&mut command);
        let child = command.spawn().unwrap();
        let d = Daemon {
            child,
            stdout,
            stderr,
        };
        d.wait_for_log("watching", std::time::Duration::from_secs(20));
        d
    }
}

impl Daemon {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits until stderr contains `needle`; panics with the log after `timeout`.
    pub fn wait_for_log(&self, needle: &str, timeout: std::time::Duration) {
        let start = std::time::Instant::now();
        while !self.log().contains(needle) {
            assert!(
                start.elapsed() < timeout,
                "no {needle:?} in the daemon's log:\n{}",
                self.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Sends `signal` (e.g. "TERM") and waits for the exit; returns the exit code and how long
    /// the stop took.
    pub fn stop_with(mut self, signal: &str) -> (i32, std::time::Duration) {
        let start = std::time::Instant::now();
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code().unwrap_or(-1), start.elapsed());
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(10),
                "the daemon did not stop:\n{}",
                self.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// JSON lines of `path` (missing file: none). A last line still being written (no newline
/// yet) is left for the next look.
pub fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => "",
    };
    complete
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Waits until `path` holds at least `n` JSON lines, then a little longer to catch extras;
/// returns them. Panics after `timeout`.
pub fn wait_for_lines(
    path: &Path,
    n: usize,
    timeout: std::time::Duration,
) -> Vec<serde_json::Value> {
    let start = std::time::Instant::now();
    loop {
        let lines = json_lines(path);
        if lines.len() >= n {
            std::thread::sleep(std::time::Duration::from_millis(700));
            return json_lines(path);
        }
        assert!(
            start.elapsed() < timeout,
            "expected {n} lines in {}, have {}",
            path.display(),
            lines.len()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A sandbox with an inbox, a rule alerting on every article (its title as the message,
/// severity high), the given `retry:` section and outputs.
pub fn every_article_sandbox(retry: &str, outputs: &str) -> Sandbox {
    let s = Sandbox::new();
    s.rule(
        "every",
        r#"alert(#{ message: article.title, severity: "high" });"#,
    );
    std::fs::create_dir(s.path().join("inbox")).unwrap();
    s.write(
        "newswatch.yaml",
        format!("watch:\n  - path: inbox\nstate: state.db\nretry: {retry}\noutputs:\n{outputs}"),
    );
    s
}

/// A sandbox with an inbox, a file output (`alerts.jsonl`) and a rule `canary` alerting (the
/// title as the message) on articles whose title starts with "Canary": the harmless article
/// hostile tests drop beside the hostile ones.
pub fn canary_sandbox() -> Sandbox {
    let s = Sandbox::new();
    s.rule(
        "canary",
        r#"if article.title.starts_with("Canary") { alert(#{ message: article.title }); }"#,
    );
    std::fs::create_dir(s.path().join("inbox")).unwrap();
    s.write(
        "newswatch.yaml",
        "watch:\n  - path: inbox\nstate: state.db\noutputs:\n  - type: file\n    path: alerts.jsonl\n",
    );
    s
}

impl Daemon {
    /// The daemon's peak resident memory so far, as `/proc` says it (`VmHWM: … kB`).
    pub fn peak_memory(&self) -> String {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let peak = status.lines().find(|l| l.starts_with("VmHWM:"));
        peak.unwrap_or("VmHWM: unknown").to_string()
    }
}
