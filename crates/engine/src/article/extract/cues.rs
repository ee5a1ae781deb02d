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

/// Class names that style sheets hide (or show to screen readers only), each a whole class:
/// the text of such an element is not on the page a reader sees (a "Continue reading the main
/// story" skip link, a collapsed menu, a duplicate for small screens). Partial names
/// (`hidden-xs`, hidden on small screens only) are not matched.
const HIDDEN_CLASSES: &[&str] = &[
    "hidden",
    "hide",
    "invisible",
    "is-hidden",
    "offscreen",
    "screen-reader-text",
    "sr-only",
    "u-hidden",
    "visually-hidden",
    "visuallyhidden",
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
        let build = |words: &[&str]| {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(words)
                .expect("plain words")
        };
        Matchers {
            furniture: build(FURNITURE),
            may_hold: build(MAY_HOLD_STORY),
            negative: build(NEGATIVE),
            positive: build(POSITIVE),
        }
    })
}

/// Whether `names` has one of `words` (lowercase) as a whole word, ignoring ASCII case.
fn has_word(names: &str, words: &[&str]) -> bool {
    names
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| words.iter().any(|word| w.eq_ignore_ascii_case(word)))
}

/// What markup says of one element.
pub(super) struct Cues {
    /// Left out with everything in it.
    pub junk: bool,
    /// What its class and id say: [`WEIGHT`] against per name (class, id) with a negative
    /// cue, [`WEIGHT`] for per name with a positive one (and for `itemprop="articleBody"`).
    pub weight: i32,
    /// Its class or id names sharing tools (left out of the story when short).
    pub sharing: bool,
}

/// The cues of element `e` (named `name`), in a pass, inside a table or not.
pub(super) fn of(e: &scraper::node::Element, name: &str, pass: Pass, in_table: bool) -> Cues {
    let (class, id) = (
        e.attr("class").filter(|c| !c.is_empty()),
        e.attr("id").filter(|c| !c.is_empty()),
    );
    let story = e
        .attr("itemprop")
        .is_some_and(|p| p.split_ascii_whitespace().any(|p| p == "articleBody"));
    let m = matchers();
    let names = [class, id];
    let parts = || names.into_iter().flatten();
    let junk = NEVER_TEXT.contains(&name)
        || super::super::html::hidden_by_attributes(e)
        // A page's scripts often show a hidden `<body>` once loaded.
        || (!matches!(name, "body" | "html") && class.is_some_and(|c| {
            c.split_ascii_whitespace()
                .any(|c| HIDDEN_CLASSES.iter().any(|h| c.eq_ignore_ascii_case(h)))
        }))
        || (pass.strip_unlikely
            && !matches!(name, "body" | "html" | "a" | "main" | "article")
            && !story
            && (e.attr("role").is_some_and(|role| {
                FURNITURE_ROLES
                    .iter()
                    .any(|r| role.trim().eq_ignore_ascii_case(r))
            }) || (!in_table
                && parts().any(|p| m.furniture.is_match(p) || has_word(p, FURNITURE_WORDS))
                && !parts().any(|p| m.may_hold.is_match(p)))));
    let mut weight = if story { WEIGHT } else { 0 };
    if pass.weigh_classes {
        for part in parts() {
            if m.negative.is_match(part) || has_word(part, NEGATIVE_WORDS) {
                weight -= WEIGHT;
            }
            if m.positive.is_match(part) {
                weight += WEIGHT;
            }
        }
    } else {
        weight = 0;
    }
    let sharing = parts().any(|p| {
        p.as_bytes()
            .windows(5)
            .any(|w| w.eq_ignore_ascii_case(b"share"))
    });
    Cues {
        junk,
        weight,
        sharing,
    }
}
