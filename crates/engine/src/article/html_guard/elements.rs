//! What the model knows of elements: the kinds the tree builder's walks stop at, the roles a
//! tag's name plays, and an open element.

// The kinds of open elements the tree builder's walks stop at or look for, as bits.
pub(super) const SPECIAL: u16 = 1 << 0;
/// Ends the default scope (and so every scope but the table scope).
pub(super) const SCOPE: u16 = 1 << 1;
pub(super) const BUTTON: u16 = 1 << 2;
pub(super) const LIST: u16 = 1 << 3;
pub(super) const TABLE_SCOPE: u16 = 1 << 4;
pub(super) const TABLE: u16 = 1 << 5;
pub(super) const CELL: u16 = 1 << 6;
pub(super) const ROW: u16 = 1 << 7;
pub(super) const SECTION: u16 = 1 << 8;
pub(super) const HEADING: u16 = 1 << 9;
/// Special, except `address`, `div` and `p` (where `<li>`, `<dd>`, `<dt>` stop looking).
pub(super) const EXTRA_SPECIAL: u16 = 1 << 10;
/// An element in the HTML namespace.
pub(super) const HTML_NS: u16 = 1 << 11;
pub(super) const CATEGORIES: usize = 12;

/// The HTML elements with a kind, as html5ever's `tree_builder/tag_sets.rs` lists them.
pub(super) const KINDS: &[(&str, u16)] = &[
    ("address", SPECIAL),
    ("applet", SPECIAL | EXTRA_SPECIAL | SCOPE),
    ("area", SPECIAL | EXTRA_SPECIAL),
    ("article", SPECIAL | EXTRA_SPECIAL),
    ("aside", SPECIAL | EXTRA_SPECIAL),
    ("base", SPECIAL | EXTRA_SPECIAL),
    ("basefont", SPECIAL | EXTRA_SPECIAL),
    ("bgsound", SPECIAL | EXTRA_SPECIAL),
    ("blockquote", SPECIAL | EXTRA_SPECIAL),
    ("body", SPECIAL | EXTRA_SPECIAL),
    ("br", SPECIAL | EXTRA_SPECIAL),
    ("button", SPECIAL | EXTRA_SPECIAL | BUTTON),
    ("caption", SPECIAL | EXTRA_SPECIAL | SCOPE),
    ("center", SPECIAL | EXTRA_SPECIAL),
    ("col", SPECIAL | EXTRA_SPECIAL),
    ("colgroup", SPECIAL | EXTRA_SPECIAL),
    ("dd", SPECIAL | EXTRA_SPECIAL),
    ("details", SPECIAL | EXTRA_SPECIAL),
    ("dir", SPECIAL | EXTRA_SPECIAL),
    ("div", SPECIAL),
    ("dl", SPECIAL | EXTRA_SPECIAL),
    ("dt", SPECIAL | EXTRA_SPECIAL),
    ("embed", SPECIAL | EXTRA_SPECIAL),
    ("fieldset", SPECIAL | EXTRA_SPECIAL),
    ("figcaption", SPECIAL | EXTRA_SPECIAL),
    ("figure", SPECIAL | EXTRA_SPECIAL),
    ("footer", SPECIAL | EXTRA_SPECIAL),
    ("form", SPECIAL | EXTRA_SPECIAL),
    ("frame", SPECIAL | EXTRA_SPECIAL),
    ("frameset", SPECIAL | EXTRA_SPECIAL),
    ("h1", SPECIAL | EXTRA_SPECIAL | HEADING),
    ("h2", SPECIAL | EXTRA_SPECIAL | HEADING),
    ("h3", SPECIAL | EXTRA_SPECIAL | HEADING),
    ("h4", SPECIAL | EXTRA_SPECIAL | HEADING),
    ("h5", SPECIAL | EXTRA_SPECIAL | HEADING),
    ("h6", SPECIAL | EXTRA_SPECIAL | HEADING),
    ("head", SPECIAL | EXTRA_SPECIAL),
    ("header", SPECIAL | EXTRA_SPECIAL),
    ("hgroup", SPECIAL | EXTRA_SPECIAL),
    ("hr", SPECIAL | EXTRA_SPECIAL),
    ("html", SPECIAL | EXTRA_SPECIAL | SCOPE | TABLE_SCOPE),
    ("iframe", SPECIAL | EXTRA_SPECIAL),
    ("img", SPECIAL | EXTRA_SPECIAL),
    ("input", SPECIAL | EXTRA_SPECIAL),
    ("isindex", SPECIAL | EXTRA_SPECIAL),
    ("li", SPECIAL | EXTRA_SPECIAL),
    ("link", SPECIAL | EXTRA_SPECIAL),
    ("listing", SPECIAL | EXTRA_SPECIAL),
    ("main", SPECIAL | EXTRA_SPECIAL),
    ("marquee", SPECIAL | EXTRA_SPECIAL | SCOPE),
    ("menu", SPECIAL | EXTRA_SPECIAL),
    ("meta", SPECIAL | EXTRA_SPECIAL),
    ("nav", SPECIAL | EXTRA_SPECIAL),
    ("noembed", SPECIAL | EXTRA_SPECIAL),
    ("noframes", SPECIAL | EXTRA_SPECIAL),
    ("noscript", SPECIAL | EXTRA_SPECIAL),
    ("object", SPECIAL | EXTRA_SPECIAL | SCOPE),
    ("ol", SPECIAL | EXTRA_SPECIAL | LIST),
    ("p", SPECIAL),
    ("param", SPECIAL | EXTRA_SPECIAL),
    ("plaintext", SPECIAL | EXTRA_SPECIAL),
    ("pre", SPECIAL | EXTRA_SPECIAL),
    ("script", SPECIAL | EXTRA_SPECIAL),
    ("section", SPECIAL | EXTRA_SPECIAL),
    ("select", SPECIAL | EXTRA_SPECIAL | SCOPE),
    ("source", SPECIAL | EXTRA_SPECIAL),
    ("style", SPECIAL | EXTRA_SPECIAL),
    ("summary", SPECIAL | EXTRA_SPECIAL),
    (
        "table",
        SPECIAL | EXTRA_SPECIAL | SCOPE | TABLE_SCOPE | TABLE,
    ),
    ("tbody", SPECIAL | EXTRA_SPECIAL | SECTION),
    ("td", SPECIAL | EXTRA_SPECIAL | SCOPE | CELL),
    ("template", SPECIAL | EXTRA_SPECIAL | SCOPE | TABLE_SCOPE),
    ("textarea", SPECIAL | EXTRA_SPECIAL),
    ("tfoot", SPECIAL | EXTRA_SPECIAL | SECTION),
    ("th", SPECIAL | EXTRA_SPECIAL | SCOPE | CELL),
    ("thead", SPECIAL | EXTRA_SPECIAL | SECTION),
    ("title", SPECIAL | EXTRA_SPECIAL),
    ("tr", SPECIAL | EXTRA_SPECIAL | ROW),
    ("track", SPECIAL | EXTRA_SPECIAL),
    ("ul", SPECIAL | EXTRA_SPECIAL | LIST),
    ("wbr", SPECIAL | EXTRA_SPECIAL),
    ("xmp", SPECIAL | EXTRA_SPECIAL),
];

