//! `type: command`: runs a program per alert — an argv, never a shell string — with the alert
//! JSON on stdin and its main fields in `NEWSWATCH_*` environment variables.
//!
//! Article text only ever reaches the program as data (stdin, environment), never as part of a
//! command line, so a title holding `$(rm -rf ~)` is just a title. A user who wants a shell
//! writes `["sh", "-c", "..."]` and reads the fields from the environment.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{DeliveryError, Output, OutputError};
use newswatch_engine::alert::Alert;

pub struct CommandOutput {
    argv: Vec<String>,
    timeout: Duration,
    name: String,
}

impl CommandOutput {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    pub fn new(argv: Vec<String>, timeout: Option<Duration>) -> Result<CommandOutput, OutputError> {
        if argv.is_empty() {
            return Err(OutputError::NoCommand);
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
            .env("NEWSWATCH_ID", env_value(&alert.id))
            .env("NEWSWATCH_RULE", env_value(&alert.rule))
            .env("NEWSWATCH_SEVERITY", env_value(alert.severity.as_str()))
            .env("NEWSWATCH_MESSAGE", env_value(&alert.message))
            .env("NEWSWATCH_TITLE", env_value(&alert.article.title))
            .env(
                "NEWSWATCH_PATH",
                env_value(alert.article.path.as_deref().unwrap_or("")),
            )
            .env(
                "NEWSWATCH_URL",
                env_value(alert.article.url.as_deref().unwrap_or("")),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // Its own process group, so that a timeout or a stop ends what it started too
        // (`sh -c "a | b"`), not only the program itself.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        die_with_parent(&mut command);
        let mut child = command
            .spawn()
            .map_err(|e| fail(format!("cannot run: {e}")))?;
        let running = Running::register(child.id());
        // Stdin written and stderr read on threads of their own: a program that does not read
        // its input, or writes much on stderr, must not block on us, nor we on it.
        let mut stdin = child.stdin.take().expect("piped");
        let json = alert.to_json();
        let writer = std::thread::spawn(move || {
            let _ = stdin
                .write_all(json.as_bytes())
                .and_then(|()| stdin.write_all(b"\n"));
        });
        let mut pipe = child.stderr.take().expect("piped");
        let reader = std::thread::spawn(move || {
            use std::io::Read;
            let mut head = Vec::new();
            let _ = pipe.by_ref().take(2000).read_to_end(&mut head);
            let _ = std::io::copy(&mut pipe, &mut std::io::sink());
            String::from_utf8_lossy(&head).into_owned()
        });
        let deadline = crate::deadline(self.timeout);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    running.kill();
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
        drop(running);
        let _ = writer.join();
        if status.success() {
            return Ok(());
        }
        // Something it left running may hold the pipe open: wait for the message, not long.
        let waited = Instant::now() + Duration::from_millis(200);
        while !reader.is_finished() && Instant::now() < waited {
            std::thread::sleep(Duration::from_millis(2));
        }
        let stderr = if reader.is_finished() {
            reader.join().unwrap_or_default()
        } else {
            String::new()
        };
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

/// The longest `NEWSWATCH_*` value, in bytes, before its `…`: Linux refuses to start a program
/// with one environment string over 128 KiB (E2BIG), and all of them must fit together.
const ENV_VALUE_MAX: usize = 32 * 1024;

/// `value` as an environment value that cannot make the program fail to start: without NUL
/// bytes (which no environment string can hold) and cut, at a character boundary, to
/// [`ENV_VALUE_MAX`] bytes followed by `…`. The whole alert is on stdin all the same.
fn env_value(value: &str) -> String {
    let mut value = value.replace('\0', "");
    if value.len() > ENV_VALUE_MAX {
        let mut end = ENV_VALUE_MAX;
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        value.truncate(end);
        value.push('…');
    }
    value
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

/// Process groups of the commands running now, so that a stop can end them.
static RUNNING: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

/// A running command's process group, listed in [`RUNNING`] until dropped.
struct Running(u32);

impl Running {
    fn register(pid: u32) -> Running {
        RUNNING.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
        Running(pid)
    }

    fn kill(&self) {
        kill_group(self.0);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|&p| p != self.0);
    }
}

/// Ends every command still running, with whatever it started: for a stop whose time is up.
pub(crate) fn kill_running() {
    for &pid in RUNNING.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        kill_group(pid);
    }
}

#[cfg(unix)]
fn kill_group(pid: u32) {
    // SAFETY: killpg only sends a signal; a group that is gone gives ESRCH, ignored.
    unsafe {
        libc::killpg(pid as libc::pid_t, libc::SIGKILL);
    }
}

#[cfg(not(unix))]
fn kill_group(_: u32) {}

#[cfg(test)]
mod tests {
    use super::{ENV_VALUE_MAX, env_value};

    #[test]
    fn env_values_lose_nul_bytes_and_are_cut_at_a_char_boundary() {
        assert_eq!(env_value("a\0b"), "ab");
        assert_eq!(env_value("plain"), "plain");
        let long = "é".repeat(ENV_VALUE_MAX);
        let cut = env_value(&long);
        assert!(cut.ends_with('…'));
        assert!(cut.len() <= ENV_VALUE_MAX + '…'.len_utf8());
        assert!(cut.trim_end_matches('…').chars().all(|c| c == 'é'));
    }
}
