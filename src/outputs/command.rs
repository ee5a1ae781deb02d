//! `type: command`: runs a program per alert — an argv, never a shell string — with the alert
//! JSON on stdin and its main fields in `NEWSWATCH_*` environment variables.
//!
//! Article text only ever reaches the program as data (stdin, environment), never as part of a
//! command line, so a title holding `$(rm -rf ~)` is just a title. A user who wants a shell
//! writes `["sh", "-c", "..."]` and reads the fields from the environment.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{DeliveryError, Output};
use crate::alert::Alert;

pub struct CommandOutput {
    argv: Vec<String>,
    timeout: Duration,
    name: String,
}

impl CommandOutput {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    pub fn new(argv: Vec<String>, timeout: Option<Duration>) -> Result<CommandOutput, String> {
        if argv.is_empty() {
            return Err("a command output needs `command: [program, args…]`".into());
        }
        Ok(CommandOutput {
            name: format!("command {}", argv.join(" ")),
            argv,
            timeout: timeout.unwrap_or(Self::DEFAULT_TIMEOUT),
        })
    }
}

impl Output for CommandOutput {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver(&mut self, alert: &Alert) -> Result<(), DeliveryError> {
        let fail = |what: String| DeliveryError(format!("{}: {what}", self.argv[0]));
        let mut command = Command::new(&self.argv[0]);
        command
            .args(&self.argv[1..])
            .env("NEWSWATCH_ID", &alert.id)
            .env("NEWSWATCH_RULE", &alert.rule)
            .env("NEWSWATCH_SEVERITY", alert.severity.as_str())
            .env("NEWSWATCH_MESSAGE", &alert.message)
            .env("NEWSWATCH_TITLE", &alert.article.title)
            .env(
                "NEWSWATCH_PATH",
                alert.article.path.as_deref().unwrap_or(""),
            )
            .env("NEWSWATCH_URL", alert.article.url.as_deref().unwrap_or(""))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        die_with_parent(&mut command);
        let mut child = command
            .spawn()
            .map_err(|e| fail(format!("cannot run: {e}")))?;
        // Write stdin from another thread: a program that does not read it must not block us.
        let mut stdin = child.stdin.take().expect("piped");
        let json = alert.to_json();
        let writer = std::thread::spawn(move || {
            let _ = stdin
                .write_all(json.as_bytes())
                .and_then(|()| stdin.write_all(b"\n"));
        });
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(fail(format!(
                        "killed after the timeout of {:?}",
                        self.timeout
                    )));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => return Err(fail(e.to_string())),
            }
        };
        let _ = writer.join();
        if status.success() {
            return Ok(());
        }
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            use std::io::Read;
            let _ = pipe.by_ref().take(2000).read_to_string(&mut stderr);
        }
        let stderr = stderr.trim();
        Err(fail(format!(
            "exited with {status}{}",
            if stderr.is_empty() {
                String::new()
            } else {
                format!(": {stderr}")
            }
        )))
    }
}

/// The program dies with newswatch: a stop in the middle of a delivery must not leave it
/// running on its own (the alert is delivered again at the next start).
#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: between fork and exec only prctl runs, which is async-signal-safe and touches
    // no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_: &mut Command) {}
