//! One story, one alert: copies of a story through the daemon and `scan --state` give one
//! delivered alert per rule (the others recorded as `duplicate_of`), a rule with
//! `//! stories: off` gets every copy, different stories on one subject are each alerted, and
//! a digest output sends one complete digest per period across a crash.

mod common;

use std::time::Duration;

use common::Sandbox;
use common::syndicate::{self, Story};

/// A story written for these tests, and its nine syndicated copies: ten articles.
const STORY: &str = "Nvidia cleared to ship H200 accelerators to Chinese buyers

Regulators in Washington have told Nvidia it may resume shipments of its H200 accelerators to \
a short list of Chinese customers, according to three people briefed on the decision, ending a \
freeze that had lasted since the spring.

The licences come with conditions: buyers must certify that the chips will not be used to train \
military models, and Nvidia must report every shipment above a few hundred units to the \
Commerce Department within thirty days.

DeepSeek, whose latest model was trained on older hardware, is expected to be among the first \
customers, as are two cloud providers based in Shenzhen that rent computing time to \
universities.

Analysts at two Hong Kong brokerages said the decision could add several billion dollars to \
Nvidia's revenue next year, though they warned that Beijing's own push for domestic chips would \
limit how much of the market the company could win back.

Shares of the chipmaker rose four percent in after-hours trading on the news.
";

/// Ten different stories on one subject: each says something else about the H200.
const SUBJECT: [&str; 10] = [
    "Samsung wins H200 memory order\n\nSamsung will supply high-bandwidth memory for the H200 after passing qualification tests that had delayed its bid for more than a year, the Korean company said on Thursday.",
    "Data centre in Iceland buys H200 racks\n\nA geothermal-powered data centre near Reykjavik has bought four hundred H200 servers to rent to European start-ups that cannot afford to build their own clusters.",
    "H200 prices fall on grey market\n\nResellers in Singapore cut asking prices for the H200 by a fifth this month as new supply reached distributors and demand from crypto miners faded.",
    "University lab benchmarks the H200\n\nResearchers at a Swiss university published measurements showing the H200 finishing their weather simulation twice as fast as its predecessor while drawing similar power.",
    "Smugglers caught with H200 boards\n\nCustoms officers in Taiwan seized a container of H200 boards hidden under shipments of laptop batteries bound for a trading company in Malaysia.",
    "Startup rents out idle H200 time\n\nA Berlin startup lets owners of H200 machines sell unused hours to other companies by the minute, taking a small commission on each rental.",
    "Power grid strains under H200 clusters\n\nUtilities in northern Virginia warned that new H200 clusters were arriving faster than substations could be built, and asked operators to stagger their start dates.",
    "Game studio trains animation model on H200\n\nA Montreal game studio said it trained its facial animation model on a rented H200 cluster in a week instead of the two months its old servers needed.",
    "Insurers price cover for H200 fleets\n\nLloyd's underwriters have begun offering policies against fire and theft tailored to fleets of H200 servers, citing the cost of replacing them quickly.",
    "Court hears H200 patent dispute\n\nA Texas court heard opening arguments in a lawsuit claiming the cooling design of the H200 copies a patent held by a small Austin engineering firm.",
];

/// A sandbox with two rules on the H200 — `h200` (once per story, the default) and `every`
/// (`//! stories: off`) — an inbox and a file output.
fn sandbox(outputs: &str) -> Sandbox {
    let s = Sandbox::new();
    s.rule(
        "h200",
        "//! The H200.\nif article.mentions(\"H200\") { alert(#{ message: article.title }); }",
    );
    s.rule(
        "every",
        "//! Every copy of an H200 story.\n//! stories: off\nif article.mentions(\"H200\") { alert(#{ message: article.title }); }",
    );
    std::fs::create_dir(s.path().join("inbox")).unwrap();
    s.write(
        "newswatch.yaml",
        format!("watch:\n  - path: inbox\nstate: state.db\noutputs:\n{outputs}"),
    );
    s
}

const FILE_OUTPUT: &str = "  - type: file\n    path: alerts.jsonl\n";

/// The story and its nine copies, written into `dir` of the sandbox.
fn write_copies(s: &Sandbox, dir: &str) {
    s.write(&format!("{dir}/story.txt"), STORY);
    for copy in syndicate::copies(&Story::parse(STORY), "copy", 1) {
        s.write(&format!("{dir}/{}", copy.name), &copy.bytes);
    }
}

fn count_by_rule(alerts: &[serde_json::Value]) -> (usize, usize) {
    let n = |rule: &str| alerts.iter().filter(|a| a["rule"] == rule).count();
    (n("h200"), n("every"))
}

