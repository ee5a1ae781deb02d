//! `type: command`: runs a program per alert — an argv, never a shell string — with the alert
//! JSON on stdin and its main fields in `NEWSWATCH_*` environment variables.
//!
//! Article text only ever reaches the program as data (stdin, environment), never as part of a
//! command line, so a title holding `$(rm -rf ~)` is just a title. A user who wants a shell
//! writes `["sh", "-c", "..."]` and reads the fields from the environment.

use std::io::{Read, Write};
use std::process::{ChildStderr, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use super::{DeliveryError, Digest, Output, OutputError};
use newswatch_engine::alert::Alert;

pub struct CommandOutput {
    argv: Vec<String>,
    timeout: Duration,
    /// Exit codes that mean "this alert will never be taken": the delivery is `failed` at
    /// once instead of retried.
    permanent_exit_codes: Vec<i32>,
    name: String,
}

/// How long a failed command's stderr is still read after it exited: something it left
/// running may hold the pipe open, and is not waited for.
const STDERR_GRACE: Duration = Duration::from_millis(200);

/// How much of a failed command's stderr is kept for the log and the state.
const STDERR_KEPT: usize = 2048;

impl CommandOutput {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// The name of a command output running `argv`.
    pub fn name_for(argv: &[String]) -> String {
        format!("command {}", argv.join(" "))
    }

    pub fn new(
        argv: Vec<String>,
        timeout: Option<Duration>,
        permanent_exit_codes: Vec<i32>,
    ) -> Result<CommandOutput, OutputError> {
        if argv.is_empty() {
            return Err(OutputError::NoCommand);
        }
        Ok(CommandOutput {
            name: CommandOutput::name_for(&argv),
            argv,
            timeout: timeout.unwrap_or(Self::DEFAULT_TIMEOUT),
            permanent_exit_codes,
        })
    }
}

impl Output for CommandOutput {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver(&mut self, alert: &Alert) -> Result<(), DeliveryError> {
        let env = [
            ("NEWSWATCH_ID", alert.id.as_str()),
            ("NEWSWATCH_RULE", &alert.rule),
            ("NEWSWATCH_SEVERITY", alert.severity.as_str()),
            ("NEWSWATCH_MESSAGE", &alert.message),
            ("NEWSWATCH_TITLE", &alert.article.title),
            (
                "NEWSWATCH_PATH",
                alert.article.path.as_deref().unwrap_or(""),
            ),
            ("NEWSWATCH_URL", alert.article.url.as_deref().unwrap_or("")),
            ("NEWSWATCH_STORY", &alert.story),
        ];
        self.run(&env, alert.to_json())
    }

    fn deliver_digest(&mut self, digest: &Digest) -> Result<(), DeliveryError> {
        let count = digest.alerts.len().to_string();
        let env = [
            ("NEWSWATCH_DIGEST_FROM", digest.from.as_str()),
            ("NEWSWATCH_DIGEST_TO", &digest.to),
            ("NEWSWATCH_DIGEST_COUNT", &count),
        ];
        self.run(&env, digest.to_json())
    }
}

impl CommandOutput {
    /// Runs the program with `env` added to its environment and `json` and a line feed on its
    /// stdin: one delivery.
    fn run(&mut self, env: &[(&str, &str)], json: String) -> Result<(), DeliveryError> {
        let program = &self.argv[0];
        let mut command = Command::new(program);
        command.args(&self.argv[1..]);
        for (name, value) in env {
            command.env(name, env_value(value));
        }
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // Its own process group, so that a timeout or a stop ends what it started too
        // (`sh -c "a | b"`), not only the program itself.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        die_with_parent(&mut command);
        let mut child = command.spawn().map_err(|e| cannot_start(program, &e))?;
        let running = Running::register(child.id());
        let mut json = json.into_bytes();
        json.push(b'\n');
        // Stdin written and stderr read here, without blocking and without threads: a program
        // that does not read its input, writes much on stderr, or leaves a background child
        // holding the pipes must not block this thread, nor leave one blocked behind.
        let mut pipes = Pipes::new(child.stdin.take(), child.stderr.take(), json);
        let deadline = crate::deadline(self.timeout);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    running.kill();
                    let _ = child.wait();
                    return Err(DeliveryError::transient(format!(
                        "{program}: killed after the timeout of {:?}",
                        self.timeout
                    )));
                }
                Ok(None) => pipes.pump(Duration::from_millis(5)),
                Err(e) => {
                    running.kill();
                    let _ = child.wait();
                    return Err(DeliveryError::transient(format!("{program}: {e}")));
                }
            }
        };
        drop(running);
        if status.success() {
            // The pipes close here: what it left running is not waited for.
            return Ok(());
        }
        let stderr = pipes.rest_of_stderr(Instant::now() + STDERR_GRACE);
        let message = format!(
            "{program}: exited with {status}{}",
            if stderr.is_empty() {
                String::new()
            } else {
                format!(": {stderr}")
            }
        );
        if status
            .code()
            .is_some_and(|code| self.permanent_exit_codes.contains(&code))
        {
            Err(DeliveryError::permanent(message))
        } else {
            Err(DeliveryError::transient(message))
        }
    }
}

