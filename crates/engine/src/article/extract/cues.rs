//! What markup says about an element before its text is weighed: elements never read as the
//! story (scripts, navigation, hidden ones), and the class and id names sites give their
//! boilerplate (`comments`, `sidebar`, `related-links`, `share-tools` …) or their story
//! (`article-body`, `entry-content` …).
//!
//! Names are matched as lowercase substrings, or whole words (split at anything not a letter
//! or digit) for the short ones (`ad`, `nav`), which occur inside unrelated words.

use std::sync::OnceLock;

use aho_corasick::AhoCorasick;

use super::Pass;

/// Elements whose content a reader does not see as the story's text, whatever their class.
const NEVER_TEXT: &[&str] = &[
    "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "button",
    "select", "textarea", "input", "iframe", "object", "embed", "svg", "math", "canvas", "audio",
    "video", "head", "dialog", "link", "meta", "label", "option",
];

/// ARIA roles of page furniture.
const FURNITURE_ROLES: &[&str] = &[
    "menu",
    "menubar",
    "complementary",
    "navigation",
    "alert",
    "alertdialog",
    "dialog",
    "banner",
    "contentinfo",
    "search",
];

/// Parts of class or id names that mark an element as page furniture, never the story: in
/// the first passes such an element is left out with everything in it (unless its names also
/// say it may hold the story, see [`MAY_HOLD_STORY`]).
const FURNITURE: &[&str] = &[
    "ad-break",
    "agegate",
    "banner",
    "breadcrumb",
    "combx",
    "comment",
    "community",
    "consent",
    "cookie",
    "disqus",
    "extra",
    "footer",
    "gdpr",
    "header",
    "legends",
    "menu",
    "modal",
    "newsletter",
    "outbrain",
    "pager",
    "pagination",
    "popup",
    "related",
    "remark",
    "replies",
    "rss",
    "shoutbox",
    "sidebar",
    "skyscraper",
    "social",
    "sponsor",
    "subscribe",
    "supplemental",
    "taboola",
    "toolbar",
    "trending",
];

/// Whole words of class or id names that mark furniture.
const FURNITURE_WORDS: &[&str] = &["ad", "ads", "nav", "navbar", "promo"];

/// Parts of names that may hold the story even with a furniture name beside them
/// (`main-column sidebar-left`).
const MAY_HOLD_STORY: &[&str] = &[
    "and", "article", "body", "column", "content", "main", "shadow",
];

/// Parts of names that weigh against an element.
const NEGATIVE: &[&str] = &[
    "-ad-",
    "banner",
    "byline-social",
    "combx",
    "comment",
    "com-",
    "contact",
    "footer",
    "gdpr",
    "masthead",
    "media",
    "meta",
    "most-popular",
    "mostpopular",
    "outbrain",
    "promo",
    "related",
    "scroll",
    "share",
    "shoutbox",
    "sidebar",
    "skyscraper",
    "sponsor",
    "shopping",
    "tags",
    "taboola",
    "widget",
    "hidden",
];

/// Whole words of names that weigh against an element.
const NEGATIVE_WORDS: &[&str] = &["ad", "ads", "nav", "hid", "menu", "social", "tools"];

/// Parts of names that weigh for an element.
const POSITIVE: &[&str] = &[
    "article", "body", "content", "entry", "hentry", "h-entry", "main", "page", "post", "text",
    "blog", "story", "prose",
];

/// How much one name counts for or against its element.
const WEIGHT: i32 = 25;

struct Matchers {
    furniture: AhoCorasick,
    may_hold: AhoCorasick,
    negative: AhoCorasick,
    positive: AhoCorasick,
}

fn matchers() -> &'static Matchers {
    static MATCHERS: OnceLock<Matchers> = OnceLock::new();
    MATCHERS.get_or_init(|| {
        let build = |words: &[&str]| AhoCorasick::new(words).expect("plain words");
        Matchers {
            furniture: build(FURNITURE),
            may_hold: build(MAY_HOLD_STORY),
            negative: build(NEGATIVE),
            positive: build(POSITIVE),
        }
    })
}

/// Whether `names` (lowercase) has one of `words` as a whole word.
fn has_word(names: &str, words: &[&str]) -> bool {
    names
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| words.contains(&w))
}

/// The element's class and id, lowercase, space-separated; `None` without either.
fn names(e: &scraper::node::Element) -> Option<String> {
    let (class, id) = (e.attr("class"), e.attr("id"));
    if class.is_none() && id.is_none() {
        return None;
    }
    let mut names = String::new();
    for part in [class, id].into_iter().flatten() {
        names.push_str(part);
        names.push(' ');
    }
    names.make_ascii_lowercase();
    Some(names)
}

/// Whether an element is left out with everything in it.
pub(super) fn junk(e: &scraper::node::Element, name: &str, pass: Pass, in_table: bool) -> bool {
    if NEVER_TEXT.contains(&name) || super::super::html::hidden_by_attributes(e) {
        return true;
    }
    if !pass.strip_unlikely
        || matches!(name, "body" | "html" | "a" | "main" | "article")
        || story_body(e)
    {
        return false;
    }
    if e.attr("role")
        .is_some_and(|role| FURNITURE_ROLES.contains(&role.trim().to_ascii_lowercase().as_str()))
    {
        return true;
    }
    if in_table {
        return false;
    }
    let Some(names) = names(e) else { return false };
    let m = matchers();
    (m.furniture.is_match(&names) || has_word(&names, FURNITURE_WORDS))
        && !m.may_hold.is_match(&names)
}

/// What an element's class and id say: `WEIGHT` against per name with a negative cue,
/// `WEIGHT` for per name with a positive one.
pub(super) fn weight(e: &scraper::node::Element) -> i32 {
    let m = matchers();
    let mut weight = if story_body(e) { WEIGHT } else { 0 };
    for part in [e.attr("class"), e.attr("id")].into_iter().flatten() {
        if part.is_empty() {
            continue;
        }
        let part = part.to_ascii_lowercase();
        if m.negative.is_match(&part) || has_word(&part, NEGATIVE_WORDS) {
            weight -= WEIGHT;
        }
        if m.positive.is_match(&part) {
            weight += WEIGHT;
        }
    }
    weight
}

/// Whether schema.org microdata marks the element as the story's text.
fn story_body(e: &scraper::node::Element) -> bool {
    e.attr("itemprop")
        .is_some_and(|p| p.split_ascii_whitespace().any(|p| p == "articleBody"))
}

/// Whether a class or id names sharing tools (left out of the story when short).
pub(super) fn sharing(e: &scraper::node::Element) -> bool {
    [e.attr("class"), e.attr("id")]
        .into_iter()
        .flatten()
        .any(|part| part.to_ascii_lowercase().contains("share"))
}
