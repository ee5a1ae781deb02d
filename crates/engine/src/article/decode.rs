//! Bytes to text: byte-order marks, UTF-8, declared charsets, detection of legacy encodings
//! (ISO-2022-KR by its header, in `iso2022kr`), and the binary-file check.
//!
//! The order is a browser's, with one deliberate difference: bytes that are valid UTF-8 (and
//! not plain ASCII) are read as UTF-8 even when the file declares another charset, because real
//! pages lie (a page labelled `gb2312` or `iso-8859-15` whose bytes are UTF-8) while valid
//! multi-byte UTF-8 almost never happens by accident in a legacy encoding.

use std::borrow::Cow;

use chardetng::{EncodingDetector, Iso2022JpDetection, Utf8Detection};
use encoding_rs::{
    BIG5, EUC_KR, Encoding, GBK, ISO_2022_JP, ISO_8859_2, ISO_8859_3, ISO_8859_4, ISO_8859_10,
    ISO_8859_13, ISO_8859_14, ISO_8859_15, ISO_8859_16, MACINTOSH, SHIFT_JIS, UTF_8, WINDOWS_1250,
    WINDOWS_1252, WINDOWS_1254, WINDOWS_1257, WINDOWS_1258, X_MAC_CYRILLIC,
};

use super::iso2022kr;

/// Why bytes are not text.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct NotText {
    /// Offset of the first NUL byte.
    pub offset: usize,
}

/// Bytes of a file fed to the detector: enough to decide, bounded for huge files.
const DETECT_SAMPLE: usize = 1 << 20;

/// The start of a file where one NUL byte makes it binary (git looks at its first 8,000
/// bytes): images, archives and documents hold NUL bytes in their headers.
const BINARY_PREFIX: usize = 8 * 1024;

/// Refuses binary files: a NUL byte that no UTF-16/32 reading explains (with a byte-order
/// mark, or laid out as UTF-16/32 text without one, as XML allows), in the first
/// [`BINARY_PREFIX`] bytes or as more than one byte in a hundred. Rarer NUL bytes further on
/// are stray ones in a text (pages are saved with them), which [`decode`] leaves out.
pub(crate) fn check_text(bytes: &[u8]) -> Result<(), NotText> {
    let Some(offset) = memchr_nul(bytes) else {
        return Ok(());
    };
    if bom(bytes).is_some() || unmarked_wide(bytes).is_some() {
        return Ok(());
    }
    let stray = offset >= BINARY_PREFIX && nul_count(bytes) * 100 <= bytes.len();
    if stray {
        return Ok(());
    }
    Err(NotText { offset })
}

fn memchr_nul(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == 0)
}

fn nul_count(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == 0).count()
}

/// Decodes `bytes` (already checked by [`check_text`]) to text, never failing: invalid bytes
/// become U+FFFD. `declared` is the charset the document names for itself (HTML `<meta
/// charset>`, XML declaration), used when the bytes are not UTF-8.
pub(crate) fn decode<'a>(bytes: &'a [u8], declared: Option<&'static Encoding>) -> Cow<'a, str> {
    let text = decode_all(bytes, declared);
    // Stray NUL bytes that `check_text` let through: no reader sees them.
    if text.contains('\0') {
        return Cow::Owned(text.replace('\0', ""));
    }
    text
}

fn decode_all<'a>(bytes: &'a [u8], declared: Option<&'static Encoding>) -> Cow<'a, str> {
    if let Some((wide, len)) = bom(bytes) {
        return Cow::Owned(wide.decode(&bytes[len..]));
    }
    // NUL bytes are valid UTF-8, so BOM-less UTF-16/32 is tried first.
    if bytes.contains(&0)
        && let Some(text) = unmarked_wide(bytes)
    {
        return Cow::Owned(text);
    }
    // The hot path: valid UTF-8 without escape sequences is borrowed as it is.
    if let Ok(text) = std::str::from_utf8(bytes) {
        if text.contains('\x1b') {
            if let Some(korean) = iso2022kr::decode(bytes) {
                return Cow::Owned(korean);
            }
            if declared == Some(ISO_2022_JP) || guess(bytes) == ISO_2022_JP {
                return ISO_2022_JP.decode_without_bom_handling(bytes).0;
            }
        }
        return c1_as_windows_1252(Cow::Borrowed(text));
    }
    if mostly_utf8(bytes) {
        return c1_as_windows_1252(String::from_utf8_lossy(bytes));
    }
    let encoding = declared
        .map(Encoding::output_encoding)
        .unwrap_or_else(|| detect(bytes));
    encoding.decode_without_bom_handling(bytes).0
}

