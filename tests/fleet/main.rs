//! The fleet on a real NATS JetStream server (`server.rs` starts one per test): `publish` puts
//! files into the articles stream, `consume` workers evaluate them and publish alerts, and the
//! alerts stream ends up holding exactly what `scan` finds on the same files — through a
//! worker killed with SIGKILL and started again, a server restart, a malformed article, a
//! SIGTERM with work in flight and a rule added while workers run. Without a `nats-server`
//! the tests that need one say they are skipped.

#[path = "../common/mod.rs"]
mod common;
mod server;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::Sandbox;
use server::{Server, Worker};

const ARTICLES: &str = "NEWSWATCH_ARTICLES";
const ALERTS: &str = "NEWSWATCH_ALERTS";
const DURABLE: &str = "newswatch";

/// Short waits, so that what a killed worker held comes back within the test.
const CONFIG: &str = "nats:\n  ack_wait: 2s\n  batch: 16\n  timeout: 2s\n";

/// A sandbox with the rules the generated articles are made for, and the config.
fn sandbox() -> Sandbox {
    let s = Sandbox::new();
    s.rule(
        "pair",
        r#"if article.mentions_all(["alpha", "beta"]) { alert("alpha and beta"); }"#,
    );
    s.rule(
        "gamma",
        r#"if article.mentions("gamma") { alert(#{ message: article.title, severity: "high", tags: ["g"] }); }"#,
    );
    s.rule(
        "sub/delta",
        r#"if article.mentions_any(["delta", "epsilon"]) { alert(#{ message: "d", kind: article.source }); }"#,
    );
    s.write("newswatch.yaml", CONFIG);
    s
}

/// `n` articles in `dir` (under the sandbox), each with a few of the rules' words.
fn generate(s: &Sandbox, dir: &str, n: usize, salt: &str) {
    const WORDS: [&str; 6] = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"];
    for i in 0..n {
        let words: Vec<&str> = WORDS
            .iter()
            .enumerate()
            .filter(|(k, _)| (i >> k) & 1 == 1 || (i + k) % 5 == 0)
            .map(|(_, w)| *w)
            .collect();
        s.write(
            &format!("{dir}/{i:04}.txt"),
            format!(
                "Report {salt} {i}\nThe words of the day are {}. Filler text for article {i}.\n",
                words.join(", ")
            ),
        );
    }
}

fn publish(s: &Sandbox, server: &Server, paths: &[&str]) -> common::Run {
    let mut args = vec!["publish", "--nats"];
    let url = server.url();
    args.push(&url);
    args.extend(paths);
    let run = s.run(&args);
    assert_eq!(run.code, 0, "publish failed:\n{}", run.stderr);
    run
}

/// The alerts `scan` finds on `paths` with the sandbox's rules, by id: several for one id
/// where files hold the same article (the stream, keyed by content, holds one of them).
fn scanned(s: &Sandbox, paths: &[&str]) -> BTreeMap<String, Vec<serde_json::Value>> {
    let mut args = vec!["scan", "--format", "json"];
    args.extend(paths);
    let run = s.run(&args);
    assert!(
        run.code == 0 || run.code == 1,
        "scan failed:\n{}",
        run.stderr
    );
    let mut by_id: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for a in run.alerts() {
        by_id
            .entry(a["id"].as_str().unwrap().to_string())
            .or_default()
            .push(a);
    }
    by_id
}

/// The alerts stream: each message checked (subject from the rule, `Nats-Msg-Id` = the alert
/// id), then by id; and how many messages it holds.
fn streamed(server: &Server) -> (BTreeMap<String, serde_json::Value>, usize) {
    let messages = server.messages(ALERTS);
    let count = messages.len();
    let mut by_id = BTreeMap::new();
    for m in messages {
        let alert = m.json();
        let rule = alert["rule"].as_str().unwrap();
        assert_eq!(
            m.subject,
            format!("newswatch.alerts.{}", rule.replace('/', ".")),
            "{alert}"
        );
        assert_eq!(
            m.id,
            alert["id"].as_str().unwrap(),
            "Nats-Msg-Id is the alert id"
        );
        by_id.insert(m.id.clone(), alert);
    }
    (by_id, count)
}

