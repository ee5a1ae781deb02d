//! Reloads happen off the daemon's loop: a file dropped while the rules or the config are being
//! reloaded — slowly, here — is evaluated with the rules in force meanwhile, not after the
//! reload. Checked on the real binary in a temp dir.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Daemon, Sandbox, json_lines};

/// The rule the dropped articles match.
const MATCH: &str = r#"if article.mentions("DeepSeek") { alert(#{ message: article.title }); }"#;
/// How long the slow reloads should take; the alert must come well before.
const SLOW_RELOAD: Duration = Duration::from_secs(3);
const WAIT: Duration = Duration::from_secs(30);

/// One rule of `lines` branches on words no article here has: slow to compile (one file is
/// compiled on one core, whatever the machine has), quick to run (one test, and the prefilter
/// skips it).
fn big_rule(lines: usize) -> String {
    let mut s =
        String::from("//! Slow to compile, never matches.\nif article.mentions(\"zork\") {\n");
    for i in 0..lines {
        s.push_str(&format!(
            "    if article.mentions(\"zork{i}\") {{ alert(#{{ message: \"big {i}\" }}); }}\n"
        ));
    }
    s.push_str("}\n");
    s
}

/// Branches of [`big_rule`] that compile in about `target` on this machine and build (debug or
/// release): measured with `newswatch check` on a smaller one.
fn calibrated(s: &Sandbox, target: Duration) -> usize {
    const PROBE: usize = 4000;
    s.write("probe/big.rhai", big_rule(PROBE));
    let start = Instant::now();
    let run = s.run(&["check", "--rules", "probe", "--config", "/dev/null"]);
    let took = start.elapsed();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let lines = PROBE as f64 * target.as_secs_f64() / took.as_secs_f64();
    eprintln!("calibration: {PROBE} branches compile in {took:?}; {lines:.0} for {target:?}");
    (lines as usize).clamp(PROBE, 400_000)
}

/// When the alert titled `title` appeared in `out`, and when the daemon's log first had
/// `needle`; polled until both were seen.
fn race(d: &Daemon, out: &Path, title: &str, needle: &str) -> (Instant, Instant) {
    let start = Instant::now();
    let (mut alert, mut logged) = (None, None);
    while alert.is_none() || logged.is_none() {
        assert!(
            start.elapsed() < WAIT,
            "alert {title:?} seen: {}, {needle:?} logged: {}\n{}",
            alert.is_some(),
            logged.is_some(),
            d.log()
        );
        if alert.is_none() && json_lines(out).iter().any(|a| a["message"] == title) {
            alert = Some(Instant::now());
        }
        if logged.is_none() && d.log().contains(needle) {
            logged = Some(Instant::now());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    (alert.unwrap(), logged.unwrap())
}

/// One race: a reload asked for at `asked`, a file dropped at `dropped`, and when its alert came
/// and the reload was done.
struct Race {
    what: &'static str,
    asked: Instant,
    dropped: Instant,
    alert: Instant,
    reloaded: Instant,
}

impl Race {
    /// What went wrong: the reload was too fast to tell, or the alert waited for it.
    fn problem(&self) -> Option<String> {
        let reload = self.reloaded - self.asked;
        let latency = self.alert.saturating_duration_since(self.dropped);
        let what = self.what;
        eprintln!("{what}: the reload took {reload:?}; the alert came {latency:?} after the drop");
        if reload < Duration::from_secs(1) {
            Some(format!(
                "{what}: the reload took only {reload:?}: too fast to tell whether the loop waited for it"
            ))
        } else if self.alert >= self.reloaded || latency >= reload / 2 {
            Some(format!(
                "{what}: the alert came {latency:?} after the drop, the reload took {reload:?}: the loop waited for it"
            ))
        } else {
            None
        }
    }
}

#[test]
fn a_file_dropped_during_a_slow_reload_is_still_evaluated_promptly() {
    let s = Sandbox::new();
    let lines = calibrated(&s, SLOW_RELOAD);
    s.rule("deepseek", MATCH);
    std::fs::create_dir(s.path().join("inbox")).unwrap();
    s.write(
        "newswatch.yaml",
        "watch:\n  - path: inbox\nstate: state.db\noutputs:\n  - type: file\n    path: alerts.jsonl\n",
    );
    let out = s.path().join("alerts.jsonl");
    let d = s.watch(&[]);

    // A rule file edit: the big rule moved in whole, so the reload compiles it once, slowly.
    s.write("big.rhai", big_rule(lines));
    let asked = Instant::now();
    std::fs::rename(s.path().join("big.rhai"), s.path().join("rules/big.rhai")).unwrap();
    // Past the rules folder's quiet time (150 ms): the reload is under way.
    std::thread::sleep(Duration::from_millis(400));
    let title = "DeepSeek during a rules reload";
    s.write("inbox/a.txt", format!("{title}\n\nbody\n"));
    let dropped = Instant::now();
    let (alert, reloaded) = race(&d, &out, title, "rules reloaded");
    assert!(d.log().contains("rules reloaded: 2 rules"), "{}", d.log());
    let edited = Race {
        what: "rule file edited",
        asked,
        dropped,
        alert,
        reloaded,
    };

    // SIGHUP: the config re-read, the rules (the big one included) recompiled.
    d.signal("HUP");
    let asked = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    let title = "DeepSeek during a config reload";
    s.write("inbox/b.txt", format!("{title}\n\nbody\n"));
    let dropped = Instant::now();
    let (alert, reloaded) = race(&d, &out, title, "config reloaded");
    let hup = Race {
        what: "SIGHUP",
        asked,
        dropped,
        alert,
        reloaded,
    };

    let problems: Vec<String> = [edited, hup].iter().filter_map(Race::problem).collect();
    assert!(problems.is_empty(), "{}\n{}", problems.join("\n"), d.log());
    assert_eq!(json_lines(&out).len(), 2, "only the two articles alert");
    let (code, took) = d.stop_with("TERM");
    assert_eq!(code, 0);
    assert!(took < Duration::from_secs(2), "took {took:?}");
}
