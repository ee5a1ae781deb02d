//! One daemon per state: an OS lock on `STATE.lock`, beside the state file, held for the
//! holder's whole life and released by the kernel however it ends (`kill -9` included).
//!
//! The lock is a POSIX record lock (`fcntl(F_SETLK)`) on a file of its own, not on the state:
//! SQLite takes its own `fcntl` locks on the database, and a process loses every such lock on
//! a file when it closes any descriptor of that file — which SQLite does. POSIX locks are
//! also not inherited by children (command outputs), and `F_GETLK` tells another process the
//! holder's pid without taking anything, so `newswatch status` can ask without ever getting in
//! a starting daemon's way. The price of POSIX locks: the holder must never open and close the
//! lock file a second time (that would release it), which is why the daemon counts it among
//! its own files, never articles, and why a folder `scan` never reads it (`.lock` is no
//! article format). After locking, the holder writes who it is (pid, start time,
//! command, version) into the file, for the messages that name it.
//!
//! Who holds it: `watch` for its whole life; `scan --state` for its run when no daemon does
//! (so that a daemon starting meanwhile waits for it rather than delivering the same queue at
//! the same time). A `scan` that finds a daemon holding it records its alerts and leaves their
//! delivery to the daemon.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Why the lock cannot be taken or looked at; each names the lock file.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another newswatch {command} (pid {pid}, since {since}) holds {}; stop it first or use another --state",
        state.display()
    )]
    Held {
        state: PathBuf,
        pid: i32,
        since: String,
        command: String,
    },
    #[error("lock file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Who holds the lock, as its holder wrote it (the pid comes from the kernel).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Holder {
    pub pid: i32,
    /// When it started (RFC 3339), or `unknown` if it has not written it yet.
    pub since: String,
    /// `watch` or `scan`.
    pub command: String,
    pub version: String,
}

/// The lock, held until dropped (or the process ends).
#[derive(Debug)]
pub struct StateLock {
    /// Keeping it open keeps the lock: closing it (drop) releases it.
    _file: File,
}

/// What a `scan --state` gets: the lock, or the daemon that holds it and delivers.
pub enum ScanAccess {
    /// No daemon: the scan holds the lock and delivers itself.
    Own(StateLock),
    /// A daemon holds the state: the scan records, the daemon delivers.
    Daemon(Holder),
}

/// The lock file of the state at `state`: `STATE.lock`.
pub fn lock_path(state: &Path) -> PathBuf {
    let mut p = state.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

/// How long a holder may take between locking and writing who it is.
const SETTLE: Duration = Duration::from_secs(1);
/// How often a waiting process tries again.
const POLL: Duration = Duration::from_millis(50);

impl StateLock {
    /// For `watch`: takes the lock, waiting for a `scan` that holds it to finish; another
    /// `watch` holding it is [`LockError::Held`].
    pub fn for_daemon(state: &Path) -> Result<StateLock, LockError> {
        let mut said = false;
        let mut unsure_since: Option<Instant> = None;
        loop {
            match try_lock(state, "watch")? {
                Ok(lock) => return Ok(lock),
                Err(holder) if holder.command == "scan" => {
                    if !said {
                        tracing::info!(
                            "waiting for newswatch scan (pid {}) to finish with {}",
                            holder.pid,
                            state.display()
                        );
                        said = true;
                    }
                }
                Err(holder) if holder.command == "watch" => return Err(held(state, holder)),
                // Locked a moment ago and not written yet: give it a moment to say who it is.
                Err(holder) => {
                    let since = *unsure_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > SETTLE {
                        return Err(held(state, holder));
                    }
                }
            }
            std::thread::sleep(POLL);
        }
    }

    /// For `scan --state`: the lock if no daemon holds it (waiting for another scan that
    /// does), else the daemon that holds it.
    pub fn for_scan(state: &Path) -> Result<ScanAccess, LockError> {
        let mut unsure_since: Option<Instant> = None;
        loop {
            match try_lock(state, "scan")? {
                Ok(lock) => return Ok(ScanAccess::Own(lock)),
                Err(holder) if holder.command == "watch" => return Ok(ScanAccess::Daemon(holder)),
                Err(holder) if holder.command == "scan" => {}
                Err(holder) => {
                    let since = *unsure_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > SETTLE {
                        // Someone we cannot name: deliver nothing rather than twice.
                        return Ok(ScanAccess::Daemon(holder));
                    }
                }
            }
            std::thread::sleep(POLL);
        }
    }
}

fn held(state: &Path, holder: Holder) -> LockError {
    LockError::Held {
        state: state.to_path_buf(),
        pid: holder.pid,
        since: holder.since,
        command: holder.command,
    }
}

/// Who holds the lock of the state at `state`, without taking it or creating anything:
/// `None` when nobody does (or there is no lock file: no daemon ever ran there).
pub fn holder(state: &Path) -> Result<Option<Holder>, LockError> {
    let path = lock_path(state);
    let mut file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(LockError::Io { path, source }),
    };
    let Some(pid) = locker(&file).map_err(|source| LockError::Io {
        path: path.clone(),
        source,
    })?
    else {
        return Ok(None);
    };
    Ok(Some(written(&mut file, pid)))
}

