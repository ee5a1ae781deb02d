//! Helpers for integration tests: run the real binary in a temp dir, find the corpus.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A temp dir with a `rules/` folder, where the binary runs.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
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
        Sandbox { dir }
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
        let mut child = Command::new(env!("CARGO_BIN_EXE_newswatch"))
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

/// The shared corpus: `NEWSWATCH_CORPUS` (then it must exist), else `../shared/corpus` if
/// present. `None` means corpus tests are skipped on this machine.
pub fn corpus() -> Option<PathBuf> {
    match std::env::var_os("NEWSWATCH_CORPUS") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            let dir = if dir.is_absolute() {
                dir
            } else {
                repo().join(dir)
            };
            assert!(
                dir.is_dir(),
                "NEWSWATCH_CORPUS={} is set but missing",
                dir.display()
            );
            Some(dir)
        }
        None => {
            let dir = repo().join("../shared/corpus");
            if dir.is_dir() {
                Some(dir)
            } else {
                eprintln!("corpus not found: set NEWSWATCH_CORPUS to run corpus tests");
                None
            }
        }
    }
}