// What the model does with a tag's name, as bits.
pub(super) const VOID: u32 = 1 << 0;
pub(super) const RAW_TEXT: u32 = 1 << 1;
pub(super) const CLOSES_P: u32 = 1 << 2;
pub(super) const BLOCK_END: u32 = 1 << 3;
pub(super) const BREAKOUT: u32 = 1 << 4;
pub(super) const SVG_INTEGRATION: u32 = 1 << 5;
pub(super) const TABLE_PART: u32 = 1 << 6;
pub(super) const TABLE_END: u32 = 1 << 7;
pub(super) const HEADING_NAME: u32 = 1 << 8;
pub(super) const IGNORED: u32 = 1 << 9;
pub(super) const MATH_INTEGRATION: u32 = 1 << 10;
pub(super) const HEAD_ONLY: u32 = 1 << 11;
pub(super) const IMPLIED_END: u32 = 1 << 12;
pub(super) const RUBY_PART: u32 = 1 << 13;
pub(super) const FORM_LISTED: u32 = 1 << 14;

/// Names and what the model does with them.
pub(super) const ROLES: &[(&[&str], u32)] = &[
    // Elements that have no end and are never on the stack.
    (
        &[
            "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "image",
            "img", "input", "keygen", "link", "meta", "param", "source", "track", "wbr",
        ],
        VOID,
    ),
    // Elements whose content is text up to their end tag, when they are HTML elements.
    (
        &[
            "iframe", "noembed", "noframes", "noscript", "script", "style", "textarea", "title",
            "xmp",
        ],
        RAW_TEXT,
    ),
    // Start tags that first close an open `<p>` (in button scope).
    (
        &[
            "address",
            "article",
            "aside",
            "blockquote",
            "center",
            "details",
            "dialog",
            "dir",
            "div",
            "dl",
            "fieldset",
            "figcaption",
            "figure",
            "footer",
            "form",
            "header",
            "hgroup",
            "hr",
            "listing",
            "main",
            "menu",
            "nav",
            "ol",
            "p",
            "plaintext",
            "pre",
            "search",
            "section",
            "summary",
            "ul",
            "xmp",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
        ],
        CLOSES_P,
    ),
    (&["h1", "h2", "h3", "h4", "h5", "h6"], HEADING_NAME),
    // End tags that close their element when it is in (default) scope.
    (
        &[
            "address",
            "applet",
            "article",
            "aside",
            "blockquote",
            "button",
            "center",
            "details",
            "dialog",
            "dir",
            "div",
            "dl",
            "fieldset",
            "figcaption",
            "figure",
            "footer",
            "header",
            "hgroup",
            "listing",
            "main",
            "marquee",
            "menu",
            "nav",
            "object",
            "ol",
            "pre",
            "search",
            "section",
            "select",
            "summary",
            "ul",
            "dd",
            "dt",
        ],
        BLOCK_END,
    ),
    // Start tags that end foreign content (SVG, MathML) and are read as HTML (`<font>` only
    // with `color`, `face` or `size`).
    (
        &[
            "b",
            "big",
            "blockquote",
            "body",
            "br",
            "center",
            "code",
            "dd",
            "div",
            "dl",
            "dt",
            "em",
            "embed",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "head",
            "hr",
            "i",
            "img",
            "li",
            "listing",
            "menu",
            "meta",
            "nobr",
            "ol",
            "p",
            "pre",
            "ruby",
            "s",
            "small",
            "span",
            "strong",
            "strike",
            "sub",
            "sup",
            "table",
            "tt",
            "u",
            "ul",
            "var",
        ],
        BREAKOUT,
    ),
    // SVG and MathML elements inside which start tags are HTML again (integration points).
    (&["foreignobject", "desc", "title"], SVG_INTEGRATION),
    (&["mi", "mo", "mn", "ms", "mtext"], MATH_INTEGRATION),
    // The parts of a table: their start tags are read in a table only.
    (
        &[
            "caption", "col", "colgroup", "tbody", "td", "tfoot", "th", "thead", "tr",
        ],
        TABLE_PART,
    ),
    (
        &[
            "table", "tbody", "tfoot", "thead", "tr", "td", "th", "caption", "colgroup",
        ],
        TABLE_END,
    ),
    // Start tags a template reads as in a head: they leave its mode as it is.
    (
        &[
            "base", "basefont", "bgsound", "link", "meta", "noframes", "script", "style",
            "template", "title",
        ],
        HEAD_ONLY,
    ),
    (&["rb", "rp", "rt", "rtc"], RUBY_PART),
    // Elements the parser associates with an open form (`<image>` is an `<img>`).
    (
        &[
            "button", "fieldset", "input", "object", "output", "select", "textarea", "img", "image",
        ],
        FORM_LISTED,
    ),
    // Elements the parser closes where an end is implied ("generate implied end tags").
    (
        &[
            "dd", "dt", "li", "option", "optgroup", "p", "rb", "rp", "rt", "rtc",
        ],
        IMPLIED_END,
    ),
    // Start tags that open nothing in a body.
    (&["html", "body", "head", "frame"], IGNORED),
];

