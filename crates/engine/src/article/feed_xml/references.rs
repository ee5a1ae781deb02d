//! `&` in feed text: entity and character references kept, decoded or mended, and a bare
//! `&` escaped.

use std::borrow::Cow;
use std::collections::HashSet;

use super::Scanner;
use super::names::{is_name_byte, is_name_start};

/// A character reference's code point as the character meant: C1 controls as Windows-1252
/// (as browsers read them), `None` for what is no character XML allows.
pub(super) fn referenced_char(code: u32) -> Option<(char, bool)> {
    if (0x80..=0x9F).contains(&code) {
        let c = html5ever::data::C1_REPLACEMENTS[(code - 0x80) as usize]?;
        return Some((c, true));
    }
    let c = char::from_u32(code)?;
    let allowed =
        matches!(code, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF);
    allowed.then_some((c, false))
}

/// What an `&` at the start of `s` is.
pub(super) enum Reference<'s> {
    /// A well-formed reference XML reads (predefined, declared, or a character reference),
    /// `len` bytes long: kept.
    Keep(usize),
    /// A character reference without `;` or to a C1 control: the character, and the length.
    Char(char, usize, bool),
    /// A reference to no character: the reference as written.
    Bad(&'s str),
    /// An HTML entity: its characters, and the name with its `;`.
    Html(char, Option<char>, &'s str),
    /// `&name;` that nothing defines.
    Undefined(&'s str),
    /// An `&` that starts no reference.
    Bare,
}

pub(super) fn reference<'s>(s: &'s str, declared: &HashSet<String>) -> Reference<'s> {
    let b = s.as_bytes();
    if b.get(1) == Some(&b'#') {
        let hex = matches!(b.get(2), Some(b'x' | b'X'));
        let start = if hex { 3 } else { 2 };
        let digits = b[start.min(b.len())..]
            .iter()
            .take(9)
            .take_while(|c| {
                if hex {
                    c.is_ascii_hexdigit()
                } else {
                    c.is_ascii_digit()
                }
            })
            .count();
        if digits == 0 {
            return Reference::Bare;
        }
        let end = start + digits;
        let terminated = b.get(end) == Some(&b';');
        let len = end + usize::from(terminated);
        let code = u32::from_str_radix(&s[start..end], if hex { 16 } else { 10 }).ok();
        return match code.and_then(referenced_char) {
            Some((_, false)) if terminated => Reference::Keep(len),
            Some((c, c1)) => Reference::Char(c, len, c1),
            None => Reference::Bad(&s[..len]),
        };
    }
    if !b.get(1).is_some_and(|&c| is_name_start(c) && c != b':') {
        return Reference::Bare;
    }
    let name_len = b[1..]
        .iter()
        .take(40)
        .take_while(|&&c| is_name_byte(c))
        .count();
    if b.get(1 + name_len) != Some(&b';') {
        return Reference::Bare;
    }
    let name = &s[1..1 + name_len];
    if matches!(name, "lt" | "gt" | "amp" | "quot" | "apos") || declared.contains(name) {
        return Reference::Keep(name_len + 2);
    }
    let with_semicolon = &s[1..name_len + 2];
    match html5ever::data::NAMED_ENTITIES.get(with_semicolon) {
        Some(&(first, second)) if first != 0 => match char::from_u32(first) {
            Some(c) => Reference::Html(
                c,
                char::from_u32(second).filter(|_| second != 0),
                with_semicolon,
            ),
            None => Reference::Undefined(with_semicolon),
        },
        _ => Reference::Undefined(with_semicolon),
    }
}

/// `c` as a character reference (safe in text and attribute values alike).
pub(super) fn push_char_ref(out: &mut String, c: char) {
    out.push_str(&format!("&#{};", u32::from(c)));
}

impl<'a> Scanner<'a> {
    pub(super) fn amp(&mut self) {
        let len = match reference(self.rest(), self.declared) {
            Reference::Keep(len) | Reference::Char(_, len, _) => len,
            Reference::Bad(r) => r.len(),
            Reference::Html(_, _, r) | Reference::Undefined(r) => r.len() + 1,
            Reference::Bare => 1,
        };
        if !self.before_text() {
            self.pos += len;
            return;
        }
        self.last_void = None;
        let consumed = self.reference_into_out(self.pos);
        self.pos += consumed;
    }

    /// Writes the reference (or bare `&`) at `at` of the source to the output, repaired;
    /// returns its length in the source.
    pub(super) fn reference_into_out(&mut self, at: usize) -> usize {
        let src = self.src;
        match reference(&src[at..], self.declared) {
            Reference::Keep(len) => {
                self.out.push_str(&src[at..at + len]);
                len
            }
            Reference::Char(c, len, c1) => {
                if c1 {
                    self.damage.c1_references += 1;
                } else {
                    self.damage
                        .bad_references
                        .add(|| src[at..at + len].to_string());
                }
                push_char_ref(&mut self.out, c);
                len
            }
            Reference::Bad(written) => {
                self.damage.bad_references.add(|| written.to_string());
                push_char_ref(&mut self.out, char::REPLACEMENT_CHARACTER);
                written.len()
            }
            Reference::Html(c, second, name) => {
                self.damage.html_entities.add(|| format!("&{name}"));
                push_char_ref(&mut self.out, c);
                if let Some(second) = second {
                    push_char_ref(&mut self.out, second);
                }
                name.len() + 1
            }
            Reference::Undefined(name) => {
                self.damage.undefined_entities.add(|| format!("&{name}"));
                self.out.push_str("&amp;");
                self.out.push_str(name);
                name.len() + 1
            }
            Reference::Bare => {
                self.damage.bare_amp += 1;
                self.out.push_str("&amp;");
                1
            }
        }
    }
}

/// Plain text with its HTML character references decoded (`&eacute;`, `&amp;`, `&#233;`):
/// what a feed's plain-text field means when its writer escaped it once more than needed.
pub(in crate::article) fn decode_references(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    let none = HashSet::new();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (at, _) in text.match_indices('&') {
        if at < copied {
            continue;
        }
        let (decoded, len): (String, usize) = match reference(&text[at..], &none) {
            Reference::Keep(len) => {
                let r = &text[at + 1..at + len - 1];
                let c = match r {
                    "lt" => '<',
                    "gt" => '>',
                    "amp" => '&',
                    "quot" => '"',
                    "apos" => '\'',
                    _ => {
                        let n = &r[1..];
                        let code = match n.strip_prefix(['x', 'X']) {
                            Some(hex) => u32::from_str_radix(hex, 16).ok(),
                            None => n.parse().ok(),
                        };
                        match code.and_then(char::from_u32) {
                            Some(c) => c,
                            None => continue,
                        }
                    }
                };
                (c.to_string(), len)
            }
            Reference::Char(c, len, _) => (c.to_string(), len),
            Reference::Html(c, second, name) => {
                let mut s = c.to_string();
                s.extend(second);
                (s, name.len() + 1)
            }
            Reference::Bad(_) | Reference::Undefined(_) | Reference::Bare => continue,
        };
        out.push_str(&text[copied..at]);
        out.push_str(&decoded);
        copied = at + len;
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}