/// UTF-8 text with C1 control characters (U+0080 to U+009F), which no text means: Windows-1252
/// text read as Latin-1 and written as UTF-8 (`don\u{92}t` for `don’t`, what feedparser calls
/// demoronizing). Each is the Windows-1252 character of its byte, as browsers read `&#146;`.
fn c1_as_windows_1252(text: Cow<'_, str>) -> Cow<'_, str> {
    let c1 = |w: &[u8]| w[0] == 0xC2 && (0x80..=0x9F).contains(&w[1]);
    // `contains` on bytes is a `memchr`: the common case costs next to nothing.
    if !text.as_bytes().contains(&0xC2) || !text.as_bytes().windows(2).any(c1) {
        return text;
    }
    Cow::Owned(
        text.chars()
            .map(|c| match u32::from(c) {
                code @ 0x80..=0x9F => {
                    html5ever::data::C1_REPLACEMENTS[(code - 0x80) as usize].unwrap_or(c)
                }
                _ => c,
            })
            .collect(),
    )
}

/// Guesses the legacy encoding of bytes that are not UTF-8.
pub(crate) fn detect(bytes: &[u8]) -> &'static Encoding {
    // Fewer than four non-ASCII bytes are too little evidence for the detector (it reads the
    // `£` of an English text as Polish `Ł`). Lone high bytes between ASCII ones, or a few that
    // Windows-1252 reads as what Western text holds (`£“`), are the mark of a single-byte
    // encoding: the most common one wins. Others stay UTF-8, with U+FFFD.
    let high: Vec<usize> = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| !b.is_ascii())
        .map(|(i, _)| i)
        .take(4)
        .collect();
    if high.len() < 4 {
        let ascii_at = |j: usize| bytes.get(j).is_none_or(u8::is_ascii);
        let isolated = high
            .iter()
            .all(|&i| i.checked_sub(1).is_none_or(ascii_at) && ascii_at(i + 1));
        let western = high.iter().all(|&i| {
            let (c, _) = WINDOWS_1252.decode_without_bom_handling(&bytes[i..=i]);
            c.chars().all(is_western)
        });
        return if isolated || western {
            WINDOWS_1252
        } else {
            UTF_8
        };
    }
    prefer_western(bytes, guess(bytes))
}

/// Latin-script single-byte encodings chardetng may choose over Windows-1252.
const LATIN: &[&Encoding] = &[
    WINDOWS_1250,
    ISO_8859_2,
    WINDOWS_1254,
    WINDOWS_1257,
    ISO_8859_4,
    ISO_8859_13,
    WINDOWS_1258,
    ISO_8859_3,
    ISO_8859_10,
    ISO_8859_14,
    ISO_8859_15,
    ISO_8859_16,
    MACINTOSH,
];

