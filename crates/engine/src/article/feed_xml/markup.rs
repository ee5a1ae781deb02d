//! What starts with `<` and is not an element: comments, processing instructions, the
//! doctype, CDATA sections, and a `<` that starts nothing (escaped as text).

use super::names::{holds_end_tag, is_name_start};
use super::{End, Scanner};

impl<'a> Scanner<'a> {
    pub(super) fn bracket(&mut self) {
        if self.starts("]]>") {
            self.damage.cdata_end += 1;
            self.text_out("]]&gt;");
            self.pos += 3;
        } else {
            self.text_out("]");
            self.pos += 1;
        }
    }

    /// Text the scanner made, written where text goes.
    pub(super) fn text_out(&mut self, text: &str) {
        if self.before_text() {
            self.last_void = None;
            self.out.push_str(text);
        }
    }

    /// The markup at a `<`.
    pub(super) fn markup(&mut self) -> Result<End, String> {
        if self.starts("<!--") {
            return Ok(self.copy_until("-->", 4));
        }
        if self.starts("<![CDATA[") {
            if !self.before_text() {
                let end = self.src[self.pos..]
                    .find("]]>")
                    .map_or(self.b.len(), |e| self.pos + e + 3);
                self.pos = end;
                return Ok(End::Whole);
            }
            return Ok(self.cdata(None));
        }
        if self.b.len() >= self.pos + 9
            && self.b[self.pos..self.pos + 9].eq_ignore_ascii_case(b"<!DOCTYPE")
        {
            return Ok(self.doctype());
        }
        if self.starts("<?") {
            return Ok(self.copy_until("?>", 2));
        }
        if self.starts("</") {
            return Ok(self.end_tag());
        }
        if self.b.get(self.pos + 1).is_some_and(|&c| is_name_start(c)) {
            return self.start_tag();
        }
        self.stray_lt();
        Ok(End::Whole)
    }

    pub(super) fn stray_lt(&mut self) {
        self.damage.stray_lt += 1;
        self.text_out("&lt;");
        self.pos += 1;
    }

    /// Copies a comment or processing instruction whole (kept after a pending end tag).
    pub(super) fn copy_until(&mut self, end: &str, from: usize) -> End {
        let Some(at) = self.src[self.pos + from..].find(end) else {
            return End::CutOff;
        };
        let stop = self.pos + from + at + end.len();
        let piece = &self.src[self.pos..stop];
        match self.pending_tail() {
            Some(tail) => tail.push_str(piece),
            None => self.out.push_str(piece),
        }
        self.pos = stop;
        End::Whole
    }

    /// `<!DOCTYPE …>`, its internal subset included, copied as it is.
    pub(super) fn doctype(&mut self) -> End {
        let mut i = self.pos + 9;
        let mut quote = None;
        let mut depth = 0usize;
        while let Some(&c) = self.b.get(i) {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, b'"' | b'\'') => quote = Some(c),
                (None, b'[') => depth += 1,
                (None, b']') => depth = depth.saturating_sub(1),
                (None, b'>') if depth == 0 => {
                    self.out.push_str(&self.src[self.pos..=i]);
                    self.pos = i + 1;
                    return End::Whole;
                }
                _ => {}
            }
            i += 1;
        }
        End::CutOff
    }

    /// A CDATA section at the scan position: copied, or read as one when sections are
    /// nested in it.
    pub(super) fn cdata(&mut self, within: Option<&str>) -> End {
        let start = self.pos + 9;
        let Some(first) = self.src[start..].find("]]>").map(|e| start + e) else {
            return End::CutOff;
        };
        let mut opens = self.src[start..first].matches("<![CDATA[").count();
        let mut end = first;
        // Sections nested in this one: it goes on past its first `]]>` to as many more as
        // sections were opened in it, when what lies between is text of the element it is in
        // (in XML, a `]]>` there is damage) — not past the element's end tag, and outside a
        // text element not past any markup.
        let mut i = first + 3;
        let mut nested = false;
        while opens > 0 {
            let Some(next) = self.src[i..].find("]]>").map(|e| i + e) else {
                break;
            };
            let segment = &self.src[i..next];
            let text = match within {
                Some(name) => !holds_end_tag(segment, name),
                None => segment
                    .match_indices('<')
                    .all(|(k, _)| segment[k..].starts_with("<![CDATA[")),
            };
            if !text {
                break;
            }
            opens += segment.matches("<![CDATA[").count();
            opens -= 1;
            end = next;
            nested = true;
            i = next + 3;
        }
        if nested && opens == 0 {
            self.damage.nested_cdata += 1;
            let inner = self.src[start..end]
                .replace("<![CDATA[", "")
                .replace("]]>", "");
            self.out.push_str("<![CDATA[");
            self.out.push_str(&inner);
            self.out.push_str("]]>");
            self.pos = end + 3;
        } else {
            self.out.push_str(&self.src[self.pos..first + 3]);
            self.pos = first + 3;
        }
        self.last_void = None;
        End::Whole
    }
}
