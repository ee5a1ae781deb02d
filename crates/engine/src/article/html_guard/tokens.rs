//! The model reading a page: tags, text, raw text and markup declarations, and what each start
//! and end tag does to the stack of open elements.

use super::attributes::{InTag, Step, step};
use super::elements::*;
use super::ends_name;
use super::stack::{Tag, Tree};

impl Tree {
    /// Reads the page's tags and returns the steps the tree builder's walks would take.
    pub(super) fn run(&mut self, bytes: &[u8]) -> u64 {
        let mut at = 0;
        while let Some(found) = bytes[at..].iter().position(|&b| b == b'<') {
            let lt = at + found;
            if lt > at {
                self.text();
            }
            let rest = &bytes[lt..];
            at = match rest.get(1) {
                Some(b'!') => lt + markup_declaration(rest, self.current().foreign),
                Some(b'?') => lt + end_of(rest, b">"),
                Some(b'/') if rest.get(2).is_some_and(u8::is_ascii_alphabetic) => {
                    let Some((tag, len)) = self.tag(&rest[2..]) else {
                        return self.work;
                    };
                    self.end_tag(&tag);
                    lt + 2 + len
                }
                Some(b'/') if rest.get(2) == Some(&b'>') => lt + 3,
                Some(b'/') => lt + end_of(rest, b">"),
                Some(b) if b.is_ascii_alphabetic() => {
                    let Some((tag, len)) = self.tag(&rest[1..]) else {
                        return self.work;
                    };
                    let after = lt + 1 + len;
                    match self.start_tag(&tag) {
                        Content::Markup => after,
                        Content::Text => {
                            // The element is opened and its end tag closes it: neither changes
                            // the stack. Without an end tag the rest is text to the parser
                            // (if the model is right that the element is raw text there): the
                            // model reads it as markup rather than miss markup.
                            let end = after + raw_text(&bytes[after..], &self.buffer);
                            match bytes.get(end + 2..).and_then(|rest| self.tag(rest)) {
                                Some((_, len)) => end + 2 + len,
                                None => after,
                            }
                        }
                        // The same for `<plaintext>`.
                        Content::Rest => after,
                    }
                }
                _ => lt + 1,
            };
            if at >= bytes.len() {
                return self.work;
            }
        }
        self.text();
        self.work
    }

    /// Reads a tag from its name to its `>`: the tag and its length, `None` when the page
    /// ends inside it (html5ever drops such a tag). Leaves the lowercase name in `buffer`.
    pub(super) fn tag(&mut self, from: &[u8]) -> Option<(Tag, usize)> {
        use InTag::*;
        let mut state = TagName;
        let mut name_len = from.len();
        let mut attribute = 0;
        let mut font_breaks_out = false;
        for (i, &b) in from.iter().enumerate() {
            let was = state;
            let step = step(state, b);
            if was == TagName && name_len == from.len() && !matches!(step, Step::To(TagName)) {
                name_len = i;
            }
            if was == AttributeName && !matches!(step, Step::To(AttributeName)) {
                let name = &from[attribute..i];
                font_breaks_out |= [&b"color"[..], b"face", b"size"]
                    .iter()
                    .any(|n| name.eq_ignore_ascii_case(n));
            }
            match step {
                Step::To(to) => state = to,
                Step::NewAttribute => {
                    state = AttributeName;
                    attribute = i;
                }
                Step::End => {
                    self.buffer.clear();
                    self.buffer
                        .extend(from[..name_len].iter().map(u8::to_ascii_lowercase));
                    let buffer = std::mem::take(&mut self.buffer);
                    let name = self.intern(&buffer);
                    self.buffer = buffer;
                    let tag = Tag {
                        name,
                        self_closing: was == SelfClosing,
                        font_breaks_out,
                    };
                    return Some((tag, i + 1));
                }
            }
        }
        None
    }

    pub(super) fn text(&mut self) {
        // Text in a table, outside its cells, is put before the table: the tree builder
        // walks to the table to find the place.
        let current = self.current();
        if current.kinds & (TABLE | SECTION | ROW) != 0 {
            let table = self.top(TABLE);
            self.walk(table);
        }
    }

    /// A `<colgroup>` on top holds only columns and templates: anything else closes it first.
    pub(super) fn leave_colgroup(&mut self, name: u32) {
        let current = self.current();
        let n = &self.names;
        if current.name == n.colgroup
            && !current.foreign
            && ![n.col, n.colgroup, n.template].contains(&name)
        {
            self.pop();
        }
    }