/// Windows-1252 rather than `guess`, another Latin single-byte encoding, when the two read
/// the bytes alike but for a few bytes that Windows-1252 reads as what Western text holds.
///
/// chardetng scores each encoding on the pairs of letters it makes, and mostly-ASCII text gives
/// it few pairs to go on: an English text whose only non-ASCII bytes are typographic quotes
/// (alike in Windows-1250 and 1252) and a `£` is read as Windows-1250, the `£` as `Ł`
/// (`Ł2,900`). Central European and Turkish texts differ from Windows-1252 on many bytes, and
/// on some that Windows-1252 reads as what no Western text holds (`³` for `ł`, `¹` for `ą`,
/// `ý` for `ı`, `¾` for ISO-8859-2's `ž`): those stay as chardetng guessed.
fn prefer_western(bytes: &[u8], guess: &'static Encoding) -> &'static Encoding {
    if !LATIN.contains(&guess) {
        return guess;
    }
    let high: Vec<u8> = (0x80..=0xFF).collect();
    let table = |encoding: &'static Encoding| -> Vec<char> {
        let text = encoding.decode_without_bom_handling(&high).0;
        text.chars().collect()
    };
    let (western, guessed) = (table(WINDOWS_1252), table(guess));
    if western.len() != 128 || guessed.len() != 128 {
        return guess;
    }
    let sample = &bytes[..bytes.len().min(DETECT_SAMPLE)];
    let letter = |b: Option<&u8>| {
        b.is_some_and(|&b| {
            b.is_ascii_alphabetic() || (b >= 0x80 && guessed[usize::from(b - 0x80)].is_alphabetic())
        })
    };
    let (mut differing, mut letters) = (0usize, 0usize);
    for (i, &b) in sample.iter().enumerate() {
        if b.is_ascii_alphabetic() {
            letters += 1;
        }
        if b < 0x80 {
            continue;
        }
        let (w, g) = (
            western[usize::from(b - 0x80)],
            guessed[usize::from(b - 0x80)],
        );
        if w.is_alphabetic() {
            letters += 1;
        }
        if w == g {
            continue;
        }
        if !is_western(w) {
            return guess;
        }
        // A symbol where the guess reads a letter that stands by a digit or alone (`£2,900`
        // read `Ł2,900`) tells for Windows-1252: it is not counted against it.
        let (prev, next) = (
            i.checked_sub(1).and_then(|p| sample.get(p)),
            sample.get(i + 1),
        );
        let digit = |b: Option<&u8>| b.is_some_and(u8::is_ascii_digit);
        let symbol = !w.is_alphabetic()
            && g.is_alphabetic()
            && (digit(prev) || digit(next) || (!letter(prev) && !letter(next)));
        if !symbol {
            differing += 1;
        }
    }
    // "A few": one in a hundred letters (and one in any text).
    if differing * 100 <= letters.max(100) {
        WINDOWS_1252
    } else {
        guess
    }
}

/// Characters Western European text is written with, beyond ASCII: typographic punctuation,
/// currency and common symbols, and the accented letters of French, Spanish, Portuguese,
/// Italian, German, Dutch and the Nordic languages (not Icelandic's `ð`, `þ`, `ý`, which
/// Turkish encodings put `ğ`, `ş`, `ı` in).
fn is_western(c: char) -> bool {
    matches!(
        c,
        '\u{a0}' | '¡' | '¢' | '£' | '¥' | '§' | '©' | '«' | '®' | '°' | '±' | '´' | 'µ' | '¶'
            | '·' | '»' | '¿' | '×' | '÷' | '€' | '‚' | '„' | '…' | '†' | '‡' | '‰' | '‹' | '›'
            | '‘' | '’' | '“' | '”' | '•' | '–' | '—' | '™' | 'Œ' | 'œ' | 'Š' | 'š' | 'Ž' | 'ž'
            | 'Ÿ' | 'ß' | 'ÿ'
            | 'À'..='Ï' | 'Ñ'..='Ö' | 'Ø'..='Ü' | 'à'..='ï' | 'ñ'..='ö' | 'ø'..='ü'
    )
}

/// chardetng's guess, from the start of the bytes.
fn guess(bytes: &[u8]) -> &'static Encoding {
    let sample = &bytes[..bytes.len().min(DETECT_SAMPLE)];
    let mut detector = EncodingDetector::new(Iso2022JpDetection::Allow);
    detector.feed(sample, sample.len() == bytes.len());
    detector.guess(None, Utf8Detection::Allow)
}

/// UTF-8 with a few bad bytes (a stray Latin-1 `£` pasted into a UTF-8 file) stays UTF-8:
/// valid multi-byte sequences must outnumber invalid ones four to one.
fn mostly_utf8(bytes: &[u8]) -> bool {
    let (mut multibyte, mut invalid) = (0usize, 0usize);
    for chunk in bytes.utf8_chunks() {
        multibyte += chunk.valid().bytes().filter(|&b| b >= 0xC0).count();
        invalid += usize::from(!chunk.invalid().is_empty());
    }
    multibyte > 4 * invalid
}

/// A UTF-16 or UTF-32 reading of the bytes.
#[derive(Clone, Copy)]
enum Wide {
    Utf8,
    Utf16 { big_endian: bool },
    Utf32 { big_endian: bool },
}