/// The alerts stream holds exactly `scan`'s alerts, once each, the same JSON but for the time
/// (the article's time in the stream, not the scan's).
fn assert_same_as_scan(
    streamed: &BTreeMap<String, serde_json::Value>,
    scanned: &BTreeMap<String, Vec<serde_json::Value>>,
) {
    let pairs =
        |alerts: &mut dyn Iterator<Item = &serde_json::Value>| -> BTreeSet<(String, String)> {
            alerts
                .map(|a| {
                    (
                        a["rule"].as_str().unwrap().to_string(),
                        a["article"]["sha256"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        };
    let (got, want) = (
        pairs(&mut streamed.values()),
        pairs(&mut scanned.values().flatten()),
    );
    let missing: Vec<_> = want.difference(&got).take(5).collect();
    let extra: Vec<_> = got.difference(&want).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "(rule, article) pairs differ: {} streamed, {} scanned; missing {missing:?}, extra {extra:?}",
        got.len(),
        want.len()
    );
    let got: BTreeSet<&String> = streamed.keys().collect();
    let want: BTreeSet<&String> = scanned.keys().collect();
    assert_eq!(got, want, "alert ids");
    let untimed = |a: &serde_json::Value| {
        let mut a = a.clone();
        a["time"] = serde_json::Value::Null;
        a
    };
    for (id, alert) in streamed {
        assert!(
            alert["time"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{alert}"
        );
        let alert = untimed(alert);
        assert!(
            scanned[id].iter().any(|b| untimed(b) == alert),
            "the alert JSON is scan's: {alert}\nscan: {:?}",
            scanned[id]
        );
    }
}

fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < timeout, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn two_workers_store_exactly_the_alerts_scan_finds() {
    let Some(server) = Server::start() else {
        return;
    };
    let s = sandbox();
    generate(&s, "inbox", 300, "a");
    let run = publish(&s, &server, &["inbox"]);
    assert!(run.stderr.contains("300 new"), "{}", run.stderr);
    // The same files again: stored once (Nats-Msg-Id = SHA-256 of the bytes).
    let again = publish(&s, &server, &["inbox"]);
    assert!(
        again.stderr.contains("0 new, 300 already there"),
        "{}",
        again.stderr
    );

    let workers = [
        Worker::start(s.path(), &server, &[]),
        Worker::start(s.path(), &server, &[]),
    ];
    let state = server.wait_until_consumed(ARTICLES, DURABLE, Duration::from_secs(30));
    assert_eq!(state.redelivered, 0, "{state:?}");
    for w in workers {
        let (code, took, log) = w.term();
        assert_eq!(code, 0, "{log}");
        assert!(took < Duration::from_secs(2), "{took:?}\n{log}");
    }
    let (by_id, count) = streamed(&server);
    assert_same_as_scan(&by_id, &scanned(&s, &["inbox"]));
    assert_eq!(count, by_id.len(), "each alert once");
    assert!(by_id.len() > 100, "{}", by_id.len());
}

#[test]
fn a_worker_killed_and_restarted_loses_nothing_and_repeats_nothing() {
    let Some(server) = Server::start() else {
        return;
    };
    let s = sandbox();
    // Slow enough that the kill finds articles in hand.
    s.rule(
        "slow",
        r#"let n = 0; for i in 0..1500 { n += i; } if n < 0 { alert("never"); }"#,
    );
    generate(&s, "inbox", 240, "k");
    publish(&s, &server, &["inbox"]);
    let a = Worker::start(s.path(), &server, &[]);
    let b = Worker::start(s.path(), &server, &[]);
    wait_for("a first alert", Duration::from_secs(30), || {
        server.stream_last_seq(ALERTS) >= 20
    });
    a.kill9();
    let a = Worker::start(s.path(), &server, &[]);
    let state = server.wait_until_consumed(ARTICLES, DURABLE, Duration::from_secs(40));
    for w in [a, b] {
        let (code, _, log) = w.term();
        assert_eq!(code, 0, "{log}");
    }
    let (by_id, count) = streamed(&server);
    assert_same_as_scan(&by_id, &scanned(&s, &["inbox"]));
    // Alerts published again for redelivered articles were dropped by the duplicate window.
    assert_eq!(count, by_id.len(), "duplicates absorbed ({state:?})");
    let after = server.consumer_state(ARTICLES, DURABLE).unwrap();
    assert_eq!((after.pending, after.ack_pending), (0, 0), "{after:?}");
}

#[test]
fn the_bbc_corpus_through_two_workers_one_killed_matches_scan() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let bbc = corpus.join("bbc");
    let Some(server) = Server::start() else {
        return;
    };
    let s = Sandbox::new();
    s.write("newswatch.yaml", "nats:\n  ack_wait: 3s\n  batch: 32\n");
    // Two-word rules over the corpus's vocabulary, common and rare.
    let words = [
        ("government", "minister"),
        ("market", "shares"),
        ("film", "award"),
        ("game", "players"),
        ("music", "band"),
        ("election", "labour"),
        ("technology", "mobile"),
        ("economy", "growth"),
        ("court", "police"),
        ("china", "exports"),
        ("oil", "prices"),
        ("football", "cup"),
    ];
    for (i, (a, b)) in words.iter().enumerate() {
        s.rule(
            &format!("r{i:02}"),
            &format!(r#"if article.mentions_all(["{a}", "{b}"]) {{ alert("{a} {b}"); }}"#),
        );
    }
    let bbc = bbc.to_str().unwrap();
    publish(&s, &server, &[bbc]);
    let a = Worker::start(s.path(), &server, &[]);
    let b = Worker::start(s.path(), &server, &[]);
    wait_for("some alerts", Duration::from_secs(60), || {
        server.stream_last_seq(ALERTS) >= 50
    });
    a.kill9();
    let a = Worker::start(s.path(), &server, &[]);
    server.wait_until_consumed(ARTICLES, DURABLE, Duration::from_secs(90));
    for w in [a, b] {
        let (code, _, log) = w.term();
        assert_eq!(code, 0, "{log}");
    }
    let (by_id, count) = streamed(&server);
    assert_same_as_scan(&by_id, &scanned(&s, &[bbc]));
    assert_eq!(count, by_id.len(), "duplicates absorbed");
}

#[test]
fn a_worker_rides_out_a_server_restart() {
    let Some(mut server) = Server::start() else {
        return;
    };
    let s = sandbox();
    s.rule(
        "slow",
        r#"let n = 0; for i in 0..1500 { n += i; } if n < 0 { alert("never"); }"#,
    );
    generate(&s, "inbox", 240, "r");
    publish(&s, &server, &["inbox"]);
    let w = Worker::start(s.path(), &server, &[]);
    wait_for("a first alert", Duration::from_secs(30), || {
        server.stream_last_seq(ALERTS) >= 10
    });
    server.restart();
    server.wait_until_consumed(ARTICLES, DURABLE, Duration::from_secs(40));
    // It goes on with what is published after the restart.
    generate(&s, "later", 20, "after");
    publish(&s, &server, &["later"]);
    server.wait_until_consumed(ARTICLES, DURABLE, Duration::from_secs(20));
    let (code, _, log) = w.term();
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("disconnected"), "{log}");
    let (by_id, count) = streamed(&server);
    assert_same_as_scan(&by_id, &scanned(&s, &["inbox", "later"]));
    assert_eq!(count, by_id.len());
}

#[test]
fn a_malformed_article_is_terminated_once() {
    let Some(server) = Server::start() else {
        return;
    };
    let s = sandbox();
    s.write("inbox/good.txt", "Gamma rays\nA gamma burst.\n");
    s.write("inbox/bad.txt", b"\x00\x01binary\x00 junk\x00".as_slice());
    publish(&s, &server, &["inbox"]);
    let w = Worker::start(s.path(), &server, &[]);
    let state = server.wait_until_consumed(ARTICLES, DURABLE, Duration::from_secs(20));
    // Past an ack wait: a terminated article does not come back.
    std::thread::sleep(Duration::from_millis(2500));
    let (code, _, log) = w.term();
    assert_eq!(code, 0, "{log}");
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("not an article"))
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(lines[0].contains("inbox/bad.txt"), "{log}");
    assert_eq!(state.redelivered, 0);
    let (by_id, _) = streamed(&server);
    assert_same_as_scan(&by_id, &scanned(&s, &["inbox/good.txt"]));
}

#[test]
fn sigterm_with_work_in_flight_exits_0_within_2s_and_loses_nothing() {
    let Some(server) = Server::start() else {
        return;
    };
    let s = sandbox();
    s.rule(
        "slow",
        r#"let n = 0; for i in 0..2000 { n += i; } if n < 0 { alert("never"); }"#,
    );
    generate(&s, "inbox", 240, "t");
    publish(&s, &server, &["inbox"]);
    let w = Worker::start(s.path(), &server, &[]);
    wait_for("a first alert", Duration::from_secs(30), || {
        server.stream_last_seq(ALERTS) >= 5
    });
    let (code, took, log) = w.term();
    assert_eq!(code, 0, "{log}");
    assert!(took < Duration::from_secs(2), "{took:?}\n{log}");
    // What it held was finished and acked, not left to time out.
    let state = server.consumer_state(ARTICLES, DURABLE).unwrap();
    assert_eq!(state.ack_pending, 0, "{state:?}\n{log}");
    assert!(state.pending > 0, "stopped before the end: {state:?}");
    let w = Worker::start(s.path(), &server, &[]);
    server.wait_until_consumed(ARTICLES, DURABLE, Duration::from_secs(40));
    let (code, _, log) = w.term();
    assert_eq!(code, 0, "{log}");
    let (by_id, count) = streamed(&server);
    assert_same_as_scan(&by_id, &scanned(&s, &["inbox"]));
    assert_eq!(count, by_id.len());
}

#[test]
fn a_rule_added_while_a_worker_runs_applies_to_the_next_article() {
    let Some(server) = Server::start() else {
        return;
    };
    let s = sandbox();
    let w = Worker::start(s.path(), &server, &[]);
    s.rule("zeta", r#"if article.mentions("zeta") { alert("z"); }"#);
    w.wait_for_log("rules reloaded: 4 rules", Duration::from_secs(10));
    s.write("inbox/z.txt", "Zeta\nThe zeta function.\n");
    publish(&s, &server, &["inbox"]);
    server.wait_until_consumed(ARTICLES, DURABLE, Duration::from_secs(20));
    let (code, _, log) = w.term();
    assert_eq!(code, 0, "{log}");
    let (by_id, _) = streamed(&server);
    let rules: Vec<&str> = by_id
        .values()
        .map(|a| a["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["zeta"]);
}

#[test]
fn a_page_published_from_stdin_is_read_as_a_page() {
    let Some(server) = Server::start() else {
        return;
    };
    let s = sandbox();
    let page = "<!DOCTYPE html>\n<html><head><title>Gamma report</title></head>\n\
                <body><nav>Menu</nav><article><p>A gamma burst was seen from two observatories \
                tonight.</p></article></body></html>";
    let url = server.url();
    let run = s.run_with_stdin(&["publish", "--nats", &url, "-"], Some(page.as_bytes()));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let w = Worker::start(s.path(), &server, &[]);
    server.wait_until_consumed(ARTICLES, DURABLE, Duration::from_secs(20));
    let (code, _, log) = w.term();
    assert_eq!(code, 0, "{log}");
    let (by_id, _) = streamed(&server);
    let titles: Vec<&str> = by_id
        .values()
        .map(|a| a["article"]["title"].as_str().unwrap())
        .collect();
    // The title of the page, as `scan -` reads it, not its first line.
    assert_eq!(titles, ["Gamma report"]);
    let piped = s.run_with_stdin(&["scan", "--format", "json", "-"], Some(page.as_bytes()));
    let scanned: Vec<String> = piped.alerts().iter().map(|a| a["id"].to_string()).collect();
    let streamed: Vec<String> = by_id.values().map(|a| a["id"].to_string()).collect();
    assert_eq!(streamed, scanned);
}

#[test]
fn streams_consumers_and_subjects_are_the_ones_the_flags_name() {
    let Some(server) = Server::start() else {
        return;
    };
    let s = sandbox();
    generate(&s, "inbox", 8, "w");
    // The publisher's stream from its own config; the worker's from `--stream` alone.
    s.write("pub.yaml", format!("{CONFIG}  stream: WIRE\n"));
    let url = server.url();
    let run = s.run(&[
        "publish",
        "--nats",
        &url,
        "--config",
        "pub.yaml",
        "--subject",
        "wire.articles",
        "inbox",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("to wire.articles (stream WIRE)"),
        "{}",
        run.stderr
    );
    let w = Worker::start(
        s.path(),
        &server,
        &[
            "--stream",
            "WIRE",
            "--durable",
            "team",
            "--alerts-subject",
            "wire.alerts",
        ],
    );
    let state = server.wait_until_consumed("WIRE", "team", Duration::from_secs(20));
    assert_eq!(state.pending, 0);
    let (code, _, log) = w.term();
    assert_eq!(code, 0, "{log}");
    let messages = server.messages(ALERTS);
    assert!(!messages.is_empty());
    for m in &messages {
        let rule = m.json()["rule"].as_str().unwrap().replace('/', ".");
        assert_eq!(m.subject, format!("wire.alerts.{rule}"));
    }
    let ids: BTreeSet<String> = messages.iter().map(|m| m.id.clone()).collect();
    let want: BTreeSet<String> = scanned(&s, &["inbox"]).into_keys().collect();
    assert_eq!(ids, want);
    // Nothing went to the default stream or consumer.
    assert!(server.messages("NEWSWATCH_ARTICLES").is_empty());
}

#[test]
fn publish_exits_2_naming_what_it_could_not_publish() {
    // No server on this port: nothing published, and it says so (no nats-server needed).
    let s = sandbox();
    generate(&s, "inbox", 3, "p");
    let url = format!("nats://127.0.0.1:{}", server::free_port());
    let run = s.run(&["publish", "--nats", &url, "inbox"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("cannot connect"), "{}", run.stderr);
    assert!(
        run.stderr.contains("nothing published (3 files)"),
        "{}",
        run.stderr
    );
    // No server named anywhere.
    let bare = Sandbox::new();
    let run = bare.run(&["publish", "x.txt"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--nats"), "{}", run.stderr);

    let Some(server) = Server::start() else {
        return;
    };
    let run = s.run(&["publish", "--nats", &server.url(), "inbox", "missing.txt"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("missing.txt"), "{}", run.stderr);
    assert!(run.stderr.contains("3 new"), "{}", run.stderr);
    // Larger than the server's max_payload (1 MiB by default): named, with what to do.
    s.write(
        "big/big.txt",
        "Big\n".to_string() + &"word ".repeat(300_000),
    );
    let run = s.run(&["publish", "--nats", &server.url(), "big"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("big/big.txt") && run.stderr.contains("max_payload"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_nats_output_delivers_alerts_with_their_ids_once() {
    let Some(server) = Server::start() else {
        return;
    };
    let s = sandbox();
    generate(&s, "inbox", 20, "o");
    s.write(
        "out.yaml",
        format!(
            "outputs:\n  - type: nats\n    url: {}\n    subject: team.alerts\n",
            server.url()
        ),
    );
    let check = s.run(&["check", "--config", "out.yaml"]);
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    for _ in 0..2 {
        let run = s.run(&[
            "scan",
            "--config",
            "out.yaml",
            "--deliver",
            "--format",
            "json",
            "inbox",
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let expected = scanned(&s, &["inbox"]);
    let messages = server.messages(ALERTS);
    assert_eq!(
        messages.len(),
        expected.len(),
        "delivered twice, stored once"
    );
    for m in &messages {
        let alert = m.json();
        assert!(expected.contains_key(&m.id), "{alert}");
        assert_eq!(m.id, alert["id"].as_str().unwrap());
        assert!(m.subject.starts_with("team.alerts."), "{}", m.subject);
    }
    // A nats output needs a URL, and a NATS one.
    s.write(
        "bad.yaml",
        "outputs:\n  - type: nats\n  - type: nats\n    url: http://x\n",
    );
    let check = s.run(&["check", "--config", "bad.yaml"]);
    let said = format!("{}{}", check.stdout, check.stderr);
    assert_eq!(check.code, 1, "{said}");
    assert!(
        said.contains("outputs[0]: an output of type nats needs `url`"),
        "{said}"
    );
    assert!(said.contains("outputs[1].url"), "{said}");
}
