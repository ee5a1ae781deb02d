//! Reading an input's bytes under a size limit: the first step of ingest.
//!
//! The limit applies before a byte is read where the size is known, and as the reading goes
//! where it is not (standard input), so no input can make the engine hold more than the limit.
//!
//! A path is only a name: between a look at it and the `open`, anyone who can write to the
//! folder can rename a FIFO or a link to `/proc/kmsg` over it, and a blocking `open` or `read`
//! of those waits forever. So files are opened without blocking and the opened handle's type
//! decides: only regular files are read.

use std::io::Read;
use std::path::Path;

use crate::Error;

/// Reads the regular file at `path` whole, refusing more than `max_size` bytes, and anything
/// that is not a regular file once opened (a FIFO, a device, a socket) without waiting on it.
///
/// ```
/// use newswatch_engine::{Error, article::read_file};
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("big.txt");
/// std::fs::write(&path, "x".repeat(100)).unwrap();
/// assert_eq!(read_file(&path, 100).unwrap().len(), 100);
/// assert!(matches!(read_file(&path, 99), Err(Error::TooLarge { size: 100, limit: 99, .. })));
/// ```
pub fn read_file(path: &Path, max_size: u64) -> Result<Vec<u8>, Error> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = open_nonblocking(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.file_type().is_file() {
        return Err(Error::Skipped {
            path: path.to_path_buf(),
            reason: format!("not a regular file ({})", kind(&meta.file_type())),
        });
    }
    let size = meta.len();
    if size > max_size {
        return Err(too_large(path, size, max_size));
    }
    if size == 0 {
        // Files in /proc say size 0 and have content: read to the end, bounded, and take
        // "would block" (/proc/kmsg with nothing new) as the end rather than wait.
        return read_nonblocking(file, path, max_size);
    }
    // The file as it was when looked at: what a writer appends meanwhile is a change the
    // daemon sees and reads again. No read just to meet the end. (Regular files never block,
    // whatever O_NONBLOCK says.)
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(size).read_to_end(&mut bytes).map_err(io)?;
    Ok(bytes)
}

/// Reads `reader` to its end (standard input, a pipe), refusing more than `max_size` bytes;
/// `shown` names it in errors.
pub fn read_to_limit(reader: impl Read, shown: &Path, max_size: u64) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    reader
        .take(max_size.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| Error::Io {
            path: shown.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 > max_size {
        return Err(too_large(shown, bytes.len() as u64, max_size));
    }
    Ok(bytes)
}

/// Reads what `file` holds now, up to `max_size` bytes; a read that would block ends it.
fn read_nonblocking(file: std::fs::File, path: &Path, max_size: u64) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    match file
        .take(max_size.saturating_add(1))
        .read_to_end(&mut bytes)
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Err(source) => {
            return Err(Error::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    }
    if bytes.len() as u64 > max_size {
        return Err(too_large(path, bytes.len() as u64, max_size));
    }
    Ok(bytes)
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK, as libc spells it on Linux and the BSDs alike (04000 on Linux, 4 on the
    // BSDs and macOS): an `open` of a FIFO without a writer returns at once.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const O_NONBLOCK: i32 = 0o4000;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    const O_NONBLOCK: i32 = 0x0004;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(path)
}

/// What a file type is, for the message that refuses it.
fn kind(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a folder"
    } else {
        "a special file"
    }
}

fn too_large(path: &Path, size: u64, limit: u64) -> Error {
    Error::TooLarge {
        path: path.to_path_buf(),
        size,
        limit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("a.txt");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid, NUL-terminated path.
        assert_eq!(unsafe { mkfifo(c.as_ptr(), 0o644) }, 0);
        let started = std::time::Instant::now();
        let err = read_file(&fifo, 1 << 20).unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert!(
            err.to_string().contains("not a regular file (a FIFO)"),
            "{err}"
        );
    }

    #[cfg(unix)]
    unsafe extern "C" {
        fn mkfifo(path: *const std::ffi::c_char, mode: u32) -> i32;
    }

    #[test]
    fn a_device_and_a_folder_are_refused() {
        #[cfg(unix)]
        {
            let err = read_file(Path::new("/dev/zero"), 1 << 20).unwrap_err();
            assert!(err.to_string().contains("(a device)"), "{err}");
        }
        let dir = tempfile::tempdir().unwrap();
        assert!(read_file(dir.path(), 1 << 20).is_err());
    }
}
