//! The model's stack of open elements and the walks over it that it charges.

use std::collections::HashMap;

use super::elements::*;

/// A model of html5ever's stack of open elements, fed the page's tags, that counts the steps
/// its walks of the stack take. It follows the tree builder's rules for the tags that open and
/// close elements ("in body", tables, foreign content, raw text) closely enough to track the
/// depth of real and hostile pages, and charges each start tag the depth it opens at (the
/// walks for `<p>`, `<li>`, headings and scope checks), each end tag the elements it walks past,
/// and text in a table the walk to the table (foster parenting). It runs in linear time: each
/// kind of element has its own stack of positions, so a walk's length is known without walking.
pub(super) struct Tree {
    pub(super) open: Vec<Open>,
    /// Positions of open elements by kind bit.
    pub(super) kinds: [Vec<u32>; CATEGORIES],
    /// Positions of open HTML elements by name, and of any open element by name.
    pub(super) html_named: Vec<Vec<u32>>,
    pub(super) any_named: Vec<Vec<u32>>,
    pub(super) ids: HashMap<Vec<u8>, u32>,
    /// By name: its kinds (as an HTML element) and roles.
    pub(super) name_kinds: Vec<u16>,
    pub(super) roles: Vec<u32>,
    pub(super) names: Names,
    /// Whether the parser's form element pointer is set (a `<form>` outside templates opened
    /// and not ended): another `<form>` is then ignored.
    pub(super) form_pointer: bool,
    /// The lowercase name of the last tag read.
    pub(super) buffer: Vec<u8>,
    pub(super) work: u64,
    #[cfg(test)]
    pub(super) deepest: usize,
}

/// A tag the model reads.
pub(super) struct Tag {
    pub(super) name: u32,
    pub(super) self_closing: bool,
    /// `<font>` with `color`, `face` or `size`, which ends foreign content.
    pub(super) font_breaks_out: bool,
}

impl Tree {
    pub(super) fn new() -> Tree {
        let mut ids = HashMap::new();
        let mut name_kinds = Vec::new();
        let mut roles = Vec::new();
        let mut intern = |name: &str| -> u32 {
            *ids.entry(name.as_bytes().to_vec()).or_insert_with(|| {
                name_kinds.push(0);
                roles.push(0);
                name_kinds.len() as u32 - 1
            })
        };
        let names = Names {
            html: intern("html"),
            body: intern("body"),
            p: intern("p"),
            li: intern("li"),
            dd: intern("dd"),
            dt: intern("dt"),
            tbody: intern("tbody"),
            tr: intern("tr"),
            svg: intern("svg"),
            math: intern("math"),
            font: intern("font"),
            option: intern("option"),
            optgroup: intern("optgroup"),
            select: intern("select"),
            button: intern("button"),
            table: intern("table"),
            template: intern("template"),
            xmp: intern("xmp"),
            plaintext: intern("plaintext"),
            hr: intern("hr"),
            br: intern("br"),
            form: intern("form"),
            frameset: intern("frameset"),
            caption: intern("caption"),
            col: intern("col"),
            colgroup: intern("colgroup"),
            input: intern("input"),
            ruby: intern("ruby"),
            rb: intern("rb"),
            rtc: intern("rtc"),
            td: intern("td"),
            th: intern("th"),
            annotation_xml: intern("annotation-xml"),
        };
        let kinds: Vec<(u32, u16)> = KINDS.iter().map(|(n, k)| (intern(n), *k)).collect();
        let role_ids: Vec<(u32, u32)> = ROLES
            .iter()
            .flat_map(|(ns, role)| ns.iter().map(move |n| (n, *role)))
            .map(|(n, role)| (intern(n), role))
            .collect();
        let count = name_kinds.len();
        let mut tree = Tree {
            open: Vec::new(),
            kinds: Default::default(),
            html_named: vec![Vec::new(); count],
            any_named: vec![Vec::new(); count],
            ids,
            name_kinds,
            roles,
            names,
            form_pointer: false,
            buffer: Vec::new(),
            work: 0,
            #[cfg(test)]
            deepest: 0,
        };
        for (id, k) in kinds {
            tree.name_kinds[id as usize] = k;
        }
        for (id, role) in role_ids {
            tree.roles[id as usize] |= role;
        }
        tree.push(tree.names.html, Ns::Html);
        tree.push(tree.names.body, Ns::Html);
        tree
    }

