//! Reading an input's bytes under a size limit: the first step of ingest.
//!
//! The limit applies before a byte is read where the size is known, and as the reading goes
//! where it is not (pipes, special files), so no input can make the engine hold more than the
//! limit.

use std::io::Read;
use std::path::Path;

use crate::Error;

/// Reads the file at `path` whole, refusing more than `max_size` bytes.
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
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > max_size {
        return Err(too_large(path, size, max_size));
    }
    if size == 0 {
        // Sizes of special files (in /proc, pipes) say nothing: read to the end, bounded.
        return read_to_limit(file, path, max_size);
    }
    // The file as it was when looked at: what a writer appends meanwhile is a change the
    // daemon sees and reads again. No read just to meet the end.
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

fn too_large(path: &Path, size: u64, limit: u64) -> Error {
    Error::TooLarge {
        path: path.to_path_buf(),
        size,
        limit,
    }
}
