//! The copies of a story a syndicating site, a feed or a newsletter would make of an article:
//! the generator of the labelled set of `tests/stories_corpus.rs` and of the end-to-end tests of
//! `tests/stories.rs`. Each copy is the bytes of a file and its name, so that it goes through
//! ingest like any article. Deterministic: the same article gives the same copies.

/// Boilerplate that sites and newsletters add around a story.
const SHARE: &str = "Share this article on Facebook, Twitter or by e-mail. Follow us for more news \
    like this, and sign up for our morning newsletter: the day's top stories in your inbox.";
const CORRECTION: &str = "Correction: an earlier version of this article gave the wrong date for \
    the announcement. This has been corrected.";
const NAV: &str = "Home News World Business Technology Sport Culture Weather Menu Search Sign in";
const FOOTER: &str = "Copyright 2026 Example Media Group. All rights reserved. About us Contact \
    Careers Advertise with us Cookie settings Privacy policy Terms of use";

/// Words a copy editor swaps in.
const SWAPS: &[&str] = &[
    "said", "reported", "new", "also", "however", "the", "a", "this",
];

/// An article as title and paragraphs.
#[derive(Clone, Debug)]
pub struct Story {
    pub title: String,
    pub paragraphs: Vec<String>,
}

impl Story {
    /// A plain-text article: the first non-empty line is the title, then paragraphs separated
    /// by blank lines (the layout of the corpus' BBC and French files).
    pub fn parse(text: &str) -> Story {
        let mut blocks = text
            .split("\n\n")
            .map(|b| b.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|b| !b.is_empty());
        let title = blocks.next().unwrap_or_default();
        Story {
            title,
            paragraphs: blocks.collect(),
        }
    }

    pub fn text(&self) -> String {
        format!("{}\n\n{}\n", self.title, self.paragraphs.join("\n\n"))
    }
}

/// One copy: what kind of change it is, its file name and bytes.
pub struct Copy {
    pub kind: &'static str,
    pub name: String,
    pub bytes: Vec<u8>,
}

/// The kinds of copies, in the order [`copies`] makes them.
pub const KINDS: &[&str] = &[
    "another headline",
    "lead cut",
    "boilerplate added",
    "correction added",
    "words changed",
    "wrapped in a page",
    "feed item",
    "JSON item",
    "newsletter",
];

/// The copies of `story` (`seed` varies which words change), named `STEM-N.EXT`.
pub fn copies(story: &Story, stem: &str, seed: u64) -> Vec<Copy> {
    let mut out = Vec::new();
    let mut push = |kind: &'static str, ext: &str, bytes: Vec<u8>| {
        let name = format!("{stem}-{}.{ext}", out.len() + 1);
        out.push(Copy { kind, name, bytes });
    };
    let retitled = Story {
        title: format!("What we know: {}", reversed_title(&story.title)),
        ..story.clone()
    };
    push("another headline", "txt", retitled.text().into_bytes());
    let cut = Story {
        paragraphs: if story.paragraphs.len() > 1 {
            story.paragraphs[1..].to_vec()
        } else {
            story.paragraphs.clone()
        },
        ..story.clone()
    };
    push("lead cut", "txt", cut.text().into_bytes());
    let mut footer = story.clone();
    footer.paragraphs.push(SHARE.into());
    push("boilerplate added", "txt", footer.text().into_bytes());
    let mut corrected = story.clone();
    corrected.paragraphs.insert(0, CORRECTION.into());
    push("correction added", "txt", corrected.text().into_bytes());
    push(
        "words changed",
        "txt",
        changed_words(story, seed).text().into_bytes(),
    );
    push("wrapped in a page", "html", page(story).into_bytes());
    push("feed item", "xml", feed_item(story).into_bytes());
    push("JSON item", "json", json_item(story).into_bytes());
    push("newsletter", "eml", newsletter(story).into_bytes());
    out
}

/// The title's words in another order, as a rewriting desk would put them.
fn reversed_title(title: &str) -> String {
    let mut words: Vec<&str> = title.split_whitespace().collect();
    words.reverse();
    words.join(" ")
}

/// About one word in twenty replaced, chosen by `seed`.
fn changed_words(story: &Story, seed: u64) -> Story {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    let paragraphs = story
        .paragraphs
        .iter()
        .map(|p| {
            p.split(' ')
                .map(|w| {
                    if next() % 20 == 0 {
                        SWAPS[next() % SWAPS.len()]
                    } else {
                        w
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    Story {
        title: story.title.clone(),
        paragraphs,
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html_paragraphs(story: &Story) -> String {
    story
        .paragraphs
        .iter()
        .map(|p| format!("<p>{}</p>", escape(p)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The story in another site's page: navigation, a share box and a footer around it.
fn page(story: &Story) -> String {
    let title = escape(&story.title);
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{title} | Example Media</title>\
         <meta property=\"og:title\" content=\"{title}\"></head><body><nav>{NAV}</nav>\
         <article><h1>{title}</h1>\n<p class=\"byline\">By Example Media staff</p>\n{}\n</article><aside>{SHARE}</aside><footer>{FOOTER}</footer>\
         </body></html>\n",
        html_paragraphs(story)
    )
}

/// The story as the one item of an RSS feed, its text in the description.
fn feed_item(story: &Story) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>Example Wire</title><link>https://wire.example.org/</link>\
         <description>News</description><item><title>{}</title>\
         <link>https://wire.example.org/story?utm_source=rss</link>\
         <description>{}</description></item></channel></rss>\n",
        escape(&story.title),
        escape(&format!("<p>(Example Wire)</p>{}", html_paragraphs(story)))
    )
}

/// The story as a JSON object of an aggregator's export.
fn json_item(story: &Story) -> String {
    serde_json::json!({
        "title": story.title,
        "content": format!("{}\n\nReporting by the Example Aggregator desk.", story.paragraphs.join("\n\n")),
        "source": "Example Aggregator",
    })
    .to_string()
}

/// The story in a newsletter e-mail, between a greeting and an unsubscribe footer.
fn newsletter(story: &Story) -> String {
    format!(
        "From: Example Daily <daily@example.org>\r\nTo: reader@example.org\r\n\
         Subject: {}\r\nDate: Tue, 01 Dec 2026 08:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         Good morning. Here is today's top story.\r\n\r\n{}\r\n\r\n--\r\nYou receive this \
         because you subscribed to Example Daily. Unsubscribe: https://example.org/u\r\n",
        story.title,
        story.paragraphs.join("\r\n\r\n")
    )
}
