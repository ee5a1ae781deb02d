//! Hostile files: no article, whatever its bytes, may stop or stall the reader. Each input
//! here once took the engine minutes or gigabytes (the size it was reported at, or larger than
//! a debug build of the old code could read in a minute); each must now be read or refused
//! within seconds in a debug build, and the time must grow linearly with the input
//! (`linear_in_the_input`). `ingest`'s documentation lists the bounds.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use newswatch_engine::Error;
use newswatch_engine::article::{IngestOptions, Parsed, ingest_with};

/// A hostile input of about `size` bytes, and the file name that selects its parser.
type Generator = fn(usize) -> (Vec<u8>, &'static str);

/// Markdown front matter that is one long run of `[` (reported: 150 KB took 100 s).
fn front_matter_brackets(size: usize) -> (Vec<u8>, &'static str) {
    let md = format!("---\ntitle: {}\n---\n# Title\n\nBody.\n", "[".repeat(size));
    (md.into_bytes(), "a.md")
}

/// Front matter within 64 KiB whose `{` each open a flow mapping (the parser walks them all
/// for every token after).
fn front_matter_braces(size: usize) -> (Vec<u8>, &'static str) {
    let md = format!(
        "---\ntitle: {}\n---\n# Title\n\nBody.\n",
        "{".repeat(size.min(60_000))
    );
    (md.into_bytes(), "a.md")
}

/// Front matter with one long list and many aliases to it (serde_yaml copies the list for each:
/// 25 KB took 12 s and 4 GB).
fn front_matter_aliases(size: usize) -> (Vec<u8>, &'static str) {
    let n = size.min(60_000) / 5;
    let md = format!(
        "---\na: &a [{}x]\nb: [{}*a]\n---\n# Title\n\nBody.\n",
        "x,".repeat(n),
        "*a,".repeat(n)
    );
    (md.into_bytes(), "a.md")
}

/// One HTML tag with very many attributes (reported: 3.9 MB took 133 s).
fn one_tag_many_attributes(size: usize) -> (Vec<u8>, &'static str) {
    let mut html = String::from("<html><body><p ");
    let mut i = 0;
    while html.len() < size {
        html.push_str(&format!("a{i}=x "));
        i += 1;
    }
    html.push_str(">DeepSeek H200</p></body></html>");
    (html.into_bytes(), "a.html")
}

/// Nested `<article>`s, each with text (reported: ~9,000 in 1.3 MB took 38 s): the longest
/// article was found by laying out the text of each, which is all the text inside it.
fn nested_articles(size: usize) -> (Vec<u8>, &'static str) {
    nested_articles_of(size, 140)
}

/// Nested `<article>`s with longer text each: the parser can take their nesting (the page is
/// read), and the text of the inner ones is in all the outer ones.
fn nested_articles_with_text(size: usize) -> (Vec<u8>, &'static str) {
    nested_articles_of(size, 700)
}

/// The same, as deep as the square root of the size, so that the parser's own cost (the square
/// of the depth) grows as the size does, and only laying out text more than once would not.
fn nested_articles_growing(size: usize) -> (Vec<u8>, &'static str) {
    nested_articles_of(size, (size as f64 * 64.0).sqrt() as usize)
}

fn nested_articles_of(size: usize, text: usize) -> (Vec<u8>, &'static str) {
    let sentence = "DeepSeek bought H200 boards. ".repeat(text / 29 + 1);
    let mut html = String::from("<html><body>");
    let mut depth = 0;
    while html.len() + depth * 10 < size {
        html.push_str(&format!("<article><p>{depth} {sentence}</p>"));
        depth += 1;
    }
    html.push_str(&"</article>".repeat(depth));
    (html.into_bytes(), "a.html")
}

/// Formatting elements left open before a run of paragraphs: the HTML standard clones them
/// into every paragraph after (80 KB with 2,000 of them took 19 s and 2.7 GB). One for every
/// 100 bytes.
fn open_formatting_elements(size: usize) -> (Vec<u8>, &'static str) {
    let mut html = String::from("<html><body><p>");
    for i in 0..size / 100 {
        html.push_str(&format!("<b class=c{i}>"));
    }
    while html.len() < size {
        html.push_str("</p><p>x");
    }
    (html.into_bytes(), "a.html")
}

/// The same with the standard's 14 formatting elements, three times each, no attributes
/// (1 MB took 6 s and 660 MB).
fn open_formatting_plain(size: usize) -> (Vec<u8>, &'static str) {
    let names = [
        "a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt",
        "u",
    ];
    let mut html = String::from("<html><body><p>");
    for _ in 0..3 {
        for name in names {
            html.push_str(&format!("<{name}>"));
        }
    }
    while html.len() < size {
        html.push_str("</p><p>x");
    }
    (html.into_bytes(), "a.html")
}

/// End tags that match nothing, under many open elements: each walks them all (530 KB took
/// 39 s).
fn unmatched_end_tags(size: usize) -> (Vec<u8>, &'static str) {
    let mut html = format!("<html><body>{}", "<span>".repeat(3_000));
    while html.len() < size {
        html.push_str("</x>");
    }
    (html.into_bytes(), "a.html")
}

/// A feed followed by many `<?xml` declarations without an end (240 KB took 5.5 s).
fn feed_declarations(size: usize) -> (Vec<u8>, &'static str) {
    let mut xml = String::from(
        "<rss version=\"2.0\"><channel><title>T</title><item><title>DeepSeek H200</title>\
         </item></channel></rss>",
    );
    while xml.len() < size {
        xml.push_str("<?xml ");
    }
    (xml.into_bytes(), "a.xml")
}

/// Items with every kind of damage the feed reader repairs (bare `&`, stray `<`, HTML and
/// undefined entities, bad references, unclosed and stray elements, nested CDATA, items after
/// `</channel>`), repeated: each repair is local.
fn damaged_feed(size: usize) -> (Vec<u8>, &'static str) {
    let mut xml = String::from("<rss version=\"2.0\"><channel><title>T</title>");
    while xml.len() < size {
        xml.push_str(
            "<item><title>AT&T < 3 &eacute; &bogus; &#0; &#146 H200</title><guid>a\
             <description>x <b>y</br> ]]> <![CDATA[a<![CDATA[b]]>c]]></description></foo></item>\
             </channel><item><title>after</title></item>",
        );
    }
    (xml.into_bytes(), "a.xml")
}

/// Elements of a feed opened and never closed, ever deeper, after one item.
fn open_feed_elements(size: usize) -> (Vec<u8>, &'static str) {
    let mut xml =
        String::from("<rss version=\"2.0\"><channel><title>T</title><item><title>I</title></item>");
    while xml.len() < size {
        xml.push_str("<x a=1 b c=\"d\">");
    }
    (xml.into_bytes(), "a.xml")
}

/// End tags that close nothing, under many open elements of a feed.
fn unmatched_feed_end_tags(size: usize) -> (Vec<u8>, &'static str) {
    let mut xml = format!(
        "<rss version=\"2.0\"><channel><item><title>T</title></item><item><title>U</title>{}",
        "<x>".repeat(3_000)
    );
    while xml.len() < size {
        xml.push_str("</y>");
    }
    (xml.into_bytes(), "a.xml")
}

/// One description holding a page of HTML written as markup, with attributes to mend.
fn markup_in_a_description(size: usize) -> (Vec<u8>, &'static str) {
    let mut xml = String::from("<rss version=\"2.0\"><channel><item><title>T</title><description>");
    while xml.len() < size {
        xml.push_str("<p><b>DeepSeek</b> <a href=x?a=1&b=2>H200</a><br></p>\n");
    }
    xml.push_str("</description></item></channel></rss>");
    (xml.into_bytes(), "a.xml")
}

/// CDATA sections opened inside one another and never closed.
fn cdata_openings(size: usize) -> (Vec<u8>, &'static str) {
    let mut xml = String::from(
        "<rss version=\"2.0\"><channel><item><title>T</title></item><item><description><![CDATA[",
    );
    while xml.len() < size {
        xml.push_str("<![CDATA[x]]");
    }
    (xml.into_bytes(), "a.xml")
}

/// An ordinary page, for comparison: paragraphs of text in an article.
fn plain_page(size: usize) -> (Vec<u8>, &'static str) {
    let mut html = String::from("<html><head><title>H200</title></head><body><article>");
    while html.len() < size {
        html.push_str("<p>DeepSeek bought <b>H200</b> boards, the report says.</p>\n");
    }
    html.push_str("</article></body></html>");
    (html.into_bytes(), "a.html")
}

/// Reads `input` under the parsers' bounds only: the ingest timeout, the net under them, is
/// what `the_ingest_timeout_refuses_what_runs_over_it` tests, and a busy machine must not
/// decide these.
fn read(input: &(Vec<u8>, &str)) -> (Result<Parsed, Error>, Duration) {
    let started = Instant::now();
    let unhurried = IngestOptions::default().timeout(Duration::from_secs(600));
    let parsed = ingest_with(&input.0, Path::new(input.1), &unhurried);
    (parsed, started.elapsed())
}

/// Reads `input` within `seconds`: bounds four times what a debug build takes on a busy
/// two-core machine, far under the minutes these inputs once took.
fn read_within(input: (Vec<u8>, &str), seconds: u64) -> Result<Parsed, Error> {
    let (parsed, took) = read(&input);
    assert!(
        took < Duration::from_secs(seconds),
        "{} bytes of {} took {took:?}",
        input.0.len(),
        input.1
    );
    parsed
}

fn refused(parsed: Result<Parsed, Error>) -> String {
    match parsed {
        Err(Error::Malformed { message, .. }) => message,
        other => panic!("expected a refusal, got {:?}", other.map(|p| p.warnings)),
    }
}

fn warning(parsed: Result<Parsed, Error>) -> String {
    let parsed = parsed.expect("read");
    assert_eq!(
        parsed.articles[0].title, "Title",
        "read without its front matter"
    );
    assert_eq!(parsed.articles[0].body, "Body.");
    parsed.warnings.join("; ")
}

/// The timeout is the net under the bounds: a file that would take longer is refused between
/// two chunks of the HTML parser or two items, whatever the format, and the refusal says why.
#[test]
fn the_ingest_timeout_refuses_what_runs_over_it() {
    let mut array = String::from("[");
    for i in 0..20_000 {
        array.push_str(&format!("{{\"title\":\"t{i}\",\"body\":\"<p>b</p>\"}},"));
    }
    array.push_str("{\"title\":\"last\"}]");
    let lines = array[1..array.len() - 1].replace("},{", "}\n{");
    // feed-rs reads the whole XML before the first item (linear, and not stoppable): items with
    // much HTML make the items' work, which the timeout stops, most of the reading.
    let mut feed = String::from("<rss version=\"2.0\"><channel><title>T</title>");
    let html = "&lt;p&gt;DeepSeek &lt;b&gt;H200&lt;/b&gt; boards&lt;/p&gt;".repeat(40);
    for i in 0..3_000 {
        feed.push_str(&format!(
            "<item><title>t{i}</title><description>{html}</description></item>"
        ));
    }
    feed.push_str("</channel></rss>");
    let inputs = [
        plain_page(2_000_000),
        (array.into_bytes(), "a.json"),
        (lines.into_bytes(), "a.jsonl"),
        (feed.into_bytes(), "a.xml"),
    ];
    let short = IngestOptions::default().timeout(Duration::from_millis(1));
    for (bytes, name) in &inputs {
        let started = Instant::now();
        let message = refused(ingest_with(bytes, Path::new(name), &short));
        let took = started.elapsed();
        assert!(
            message.contains("ingest timeout (1ms)"),
            "{name}: {message}"
        );
        // Stopped at the deadline, not at the end of the file.
        let (whole, took_whole) = read(&(bytes.clone(), name));
        assert!(whole.is_ok(), "{name} is read without the short timeout");
        assert!(
            took < took_whole / 2 + Duration::from_millis(200),
            "{name}: refused after {took:?}, reading it all takes {took_whole:?}"
        );
    }
}

#[test]
fn front_matter_of_brackets() {
    let message = warning(read_within(front_matter_brackets(150_000), 8));
    assert!(message.contains("over the 64 KiB read"), "{message}");
    let message = warning(read_within(front_matter_braces(60_000), 8));
    assert!(message.contains("more `[` and `{`"), "{message}");
}

#[test]
fn front_matter_aliases_are_not_expanded() {
    let message = warning(read_within(front_matter_aliases(25_000), 8));
    assert!(message.contains("aliases"), "{message}");
}

#[test]
fn a_tag_with_millions_of_attributes() {
    let message = refused(read_within(one_tag_many_attributes(3_900_000), 12));
    assert_eq!(
        message,
        "skipped: refused: an HTML tag with more than 4096 attributes"
    );
}

#[test]
fn thousands_of_nested_articles() {
    let message = refused(read_within(nested_articles(1_300_000), 12));
    assert_eq!(
        message,
        "skipped: refused: HTML nested far deeper than any real page"
    );
    // Nesting the parser can take is read, the longest article (the outermost) found in one
    // walk of the page.
    let page = read_within(nested_articles_with_text(1_000_000), 20).expect("read");
    let body = &page.articles[0].body;
    assert!(body.starts_with("0 DeepSeek"), "{}", &body[..50]);
    assert!(body.len() > 900_000, "{}", body.len());
}

#[test]
fn formatting_elements_left_open() {
    let page = read_within(open_formatting_elements(200_000), 12).expect("read");
    assert!(page.articles[0].body.ends_with("x\n\nx"));
    // A debug build on a loaded machine reads this 1 MB in ~20 s since extraction's pass; a
    // quadratic reading would take hours.
    let page = read_within(open_formatting_plain(1_000_000), 40).expect("read");
    assert!(page.articles[0].body.ends_with("x\n\nx"));
}

#[test]
fn end_tags_that_close_nothing() {
    let message = refused(read_within(unmatched_end_tags(2_000_000), 12));
    assert_eq!(
        message,
        "skipped: refused: HTML nested far deeper than any real page"
    );
}

/// Damaged feeds of 1 MB are read within seconds (a debug build on a busy two-core machine
/// takes up to 4 s, for the one whose description is a page of HTML, as long as the page).
#[test]
fn damaged_feeds_are_read_in_bounded_time() {
    let parsed = read_within(damaged_feed(1_000_000), 20).expect("read");
    assert!(parsed.articles.len() > 5_000, "{}", parsed.articles.len());
    assert_eq!(
        parsed.articles[0].title,
        "AT&T < 3 é &bogus; \u{fffd} ’ H200"
    );
    assert_eq!(parsed.warnings.len(), 1, "{:?}", parsed.warnings);
    let open = read_within(open_feed_elements(1_000_000), 20).expect("read");
    assert_eq!(open.articles.len(), 1);
    assert!(open.warnings[0].contains("cut off"), "{:?}", open.warnings);
    let unmatched = read_within(unmatched_feed_end_tags(1_000_000), 20).expect("read");
    assert_eq!(unmatched.articles.len(), 1, "the complete item only");
    assert!(unmatched.warnings[0].contains("end tags closing nothing dropped"));
    let markup = read_within(markup_in_a_description(1_000_000), 20).expect("read");
    assert!(markup.articles[0].body.starts_with("DeepSeek H200"));
    let cdata = read_within(cdata_openings(1_000_000), 20).expect("read");
    assert_eq!(cdata.articles.len(), 1, "the complete item only");
}

#[test]
fn feeds_with_many_declarations() {
    let parsed = read_within(feed_declarations(2_000_000), 12).expect("read");
    assert_eq!(parsed.articles[0].title, "DeepSeek H200");
}

/// A page of 16 MiB (the default size limit) made of tags costs at most its own size or so:
/// it is refused before the parser builds a tree of tens of millions of nodes (835 MB).
/// Measured in a process of its own (`VmHWM` is the process's peak).
#[test]
fn a_page_of_16_mib_of_tags_is_refused_before_it_costs_memory() {
    if std::env::var_os("HOSTILE_MEMORY_CHILD").is_some() {
        let mut html = String::with_capacity(16 << 20);
        while html.len() < (16 << 20) - 8 {
            html.push_str("x<br>");
        }
        let message = refused(read_within((html.into_bytes(), "a.html"), 40));
        assert!(
            message.contains("HTML tags, more than the 1000000"),
            "{message}"
        );
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        if let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:")) {
            println!("peak {line}");
        }
        return;
    }
    if !Path::new("/proc/self/status").exists() {
        return;
    }
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_page_of_16_mib_of_tags_is_refused_before_it_costs_memory",
            "--nocapture",
        ])
        .env("HOSTILE_MEMORY_CHILD", "1")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&child.stdout);
    assert!(child.status.success(), "{out}");
    let kib: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("peak VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak in {out}"));
    // The page and its copy as text: 32 MiB, and the test harness.
    assert!(kib < 100 << 10, "peak {kib} KiB");
}

