//! Snippets: the short excerpts of an article that alerts show around each term they found.
//!
//! Every alert carries one per term, so this runs thousands of times in a scan: windows of
//! plain ASCII — most of them — are cut and collapsed byte by byte, the others char by char,
//! with the same result.

use std::ops::Range;

/// A short, single-line excerpt of `text` around `span`: about `context` bytes either side, cut
/// at word boundaries, white space collapsed, with `…` where text was left out.
pub fn snippet(text: &str, span: Range<usize>, context: usize) -> String {
    let floor = |mut i: usize| {
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let mut start = floor(span.start.saturating_sub(context));
    let mut end = floor((span.end + context).min(text.len()));
    let ascii = text.as_bytes()[start..end].is_ascii();
    if start > 0 {
        // Start after the first space so the snippet does not open on half a word.
        if let Some(sp) = first_space(&text[start..span.start], ascii) {
            start += sp;
        }
    }
    if end < text.len()
        && let Some(sp) = last_space(&text[span.end..end], ascii)
    {
        end = span.end + sp;
    }
    let mut out = String::with_capacity(end - start + 8);
    if start > 0 {
        out.push('…');
    }
    let window = &text[start..end];
    if ascii {
        collapse_ascii(window, &mut out);
    } else {
        collapse(window, &mut out);
    }
    if end < text.len() {
        out.push('…');
    }
    out
}

/// What `char::is_whitespace` says of an ASCII byte.
fn is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ')
}

fn first_space(s: &str, ascii: bool) -> Option<usize> {
    if ascii {
        s.bytes().position(is_space)
    } else {
        s.find(char::is_whitespace)
    }
}

fn last_space(s: &str, ascii: bool) -> Option<usize> {
    if ascii {
        s.bytes().rposition(is_space)
    } else {
        s.rfind(char::is_whitespace)
    }
}

/// Appends the words of `s` separated by single spaces.
fn collapse(s: &str, out: &mut String) {
    let mut words = s.split_whitespace();
    if let Some(first) = words.next() {
        out.push_str(first);
        for w in words {
            out.push(' ');
            out.push_str(w);
        }
    }
}

/// [`collapse`] for ASCII text: in one piece when its only white space is single spaces
/// between words, as in most running text.
fn collapse_ascii(s: &str, out: &mut String) {
    let trimmed = s.trim_matches(|c: char| c.is_ascii() && is_space(c as u8));
    let bytes = trimmed.as_bytes();
    // No early exit: the loop runs on whole vectors of bytes.
    let controls = bytes
        .iter()
        .fold(false, |any, &b| any | matches!(b, b'\t'..=b'\r'));
    if !controls && !trimmed.contains("  ") {
        out.push_str(trimmed);
        return;
    }
    let mut space = false;
    for &b in bytes {
        if is_space(b) {
            space = true;
        } else {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(b as char);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_cuts_at_words() {
        let text = "one two three four five six seven eight nine ten";
        let at = text.find("five").unwrap();
        assert_eq!(snippet(text, at..at + 4, 9), "…four five six…");
        assert_eq!(snippet("a\n\nb", 0..1, 80), "a b");
    }

    #[test]
    fn ascii_and_unicode_paths_agree() {
        let text = "  Lead\t\tline,\x0bvertical\x0ctab\r\nand  more  words here. ";
        for a in 0..text.len() {
            for b in a..=text.len() {
                let s = &text[a..b];
                assert_eq!(first_space(s, true), first_space(s, false), "{s:?}");
                assert_eq!(last_space(s, true), last_space(s, false), "{s:?}");
                let (mut x, mut y) = (String::new(), String::new());
                collapse_ascii(s, &mut x);
                collapse(s, &mut y);
                assert_eq!(x, y, "{s:?}");
            }
        }
    }

    #[test]
    fn unicode_white_space_counts() {
        let text = "un\u{a0}deux\u{2003}trois\u{3000}quatre cinq";
        let at = text.find("trois").unwrap();
        assert_eq!(snippet(text, at..at + 5, 12), "un deux trois quatre…");
        assert_eq!(snippet(text, at..at + 5, 6), "…trois…");
    }
}