    pub(super) fn intern(&mut self, name: &[u8]) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.name_kinds.len() as u32;
        self.ids.insert(name.to_vec(), id);
        self.name_kinds.push(0);
        self.roles.push(0);
        self.html_named.push(Vec::new());
        self.any_named.push(Vec::new());
        id
    }

    pub(super) fn has(&self, name: u32, role: u32) -> bool {
        self.roles[name as usize] & role != 0
    }

    pub(super) fn depth(&self) -> i64 {
        self.open.len() as i64
    }

    /// The position of the topmost open element of any of `kinds`, `-1` when none is open.
    pub(super) fn top(&self, kinds: u16) -> i64 {
        (0..CATEGORIES)
            .filter(|bit| kinds & (1 << bit) != 0)
            .filter_map(|bit| self.kinds[bit].last())
            .map(|&p| i64::from(p))
            .max()
            .unwrap_or(-1)
    }

    pub(super) fn top_html(&self, name: u32) -> i64 {
        self.html_named[name as usize]
            .last()
            .map_or(-1, |&p| i64::from(p))
    }

    pub(super) fn top_any(&self, name: u32) -> i64 {
        self.any_named[name as usize]
            .last()
            .map_or(-1, |&p| i64::from(p))
    }

    pub(super) fn current(&self) -> Open {
        *self.open.last().expect("html is never popped")
    }

    /// Pushes an element that the parser may or may not have opened (see [`Open::weak`]).
    pub(super) fn push_weak(&mut self, name: u32) {
        self.push(name, Ns::Html);
        let open = self.open.last_mut().expect("pushed");
        open.weak = true;
        let targets = CELL | ROW | SECTION | HEADING | TABLE;
        for bit in 0..CATEGORIES {
            if open.kinds & targets & (1 << bit) != 0 {
                self.kinds[bit].pop();
            }
        }
        open.kinds &= !targets;
        self.html_named[name as usize].pop();
    }

    pub(super) fn push(&mut self, name: u32, ns: Ns) {
        let position = self.open.len() as u32;
        let foreign = ns != Ns::Html;
        let integration = match ns {
            Ns::Html => false,
            Ns::Svg => self.has(name, SVG_INTEGRATION),
            Ns::MathMl => self.has(name, MATH_INTEGRATION),
        };
        let kinds = if foreign {
            if integration { SCOPE } else { 0 }
        } else {
            self.name_kinds[name as usize] | HTML_NS
        };
        for bit in 0..CATEGORIES {
            if kinds & (1 << bit) != 0 {
                self.kinds[bit].push(position);
            }
        }
        if !foreign {
            self.html_named[name as usize].push(position);
        }
        self.any_named[name as usize].push(position);
        self.open.push(Open {
            name,
            kinds,
            foreign,
            ns,
            integration,
            fresh: !foreign && name == self.names.template,
            ignoring: false,
            weak: false,
        });
        #[cfg(test)]
        {
            self.deepest = self.deepest.max(self.open.len());
        }
    }

    /// Pops the elements at `position` and above (never the root `<html>`).
    pub(super) fn pop_to(&mut self, position: i64) {
        let position = position.max(1) as usize;
        while self.open.len() > position {
            let open = self.open.pop().expect("checked");
            for bit in 0..CATEGORIES {
                if open.kinds & (1 << bit) != 0 {
                    self.kinds[bit].pop();
                }
            }
            if !open.foreign && !open.weak {
                self.html_named[open.name as usize].pop();
            }
            self.any_named[open.name as usize].pop();
        }
    }

    pub(super) fn pop(&mut self) {
        self.pop_to(self.depth() - 1);
    }

    /// Closes the elements on top whose end is implied, but `except`.
    pub(super) fn implied_ends(&mut self, except: u32) {
        loop {
            let current = self.current();
            if current.foreign || current.name == except || !self.has(current.name, IMPLIED_END) {
                return;
            }
            self.pop();
        }
    }

    /// `</form>`: outside templates it closes the form the parser points to, wherever it is
    /// on the stack, after the elements whose end is implied above it.
    pub(super) fn end_form(&mut self) {
        let form = self.names.form;
        let in_template = self.top_html(self.names.template) >= 0;
        if !in_template && !std::mem::take(&mut self.form_pointer) {
            return;
        }
        if !self.in_scope(form) {
            return;
        }
        let open = self.top_html(form);
        self.implied_ends(u32::MAX);
        if in_template || self.depth() - 1 == open {
            self.pop_to(open);
        } else {
            // Taken out from under other elements: kept here as weak.
            self.html_named[form as usize].pop();
            self.open[open as usize].weak = true;
        }
    }

    /// Whether the nearest table context is a template, or a table in one: there the parser's
    /// mode depends on what the template held first, and the model keeps tables and their
    /// parts weak.
    pub(super) fn in_template_table(&self) -> bool {
        let context = self.top(TABLE_SCOPE);
        context > 0 && {
            let open = self.open[context as usize];
            open.name == self.names.template || open.weak
        }
    }

    pub(super) fn in_scope(&self, name: u32) -> bool {
        let open = self.top_html(name);
        open >= 0 && open >= self.top(SCOPE)
    }

    /// A walk from the top of the stack down to position `stop`.
    pub(super) fn walk(&mut self, stop: i64) {
        self.work += (self.depth() - stop.max(0)) as u64;
    }

    /// Closes a `<p>` in button scope.
    pub(super) fn close_p(&mut self) {
        let p = self.top_html(self.names.p);
        let boundary = self.top(SCOPE | BUTTON);
        self.walk(p.max(boundary));
        if p >= 0 && p >= boundary {
            self.pop_to(p);
        }
    }
}
