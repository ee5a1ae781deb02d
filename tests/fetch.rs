//! `newswatch fetch` on the real binary against a feed server on loopback: the first poll
//! skips (or alerts), a new item alerts once, conditional GETs get 304 and nothing is evaluated
//! again, a `Retry-After` holds that feed only, permanent redirects move the feed, gzip, the
//! size limit, a server that never answers, OPML with nested outlines, two feeds carrying one
//! item, a saved file and a feed carrying one item, the exit codes; and the corpus's feeds,
//! served, read as `scan` reads them.

mod common;

use std::time::{Duration, Instant};

use common::feed_server::{FeedServer, Serve, rss};
use common::{Run, Sandbox, json_lines};

/// A sandbox with a rule alerting on every article (its title as the message), a file output
/// and these feeds (YAML list entries, each starting `- `).
fn sandbox(feeds: &str, extra: &str) -> Sandbox {
    let s = Sandbox::new();
    s.rule(
        "every",
        r#"//! Every article.
alert(#{ message: article.title, severity: "high" });"#,
    );
    s.write(
        "newswatch.yaml",
        format!(
            "state: state.db\noutputs:\n  - type: file\n    path: alerts.jsonl\n{extra}feeds:\n{feeds}"
        ),
    );
    s
}

fn fetch(s: &Sandbox) -> Run {
    s.run(&["fetch"])
}

fn messages(s: &Sandbox) -> Vec<String> {
    json_lines(&s.path().join("alerts.jsonl"))
        .iter()
        .map(|a| a["message"].as_str().unwrap().to_string())
        .collect()
}

fn feed(body: String) -> Serve {
    Serve::Feed { body, gzip: false }
}

fn status_json(s: &Sandbox) -> (i32, serde_json::Value) {
    let run = s.run(&["status", "--format", "json"]);
    (run.code, serde_json::from_str(&run.stdout).unwrap())
}

#[test]
fn first_poll_skips_then_a_new_item_alerts_once_and_304s_are_not_evaluated() {
    let server = FeedServer::start();
    server.set(
        "/chips.xml",
        feed(rss(
            "Chip News",
            &[("Old one", "Was there"), ("Old two", "Also")],
        )),
    );
    let s = sandbox(&format!("  - url: {}\n", server.url("/chips.xml")), "");
    let first = fetch(&s);
    assert_eq!(
        first.code, 1,
        "no alert on the first poll: {}",
        first.stderr
    );
    assert!(
        first.stderr.contains("2 item(s) recorded as seen"),
        "{}",
        first.stderr
    );
    assert!(messages(&s).is_empty());

    server.set(
        "/chips.xml",
        feed(rss(
            "Chip News",
            &[
                ("New H200 story", "DeepSeek"),
                ("Old one", "Was there"),
                ("Old two", "Also"),
            ],
        )),
    );
    let second = fetch(&s);
    assert_eq!(second.code, 0, "{}", second.stderr);
    let alerts = json_lines(&s.path().join("alerts.jsonl"));
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let article = &alerts[0]["article"];
    assert_eq!(alerts[0]["message"], "New H200 story");
    assert_eq!(article["source"], "Chip News");
    assert_eq!(article["path"], "https://example.com/New-H200-story");
    assert_eq!(article["url"], "https://example.com/New-H200-story");

    // Unchanged: the server sees the ETag and answers 304; nothing is evaluated again.
    let third = fetch(&s);
    assert_eq!(third.code, 1, "{}", third.stderr);
    let requests = server.requests("/chips.xml");
    assert_eq!(requests.len(), 3);
    assert!(!requests[0].headers.contains_key("if-none-match"));
    assert!(requests[2].headers.contains_key("if-none-match"));
    assert_eq!(requests[2].status, 304);
    assert!(requests[0].headers["user-agent"].starts_with("newswatch/"));
    assert_eq!(messages(&s).len(), 1);

    // A server without validators: the feed is read in full, and its items are seen already.
    server.set(
        "/chips.xml",
        Serve::Plain(rss("Chip News", &[("New H200 story", "DeepSeek")])),
    );
    assert_eq!(fetch(&s).code, 1);
    assert_eq!(messages(&s).len(), 1);
    let (code, status) = status_json(&s);
    assert_eq!(code, 1, "no daemon running: {status}");
    let feeds = status["feeds"].as_array().unwrap();
    assert_eq!(feeds.len(), 1, "{status}");
    assert_eq!(feeds[0]["title"], "Chip News");
    assert_eq!(feeds[0]["failures"], 0);
    assert_eq!(feeds[0]["items_seen"], 3);
}

#[test]
fn first_poll_alert_evaluates_what_the_feed_holds() {
    let server = FeedServer::start();
    server.set("/a.xml", feed(rss("A", &[("One", "x"), ("Two", "y")])));
    let s = sandbox(
        &format!("  - url: {}\n    first_poll: alert\n", server.url("/a.xml")),
        "",
    );
    let run = fetch(&s);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(messages(&s), ["One", "Two"]);
}

#[test]
fn one_item_in_two_feeds_and_a_saved_file_alerts_once() {
    let server = FeedServer::start();
    let item = ("Nvidia H200 for DeepSeek", "Export licences granted.");
    server.set("/a.xml", feed(rss("A", &[item, ("Only in A", "a")])));
    server.set("/b.xml", feed(rss("B", &[item])));
    server.set(
        "/c.xml",
        feed(rss("C", &[("Saved before", "In a file too.")])),
    );
    let s = sandbox(
        &format!(
            "  - url: {}\n  - url: {}\n  - url: {}\nfeed_defaults: {{ first_poll: alert }}\n",
            server.url("/a.xml"),
            server.url("/b.xml"),
            server.url("/c.xml")
        ),
        "",
    );
    // The third feed's item was saved as a file and scanned into the same state before.
    s.write("saved/copy.txt", "Saved before\n\nIn a file too.\n");
    let scanned = s.run(&["scan", "--state", "state.db", "--format", "json", "saved"]);
    assert_eq!(scanned.code, 0, "{}", scanned.stderr);
    let run = fetch(&s);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut got = messages(&s);
    got.sort();
    assert_eq!(got, ["Nvidia H200 for DeepSeek", "Only in A"]);
}

#[test]
fn retry_after_holds_that_feed_and_not_the_others_of_its_host() {
    let server = FeedServer::start();
    server.set(
        "/busy.xml",
        Serve::Status {
            code: 429,
            headers: "Retry-After: 3600\r\n".into(),
            body: "slow down".into(),
        },
    );
    server.set("/calm.xml", feed(rss("Calm", &[("Calm item", "c")])));
    let s = sandbox(
        &format!(
            "  - url: {}\n  - url: {}\n",
            server.url("/busy.xml"),
            server.url("/calm.xml")
        ),
        "",
    );
    let first = fetch(&s);
    assert_eq!(
        first.code, 1,
        "one feed failed among others: {}",
        first.stderr
    );
    assert!(
        first.stderr.contains("HTTP 429: slow down"),
        "{}",
        first.stderr
    );
    let second = fetch(&s);
    assert_eq!(second.code, 1, "{}", second.stderr);
    assert!(second.stderr.contains("not polled"), "{}", second.stderr);
    assert_eq!(server.count("/busy.xml"), 1, "held by its Retry-After");
    assert_eq!(
        server.count("/calm.xml"),
        2,
        "the host's other feed is polled"
    );
    let (code, status) = status_json(&s);
    assert_eq!(code, 1);
    let problems = status["problems"].to_string();
    assert!(
        problems.contains("is failing: 2 poll(s) in a row")
            || problems.contains("is failing: 1 poll(s) in a row"),
        "{status}"
    );
    let busy = status["feeds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["url"].as_str().unwrap().ends_with("/busy.xml"))
        .unwrap()
        .clone();
    assert_eq!(busy["last_status"], 429);
    assert_eq!(busy["healthy"], false);
    let text = s.run(&["status", "--format", "text"]).stdout;
    assert!(text.contains("FAILING"), "{text}");
}

#[test]
fn a_permanent_redirect_moves_the_feed_a_temporary_one_does_not() {
    let server = FeedServer::start();
    server.set(
        "/old.xml",
        Serve::Redirect {
            code: 301,
            to: "/new.xml".into(),
        },
    );
    server.set("/new.xml", feed(rss("Moved", &[("Item", "x")])));
    server.set(
        "/tmp.xml",
        Serve::Redirect {
            code: 302,
            to: "/tmp-target.xml".into(),
        },
    );
    server.set("/tmp-target.xml", feed(rss("Temp", &[("T", "x")])));
    let s = sandbox(
        &format!(
            "  - url: {}\n  - url: {}\n",
            server.url("/old.xml"),
            server.url("/tmp.xml")
        ),
        "",
    );
    let run = fetch(&s);
    assert!(
        run.stderr.contains("moved permanently to"),
        "{}",
        run.stderr
    );
    assert_eq!(fetch(&s).code, 1);
    assert_eq!(server.count("/old.xml"), 1, "polled at its new address");
    assert_eq!(server.count("/new.xml"), 2);
    assert_eq!(
        server.count("/tmp.xml"),
        2,
        "a temporary redirect keeps the address"
    );
    let (_, status) = status_json(&s);
    let moved = status["feeds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["title"] == "Moved")
        .unwrap()
        .clone();
    assert!(
        moved["url"].as_str().unwrap().ends_with("/old.xml"),
        "{moved}"
    );
    assert!(
        moved["polled_url"].as_str().unwrap().ends_with("/new.xml"),
        "{moved}"
    );
}

#[test]
fn gzip_is_accepted() {
    let server = FeedServer::start();
    server.set(
        "/z.xml",
        Serve::Feed {
            body: rss("Zipped", &[("Compressed item", "z")]),
            gzip: true,
        },
    );
    let s = sandbox(
        &format!("  - url: {}\n    first_poll: alert\n", server.url("/z.xml")),
        "",
    );
    let run = fetch(&s);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(messages(&s), ["Compressed item"]);
    assert!(server.requests("/z.xml")[0].headers["accept-encoding"].contains("gzip"));
}

#[test]
fn a_feed_over_the_size_limit_fails_and_is_reported() {
    let server = FeedServer::start();
    let big = "x".repeat(8000);
    server.set("/big.xml", feed(rss("Big", &[("Huge", &big)])));
    let s = sandbox(
        &format!("  - url: {}\n    max_size: 4KiB\n", server.url("/big.xml")),
        "",
    );
    let run = fetch(&s);
    assert_eq!(run.code, 2, "the only feed failed: {}", run.stderr);
    assert!(
        run.stderr.contains("larger than max_size (4096 bytes)"),
        "{}",
        run.stderr
    );
    let (code, status) = status_json(&s);
    assert_eq!(code, 1);
    assert!(
        status["problems"]
            .to_string()
            .contains("larger than max_size"),
        "{status}"
    );
}

#[test]
fn a_server_that_never_answers_times_out() {
    let server = FeedServer::start();
    server.set("/hang.xml", Serve::Hang);
    server.set("/ok.xml", feed(rss("Ok", &[("Fine", "f")])));
    let s = sandbox(
        &format!(
            "  - url: {}\n    timeout: 1s\n  - url: {}\n    first_poll: alert\n",
            server.url("/hang.xml"),
            server.url("/ok.xml")
        ),
        "",
    );
    let started = Instant::now();
    let run = fetch(&s);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("no complete answer within 1s"),
        "{}",
        run.stderr
    );
    assert_eq!(messages(&s), ["Fine"]);
}

#[test]
fn opml_with_nested_outlines_lists_the_feeds() {
    let server = FeedServer::start();
    server.set("/one.xml", feed(rss("One", &[("From one", "1")])));
    server.set("/two.xml", feed(rss("Two", &[("From two", "2")])));
    let s = sandbox("  - opml: subs.opml\n    first_poll: alert\n", "");
    s.write(
        "subs.opml",
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>Export</title></head><body>
  <outline text="Tech">
    <outline text="One" type="rss" xmlUrl="{}"/>
    <outline text="Deeper">
      <outline text="Two" type="rss" xmlUrl="{}"/>
    </outline>
  </outline>
</body></opml>
"#,
            server.url("/one.xml"),
            server.url("/two.xml")
        ),
    );
    let run = fetch(&s);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut got = messages(&s);
    got.sort();
    assert_eq!(got, ["From one", "From two"]);
}

#[test]
fn exit_codes() {
    // No feeds: fetch cannot do its job.
    let s = sandbox("", "");
    s.write("newswatch.yaml", "state: state.db\n");
    let run = fetch(&s);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no feeds to fetch"), "{}", run.stderr);
    // A broken OPML file: named with its line and column, by fetch and by check.
    let s = sandbox("  - opml: subs.opml\n", "");
    s.write(
        "subs.opml",
        "<opml>\n<body>\n  <outline xmlUrl=\"http://x/\"></body>\n</opml>\n",
    );
    let run = fetch(&s);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("subs.opml:3:"), "{}", run.stderr);
    let check = s.run(&["check"]);
    assert_eq!(check.code, 1);
    assert!(check.stdout.contains("subs.opml:3:"), "{}", check.stdout);
    // A bad feed entry: the config's file, line and column.
    let s = sandbox("  - url: ftp://x/feed\n", "");
    let run = fetch(&s);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("newswatch.yaml:6:5: feeds[0].url"),
        "{}",
        run.stderr
    );
    // Every feed failing: 2; one answering without alerts: 1.
    let server = FeedServer::start();
    server.set(
        "/down.xml",
        Serve::Status {
            code: 500,
            headers: String::new(),
            body: String::new(),
        },
    );
    let s = sandbox(&format!("  - url: {}\n", server.url("/down.xml")), "");
    assert_eq!(fetch(&s).code, 2);
    server.set("/down.xml", feed(rss("Up", &[("x", "y")])));
    // Backing off after the failure: not polled, nothing failed, no alert.
    let run = fetch(&s);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(server.count("/down.xml"), 1);
    // Not a feed at all.
    server.set(
        "/page.xml",
        Serve::Plain("<html><body>hello</body></html>".into()),
    );
    let s = sandbox(&format!("  - url: {}\n", server.url("/page.xml")), "");
    let run = fetch(&s);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("not a feed"), "{}", run.stderr);
}