/// Takes the lock as `command` (`Ok`), or says who holds it (`Err`).
fn try_lock(state: &Path, command: &str) -> Result<Result<StateLock, Holder>, LockError> {
    let path = lock_path(state);
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    let mut lock = whole_file_write_lock();
    // SAFETY: a valid descriptor and a valid `flock` for the call to fill in.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &mut lock) } == -1 {
        let e = std::io::Error::last_os_error();
        if !matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EACCES)) {
            return Err(io(e));
        }
        return match locker(&file).map_err(io)? {
            Some(pid) => Ok(Err(written(&mut file, pid))),
            // Released meanwhile: the caller tries again.
            None => Ok(Err(Holder {
                pid: 0,
                since: "unknown".into(),
                command: "unknown".into(),
                version: String::new(),
            })),
        };
    }
    let me = Holder {
        pid: std::process::id() as i32,
        since: newswatch_engine::time::rfc3339(std::time::SystemTime::now()),
        command: command.into(),
        version: env!("CARGO_PKG_VERSION").into(),
    };
    let text = serde_json::to_string(&me).expect("a holder is JSON");
    // Who holds it is for messages only: a failure to say so does not give the lock up.
    let _ = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{text}"));
    Ok(Ok(StateLock { _file: file }))
}

/// A write lock over the whole file, as `fcntl` takes (and reports) it.
fn whole_file_write_lock() -> libc::flock {
    libc::flock {
        l_type: libc::F_WRLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    }
}

/// The pid of the process holding a lock on `file`, if one does.
fn locker(file: &File) -> std::io::Result<Option<i32>> {
    let mut lock = whole_file_write_lock();
    // SAFETY: a valid descriptor and a valid `flock` for the call to fill in.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut lock) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((lock.l_type != libc::F_UNLCK as libc::c_short).then_some(lock.l_pid))
}

/// Who the holder `pid` wrote it is; a file it has not written yet (or an earlier holder's)
/// gives its pid and `unknown` for the rest.
fn written(file: &mut File, pid: i32) -> Holder {
    let mut text = String::new();
    let _ = file.rewind().and_then(|()| file.read_to_string(&mut text));
    serde_json::from_str::<Holder>(text.trim())
        .ok()
        .filter(|h| h.pid == pid)
        .unwrap_or(Holder {
            pid,
            since: "unknown".into(),
            command: "unknown".into(),
            version: String::new(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_free_lock_has_no_holder_and_a_missing_one_is_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.db");
        assert_eq!(holder(&state).unwrap(), None);
        assert!(!lock_path(&state).exists());
        let lock = StateLock::for_daemon(&state).unwrap();
        // This process holds it: F_GETLK reports no conflict with oneself.
        assert_eq!(holder(&state).unwrap(), None);
        let text = std::fs::read_to_string(lock_path(&state)).unwrap();
        assert!(text.contains("\"command\":\"watch\""), "{text}");
        drop(lock);
    }
}