#[test]
fn ten_copies_of_a_story_give_one_alert_and_nine_duplicates() {
    let s = sandbox(FILE_OUTPUT);
    let daemon = s.watch(&[]);
    write_copies(&s, "inbox");
    let delivered =
        common::wait_for_lines(&s.path().join("alerts.jsonl"), 11, Duration::from_secs(60));
    assert_eq!(count_by_rule(&delivered), (1, 10), "{delivered:#?}");
    // Every copy is of one story, for both rules.
    let stories: std::collections::BTreeSet<_> = delivered
        .iter()
        .map(|a| a["story"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(stories.len(), 1, "{stories:?}");
    let (code, _) = daemon.stop_with("TERM");
    assert_eq!(code, 0);

    let run = s.run(&[
        "alerts", "--state", "state.db", "--rule", "h200", "--format", "json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let shown = run.alerts();
    assert_eq!(
        shown.len(),
        1,
        "copies are shown with their first alert: {shown:#?}"
    );
    assert_eq!(shown[0]["duplicates"], 9);
    assert_eq!(shown[0]["seen"].as_array().unwrap().len(), 9);
    assert_eq!(shown[0]["duplicate_of"], serde_json::Value::Null);
    let text = s.run(&[
        "alerts", "--state", "state.db", "--rule", "h200", "--format", "text",
    ]);
    assert!(
        text.stdout.contains("story seen 9 more times"),
        "{}",
        text.stdout
    );
}

#[test]
fn ten_different_stories_on_one_subject_give_ten_alerts() {
    let s = sandbox(FILE_OUTPUT);
    let daemon = s.watch(&[]);
    for (i, text) in SUBJECT.iter().enumerate() {
        s.write(&format!("inbox/{i}.txt"), text);
    }
    let delivered =
        common::wait_for_lines(&s.path().join("alerts.jsonl"), 20, Duration::from_secs(60));
    assert_eq!(count_by_rule(&delivered), (10, 10));
    drop(daemon);
}

#[test]
fn scan_groups_with_a_state_and_reports_every_copy_without() {
    let s = sandbox(FILE_OUTPUT);
    write_copies(&s, "copies");
    let every = s.run(&["scan", "--format", "json", "copies"]);
    assert_eq!(every.code, 0, "{}", every.stderr);
    let alerts = every.alerts();
    assert_eq!(count_by_rule(&alerts), (10, 10));
    assert!(
        alerts
            .iter()
            .all(|a| a["story"].as_str().is_some_and(|s| s.len() == 16))
    );

    let grouped = s.run(&["scan", "--format", "json", "--state", "scan.db", "copies"]);
    assert_eq!(grouped.code, 0, "{}", grouped.stderr);
    assert_eq!(count_by_rule(&grouped.alerts()), (1, 10));
    // A copy seen later (other words changed) is still a copy of the story alerted on.
    let later = &syndicate::copies(&Story::parse(STORY), "x", 9)[4];
    assert_eq!(later.kind, "words changed");
    s.write("later/again.txt", &later.bytes);
    let again = s.run(&["scan", "--format", "json", "--state", "scan.db", "later"]);
    assert_eq!(count_by_rule(&again.alerts()), (0, 1), "{}", again.stdout);

    // `stories: { window: 0s }` turns grouping off.
    s.write("off.yaml", "stories: { window: 0s }\n");
    let off = s.run(&[
        "scan", "--config", "off.yaml", "--format", "json", "--state", "off.db", "copies",
    ]);
    assert_eq!(count_by_rule(&off.alerts()), (10, 10));
}

/// Seconds into the current period of `every` seconds (UTC; periods of a divisor of a minute
/// start at the same instants in every time zone).
fn into_period(every: u64) -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        % every
}

#[test]
fn a_digest_period_with_a_crash_in_the_middle_gives_one_complete_digest() {
    const EVERY: u64 = 30;
    let s = sandbox(
        "  - type: file\n    path: digest.jsonl\n    rules: [h200]\n    digest: { every: 30s }\n",
    );
    // Start at the beginning of a period, so that the crash and restart fall inside it.
    while into_period(EVERY) > 2 {
        std::thread::sleep(Duration::from_millis(200));
    }
    let started = std::time::Instant::now();
    let daemon = s.watch(&[]);
    for (i, text) in SUBJECT[..3].iter().enumerate() {
        s.write(&format!("inbox/{i}.txt"), text);
    }
    let recorded = |n: usize| {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let run = s.run(&[
                "alerts", "--state", "state.db", "--rule", "h200", "--format", "json",
            ]);
            if run.alerts().len() >= n {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} of {n} recorded",
                run.alerts().len()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    recorded(3);
    daemon.stop_with("KILL");
    let daemon = s.watch(&[]);
    for (i, text) in SUBJECT[3..6].iter().enumerate() {
        s.write(&format!("inbox/b{i}.txt"), text);
    }
    recorded(6);
    assert!(
        started.elapsed() < Duration::from_secs(EVERY - 3),
        "too slow to stay inside one period: the test proves nothing"
    );
    let digests = common::wait_for_lines(
        &s.path().join("digest.jsonl"),
        1,
        Duration::from_secs(EVERY + 15),
    );
    assert_eq!(digests.len(), 1, "{digests:#?}");
    let digest = &digests[0];
    let alerts = digest["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 6, "{digest:#}");
    assert!(alerts.iter().all(|a| a["rule"] == "h200"));
    let (from, to) = (
        digest["digest"]["from"].as_str().unwrap(),
        digest["digest"]["to"].as_str().unwrap(),
    );
    assert!(from < to, "{from} {to}");
    // A restart after the period does not send it again.
    daemon.stop_with("KILL");
    let daemon = s.watch(&[]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(common::json_lines(&s.path().join("digest.jsonl")).len(), 1);
    let queue = s.run(&["outbox", "--state", "state.db", "--format", "json"]);
    assert_eq!(queue.code, 0, "{}", queue.stderr);
    assert_eq!(queue.stdout.trim(), "", "nothing left queued");
    drop(daemon);
}