    pub(super) fn start_tag(&mut self, tag: &Tag) -> Content {
        self.leave_colgroup(tag.name);
        let current = self.current();
        if current.ignoring {
            if tag.name == self.names.template {
                self.push(tag.name, Ns::Html);
            }
            return Content::Markup;
        }
        if current.fresh {
            let starts = !self.has(tag.name, HEAD_ONLY);
            let ignores = tag.name == self.names.col;
            let template = self.open.last_mut().expect("html");
            template.fresh &= !starts;
            template.ignoring = ignores;
            if ignores {
                return Content::Markup;
            }
        }
        let foreign = current.foreign
            && !current.integration
            && !(current.name == self.names.annotation_xml && tag.name == self.names.svg);
        if foreign {
            let breaks_out = self.has(tag.name, BREAKOUT)
                || (tag.name == self.names.font && tag.font_breaks_out);
            if !breaks_out {
                if !tag.self_closing {
                    self.push(tag.name, current.ns);
                }
                return Content::Markup;
            }
            // Pops foreign elements down to an HTML element or an integration point.
            while self.current().foreign && !self.current().integration {
                self.pop();
            }
        }
        self.html_start_tag(tag)
    }

    pub(super) fn html_start_tag(&mut self, tag: &Tag) -> Content {
        let name = tag.name;
        if self.has(name, FORM_LISTED) && (self.form_pointer || self.top_html(self.names.form) >= 0)
        {
            // Inserting a form's control with a form open looks for a template on the stack.
            self.walk(0);
        }
        let n = &self.names;
        let (svg, math, xmp, plaintext, hr) = (n.svg, n.math, n.xmp, n.plaintext, n.hr);
        let (li, dd, dt, button, select) = (n.li, n.dd, n.dt, n.button, n.select);
        let (option, optgroup, table) = (n.option, n.optgroup, n.table);
        // The walks the parser makes for a start tag are charged where the model makes them:
        // for most tags (inline elements, unknown ones) it makes none. An element put before
        // a table (text and tags right in a table are) takes a walk to the table.
        if self.current().kinds & (TABLE | SECTION | ROW) != 0 {
            let table = self.top(TABLE);
            self.walk(table);
        }
        if self.has(name, IGNORED) {
            if name == self.names.html || name == self.names.body {
                // Looks for a template on the whole stack.
                self.walk(0);
            }
            return Content::Markup;
        }
        if name == self.names.frameset {
            // Opened only at the start of a page (where nothing else follows it), ignored
            // elsewhere.
            self.push_weak(name);
            return Content::Markup;
        }
        if name == svg || name == math {
            if !tag.self_closing {
                self.push(name, if name == svg { Ns::Svg } else { Ns::MathMl });
            }
            return Content::Markup;
        }
        if self.has(name, RAW_TEXT) {
            if name == xmp {
                self.close_p();
            }
            return Content::Text;
        }
        if name == plaintext {
            self.close_p();
            return Content::Rest;
        }
        if self.has(name, TABLE_PART) {
            self.table_part(name);
            return Content::Markup;
        }
        if self.has(name, VOID) {
            if name == hr {
                self.close_p();
                self.walk(self.top(SCOPE));
                if self.in_scope(select) {
                    self.implied_ends(u32::MAX);
                }
            } else if name == self.names.input {
                self.walk(self.top(SCOPE));
                if self.in_scope(select) {
                    let open = self.top_html(select);
                    self.pop_to(open);
                }
            }
            return Content::Markup;
        }
        if name == li || name == dd || name == dt {
            // Closes the nearest open item of its kind, unless a special element (but
            // `address`, `div`, `p`) comes first.
            let stop = self.top(EXTRA_SPECIAL);
            self.walk(stop);
            if stop >= 0 {
                let found = self.open[stop as usize].name;
                let closes = if name == li {
                    found == li
                } else {
                    found == dd || found == dt
                };
                if closes {
                    self.pop_to(stop);
                }
            }
            self.close_p();
        } else if name == self.names.form {
            // Looks for a template on the whole stack.
            self.walk(0);
            let in_template = self.top_html(self.names.template) >= 0;
            if self.form_pointer && !in_template {
                return Content::Markup;
            }
            self.close_p();
            self.form_pointer |= !in_template;
        } else if self.has(name, CLOSES_P) {
            self.close_p();
            if self.has(name, HEADING_NAME) && self.current().kinds & HEADING != 0 {
                self.pop();
            }
        } else if name == button || name == select {
            self.walk(self.top(SCOPE));
            if self.in_scope(name) {
                let open = self.top_html(name);
                self.pop_to(open);
                if name == select {
                    return Content::Markup;
                }
            }
        } else if name == option || name == optgroup {
            self.walk(self.top(SCOPE));
            if self.in_scope(select) {
                self.implied_ends(if name == option { optgroup } else { u32::MAX });
            } else if self.current().name == option && !self.current().foreign {
                self.pop();
            }
        } else if self.has(name, RUBY_PART) {
            self.walk(self.top(SCOPE));
            if self.in_scope(self.names.ruby) {
                let rtc = self.names.rtc;
                let keep = if name == rtc || name == self.names.rb {
                    u32::MAX
                } else {
                    rtc
                };
                self.implied_ends(keep);
            }
        } else if name == table && self.in_template_table() {
            self.push_weak(name);
            return Content::Markup;
        } else if name == table {
            // Looks for a table in table scope, and a mode from the whole stack after.
            self.walk(0);
            // A table directly in a table (not in a cell, a caption or a template in it;
            // elements put before the table do not count) ends it.
            let open = self.top(TABLE);
            let n = &self.names;
            let inner = [n.caption, n.template]
                .map(|name| self.top_html(name))
                .into_iter()
                .chain([self.top(CELL)])
                .max()
                .unwrap_or(-1);
            if open >= 0 && open > inner {
                self.pop_to(open);
            }
        }
        self.push(name, Ns::Html);
        Content::Markup
    }

