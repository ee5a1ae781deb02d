//! The daemon polling feeds (`every: 1s`, so that these tests take seconds): a new item alerts
//! once, then the polls are 304s; a `Retry-After: 5` holds its feed 5 s while the host's other
//! feed goes on; the backoff after 500s grows and resets on success; a feed added on SIGHUP is
//! polled without a restart, and one removed is polled no more.

mod common;

use std::time::Duration;

use common::feed_server::{FeedServer, Serve, rss};
use common::{Daemon, Sandbox, json_lines, wait_for_lines};

const WAIT: Duration = Duration::from_secs(30);

fn sandbox(feeds: &str) -> Sandbox {
    let s = Sandbox::new();
    s.rule(
        "every",
        r#"//! Every article.
alert(#{ message: article.title });"#,
    );
    std::fs::create_dir(s.path().join("inbox")).unwrap();
    write_config(&s, feeds);
    s
}

fn write_config(s: &Sandbox, feeds: &str) {
    s.write(
        "newswatch.yaml",
        format!(
            "watch:\n  - path: inbox\nstate: state.db\noutputs:\n  - type: file\n    path: alerts.jsonl\nfeed_defaults: {{ every: 1s }}\nfeeds:\n{feeds}"
        ),
    );
}

fn start(s: &Sandbox) -> Daemon {
    s.watch(&["--config", "newswatch.yaml"])
}

fn feed(body: String) -> Serve {
    Serve::Feed { body, gzip: false }
}

#[test]
fn a_new_item_alerts_once_then_polls_are_not_modified() {
    let server = FeedServer::start();
    server.set("/f.xml", feed(rss("F", &[("Old", "o")])));
    let s = sandbox(&format!("  - url: {}\n", server.url("/f.xml")));
    let d = start(&s);
    server.wait_for("/f.xml", 1, WAIT);
    d.wait_for_log("recorded as seen", WAIT);
    server.set("/f.xml", feed(rss("F", &[("Fresh", "n"), ("Old", "o")])));
    let alerts = wait_for_lines(&s.path().join("alerts.jsonl"), 1, WAIT);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["message"], "Fresh");
    let seen = server.count("/f.xml");
    server.wait_for("/f.xml", seen + 3, WAIT);
    let requests = server.requests("/f.xml");
    assert!(
        requests[seen..].iter().all(|r| r.status == 304),
        "{requests:?}"
    );
    assert_eq!(
        json_lines(&s.path().join("alerts.jsonl")).len(),
        1,
        "{}",
        d.log()
    );
}

#[test]
fn retry_after_holds_its_feed_and_not_the_hosts_other_feed() {
    let server = FeedServer::start();
    server.script(
        "/busy.xml",
        vec![
            Serve::Status {
                code: 429,
                headers: "Retry-After: 5\r\n".into(),
                body: String::new(),
            },
            feed(rss("Busy", &[("b", "b")])),
        ],
    );
    server.set("/calm.xml", feed(rss("Calm", &[("c", "c")])));
    let s = sandbox(&format!(
        "  - url: {}\n  - url: {}\n",
        server.url("/busy.xml"),
        server.url("/calm.xml")
    ));
    let _d = start(&s);
    server.wait_for("/busy.xml", 2, WAIT);
    let busy = server.requests("/busy.xml");
    let gap = busy[1].at - busy[0].at;
    assert!(gap >= Duration::from_secs(5), "asked again after {gap:?}");
    let calm = server.requests("/calm.xml");
    let meanwhile = calm
        .iter()
        .filter(|r| r.at > busy[0].at && r.at < busy[1].at)
        .count();
    assert!(
        meanwhile >= 3,
        "the other feed of the host: {meanwhile} polls in {gap:?}"
    );
}

#[test]
fn backoff_grows_after_errors_and_resets_on_success() {
    let server = FeedServer::start();
    let error = || Serve::Status {
        code: 500,
        headers: String::new(),
        body: "boom".into(),
    };
    server.script(
        "/flaky.xml",
        vec![error(), error(), feed(rss("Flaky", &[("x", "x")]))],
    );
    let s = sandbox(&format!("  - url: {}\n", server.url("/flaky.xml")));
    let d = start(&s);
    server.wait_for("/flaky.xml", 5, Duration::from_secs(40));
    let at: Vec<_> = server.requests("/flaky.xml").iter().map(|r| r.at).collect();
    let gaps: Vec<Duration> = at.windows(2).map(|w| w[1] - w[0]).collect();
    // every 1s: 2 s after the first failure, 4 s after the second; back to 1 s once it answers.
    assert!(gaps[0] >= Duration::from_secs(2), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_secs(4), "{gaps:?}");
    assert!(gaps[1] > gaps[0], "{gaps:?}");
    assert!(
        gaps[3] < Duration::from_secs(2),
        "reset on success: {gaps:?}"
    );
    assert!(d.log().contains("HTTP 500: boom"), "{}", d.log());
}

#[test]
fn sighup_adds_and_removes_feeds() {
    let server = FeedServer::start();
    server.set("/a.xml", feed(rss("A", &[("From A", "a")])));
    server.set("/b.xml", feed(rss("B", &[("From B", "b")])));
    let s = sandbox(&format!("  - url: {}\n", server.url("/a.xml")));
    let d = start(&s);
    server.wait_for("/a.xml", 1, WAIT);
    write_config(
        &s,
        &format!("  - url: {}\n    first_poll: alert\n", server.url("/b.xml")),
    );
    d.signal("HUP");
    d.wait_for_log("config reloaded", WAIT);
    let alerts = wait_for_lines(&s.path().join("alerts.jsonl"), 1, WAIT);
    assert_eq!(alerts[0]["message"], "From B");
    let a = server.count("/a.xml");
    server.wait_for("/b.xml", 3, WAIT);
    assert!(
        server.count("/a.xml") <= a + 1,
        "a feed removed is polled no more"
    );
}
