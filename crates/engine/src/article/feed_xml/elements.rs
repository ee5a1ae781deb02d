//! Start and end tags: elements opened, left open, closed where their parent ends; items
//! started inside items; the text elements whose markup is escaped.

use super::names::{
    LEAF_ELEMENTS, is_markup, is_name_byte, is_name_start, is_one_of, is_text_element, is_void,
    local,
};
use super::tags::NotATag;
use super::{End, Open, SEARCH, Scanner};

impl<'a> Scanner<'a> {
    pub(super) fn start_tag(&mut self) -> Result<End, String> {
        let at = self.pos;
        let tag = match self.read_tag(at) {
            Ok(tag) => tag,
            Err(NotATag::CutOff) => return Ok(End::CutOff),
            Err(NotATag::Text) => {
                self.stray_lt();
                return Ok(End::Whole);
            }
        };
        let src = self.src;
        let name = &src[tag.name.0..tag.name.1];
        let l = local(name);
        let is_item = is_one_of(l, &["item", "entry"]) && !self.in_markup();
        if self.root_pending.is_some() || self.channel_pending.is_some() {
            self.resume(is_item);
        }
        self.last_void = None;
        if self.root.is_none() {
            self.root = Some(l.to_ascii_lowercase());
        }
        if is_item {
            self.close_open_item();
        }
        if !self.in_markup()
            && let Some(top) = self.stack.last()
            && is_one_of(local(&top.name), LEAF_ELEMENTS)
        {
            let open = top.name.clone();
            self.damage.unclosed.add(|| format!("<{open}>"));
            self.close_top();
        }
        let item = is_item
            && self
                .stack
                .last()
                .is_none_or(|o| is_one_of(local(&o.name), &["channel", "rss", "rdf", "feed"]));
        self.pos = tag.end;
        if is_void(l) && !tag.self_closing {
            self.write_start_tag(at, &tag, true);
            self.last_void = Some(name.to_string());
            return Ok(End::Whole);
        }
        let start = self.out.len();
        let attr = |n: &str| self.attr(&tag, n);
        let markup = is_markup(&attr) || l.eq_ignore_ascii_case("body");
        let text = !tag.self_closing && !self.in_markup() && is_text_element(name, attr);
        let typed_as_text = self
            .attr(&tag, "type")
            .is_none_or(|t| matches!(t.trim(), "text" | "text/plain" | "plain"));
        if !text {
            self.write_start_tag(at, &tag, tag.self_closing);
        }
        if tag.self_closing {
            if item {
                self.items += 1;
            }
            return Ok(End::Whole);
        }
        self.markup_open += usize::from(markup);
        self.stack.push(Open {
            name: name.to_string(),
            start,
            item,
            markup,
            closed: false,
        });
        if !text {
            return Ok(End::Whole);
        }
        // The content is read first: markup in it makes an untyped (or plain) text HTML.
        let outer = std::mem::take(&mut self.out);
        self.naked = false;
        let ended = self.text_element();
        let inner = std::mem::replace(&mut self.out, outer);
        let kind = (self.naked && typed_as_text).then_some("html");
        self.write_start_tag_typed(at, &tag, false, kind);
        self.out.push_str(&inner);
        ended
    }

    /// Whether the scan is inside XHTML content.
    pub(super) fn in_markup(&self) -> bool {
        self.markup_open > 0
    }

    /// Closes the item or entry left open around the one starting now.
    pub(super) fn close_open_item(&mut self) {
        let Some(depth) = self.stack.iter().rev().take(SEARCH).position(|o| o.item) else {
            return;
        };
        self.damage.items_in_items += 1;
        for _ in 0..=depth {
            self.close_top();
        }
    }