    /// The start tags of a table's parts: only read in a table (else ignored), where they
    /// close what is open in the table and add the parts they imply (`<td>` alone implies a
    /// `<tbody>` and a `<tr>`).
    pub(super) fn table_part(&mut self, name: u32) {
        let n = &self.names;
        let (tbody, tr, td, th, col) = (n.tbody, n.tr, n.td, n.th, n.col);
        let context = self.top(TABLE_SCOPE);
        let table = self.top(TABLE);
        // Looks for the open cell, row or section in table scope.
        self.walk(context);
        if self.in_template_table() {
            // In a template the parts of a table are read or ignored, as what the template
            // holds decides: the part is added, weak, and nothing closed.
            if name != col {
                self.push_weak(name);
            }
            return;
        }
        if table < 0 || context > table {
            return;
        }
        let cell = self.top(CELL);
        if cell > table {
            self.pop_to(cell);
        }
        if name == tr || name == td || name == th {
            let row = self.top(ROW);
            if name == tr || row < table {
                // A new row, in the open section or in one it implies.
                let section = self.top(SECTION);
                if section > table {
                    self.pop_to(section + 1);
                } else {
                    self.pop_to(table + 1);
                    self.push(tbody, Ns::Html);
                }
                self.push(tr, Ns::Html);
            } else {
                self.pop_to(row + 1);
            }
            if name != tr {
                self.push(name, Ns::Html);
            }
        } else {
            // caption, colgroup, col, tbody, thead, tfoot
            self.pop_to(table + 1);
            if name != col {
                self.push(name, Ns::Html);
            }
        }
    }

    pub(super) fn end_tag(&mut self, tag: &Tag) {
        let name = tag.name;
        self.leave_colgroup(name);
        if self.current().ignoring && name != self.names.template {
            return;
        }
        if self.current().foreign && (name == self.names.p || name == self.names.br) {
            // `</p>` and `</br>` end foreign content as the breakout start tags do.
            while self.current().foreign && !self.current().integration {
                self.pop();
            }
        }
        if self.current().foreign {
            // Walks down the foreign elements: the first of the name is closed; at an HTML
            // element the tag is read by the HTML rules.
            let html = self.top(HTML_NS);
            let named = self.top_any(name);
            if named > html {
                self.walk(named);
                self.pop_to(named);
                return;
            }
            self.walk(html);
        }
        let n = &self.names;
        if [n.body, n.html, n.br, n.form].contains(&name) {
            // A look for a template or a check of the whole stack, and a scope check.
            self.work += 2 * self.depth() as u64;
            if name == n.form {
                self.end_form();
            }
            return;
        }
        let (p, li, template) = (n.p, n.li, n.template);
        let (target, boundary) = if name == p {
            (self.top_html(name), self.top(SCOPE | BUTTON))
        } else if name == li {
            (self.top_html(name), self.top(SCOPE | LIST))
        } else if self.has(name, HEADING_NAME) {
            (self.top(HEADING), self.top(SCOPE))
        } else if self.has(name, BLOCK_END) {
            (self.top_html(name), self.top(SCOPE))
        } else if self.has(name, TABLE_END) {
            (self.top_html(name), self.top(TABLE_SCOPE))
        } else if name == template {
            // A look for a template from the bottom, and the mode from the top after.
            self.walk(0);
            self.walk(0);
            (self.top_html(name), 0)
        } else {
            // Any other end tag closes the topmost element of its name, unless a special
            // element is open above it.
            (self.top_html(name), self.top(SPECIAL))
        };
        self.walk(target.max(boundary));
        if target >= 0 && target >= boundary {
            self.pop_to(target);
            if name == self.names.table {
                // The parser looks for its mode down the stack.
                self.walk(0);
            }
        }
    }
}