/// Time per byte is flat: each generated input at 512 KiB takes less than 64 times what it
/// takes at 32 KiB (16 times the bytes; a quadratic reader takes 256 times). Linear is not
/// 16×: a 32 KiB page's tree stays in the CPU's caches and a 512 KiB one does not, which costs
/// html5ever itself about 2× on an ordinary page in a release build. The faster of two runs is
/// compared, so that a busy machine does not decide.
#[test]
fn linear_in_the_input() {
    let cases: &[(&str, Generator)] = &[
        ("front matter brackets", front_matter_brackets),
        ("one tag, many attributes", one_tag_many_attributes),
        ("nested articles", nested_articles),
        ("nested articles with text", nested_articles_growing),
        ("open formatting elements", open_formatting_elements),
        ("plain open formatting elements", open_formatting_plain),
        ("unmatched end tags", unmatched_end_tags),
        ("feed declarations", feed_declarations),
        ("damaged feed", damaged_feed),
        ("open feed elements", open_feed_elements),
        ("unmatched feed end tags", unmatched_feed_end_tags),
        ("markup in a description", markup_in_a_description),
        ("CDATA openings", cdata_openings),
        ("plain page", plain_page),
    ];
    let fastest = |generate: Generator, size: usize| {
        let input = generate(size);
        (0..2).map(|_| read(&input).1).min().expect("two runs")
    };
    let mut report = Vec::new();
    for (name, generate) in cases {
        let small = fastest(*generate, 32 << 10);
        let large = fastest(*generate, 512 << 10);
        // Under a millisecond, timer and allocator noise decide: give the small input one.
        let ratio = large.as_secs_f64() / small.as_secs_f64().max(0.001);
        report.push(format!("{name}: {small:?} → {large:?} ({ratio:.1}×)"));
        assert!(ratio < 64.0, "not linear: {}", report.join("; "));
    }
    println!("{}", report.join("\n"));
}
