//! `type: file`: alerts appended to a JSON Lines file, one write and flush per alert.
//!
//! Each alert is one `write_all` of the whole line to a file opened in append mode — on a
//! local file system one `write`, so a reader tailing the file does not see half a line from
//! us — and a crash loses at most the alert being written (which is then delivered again).
//! A write that fails part way (a full disk) can leave a partial line; readers of JSON Lines
//! should skip a line that does not parse.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{DeliveryError, Output};
use newswatch_engine::alert::Alert;

pub struct FileOutput {
    path: PathBuf,
    name: String,
    file: Option<File>,
}

impl FileOutput {
    /// Opens (creating it and its folder) the file at `path` for appending.
    pub fn open(path: &Path) -> std::io::Result<FileOutput> {
        let mut out = FileOutput {
            path: path.to_path_buf(),
            name: format!("file {}", path.display()),
            file: None,
        };
        out.reopen()
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(out)
    }

    fn reopen(&mut self) -> std::io::Result<&mut File> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        Ok(self.file.insert(file))
    }
}

impl Output for FileOutput {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver(&mut self, alert: &Alert) -> Result<(), DeliveryError> {
        let mut line = alert.to_json();
        line.push('\n');
        let result = match self.file.as_mut() {
            Some(f) => f.write_all(line.as_bytes()).and_then(|()| f.flush()),
            None => Err(std::io::ErrorKind::NotConnected.into()),
        };
        if let Err(first) = result {
            // The file may have been deleted or its disk remounted: reopen once and retry.
            self.file = None;
            let retried = self
                .reopen()
                .and_then(|f| f.write_all(line.as_bytes()).and_then(|()| f.flush()));
            if let Err(e) = retried {
                self.file = None;
                return Err(DeliveryError(format!(
                    "{}: {e} (first attempt: {first})",
                    self.path.display()
                )));
            }
        }
        Ok(())
    }
}
