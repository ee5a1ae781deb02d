//! The daemon's HTTP endpoint (`http: { listen: … }`), on the real binary: `/metrics` parsed by
//! a Prometheus text-format parser, with counts equal to the articles and alerts of the test;
//! `/healthz` and `/readyz`; nothing else served; a flood of connections that does not delay
//! alerts; a bad address refused where it is written.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Daemon, Sandbox, json_lines, wait_for_lines};
use prometheus_parse::{LineInfo, Scrape, Value};

const WAIT: Duration = Duration::from_secs(20);

/// A sandbox whose daemon watches `inbox/`, writes alerts to `alerts.jsonl` (an output named
/// `jsonl`) and serves metrics on a free loopback port; `extra` is more config, and
/// `outputs` more outputs.
fn sandbox(extra: &str, outputs: &str) -> Sandbox {
    let s = Sandbox::new();
    std::fs::create_dir(s.path().join("inbox")).unwrap();
    s.write(
        "newswatch.yaml",
        format!(
            "watch:\n  - path: inbox\nstate: state.db\nhttp: {{ listen: \"127.0.0.1:0\" }}\n{extra}outputs:\n  - type: file\n    path: alerts.jsonl\n    name: jsonl\n{outputs}"
        ),
    );
    s
}

/// The address the daemon says it serves on: `serving metrics on http://ADDR`.
fn address(d: &Daemon) -> SocketAddr {
    let needle = "serving metrics on http://";
    d.wait_for_log(needle, WAIT);
    let log = d.log();
    let at = log.find(needle).unwrap() + needle.len();
    let addr: String = log[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || ".:[]".contains(*c))
        .collect();
    addr.parse()
        .unwrap_or_else(|e| panic!("{addr:?}: {e}\n{log}"))
}

/// One request; the status and the body.
fn request(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head: {raw:?}"));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    request(addr, "GET", path)
}

/// `/metrics`, checked line by line against the exposition format, then parsed.
struct Metrics {
    scrape: Scrape,
    text: String,
}

impl Metrics {
    fn fetch(addr: SocketAddr) -> Metrics {
        let (status, text) = get(addr, "/metrics");
        assert_eq!(status, 200, "{text}");
        check_format(&text);
        let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
        Metrics { scrape, text }
    }

    /// The value of the one sample of `metric` with exactly `labels`.
    fn value(&self, metric: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<f64> = self
            .scrape
            .samples
            .iter()
            .filter(|s| s.metric == metric && s.labels.len() == labels.len())
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match s.value {
                Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
                ref other => panic!("{metric}: {other:?}"),
            })
            .collect();
        assert_eq!(found.len(), 1, "{metric}{labels:?} in\n{}", self.text);
        found[0]
    }

    /// The count in the `+Inf` bucket of the histogram `metric`.
    fn histogram_count(&self, metric: &str) -> f64 {
        let sample = self
            .scrape
            .samples
            .iter()
            .find(|s| s.metric == metric)
            .unwrap_or_else(|| panic!("no {metric} in\n{}", self.text));
        match &sample.value {
            Value::Histogram(buckets) => {
                buckets
                    .iter()
                    .find(|b| b.less_than == f64::INFINITY)
                    .unwrap()
                    .count
            }
            other => panic!("{metric}: {other:?}"),
        }
    }
}

/// The parser reads what it can and skips the rest: so each line is checked first. Every line
/// is a `# HELP`, `# TYPE` or `# UNIT` of a family, or a sample of the family declared last
/// (counters end in `_total`, histograms in `_bucket`, `_sum`, `_count`); `# EOF` ends it.
fn check_format(text: &str) {
    assert!(text.ends_with("\n# EOF\n"), "no # EOF at the end:\n{text}");
    let mut family: Option<(String, String)> = None;
    let mut families = BTreeSet::new();
    let lines: Vec<&str> = text.lines().collect();
    for line in &lines[..lines.len() - 1] {
        if let Some(comment) = line.strip_prefix("# ") {
            let words: Vec<&str> = comment.splitn(3, ' ').collect();
            assert!(words.len() >= 3, "bad comment line {line:?}");
            match words[0] {
                "HELP" | "UNIT" => {}
                "TYPE" => {
                    assert!(
                        families.insert(words[1].to_string()),
                        "{} declared twice",
                        words[1]
                    );
                    family = Some((words[1].to_string(), words[2].to_string()));
                }
                _ => panic!("unknown comment {line:?}"),
            }
            continue;
        }
        let LineInfo::Sample {
            metric_name, value, ..
        } = LineInfo::parse(line)
        else {
            panic!("not a sample: {line:?}");
        };
        assert!(value.parse::<f64>().is_ok(), "bad value in {line:?}");
        let (name, kind) = family
            .as_ref()
            .unwrap_or_else(|| panic!("no TYPE for {line:?}"));
        let suffixes: &[&str] = match kind.as_str() {
            "counter" => &["_total"],
            "histogram" => &["_bucket", "_sum", "_count"],
            "gauge" => &[""],
            other => panic!("unexpected type {other}"),
        };
        assert!(
            suffixes.iter().any(|s| metric_name == format!("{name}{s}")),
            "{metric_name} is no sample of the {kind} {name}"
        );
    }
}