impl Wide {
    fn decode(self, bytes: &[u8]) -> String {
        self.decode_strict(bytes, false).unwrap_or_default()
    }

    /// Decodes; with `strict`, gives up on anything unlike text (NUL, control characters,
    /// unpaired surrogates), which is how a BOM-less wide file is told from a binary one.
    fn decode_strict(self, bytes: &[u8], strict: bool) -> Option<String> {
        let text_char = |c: Option<char>| match c {
            Some(c) if !strict || !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\x0c') => {
                Some(c)
            }
            None if !strict => Some(char::REPLACEMENT_CHARACTER),
            _ => None,
        };
        match self {
            Wide::Utf8 => Some(String::from_utf8_lossy(bytes).into_owned()),
            Wide::Utf16 { big_endian } => {
                if strict && !bytes.len().is_multiple_of(2) {
                    return None;
                }
                let units = bytes.chunks_exact(2).map(|c| {
                    let pair = [c[0], c[1]];
                    if big_endian {
                        u16::from_be_bytes(pair)
                    } else {
                        u16::from_le_bytes(pair)
                    }
                });
                char::decode_utf16(units)
                    .map(|c| text_char(c.ok()))
                    .collect()
            }
            Wide::Utf32 { big_endian } => {
                if strict && !bytes.len().is_multiple_of(4) {
                    return None;
                }
                bytes
                    .chunks_exact(4)
                    .map(|c| {
                        let quad = [c[0], c[1], c[2], c[3]];
                        let unit = if big_endian {
                            u32::from_be_bytes(quad)
                        } else {
                            u32::from_le_bytes(quad)
                        };
                        text_char(char::from_u32(unit))
                    })
                    .collect()
            }
        }
    }
}

/// The byte-order mark at the start of `bytes`, and its length.
fn bom(bytes: &[u8]) -> Option<(Wide, usize)> {
    // UTF-32 LE before UTF-16 LE: its mark starts with UTF-16 LE's.
    let marks: [(&[u8], Wide); 5] = [
        (b"\xEF\xBB\xBF", Wide::Utf8),
        (b"\xFF\xFE\0\0", Wide::Utf32 { big_endian: false }),
        (b"\0\0\xFE\xFF", Wide::Utf32 { big_endian: true }),
        (b"\xFF\xFE", Wide::Utf16 { big_endian: false }),
        (b"\xFE\xFF", Wide::Utf16 { big_endian: true }),
    ];
    marks
        .into_iter()
        .find(|(mark, _)| bytes.starts_with(mark))
        .map(|(mark, wide)| (wide, mark.len()))
}

/// Reads BOM-less UTF-32 or UTF-16 (tried in that order: UTF-32 text is not valid UTF-16
/// text, it has NUL units), in the byte order that puts the NULs of ASCII characters in the
/// high bytes. A binary file fails on its first NUL or control character.
fn unmarked_wide(bytes: &[u8]) -> Option<String> {
    let nuls = |every: usize, at: usize| {
        bytes
            .iter()
            .skip(at)
            .step_by(every)
            .filter(|&&b| b == 0)
            .count()
    };
    let utf32_be = nuls(4, 0) > nuls(4, 3);
    let utf16_be = nuls(2, 0) > nuls(2, 1);
    [
        Wide::Utf32 {
            big_endian: utf32_be,
        },
        Wide::Utf16 {
            big_endian: utf16_be,
        },
    ]
    .into_iter()
    .find_map(|wide| wide.decode_strict(bytes, true))
    // Markup and Latin text are mostly ASCII; a binary that happens to decode is not.
    .filter(|text| 2 * text.chars().filter(char::is_ascii).count() > text.chars().count())
}

/// How far into a document its charset declaration may be looked for.
const PRESCAN: usize = 4096;

/// The charset an HTML page declares in `<meta charset=…>` or `<meta http-equiv=Content-Type
/// content="…; charset=…">`, among its first bytes.
pub(crate) fn html_charset(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(PRESCAN)];
    let mut rest = head;
    while let Some(at) = find_ascii_ci(rest, b"<meta") {
        let tag = &rest[at..];
        let end = tag.iter().position(|&b| b == b'>').unwrap_or(tag.len());
        if let Some(encoding) = label_after(&tag[..end], b"charset") {
            return Some(encoding);
        }
        rest = &tag[end..];
    }
    None
}

