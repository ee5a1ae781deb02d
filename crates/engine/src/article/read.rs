//! Reading an input's bytes under a size limit: the first step of ingest; and telling the
//! format of bytes that come without a name (standard input) by their content.
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

use super::{Format, decode};
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

/// Bytes looked at to tell a format.
const SNIFF: usize = 8 * 1024;

/// The format `bytes` are in, by their content (see [`Format::sniff`]).
pub(super) fn sniff(bytes: &[u8]) -> Format {
    let head = &bytes[..bytes.len().min(SNIFF)];
    let text = decode::decode(head, None);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if text.starts_with('{') || (text.starts_with('[') && json_array(&text[1..])) {
        return Format::Json;
    }
    if text.starts_with('<') {
        return markup(text);
    }
    if is_email(text) {
        return Format::Email;
    }
    Format::Text
}

/// Whether what follows a `[` starts a JSON array (of objects, strings, numbers …), not a
/// bracketed word of text (`[Update] …`).
fn json_array(rest: &str) -> bool {
    let rest = rest.trim_start();
    rest.starts_with(['{', '[', '"', ']', '-'])
        || rest.starts_with(|c: char| c.is_ascii_digit())
        || ["true", "false", "null"]
            .iter()
            .any(|w| rest.starts_with(w))
}

/// HTML or a feed, by the document's first element (after the XML declaration, comments,
/// processing instructions and the doctype).
fn markup(mut text: &str) -> Format {
    let mut xml = false;
    loop {
        text = text.trim_start();
        let skip = |text: &str, end: &str| text.find(end).map(|e| e + end.len());
        let len = if text.starts_with("<?") {
            xml = true;
            skip(text, "?>")
        } else if text.starts_with("<!--") {
            skip(text, "-->")
        } else if text
            .get(..9)
            .is_some_and(|d| d.eq_ignore_ascii_case("<!doctype"))
        {
            let end = text.find('>').unwrap_or(text.len());
            let name = text[9..end].trim_start().to_ascii_lowercase();
            if name.starts_with("html") {
                return Format::Html;
            }
            Some(end + 1)
        } else {
            None
        };
        match len {
            Some(len) => text = &text[len.min(text.len())..],
            None => break,
        }
    }
    let name: String = text
        .strip_prefix('<')
        .unwrap_or("")
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, '>' | '/'))
        .collect::<String>()
        .to_ascii_lowercase();
    let local = name.rsplit(':').next().unwrap_or("");
    match local {
        "rss" | "feed" | "rdf" | "channel" | "entry" => Format::Feed,
        "html" | "head" | "body" => Format::Html,
        // Another XML document is read by the feed reader, which says what it is not.
        _ if xml => Format::Feed,
        _ => Format::Html,
    }
}

/// Header fields of a mail's own, one of which an e-mail message has.
const MAIL_FIELDS: &[&str] = &[
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "received",
    "return-path",
    "mime-version",
    "delivered-to",
    "reply-to",
    "sender",
];

/// Whether a header field's name (lowercase) is one a message may start with: a mail's own,
/// or one that mail software adds (`X-…`, `DKIM-Signature`, `Content-Type` …).
fn is_header_name(name: &str) -> bool {
    MAIL_FIELDS.contains(&name)
        || ["x-", "arc-", "dkim-", "list-", "content-", "thread-"]
            .iter()
            .any(|p| name.starts_with(p))
        || [
            "authentication-results",
            "received-spf",
            "cc",
            "bcc",
            "in-reply-to",
            "references",
            "importance",
            "precedence",
            "user-agent",
            "feedback-id",
            "envelope-to",
        ]
        .contains(&name)
}

/// Whether `text` starts with an e-mail message's header: lines of fields (`Name: value`, or
/// a continuation starting with white space) up to a blank line, at least two, the first a
/// field mail has and one a mail's own (`From`, `Subject`, `Received` …). An mbox's `From `
/// line may come first.
fn is_email(text: &str) -> bool {
    let mut lines = text.lines().peekable();
    if lines.peek().is_some_and(|l| l.starts_with("From ")) {
        lines.next();
    }
    let (mut fields, mut mail) = (0, false);
    for line in lines {
        if line.trim().is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) && fields > 0 {
            continue;
        }
        let Some((name, _)) = line.split_once(':') else {
            return false;
        };
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return false;
        }
        let name = name.to_ascii_lowercase();
        if fields == 0 && !is_header_name(&name) {
            return false;
        }
        fields += 1;
        mail |= MAIL_FIELDS.contains(&name.as_str());
    }
    fields >= 2 && mail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_by_content() {
        let cases: &[(&[u8], Format)] = &[
            (b"<!DOCTYPE html>\n<html><head><title>x</title>", Format::Html),
            (b"  <html lang=fr><body>x", Format::Html),
            (b"<!-- saved --><div class=story><p>x</p></div>", Format::Html),
            (b"<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel>", Format::Feed),
            (b"\xEF\xBB\xBF<feed xmlns=\"http://www.w3.org/2005/Atom\">", Format::Feed),
            (b"<rdf:RDF xmlns:rdf=\"x\"><channel>", Format::Feed),
            (b"<?xml version=\"1.0\"?><!DOCTYPE html PUBLIC \"x\"><html>", Format::Html),
            (b"<?xml version=\"1.0\"?><catalog/>", Format::Feed),
            (b"{\"title\": \"x\"}", Format::Json),
            (b"[{\"title\": \"x\"}]", Format::Json),
            (b"{\"title\": \"a\"}\n{\"title\": \"b\"}\n", Format::Json),
            (b"[Update] Nvidia ships H200\n\nBody.", Format::Text),
            (
                b"From: Chip Letter <news@example.com>\r\nSubject: H200\r\n\r\nBody",
                Format::Email,
            ),
            (
                b"From news@example.com Tue Jan  2 10:00:00 2024\nReturn-Path: <a@b>\nX-Mailer: x\n  continued\nSubject: x\n\nBody",
                Format::Email,
            ),
            (b"Subject: only one field\n\nBody", Format::Text),
            (b"Title: H200\nAuthor: me\n\nBody", Format::Text),
            (b"Nvidia: the H200 ships\nDate: today\n", Format::Text),
            (b"DeepSeek orders H200 chips\n\nThe order is large.", Format::Text),
            (b"", Format::Text),
        ];
        for (bytes, format) in cases {
            assert_eq!(sniff(bytes), *format, "{}", String::from_utf8_lossy(bytes));
        }
        let utf16: Vec<u8> = "\u{feff}<rss><channel>"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(sniff(&utf16), Format::Feed);
    }

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