#[test]
fn metrics_count_the_articles_and_alerts_of_a_burst() {
    // Besides the file: an output that refuses every alert for good, and one that fails once
    // and then waits an hour for its retry.
    let s = sandbox(
        "throttle: { per_rule: 1h, key: chip }\nretry: { initial: 1h, max: 1h }\n",
        r#"  - type: command
    name: refuses
    command: ["sh", "-c", "cat >/dev/null; exit 3"]
    permanent_exit_codes: [3]
  - type: command
    name: later
    command: ["sh", "-c", "cat >/dev/null; exit 1"]
"#,
    );
    s.rule(
        "h200",
        r#"if article.mentions("H200") { alert(#{ severity: "high", message: article.title, chip: article.title }); }"#,
    );
    s.rule(
        "noisy",
        r#"if article.title.starts_with("Noisy") { alert(#{ severity: "low", message: article.title }); }"#,
    );
    s.rule(
        "broken",
        r#"if article.body.contains("boom") { throw "boom"; }"#,
    );
    let d = s.watch(&[]);
    let addr = address(&d);
    let before = Metrics::fetch(addr);
    assert_eq!(before.value("newswatch_rules_loaded", &[]), 3.0);
    assert_eq!(
        before.value("newswatch_articles_total", &[("result", "evaluated")]),
        0.0
    );

    let a = "Nvidia H200 in Shanghai\n\nThe H200 shipment arrived.\n";
    for (name, text) in [
        ("a.txt", a),
        ("b.txt", "H200 prices\n\nWhat an H200 costs.\n"),
        ("c.txt", "Weather report\n\nSunny.\n"),
        ("boom.txt", "H200 boom\n\nboom, said the H200.\n"),
        ("noisy1.txt", "Noisy one\n\nfirst\n"),
        ("noisy2.txt", "Noisy two\n\nsecond\n"),
        // Not one JSON object or array of objects: refused by the reader.
        ("malformed.json", "\"just a string\"\n"),
        (
            "feed.xml",
            r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Feed</title>
<item><title>An H200 in a feed</title><link>https://example.com/1</link><description>H200</description></item>
<item><title>Nothing here</title><link>https://example.com/2</link><description>calm</description></item>
</channel></rss>"#,
        ),
    ] {
        s.write(&format!("inbox/{name}"), text);
    }
    // Delivered: a, b, boom, the feed's item, the first noisy one.
    let out = s.path().join("alerts.jsonl");
    wait_for_lines(&out, 5, WAIT);
    // The same content under another name, once the first is recorded: a duplicate.
    s.write("inbox/dup.txt", a);

    // Counted as each thread gets to it: wait for the last counts, then check them all.
    let started = Instant::now();
    let m = loop {
        let m = Metrics::fetch(addr);
        let looked_at = m.value("newswatch_articles_total", &[("result", "evaluated")])
            + m.value("newswatch_articles_total", &[("result", "failed")]);
        let duplicates = m.value(
            "newswatch_alerts_suppressed_total",
            &[("reason", "duplicate")],
        );
        let refused = m.value(
            "newswatch_deliveries_total",
            &[("output", "refuses"), ("result", "failed")],
        );
        let waiting = m.value("newswatch_outbox_pending", &[("output", "later")]);
        if looked_at >= 10.0 && duplicates >= 1.0 && refused >= 5.0 && waiting >= 5.0 {
            break m;
        }
        assert!(started.elapsed() < WAIT, "not counted:\n{}", m.text);
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(500));
    let m = Metrics::fetch(addr).with_previous(m);
    let articles = |result| m.value("newswatch_articles_total", &[("result", result)]);
    // 7 files of one article, 2 items of the feed.
    assert_eq!(articles("evaluated"), 9.0, "{}", m.text);
    assert_eq!(articles("failed"), 1.0, "the malformed file\n{}", m.text);
    assert_eq!(articles("skipped"), 0.0);
    assert_eq!(articles("unchanged"), 0.0);
    assert_eq!(m.histogram_count("newswatch_rule_eval_seconds"), 9.0);
    assert_eq!(m.value("newswatch_rule_eval_seconds_count", &[]), 9.0);

    let rule = |metric, rule| m.value(metric, &[("rule", rule)]);
    assert_eq!(rule("newswatch_rule_matches_total", "h200"), 5.0);
    assert_eq!(rule("newswatch_rule_matches_total", "noisy"), 2.0);
    assert_eq!(rule("newswatch_rule_errors_total", "broken"), 1.0);

    let alerts = |severity| m.value("newswatch_alerts_total", &[("severity", severity)]);
    assert_eq!(alerts("high"), 5.0);
    assert_eq!(alerts("low"), 2.0);
    assert_eq!(alerts("critical"), 0.0);
    let suppressed = |reason| m.value("newswatch_alerts_suppressed_total", &[("reason", reason)]);
    assert_eq!(suppressed("duplicate"), 1.0);
    assert_eq!(suppressed("throttled"), 1.0, "the second noisy alert");
    assert_eq!(suppressed("silenced"), 0.0);

    let lines = json_lines(&out);
    assert_eq!(lines.len(), 5, "{lines:?}");
    let delivered = m.value(
        "newswatch_deliveries_total",
        &[("output", "jsonl"), ("result", "delivered")],
    );
    assert_eq!(delivered, lines.len() as f64);
    assert_eq!(
        alerts("high") + alerts("low") - suppressed("duplicate") - suppressed("throttled"),
        delivered,
        "every alert raised is delivered or suppressed"
    );
    assert_eq!(
        m.value("newswatch_outbox_pending", &[("output", "jsonl")]),
        0.0
    );
    let deliveries = |output, result| {
        m.value(
            "newswatch_deliveries_total",
            &[("output", output), ("result", result)],
        )
    };
    assert_eq!(
        deliveries("refuses", "failed"),
        5.0,
        "each refused for good"
    );
    assert_eq!(
        m.value("newswatch_outbox_pending", &[("output", "refuses")]),
        0.0
    );
    assert_eq!(
        deliveries("later", "transient_failure"),
        1.0,
        "then waits 1h"
    );
    assert_eq!(
        m.value("newswatch_outbox_pending", &[("output", "later")]),
        5.0
    );
    for (output, result) in [
        ("jsonl", "failed"),
        ("jsonl", "transient_failure"),
        ("refuses", "delivered"),
        ("later", "delivered"),
    ] {
        let series = format!("{{output=\"{output}\",result=\"{result}\"}}");
        assert!(!m.text.contains(&series), "{series} counted:\n{}", m.text);
    }
    assert_eq!(m.value("newswatch_rules_loaded", &[]), 3.0);
    for result in ["fetched", "not_modified", "failed"] {
        assert_eq!(
            m.value("newswatch_feed_fetches_total", &[("result", result)]),
            0.0
        );
    }

    assert_eq!(get(addr, "/healthz"), (200, "ok\n".into()));
    assert_eq!(get(addr, "/readyz"), (200, "ready\n".into()));
    assert_eq!(get(addr, "/").0, 404);
    assert_eq!(get(addr, "/metrics/x").0, 404);
    assert_eq!(request(addr, "POST", "/metrics").0, 405);
    assert_eq!(request(addr, "HEAD", "/metrics"), (200, String::new()));

    // A reload is counted in the gauge.
    s.rule("more", r#"alert("more");"#);
    let started = Instant::now();
    while Metrics::fetch(addr).value("newswatch_rules_loaded", &[]) != 4.0 {
        assert!(started.elapsed() < WAIT, "{}", d.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Metrics {
    /// Counters only grow: a later scrape is at least the earlier one on every series.
    fn with_previous(self, earlier: Metrics) -> Metrics {
        for s in &earlier.scrape.samples {
            if let Value::Untyped(v) | Value::Counter(v) = s.value
                && s.metric.ends_with("_total")
            {
                let labels: Vec<(&str, &str)> = s
                    .labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                assert!(
                    self.value(&s.metric, &labels) >= v,
                    "{} went down",
                    s.metric
                );
            }
        }
        self
    }
}

#[test]
fn a_flood_of_connections_does_not_delay_alerts() {
    let s = sandbox("", "");
    s.rule("every", "alert(article.title);");
    let d = s.watch(&[]);
    let addr = address(&d);
    let out = s.path().join("alerts.jsonl");
    let latency = |name: &str, lines: usize| {
        let started = Instant::now();
        s.write(&format!("inbox/{name}"), format!("{name}\n\nbody\n"));
        while json_lines(&out).len() < lines {
            assert!(
                started.elapsed() < WAIT,
                "no alert for {name}:\n{}",
                d.log()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        started.elapsed()
    };
    let calm = latency("calm.txt", 1);
    let threads = threads_of(d.pid());

    // 200 connections held open: half send nothing, half a request they never read the answer
    // of; and four clients scraping as fast as they are answered, for at most 15 s.
    let mut held = Vec::new();
    for i in 0..200 {
        if let Ok(mut c) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            if i % 2 == 1 {
                let _ = c.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
            }
            held.push(c);
        }
    }
    assert!(held.len() >= 150, "only {} connections", held.len());
    let stop = Arc::new(AtomicBool::new(false));
    let scrapes = Arc::new(AtomicUsize::new(0));
    let scrapers: Vec<_> = (0..4)
        .map(|_| {
            let (stop, scrapes) = (stop.clone(), scrapes.clone());
            std::thread::spawn(move || {
                let until = Instant::now() + Duration::from_secs(15);
                while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                    let Ok(mut c) = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
                    else {
                        continue;
                    };
                    let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
                    let _ = c.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
                    // Answered, turned away (503) or reset: the endpoint is behind, on purpose.
                    let _ = c.read_to_end(&mut Vec::new());
                    scrapes.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let flooded = [latency("flood1.txt", 2), latency("flood2.txt", 3)];
    let flood_threads = threads_of(d.pid());
    std::thread::sleep(Duration::from_millis(1000));
    let flooded = [flooded[0], flooded[1], latency("flood3.txt", 4)];
    stop.store(true, Ordering::Relaxed);
    for t in scrapers {
        t.join().unwrap();
    }
    drop(held);
    for took in flooded {
        assert!(
            took <= calm + Duration::from_millis(1500),
            "an alert took {took:?} under the flood, {calm:?} without"
        );
    }
    eprintln!(
        "alert latency {calm:?} calm, {flooded:?} under a flood of {} connections and {} scrapes",
        200,
        scrapes.load(Ordering::Relaxed)
    );
    assert_eq!(
        flood_threads, threads,
        "the endpoint's threads are fixed: a flood starts none"
    );
    // The endpoint is back once the held connections are gone (each waits at most 2 s).
    let started = Instant::now();
    loop {
        if get(addr, "/healthz").0 == 200 {
            break;
        }
        assert!(started.elapsed() < WAIT, "the endpoint did not recover");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_bad_address_is_refused_where_it_is_written() {
    let s = Sandbox::new();
    s.write(
        "newswatch.yaml",
        "rules: rules\nhttp:\n  listen: \"metrics.example.com:9180\"\n",
    );
    let run = s.run(&["check", "--config", "newswatch.yaml"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let shown = format!("{}{}", run.stdout, run.stderr);
    assert!(
        shown.contains(
            "newswatch.yaml:3:11: http.listen: invalid address \"metrics.example.com:9180\""
        ),
        "{shown}"
    );

    // An address in use stops `watch` at the start, naming it.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    std::fs::create_dir(s.path().join("inbox")).unwrap();
    s.write(
        "newswatch.yaml",
        format!("watch:\n  - path: inbox\nstate: state.db\nhttp: {{ listen: {port} }}\n"),
    );
    let run = s.run(&["watch"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("http.listen: cannot listen on 127.0.0.1:{port}")),
        "{}",
        run.stderr
    );
}

/// The number of threads of process `pid` (Linux: `/proc/PID/status`).
fn threads_of(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}
