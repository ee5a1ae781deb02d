//! `type: file`: alerts appended to a JSON Lines file, one write, flush and `fdatasync` per
//! alert.
//!
//! Each alert is one `write_all` of the whole line to a file opened in append mode — on a
//! local file system one `write`, so a reader tailing the file does not see half a line from
//! us — and a crash loses at most the alert being written (which is then delivered again).
//!
//! Whole lines only: a write that failed part way (a full disk, a crash) can leave a partial
//! line at the end of the file; the next alert then starts with a line feed, so that the
//! partial line stays alone and every alert is a line of its own that parses.
//!
//! Rotation is followed: before each write the open file is compared, by device and inode,
//! with what the path names now; when the file was moved away (logrotate without
//! `copytruncate`) or deleted, the path is opened again (created if missing).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{DeliveryError, Digest, Output};
use newswatch_engine::alert::Alert;

pub struct FileOutput {
    path: PathBuf,
    name: String,
    file: Option<File>,
}

impl FileOutput {
    /// The name of a file output to `path`.
    pub fn name_for(path: &Path) -> String {
        format!("file {}", path.display())
    }

    /// Opens (creating it and its folder) the file at `path` for appending.
    pub fn open(path: &Path) -> std::io::Result<FileOutput> {
        let mut out = FileOutput {
            path: path.to_path_buf(),
            name: FileOutput::name_for(path),
            file: None,
        };
        out.reopen()
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(out)
    }

    fn reopen(&mut self) -> std::io::Result<&mut File> {
        self.file = None;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let open = |read: bool| {
            OpenOptions::new()
                .read(read)
                .create(true)
                .append(true)
                .open(&self.path)
        };
        // Read too, to see how the file ends; a file we may only write is appended to as is.
        let file = match open(true) {
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => open(false)?,
            other => other?,
        };
        Ok(self.file.insert(file))
    }

    /// The open file, if it is still the one the path names; else the path opened again.
    fn current(&mut self) -> std::io::Result<&mut File> {
        let stale = match (&self.file, std::fs::metadata(&self.path)) {
            (Some(file), Ok(now)) => file.metadata().map_or(true, |open| !same_file(&open, &now)),
            _ => true,
        };
        if stale {
            return self.reopen();
        }
        Ok(self.file.as_mut().expect("checked above"))
    }

    /// Appends `line` (which ends with a line feed) as a line of its own, durably.
    fn append(&mut self, line: &str) -> std::io::Result<()> {
        let file = self.current()?;
        let mut bytes = Vec::with_capacity(line.len() + 1);
        if !ends_a_line(file) {
            bytes.push(b'\n');
        }
        bytes.extend_from_slice(line.as_bytes());
        file.write_all(&bytes)?;
        file.flush()?;
        file.sync_data()
    }
}

/// Whether two metadata describe the same file (device and inode).
#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, _: &std::fs::Metadata) -> bool {
    true
}

/// Whether `file` is empty or ends with a line feed; `true` when that cannot be read (a file
/// opened for writing only), so that nothing is added then.
#[cfg(unix)]
fn ends_a_line(file: &File) -> bool {
    use std::os::unix::fs::FileExt;
    let Ok(len) = file.metadata().map(|m| m.len()) else {
        return true;
    };
    if len == 0 {
        return true;
    }
    let mut last = [0u8];
    match file.read_at(&mut last, len - 1) {
        Ok(1) => last[0] == b'\n',
        _ => true,
    }
}

#[cfg(not(unix))]
fn ends_a_line(_: &File) -> bool {
    true
}

impl Output for FileOutput {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver(&mut self, alert: &Alert) -> Result<(), DeliveryError> {
        self.deliver_line(alert.to_json())
    }

    fn deliver_digest(&mut self, digest: &Digest) -> Result<(), DeliveryError> {
        self.deliver_line(digest.to_json())
    }
}

impl FileOutput {
    /// Appends one JSON document as a line.
    fn deliver_line(&mut self, mut line: String) -> Result<(), DeliveryError> {
        line.push('\n');
        if let Err(first) = self.append(&line) {
            // The file may have been deleted or its disk remounted: reopen once and retry.
            self.file = None;
            if let Err(e) = self.append(&line) {
                self.file = None;
                // A full disk, a folder made read-only: all may be mended, so retried.
                return Err(DeliveryError::transient(format!(
                    "{}: {e} (first attempt: {first})",
                    self.path.display()
                )));
            }
        }
        Ok(())
    }
}