/// The corpus's feeds served over HTTP raise what `scan` raises on the same files.
#[test]
fn corpus_feeds_served_over_http_are_read_like_files() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let dir = corpus.join("feeds/feed-rs");
    let mut files = Vec::new();
    let mut folders = vec![dir.clone()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.retain(|p| p.extension().is_some_and(|e| e == "xml"));
    files.sort();
    files.truncate(40);
    assert!(!files.is_empty(), "no feeds in {}", dir.display());
    let server = FeedServer::start();
    let mut feeds = String::new();
    // Served as the bytes they are: those that are not UTF-8 are left out (the server takes text).
    files.retain(|f| String::from_utf8(std::fs::read(f).unwrap()).is_ok());
    for (i, file) in files.iter().enumerate() {
        let body = std::fs::read_to_string(file).unwrap();
        server.set(&format!("/{i}.xml"), feed(body));
        feeds.push_str(&format!(
            "  - url: {}\n    first_poll: alert\n",
            server.url(&format!("/{i}.xml"))
        ));
    }
    // Copies of one story are grouped by default; here items are compared by content alone.
    let s = sandbox(&feeds, "stories: { window: 0s }\n");
    // What `scan` finds in the same files is what the fetched feeds raise.
    let run = s.run(&["fetch"]);
    assert!(
        run.code < 2 || run.stderr.contains("not a feed"),
        "{}",
        run.stderr
    );
    let fetched = json_lines(&s.path().join("alerts.jsonl")).len();
    let expected: usize = files
        .iter()
        .flat_map(|f| {
            let one = s.run(&["scan", "--format", "json", f.to_str().unwrap()]);
            one.alerts()
                .iter()
                .map(|a| a["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    assert!(expected > 0, "the rule alerts on every item");
    assert_eq!(fetched, expected, "{}", run.stderr);
}