/// What follows a start tag.
pub(super) enum Content {
    Markup,
    /// Text up to the end tag of the element (its name is in `Tree::buffer`).
    Text,
    /// Text to the end of the page (`<plaintext>`), read as markup by the model.
    Rest,
}

/// The length of what `<!` starts: a comment, a CDATA section in foreign content, or up to `>`.
pub(super) fn markup_declaration(rest: &[u8], foreign: bool) -> usize {
    if let Some(comment) = rest.strip_prefix(b"<!--") {
        // `<!-->` and `<!--->` end at once; else at `-->` or `--!>`.
        if comment.starts_with(b">") {
            return 5;
        }
        if comment.starts_with(b"->") {
            return 6;
        }
        let mut from = 0;
        while let Some(dashes) = find(&comment[from..], b"--") {
            let after = &comment[from + dashes + 2..];
            if after.starts_with(b">") {
                return 4 + from + dashes + 3;
            }
            if after.starts_with(b"!>") {
                return 4 + from + dashes + 4;
            }
            from += dashes + 1;
        }
        return rest.len();
    }
    if foreign && rest.starts_with(b"<![CDATA[") {
        return end_of(rest, b"]]>");
    }
    end_of(rest, b">")
}

/// The length of `rest` up to and including the first `needle`, or all of it.
pub(super) fn end_of(rest: &[u8], needle: &[u8]) -> usize {
    find(&rest[1..], needle).map_or(rest.len(), |at| 1 + at + needle.len())
}

pub(super) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The length of the raw text after a `<script>`, `<style>`, `<title>`, … start tag, up to
/// (not including) its end tag, or the rest of the page. `name` is the element's lowercase
/// name. A script's `<!--<script>…</script>` does not end it, as the standard's script data
/// escape states say.
pub(super) fn raw_text(text: &[u8], name: &[u8]) -> usize {
    let end_tag_at = |at: usize| {
        text[at..].starts_with(b"</")
            && text.len() >= at + 2 + name.len()
            && text[at + 2..at + 2 + name.len()].eq_ignore_ascii_case(name)
            && ends_name(text.get(at + 2 + name.len()))
    };
    if name != b"script" {
        let mut at = 0;
        while let Some(lt) = text[at..].iter().position(|&b| b == b'<') {
            if end_tag_at(at + lt) {
                return at + lt;
            }
            at += lt + 1;
        }
        return text.len();
    }
    #[derive(PartialEq)]
    enum Script {
        Data,
        Escaped,
        DoubleEscaped,
    }
    let mut state = Script::Data;
    let mut at = 0;
    while at < text.len() {
        let rest = &text[at..];
        match text[at] {
            b'<' if state != Script::DoubleEscaped && end_tag_at(at) => return at,
            b'<' if state == Script::Data && rest.starts_with(b"<!--") => {
                state = Script::Escaped;
                // `<!-->` is over at once: look for `-->` from the dashes.
                at += 2;
                continue;
            }
            b'<' if state == Script::Escaped
                && rest.len() > 7
                && rest[1..7].eq_ignore_ascii_case(b"script")
                && ends_name(rest.get(7)) =>
            {
                state = Script::DoubleEscaped;
            }
            b'<' if state == Script::DoubleEscaped
                && rest.len() > 8
                && rest[1] == b'/'
                && rest[2..8].eq_ignore_ascii_case(b"script")
                && ends_name(rest.get(8)) =>
            {
                state = Script::Escaped;
            }
            b'-' if state != Script::Data && rest.starts_with(b"-->") => {
                state = Script::Data;
                at += 3;
                continue;
            }
            _ => {}
        }
        at += 1;
    }
    text.len()
}
