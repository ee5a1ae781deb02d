//! One 50,000-term list used by 1,000 rules is held once: the rule set's memory does not grow
//! with the rules that share it. (A file of its own: it measures the peak memory of the
//! children of this test process, which no other test may spawn meanwhile.)

mod common;

use common::Sandbox;

/// The largest peak resident size of the children waited for so far, in KiB.
fn children_peak_kib() -> i64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) },
        0
    );
    usage.ru_maxrss
}

#[test]
fn a_large_list_shared_by_a_thousand_rules_is_held_once() {
    let s = Sandbox::new();
    let mut list = String::new();
    for i in 0..50_000 {
        list.push_str(&format!("term{i:05} word\n"));
    }
    s.write("rules/lists/big.txt", &list);
    for i in 0..1_000 {
        s.rule(
            &format!("r{i:04}"),
            &format!(
                "//! Rule {i}.\nif article.mentions(\"anchor{i}\") && article.mentions_any(list(\"big\")) {{ alert(\"r{i}\"); }}"
            ),
        );
    }
    s.write("a.txt", "Title\n\nanchor7 and term00042 word here.\n");
    // Looking up 50,000 terms takes a debug build longer than the default 250 ms.
    s.write("newswatch.yaml", "limits:\n  rule_timeout: 30s\n");
    let run = s.run(&["scan", "--format", "json", "a.txt"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.rules(), ["r0007"]);
    let peak = children_peak_kib();
    eprintln!("peak of scan with 1,000 rules sharing a 50,000-term list: {peak} KiB");
    // Held once, the list is ~2 MB; copied into each rule it would be hundreds of MB.
    assert!(peak < 200 << 10, "peak {peak} KiB");
}
