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
/// compiled on one core, whatever the machine has), never run.
fn big_rule(lines: usize) -> String {
    let mut s = String::from("//! Slow to compile, never matches.\n");
    for i in 0..lines {
        s.push_str(&format!(
            "if article.mentions(\"zork{i}\") {{ alert(#{{ message: \"big {i}\" }}); }}\n"
        ));
    }
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
/// `needle` (as the `seen`-th occurrence); polled until both were seen.
fn race(d: &Daemon, out: &Path, title: &str, needle: &str, seen: usize) -> (Instant, Instant) {
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
        if logged.is_none() && d.log().matches(needle).count() >= seen {
            logged = Some(Instant::now());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    (alert.unwrap(), logged.unwrap())
}

/// Checks one race: the alert (dropped at `dropped`) came before the reload (asked for at
/// `asked`) was done, and promptly.
fn assert_prompt(
    what: &str,
    asked: Instant,
    dropped: Instant,
    (alert, reloaded): (Instant, Instant),
) {
    let reload = reloaded - asked;
    let latency = alert.saturating_duration_since(dropped);
    eprintln!("{what}: the reload took {reload:?}; the alert came {latency:?} after the drop");
    assert!(
        reload >= Duration::from_millis(1500),
        "{what}: the reload took only {reload:?}: too fast to tell whether the loop waited for it"
    );
    assert!(
        alert < reloaded,
        "{what}: the alert came {latency:?} after the drop, after the reload ({reload:?}): the loop waited for it"
    );
    assert!(
        latency < reload / 2,
        "{what}: the alert came {latency:?} after the drop; the reload took {reload:?}"
    );
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
    s.write("inbox/a.txt", "DeepSeek during a rules reload\n\nbody\n");
    let dropped = Instant::now();
    let seen = race(
        &d,
        &out,
        "DeepSeek during a rules reload",
        "rules reloaded",
        1,
    );
    assert_prompt("rule file edited", asked, dropped, seen);

    // SIGHUP: the config re-read, the rules (the big one included) recompiled.
    d.signal("HUP");
    let asked = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    s.write("inbox/b.txt", "DeepSeek during a config reload\n\nbody\n");
    let dropped = Instant::now();
    let seen = race(
        &d,
        &out,
        "DeepSeek during a config reload",
        "config reloaded",
        1,
    );
    assert_prompt("SIGHUP", asked, dropped, seen);

    let alerts = json_lines(&out);
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    let (code, took) = d.stop_with("TERM");
    assert_eq!(code, 0);
    assert!(took < Duration::from_secs(2), "took {took:?}");
}