    /// The content of the text element just opened (on top of the stack), up to its end tag:
    /// markup in it is escaped. Ends at its end tag, or where an open ancestor ends or an item
    /// starts (then it was left open).
    pub(super) fn text_element(&mut self) -> Result<End, String> {
        loop {
            self.check_budget()?;
            let Some(at) = self.to_special() else {
                return Ok(End::CutOff);
            };
            self.out.push_str(&self.src[self.pos..self.pos + at]);
            self.pos += at;
            match self.b[self.pos] {
                b'&' => {
                    let len = self.reference_into_out(self.pos);
                    self.pos += len;
                    continue;
                }
                b']' => {
                    self.bracket();
                    continue;
                }
                _ => {}
            }
            if self.starts("<![CDATA[") {
                let open = self
                    .stack
                    .last()
                    .map(|o| o.name.clone())
                    .unwrap_or_default();
                if self.cdata(Some(&open)) == End::CutOff {
                    return Ok(End::CutOff);
                }
                continue;
            }
            if self.starts("</") {
                let start = self.pos + 2;
                let len = self.b[start..]
                    .iter()
                    .take_while(|&&c| is_name_byte(c))
                    .count();
                let name = &self.src[start..start + len];
                let open = &self.stack.last().expect("the text element").name;
                if len > 0 && name.eq_ignore_ascii_case(open) {
                    let mut i = start + len;
                    while self.b.get(i).is_some_and(u8::is_ascii_whitespace) {
                        i += 1;
                    }
                    match self.b.get(i) {
                        Some(b'>') => {
                            self.close_top();
                            self.pos = i + 1;
                            return Ok(End::Whole);
                        }
                        None => return Ok(End::CutOff),
                        Some(_) => {}
                    }
                } else if len > 0 && self.ancestor(name).is_some() {
                    // Its parent ends: it was left open.
                    let open = open.clone();
                    self.damage.unclosed.add(|| format!("<{open}>"));
                    self.close_top();
                    return Ok(End::Whole);
                }
                self.naked |= len > 0;
            } else if self.b.get(self.pos + 1).is_some_and(|&c| is_name_start(c)) {
                self.naked = true;
                let start = self.pos + 1;
                let len = self.b[start..]
                    .iter()
                    .take_while(|&&c| is_name_byte(c))
                    .count();
                let l = local(&self.src[start..start + len]).to_ascii_lowercase();
                if matches!(l.as_str(), "item" | "entry")
                    && self.stack.iter().rev().take(SEARCH).any(|o| o.item)
                {
                    let open = self.stack.last().expect("the text element").name.clone();
                    self.damage.unclosed.add(|| format!("<{open}>"));
                    self.close_top();
                    return Ok(End::Whole);
                }
            } else if !matches!(self.b.get(self.pos + 1), Some(b'!' | b'?' | b'/') | None) {
                self.damage.stray_lt += 1;
            }
            // Markup in text, or a `<` that starts nothing: text.
            self.out.push_str("&lt;");
            self.pos += 1;
        }
    }

    /// How far from the innermost an open element named `name` is (before the text element
    /// on top when there is one).
    pub(super) fn ancestor(&self, name: &str) -> Option<usize> {
        let exact = self
            .stack
            .iter()
            .rev()
            .take(SEARCH)
            .position(|o| o.name == name);
        exact.or_else(|| {
            self.stack
                .iter()
                .rev()
                .take(SEARCH)
                .position(|o| o.name.eq_ignore_ascii_case(name))
        })
    }

    pub(super) fn end_tag(&mut self) -> End {
        let at = self.pos;
        let tag = match self.read_tag(at) {
            Ok(tag) => tag,
            Err(NotATag::CutOff) => return End::CutOff,
            Err(NotATag::Text) => {
                self.stray_lt();
                return End::Whole;
            }
        };
        let src = self.src;
        let name = &src[tag.name.0..tag.name.1];
        self.pos = tag.end;
        if tag.name.0 == tag.name.1 {
            self.damage.stray_end.add(|| "</>".into());
            return End::Whole;
        }
        if self
            .last_void
            .take()
            .is_some_and(|v| v.eq_ignore_ascii_case(name))
        {
            return End::Whole;
        }
        let depth = if self.after_root() {
            None
        } else {
            self.ancestor(name)
        };
        let Some(mut depth) = depth else {
            self.damage.stray_end.add(|| format!("</{name}>"));
            return End::Whole;
        };
        let rss = self.root.as_deref() == Some("rss");
        if self.channel_pending.is_some() {
            if self.stack.len() == 2 && depth == 1 {
                self.root_pending = Some(String::new());
                return End::Whole;
            }
            self.flush_channel();
            depth -= 1;
        }
        for _ in 0..depth {
            let levels = self.stack.len();
            let Some(top) = self.stack.last_mut() else {
                break;
            };
            if rss && top.closed && levels == 2 {
                // The channel whose end was read before the items after it: pending again,
                // and the root's end with it.
                self.channel_pending = Some(String::new());
                self.root_pending = Some(String::new());
                return End::Whole;
            }
            if !top.closed {
                let open = top.name.clone();
                self.damage.unclosed.add(|| format!("<{open}>"));
            }
            self.close_top();
        }
        if rss && self.stack.len() == 2 && local(name).eq_ignore_ascii_case("channel") {
            if let Some(top) = self.stack.last_mut() {
                top.closed = true;
            }
            self.channel_pending = Some(String::new());
            return End::Whole;
        }
        if self.stack.len() == 1 {
            self.root_pending = Some(String::new());
            return End::Whole;
        }
        self.close_top();
        End::Whole
    }
}
