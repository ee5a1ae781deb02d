//! The daemon within a 2 GiB address space (`ulimit -v`, RLIMIT_AS) through hostile rules and
//! hostile articles at once: an allocation that fails aborts a Rust process, so every budget
//! (the rules' time, strings and memory, the parsers' bounds and timeout) must hold well under
//! it, on every worker at the same time. A harmless article still alerts, and the daemon stops
//! cleanly.

mod common;

use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use common::json_lines;

const ADDRESS_SPACE: u64 = 2 << 30;

/// Rules that each once exhausted memory or time, one per way.
const HOSTILE_RULES: &[(&str, &str)] = &[
    (
        "many_strings",
        "let s = \"x\"; while s.len() < 16000000 { s += s; }\n\
         let a = s + 1; let b = s + 2; let c = s + 3; let d = s + 4; let e = s + 5;\n\
         let f = s + 6; let g = s + 7; let h = s + 8; let i = s + 9; let j = s + 10;\n\
         let k = s + 11; let l = s + 12; let m = s + 13; let n = s + 14; let o = s + 15;\n\
         let p = s + 16; let q = s + 17; let r = s + 18; let t = s + 19; let u = s + 20;\n\
         let v = s + 21; let w = s + 22; let y = s + 23; let z = s + 24; let aa = s + 25;\n\
         let ab = s + 26; let ac = s + 27; let ad = s + 28; let ae = s + 29; let af = s + 30;\n\
         let ag = s + 31; let ah = s + 32; let ai = s + 33; let aj = s + 34; let ak = s + 35;\n\
         let al = s + 36; let am = s + 37; let an = s + 38; let ao = s + 39; let ap = s + 40;\n\
         let aq = s + 41; let ar = s + 42; let at = s + 43; let au = s + 44; let av = s + 45;",
    ),
    (
        "deep_strings",
        "fn f(s, n) { let t = s + n; if n > 40 { return t.len(); } f(t, n + 1) }\n\
         let s = \"x\"; while s.len() < 16000000 { s += s; } f(s, 0);",
    ),
    (
        "array_of_strings",
        "let s = \"x\"; while s.len() < 1000000 { s += s; }\n\
         let a = []; loop { a.push(s + a.len()); }",
    ),
    (
        "replace_bomb",
        "let s = \"xx\"; while s.len() < 1000000 { s += s; } s.replace(\"x\", s);",
    ),
    (
        "patterns",
        "let p = \"(\" + article.title + \"){1,1000}\"; for i in 0..50 { article.matches(p + i); }",
    ),
    (
        "printer",
        "let s = \"x\"; while s.len() < 1000000 { s += s; } loop { print(s); }",
    ),
    ("spinner", "loop { }"),
];

#[test]
fn the_daemon_runs_within_2_gib_of_address_space() {
    let s = common::canary_sandbox();
    for (name, source) in HOSTILE_RULES {
        s.rule(name, source);
    }
    let d = s.watch_with(&[], &[], |command| {
        // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            command.pre_exec(|| {
                let limit = libc::rlimit {
                    rlim_cur: ADDRESS_SPACE,
                    rlim_max: ADDRESS_SPACE,
                };
                if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    });
    let inbox = s.path().join("inbox");
    // Hostile articles and plain ones, every rule on each.
    let mut tags = String::new();
    while tags.len() < 16 << 20 {
        tags.push_str("x<br>");
    }
    let mut nested = String::from("<html><body>");
    for i in 0..9_000 {
        nested.push_str(&format!("<article><p>{i} DeepSeek bought H200 boards.</p>"));
    }
    std::fs::write(inbox.join("tags.html"), &tags[..(16 << 20) - 1]).unwrap();
    std::fs::write(inbox.join("nested.html"), nested).unwrap();
    for i in 0..6 {
        std::fs::write(
            inbox.join(format!("plain{i}.txt")),
            format!("Plain {i}\n\nbody\n"),
        )
        .unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    s.write("inbox/canary.txt", "Canary\n\nbody\n");
    let out = s.path().join("alerts.jsonl");
    let start = Instant::now();
    while !json_lines(&out).iter().any(|a| a["message"] == "Canary") {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no canary alert within 60 s:\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = d.log();
    for name in [
        "many_strings",
        "deep_strings",
        "array_of_strings",
        "replace_bomb",
    ] {
        assert!(
            log.contains(&format!("rule {name}")),
            "{name} not stopped:\n{log}"
        );
    }
    assert!(log.contains("rule_max_memory"), "{log}");
    let peak = d.peak_memory();
    eprintln!("daemon peak memory under a 2 GiB address space: {peak}");
    let stderr = d.stderr.clone();
    let (code, _) = d.stop_with("TERM");
    let log = std::fs::read_to_string(stderr).unwrap_or_default();
    assert_eq!(code, 0, "the daemon did not stop cleanly:\n{log}");
}