/// Names the model handles one by one.
pub(super) struct Names {
    pub(super) html: u32,
    pub(super) body: u32,
    pub(super) p: u32,
    pub(super) li: u32,
    pub(super) dd: u32,
    pub(super) dt: u32,
    pub(super) tbody: u32,
    pub(super) tr: u32,
    pub(super) svg: u32,
    pub(super) math: u32,
    pub(super) font: u32,
    pub(super) option: u32,
    pub(super) optgroup: u32,
    pub(super) select: u32,
    pub(super) button: u32,
    pub(super) table: u32,
    pub(super) template: u32,
    pub(super) xmp: u32,
    pub(super) plaintext: u32,
    pub(super) hr: u32,
    pub(super) br: u32,
    pub(super) form: u32,
    pub(super) frameset: u32,
    pub(super) caption: u32,
    pub(super) col: u32,
    pub(super) colgroup: u32,
    pub(super) input: u32,
    pub(super) ruby: u32,
    pub(super) rb: u32,
    pub(super) rtc: u32,
    pub(super) td: u32,
    pub(super) th: u32,
    pub(super) annotation_xml: u32,
}

/// The namespaces of elements.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Ns {
    Html,
    Svg,
    MathMl,
}

/// One open element of the model.
#[derive(Clone, Copy)]
pub(super) struct Open {
    pub(super) name: u32,
    pub(super) kinds: u16,
    /// In SVG or MathML.
    pub(super) foreign: bool,
    pub(super) ns: Ns,
    /// A foreign element inside which start tags are read as HTML.
    pub(super) integration: bool,
    /// A template whose content has not started yet (its first start tag decides how the
    /// parser reads it), and one in which the parser ignores all but template tags (after a
    /// `<col>` first).
    pub(super) fresh: bool,
    pub(super) ignoring: bool,
    /// Perhaps not open in the parser: it stops walks as its kind does, but no tag closes it
    /// or what is above it by finding it.
    pub(super) weak: bool,
}