/// The encoding an XML declaration (`<?xml version="1.0" encoding="…"?>`) names.
pub(crate) fn xml_encoding(bytes: &[u8]) -> Option<&'static Encoding> {
    let start = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = &start[..start.len().min(PRESCAN)];
    let decl = start.trim_ascii_start().strip_prefix(b"<?xml")?;
    let end = decl.windows(2).position(|w| w == b"?>")?;
    label_after(&decl[..end], b"encoding")
}

/// The encoding whose label follows `name`, `=` and an optional quote in `tag`.
fn label_after(tag: &[u8], name: &[u8]) -> Option<&'static Encoding> {
    encoding_for(raw_label_after(tag, name)?)
}

/// The label that follows `name`, `=` and an optional quote in `tag`.
fn raw_label_after<'t>(tag: &'t [u8], name: &[u8]) -> Option<&'t [u8]> {
    let at = find_ascii_ci(tag, name)?;
    let value = tag[at + name.len()..]
        .trim_ascii_start()
        .strip_prefix(b"=")?;
    let value = value.trim_ascii_start();
    let value = value.strip_prefix(b"\"").unwrap_or(value);
    let value = value.strip_prefix(b"'").unwrap_or(value);
    let len = value
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b"-_.:".contains(&b)))
        .unwrap_or(value.len());
    Some(&value[..len]).filter(|label| !label.is_empty())
}

/// The encoding a charset label names: a WHATWG label, or a name documents use for an
/// encoding encoding_rs has under another (`MacCyrillic`, `cp932`, `latin-1`).
fn encoding_for(label: &[u8]) -> Option<&'static Encoding> {
    if let Some(encoding) = Encoding::for_label(label) {
        return Some(encoding);
    }
    let name = String::from_utf8_lossy(label)
        .trim()
        .to_ascii_lowercase()
        .replace('_', "-");
    Encoding::for_label(name.as_bytes()).or(match name.as_str() {
        "maccyrillic" | "mac-cyrillic" | "x-mac-ukrainian" | "macukrainian" => Some(X_MAC_CYRILLIC),
        "macroman" | "mac-roman" | "mac" => Some(MACINTOSH),
        "cp932" | "windows-932" | "shift-jisx0213" => Some(SHIFT_JIS),
        "cp936" | "windows-936" => Some(GBK),
        "cp949" | "windows-949" | "uhc" => Some(EUC_KR),
        "cp950" | "windows-950" | "big5-hkscs" => Some(BIG5),
        "latin-1" | "iso-latin-1" | "cp819" => Some(WINDOWS_1252),
        _ => None,
    })
}

/// Where a document may declare its charset.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Declaration {
    /// `<meta charset>` of an HTML page.
    Html,
    /// The XML declaration of a feed.
    Xml,
}

/// A warning when the document declares a charset newswatch cannot decode (`IBM855`) and its
/// bytes need one (they are not UTF-8): it is read in the encoding detected instead, named.
pub(crate) fn unsupported_charset(bytes: &[u8], declaration: Declaration) -> Option<String> {
    if bom(bytes).is_some() || std::str::from_utf8(bytes).is_ok() || mostly_utf8(bytes) {
        return None;
    }
    let label = match declaration {
        Declaration::Html => {
            let head = &bytes[..bytes.len().min(PRESCAN)];
            let mut rest = head;
            let mut found = None;
            while let Some(at) = find_ascii_ci(rest, b"<meta") {
                let tag = &rest[at..];
                let end = tag.iter().position(|&b| b == b'>').unwrap_or(tag.len());
                if let Some(label) = raw_label_after(&tag[..end], b"charset") {
                    found = Some(label);
                    break;
                }
                rest = &tag[end..];
            }
            found
        }
        Declaration::Xml => {
            let start = &bytes[..bytes.len().min(PRESCAN)];
            let decl = start.trim_ascii_start().strip_prefix(b"<?xml")?;
            let end = decl.windows(2).position(|w| w == b"?>")?;
            raw_label_after(&decl[..end], b"encoding")
        }
    }?;
    if encoding_for(label).is_some() {
        return None;
    }
    Some(format!(
        "declares the charset {:?}, which newswatch cannot decode: read as {} (detected)",
        String::from_utf8_lossy(label),
        detect(bytes).name()
    ))
}

