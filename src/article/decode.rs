//! Bytes to text: byte-order marks, UTF-8, and the binary-file check.

use std::borrow::Cow;

/// Why bytes are not text.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct NotText {
    /// Offset of the first NUL byte.
    pub offset: usize,
}

/// Decodes `bytes` as text. A byte-order mark selects UTF-8, UTF-16 or UTF-32; otherwise the
/// bytes are read as UTF-8 with invalid sequences replaced by U+FFFD, never refused. NUL bytes
/// outside UTF-16/32 mean the file is binary.
pub(crate) fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, NotText> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return Ok(String::from_utf8_lossy(rest));
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE\0\0") {
        return Ok(Cow::Owned(utf32(rest, u32::from_le_bytes)));
    }
    if let Some(rest) = bytes.strip_prefix(b"\0\0\xFE\xFF") {
        return Ok(Cow::Owned(utf32(rest, u32::from_be_bytes)));
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return Ok(Cow::Owned(utf16(rest, u16::from_le_bytes)));
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return Ok(Cow::Owned(utf16(rest, u16::from_be_bytes)));
    }
    if let Some(offset) = bytes.iter().position(|&b| b == 0) {
        return Err(NotText { offset });
    }
    Ok(String::from_utf8_lossy(bytes))
}

fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> String {
    let units = bytes.chunks_exact(2).map(|c| unit([c[0], c[1]]));
    char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

fn utf32(bytes: &[u8], unit: fn([u8; 4]) -> u32) -> String {
    bytes
        .chunks_exact(4)
        .map(|c| {
            char::from_u32(unit([c[0], c[1], c[2], c[3]])).unwrap_or(char::REPLACEMENT_CHARACTER)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_boms_and_replaces_invalid_bytes() {
        assert_eq!(decode(b"\xEF\xBB\xBFabc").unwrap(), "abc");
        assert_eq!(decode(b"\xFF\xFEa\0b\0").unwrap(), "ab");
        assert_eq!(decode(b"\xFE\xFF\0a\0b").unwrap(), "ab");
        assert_eq!(decode(b"fee \xA315m").unwrap(), "fee \u{FFFD}15m");
        assert_eq!(decode(b"ab\0c"), Err(NotText { offset: 2 }));
    }
}