/// Why a program did not start, as a delivery error: permanent when it is about the program
/// (missing, not executable, not a program, its arguments too long), transient when the
/// machine lacked something that may come back (processes, memory, descriptors).
fn cannot_start(program: &str, e: &std::io::Error) -> DeliveryError {
    let message = format!("{program}: cannot run: {e}");
    match e.raw_os_error() {
        Some(libc::EAGAIN | libc::ENOMEM | libc::EMFILE | libc::ENFILE | libc::EINTR)
        | Some(libc::ETXTBSY) => DeliveryError::transient(message),
        _ => DeliveryError::permanent(message),
    }
}

/// The parent's ends of a command's stdin and stderr, non-blocking: the alert still to write,
/// the start of what the command wrote on stderr.
struct Pipes {
    stdin: Option<ChildStdin>,
    input: Vec<u8>,
    written: usize,
    stderr: Option<ChildStderr>,
    head: Vec<u8>,
}

impl Pipes {
    fn new(stdin: Option<ChildStdin>, stderr: Option<ChildStderr>, input: Vec<u8>) -> Pipes {
        // A pipe that cannot be made non-blocking is dropped: better no input or message than
        // a thread blocked for good.
        let stdin = stdin.filter(set_nonblocking);
        let stderr = stderr.filter(set_nonblocking);
        Pipes {
            stdin,
            input,
            written: 0,
            stderr,
            head: Vec::new(),
        }
    }

    /// Waits up to `wait` for one of the pipes to be ready, then writes and reads what can be
    /// without blocking. Stdin is closed once the alert is written (the program sees its end).
    fn pump(&mut self, wait: Duration) {
        let mut fds = Vec::with_capacity(2);
        if let Some(p) = &self.stdin {
            fds.push(pollfd(p, libc::POLLOUT));
        }
        if let Some(p) = &self.stderr {
            fds.push(pollfd(p, libc::POLLIN));
        }
        if fds.is_empty() {
            std::thread::sleep(wait);
        } else {
            // SAFETY: `fds` is a live array of `fds.len()` pollfd structs.
            unsafe {
                libc::poll(
                    fds.as_mut_ptr(),
                    fds.len() as libc::nfds_t,
                    wait.as_millis() as i32,
                );
            }
        }
        self.write();
        self.read();
    }

    fn write(&mut self) {
        let Some(stdin) = &mut self.stdin else {
            return;
        };
        while self.written < self.input.len() {
            match stdin.write(&self.input[self.written..]) {
                Ok(n) => self.written += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // It closed its stdin (EPIPE): it does not want the rest.
                Err(_) => break,
            }
        }
        self.stdin = None;
    }

    fn read(&mut self) {
        let Some(stderr) = &mut self.stderr else {
            return;
        };
        let mut buf = [0u8; 4096];
        loop {
            match stderr.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let keep = n.min(STDERR_KEPT.saturating_sub(self.head.len()));
                    self.head.extend_from_slice(&buf[..keep]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        self.stderr = None;
    }

    /// What the command wrote on stderr, read until its end or `until`, whichever is first.
    fn rest_of_stderr(mut self, until: Instant) -> String {
        self.stdin = None;
        while self.stderr.is_some() && Instant::now() < until {
            self.pump(Duration::from_millis(5));
        }
        String::from_utf8_lossy(&self.head).trim().to_string()
    }
}

fn pollfd(pipe: &impl std::os::fd::AsRawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd: pipe.as_raw_fd(),
        events,
        revents: 0,
    }
}

/// Makes our end of a pipe non-blocking; false if that failed.
fn set_nonblocking(pipe: &impl std::os::fd::AsRawFd) -> bool {
    let fd = pipe.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own, reading then setting its status flags.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        flags >= 0 && libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) == 0
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
