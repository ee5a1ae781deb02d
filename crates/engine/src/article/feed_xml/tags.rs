//! Reading a tag as written (unquoted, valueless or repeated attributes included) and
//! writing it back well-formed.

use std::collections::HashSet;

use super::Scanner;
use super::names::is_name_byte;
use super::references::{Reference, reference};

/// A tag's parts, as offsets into the source.
pub(super) struct Tag {
    pub(super) name: (usize, usize),
    pub(super) attrs: Vec<Attr>,
    pub(super) self_closing: bool,
    /// Offset just after the tag's `>`.
    pub(super) end: usize,
    /// Written as XML allows (quoted values, no duplicates): copied as it is.
    pub(super) clean: bool,
}

pub(super) struct Attr {
    pub(super) name: (usize, usize),
    /// The value without its quotes, and the quote.
    pub(super) value: Option<((usize, usize), Option<u8>)>,
}

/// Why a tag could not be read.
pub(super) enum NotATag {
    /// The text ended inside it.
    CutOff,
    /// Something no tag holds (a `<` inside it): the `<` was text.
    Text,
}

impl<'a> Scanner<'a> {
    /// Reads the tag at the scan position.
    pub(super) fn read_tag(&self, at: usize) -> Result<Tag, NotATag> {
        let b = self.b;
        let name_start = at + 1 + usize::from(b.get(at + 1) == Some(&b'/'));
        let mut i = name_start;
        while b.get(i).is_some_and(|&c| is_name_byte(c)) {
            i += 1;
        }
        let name = (name_start, i);
        let mut attrs: Vec<Attr> = Vec::new();
        let mut clean = true;
        loop {
            while b.get(i).is_some_and(u8::is_ascii_whitespace) {
                i += 1;
            }
            match b.get(i) {
                None => return Err(NotATag::CutOff),
                Some(b'>') => {
                    return Ok(Tag {
                        name,
                        attrs,
                        self_closing: false,
                        end: i + 1,
                        clean,
                    });
                }
                Some(b'/') if b.get(i + 1) == Some(&b'>') => {
                    return Ok(Tag {
                        name,
                        attrs,
                        self_closing: true,
                        end: i + 2,
                        clean,
                    });
                }
                Some(b'<') => return Err(NotATag::Text),
                Some(_) => {}
            }
            let attr_start = i;
            while b.get(i).is_some_and(|&c| is_name_byte(c)) {
                i += 1;
            }
            if i == attr_start {
                // A byte no attribute starts with (`"`, `=`, a lone `/`): dropped.
                clean = false;
                i += 1;
                continue;
            }
            let attr_name = (attr_start, i);
            let mut j = i;
            while b.get(j).is_some_and(u8::is_ascii_whitespace) {
                j += 1;
            }
            if b.get(j) != Some(&b'=') {
                clean = false;
                attrs.push(Attr {
                    name: attr_name,
                    value: None,
                });
                continue;
            }
            j += 1;
            while b.get(j).is_some_and(u8::is_ascii_whitespace) {
                j += 1;
            }
            match b.get(j) {
                None => return Err(NotATag::CutOff),
                Some(&q @ (b'"' | b'\'')) => {
                    let value_start = j + 1;
                    let Some(len) = b[value_start..].iter().position(|&c| c == q || c == b'<')
                    else {
                        return Err(NotATag::CutOff);
                    };
                    if b[value_start + len] == b'<' {
                        return Err(NotATag::Text);
                    }
                    attrs.push(Attr {
                        name: attr_name,
                        value: Some(((value_start, value_start + len), Some(q))),
                    });
                    i = value_start + len + 1;
                }
                Some(_) => {
                    clean = false;
                    let value_start = j;
                    while b
                        .get(j)
                        .is_some_and(|&c| !c.is_ascii_whitespace() && c != b'>' && c != b'<')
                    {
                        j += 1;
                    }
                    attrs.push(Attr {
                        name: attr_name,
                        value: Some(((value_start, j), None)),
                    });
                    i = j;
                }
            }
        }
    }

    /// The value of attribute `name` of `tag`, as written.
    pub(super) fn attr(&self, tag: &Tag, name: &str) -> Option<&'a str> {
        let src = self.src;
        tag.attrs.iter().find_map(|a| {
            let written = &src[a.name.0..a.name.1];
            (written == name).then(|| match a.value {
                Some(((s, e), _)) => &src[s..e],
                None => written,
            })
        })
    }

    /// Writes `tag` as a start tag, repaired where it needs (values quoted and their
    /// references mended, duplicates dropped); `self_closing` ends it with `/>`.
    pub(super) fn write_start_tag(&mut self, at: usize, tag: &Tag, self_closing: bool) {
        self.write_start_tag_typed(at, tag, self_closing, None);
    }

    /// [`Self::write_start_tag`], with its `type` set to `kind` when given.
    pub(super) fn write_start_tag_typed(
        &mut self,
        at: usize,
        tag: &Tag,
        self_closing: bool,
        kind: Option<&str>,
    ) {
        let values_clean = tag.attrs.iter().all(|a| match a.value {
            Some(((s, e), Some(_))) => self.value_is_clean(s, e),
            _ => false,
        });
        let names = || tag.attrs.iter().map(|a| &self.src[a.name.0..a.name.1]);
        let unique = if tag.attrs.len() <= 8 {
            names()
                .enumerate()
                .all(|(i, n)| names().take(i).all(|m| m != n))
        } else {
            let mut seen = HashSet::new();
            names().all(|n| seen.insert(n))
        };
        if tag.clean && values_clean && unique && self_closing == tag.self_closing && kind.is_none()
        {
            self.out.push_str(&self.src[at..tag.end]);
            return;
        }
        if !(tag.clean && unique) {
            self.damage.attributes += 1;
        }
        let src = self.src;
        self.out.push('<');
        self.out.push_str(&src[tag.name.0..tag.name.1]);
        let mut written = HashSet::new();
        for a in &tag.attrs {
            let name = &src[a.name.0..a.name.1];
            if !written.insert(name) || (kind.is_some() && name == "type") {
                continue;
            }
            self.out.push(' ');
            self.out.push_str(name);
            self.out.push_str("=\"");
            match a.value {
                Some(((s, e), _)) => self.value_into_out(s, e),
                None => self.out.push_str(name),
            }
            self.out.push('"');
        }
        if let Some(kind) = kind {
            self.out.push_str(" type=\"");
            self.out.push_str(kind);
            self.out.push('"');
        }
        self.out.push_str(if self_closing { "/>" } else { ">" });
    }

    /// Whether an attribute value needs no repair.
    pub(super) fn value_is_clean(&self, s: usize, e: usize) -> bool {
        let value = &self.src[s..e];
        value
            .match_indices('&')
            .all(|(i, _)| matches!(reference(&value[i..], self.declared), Reference::Keep(_)))
    }

    /// An attribute value, written between double quotes, its references mended.
    pub(super) fn value_into_out(&mut self, s: usize, e: usize) {
        let mut i = s;
        while i < e {
            match self.b[i] {
                b'&' => {
                    let len = self.reference_into_out(i);
                    i += len.min(e - i).max(1);
                }
                b'"' => {
                    self.out.push_str("&quot;");
                    i += 1;
                }
                _ => {
                    let next = self.b[i..e]
                        .iter()
                        .position(|&c| c == b'&' || c == b'"')
                        .map_or(e, |n| i + n);
                    self.out.push_str(&self.src[i..next]);
                    i = next;
                }
            }
        }
    }
}