fn find_ascii_ci(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

/// Rewrites the XML declaration of text decoded to UTF-8 so that an XML parser does not
/// decode it a second time with the charset it names.
pub(crate) fn as_utf8_xml(text: &str) -> Cow<'_, str> {
    let text = text.trim_start_matches('\u{feff}').trim_start();
    // Every `<?xml …?>`: the one at the start is the declaration, rewritten to say UTF-8 (the
    // text is UTF-8 now); any later one is not a declaration at all, and is dropped so the XML
    // parser never switches encodings half-way (quick-xml panics when asked to).
    // Each `?>` is looked for once (a file of `<?xml ` took minutes): one that starts inside
    // the one before ends with it, and when one has no end, none after it has.
    let mut decls: Vec<(usize, usize)> = Vec::new();
    let mut count = 0;
    for (i, _) in text.match_indices("<?xml") {
        if !text[i + 5..].starts_with(|c: char| c.is_whitespace() || c == '?') {
            continue;
        }
        if decls.last().is_some_and(|&(_, end)| i < end) {
            count += 1;
            continue;
        }
        let Some(end) = text[i..].find("?>") else {
            break;
        };
        decls.push((i, i + end + 2));
        count += 1;
    }
    if decls.is_empty()
        || (count == 1 && decls[0].0 == 0 && !text[..decls[0].1].contains("encoding"))
    {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (start, end) in decls {
        out.push_str(&text[copied..start]);
        if start == 0 {
            let version = if text[..end].contains("1.1") {
                "1.1"
            } else {
                "1.0"
            };
            out.push_str(&format!("<?xml version=\"{version}\" encoding=\"utf-8\"?>"));
        }
        copied = end;
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_declarations_are_rewritten_or_dropped() {
        assert_eq!(
            as_utf8_xml("<?xml version=\"1.0\" encoding=\"iso-8859-7\"?><rss/>"),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss/>"
        );
        // A declaration after a comment is no declaration: dropped (quick-xml panicked on it).
        assert_eq!(
            as_utf8_xml("<!-- c --><?xml version=\"1.0\" encoding=\"iso-8859-7\"?><rss/>"),
            "<!-- c --><rss/>"
        );
        assert_eq!(
            as_utf8_xml("<?xml version=\"1.0\"?><rss/>"),
            "<?xml version=\"1.0\"?><rss/>"
        );
        assert_eq!(as_utf8_xml("<rss/>"), "<rss/>");
        assert_eq!(
            as_utf8_xml("<?xml <?xml version='1.0'?><rss/><?xml x?>"),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss/>"
        );
        assert_eq!(as_utf8_xml("<rss/><?xml x"), "<rss/><?xml x");
    }

    fn text(bytes: &[u8]) -> String {
        check_text(bytes).unwrap();
        decode(bytes, None).into_owned()
    }

    #[test]
    fn boms_select_the_encoding() {
        assert_eq!(text(b"\xEF\xBB\xBFabc"), "abc");
        assert_eq!(text(b"\xFF\xFEa\0b\0"), "ab");
        assert_eq!(text(b"\xFE\xFF\0a\0b"), "ab");
        assert_eq!(text(b"\xFF\xFE\0\0a\0\0\0"), "a");
        assert_eq!(text(b"\0\0\xFE\xFF\0\0\0a"), "a");
    }

    #[test]
    fn utf16_and_32_without_bom_are_text_not_binary() {
        assert_eq!(text(b"<\0?\0x\0m\0l\0"), "<?xml");
        assert_eq!(text(b"\0<\0?\0x"), "<?x");
        assert_eq!(text(b"<\0\0\0a\0\0\0"), "<a");
        assert_eq!(check_text(b"ab\0c"), Err(NotText { offset: 2 }));
        assert_eq!(check_text(b"PK\x03\x04\0\0"), Err(NotText { offset: 4 }));
    }

    #[test]
    fn stray_nul_bytes_past_the_start_of_a_text_are_left_out() {
        let mut page = "<p>Words of a saved page.</p>\n".repeat(400).into_bytes();
        page[9_000] = 0;
        page[11_000] = 0;
        let read = text(&page);
        assert_eq!(read.len(), page.len() - 2);
        assert!(!read.contains('\0'));
        // At the start, or many: binary.
        page[100] = 0;
        assert_eq!(check_text(&page), Err(NotText { offset: 100 }));
        page[100] = b'x';
        for i in (8_192..page.len()).step_by(10) {
            page[i] = 0;
        }
        assert!(check_text(&page).is_err());
    }

    #[test]
    fn legacy_encodings_are_detected() {
        let latin1 = b"Le pr\xe9sident fran\xe7ais a d\xe9clar\xe9 que l'\xe9t\xe9 serait chaud \xe0 P\xe9kin.";
        assert!(text(latin1).contains("président français"));
        let (sjis, _, _) = encoding_rs::SHIFT_JIS
            .encode("エヌビディアの半導体を中国企業が購入した。日本語の文章です。");
        assert!(text(&sjis).contains("半導体"));
        // A stray Latin-1 byte in ASCII text is Latin-1 (the BBC's `sport/199.txt`).
        let bbc =
            text(b"Chelsea will not ask for the fee for Mutu, a \xA315.8m signing from Parma.");
        assert!(bbc.contains("\u{a3}15.8m"), "{bbc}");
        // Too little evidence for any encoding: replacement characters.
        assert_eq!(text(b"Title \xff\xfe"), "Title \u{fffd}\u{fffd}");
        // A few bytes side by side, each what Western text holds: Windows-1252.
        assert_eq!(text(b"This is a \xa3\x93test.\x94"), "This is a £“test.”");
        // C1 controls in UTF-8 are Windows-1252 text read as Latin-1 once.
        assert_eq!(
            text("don\u{92}t \u{93}quote\u{94}".as_bytes()),
            "don’t “quote”"
        );
        // A stray bad byte in UTF-8 text keeps the rest UTF-8.
        let mut mixed = "Pékin, été, à Paris, déjà ".as_bytes().to_vec();
        mixed.push(0xA3);
        assert!(text(&mixed).starts_with("Pékin, été, à Paris"));
    }

    /// Western text in Windows-1252 with few non-ASCII bytes, and Central European and Turkish
    /// text with few, each read in its encoding.
    #[test]
    fn mostly_ascii_western_text_is_windows_1252() {
        let western = [
            "The company said on Tuesday that it had raised \u{a3}2,900 from investors, and \u{201c}we\u{2019}re delighted\u{201d} with the result, its chief executive told reporters.",
            "Britain\u{2019}s chip designer said revenue rose to \u{a3}120m. \u{201c}Demand remains strong,\u{201d} the chief executive said. Analysts had expected \u{a3}110m, and the shares rose.",
            "The European Commission fined the company \u{20ac}2.4bn on Wednesday. \u{201c}This is a clear signal,\u{201d} the commissioner said of the firm\u{2019}s practices.",
            "Intel\u{ae} and AMD\u{ae} chips \u{2013} about \u{a3}300 each \u{2013} are in the new servers, the company\u{2019}s report says, with \u{a5}40,000 for the Japanese model.",
            "Le pr\u{e9}sident a d\u{e9}clar\u{e9} mardi que la soci\u{e9}t\u{e9} investirait \u{e0} Grenoble, pr\u{e8}s de l\u{2019}usine o\u{f9} \u{ab} tout a commenc\u{e9} \u{bb}.",
            "Die Bundesregierung will die F\u{f6}rderung f\u{fc}r Halbleiter erh\u{f6}hen. \u{201e}Das ist wichtig\u{201c}, sagte der Minister. Kosten: 5 Mrd. \u{20ac}.",
        ];
        for text in western {
            let bytes = WINDOWS_1252.encode(text).0;
            assert_eq!(decode(&bytes, None), text);
        }
        let others = [
            (
                WINDOWS_1250,
                "Prezydent powiedzia\u{142} we wtorek, \u{17c}e sp\u{f3}\u{142}ka zainwestuje w now\u{105} fabryk\u{119} chip\u{f3}w.",
            ),
            (
                WINDOWS_1250,
                "Prezident v \u{fa}ter\u{fd} \u{159}ekl, \u{17e}e spole\u{10d}nost bude investovat do nov\u{e9} tov\u{e1}rny na \u{10d}ipy v \u{10c}esk\u{e9} republice.",
            ),
            (
                ISO_8859_2,
                "Spolo\u{10d}nos\u{165} \u{161}tartuje v\u{fd}robu \u{10d}ipov v \u{17d}iline, povedal \u{161}\u{e9}f firmy.",
            ),
            (
                WINDOWS_1254,
                "Cumhurba\u{15f}kan\u{131} sal\u{131} g\u{fc}n\u{fc} \u{15f}irketin yeni bir \u{e7}ip fabrikas\u{131}na yat\u{131}r\u{131}m yapaca\u{11f}\u{131}n\u{131} s\u{f6}yledi.",
            ),
        ];
        for (encoding, text) in others {
            let bytes = encoding.encode(text).0;
            assert_eq!(decode(&bytes, None), text, "{}", encoding.name());
        }
    }

    #[test]
    fn undecodable_declared_charsets_are_named() {
        let cyrillic = b"<?xml version=\"1.0\" encoding=\"IBM855\"?><rss><channel><title>\xdd\xe1\xb7\xeb\xa8\xe5</title></channel></rss>";
        let warning = unsupported_charset(cyrillic, Declaration::Xml).unwrap();
        assert!(
            warning.starts_with(
                "declares the charset \"IBM855\", which newswatch cannot decode: read as "
            ),
            "{warning}"
        );
        assert!(warning.ends_with(" (detected)"), "{warning}");
        let page = b"<html><head><meta charset=\"x-unknown-8\"></head><body>caf\xe9 cr\xe8me</body></html>";
        assert!(
            unsupported_charset(page, Declaration::Html)
                .unwrap()
                .contains("\"x-unknown-8\"")
        );
        // UTF-8 bytes need no charset; one encoding_rs knows by another name is no problem.
        let utf8 = "<?xml version='1.0' encoding='IBM855'?><rss>Привет</rss>";
        assert_eq!(unsupported_charset(utf8.as_bytes(), Declaration::Xml), None);
        let mac =
            b"<?xml version='1.0' encoding='MacCyrillic'?><rss>\x8f\xf0\xe8\xe2\xe5\xf2</rss>";
        assert_eq!(unsupported_charset(mac, Declaration::Xml), None);
        assert_eq!(xml_encoding(mac), Some(X_MAC_CYRILLIC));
        assert!(decode(mac, xml_encoding(mac)).contains("Привет"));
        assert_eq!(encoding_for(b"cp932"), Some(SHIFT_JIS));
        assert_eq!(encoding_for(b"IBM855"), None);
    }

    #[test]
    fn declared_charsets_apply_to_non_utf8_bytes_only() {
        let koi8 = encoding_rs::KOI8_R.encode("Привет").0;
        assert_eq!(decode(&koi8, Some(encoding_rs::KOI8_R)), "Привет");
        // A page labelled gb2312 whose bytes are UTF-8 is UTF-8.
        assert_eq!(decode("中文".as_bytes(), Some(encoding_rs::GBK)), "中文");
        // ISO-2022-JP is 7-bit, so also valid UTF-8: its escapes give it away.
        let jis = ISO_2022_JP.encode("日本語").0;
        assert_eq!(text(&jis), "日本語");
    }

    #[test]
    fn charset_declarations_are_found() {
        let html =
            b"<html><head><META http-equiv='Content-Type' content='text/html; charset=Shift_JIS'>";
        assert_eq!(html_charset(html), Some(encoding_rs::SHIFT_JIS));
        assert_eq!(
            html_charset(b"<meta charset=\"iso-8859-1\">"),
            Some(encoding_rs::WINDOWS_1252)
        );
        assert_eq!(html_charset(b"<meta name=x>"), None);
        let xml = b"<?xml version=\"1.0\" encoding=\"EUC-JP\"?><rss/>";
        assert_eq!(xml_encoding(xml), Some(encoding_rs::EUC_JP));
        assert_eq!(
            as_utf8_xml("<?xml version='1.0' encoding='EUC-JP'?><rss/>"),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss/>"
        );
    }
}
