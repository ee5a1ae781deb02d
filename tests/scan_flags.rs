//! `scan`'s selection and output flags, as grep users expect them: `--rule GLOB`, `-c`, `-l`,
//! `-q`, `--color`.

mod common;

use common::Sandbox;

fn sandbox() -> Sandbox {
    let s = Sandbox::new();
    s.rule(
        "chips/h200",
        "//! H200.\nif article.mentions(\"H200\") { alert(\"h200\"); }",
    );
    s.rule(
        "chips/ascend",
        "//! Ascend.\nif article.mentions(\"Ascend\") { alert(\"ascend\"); }",
    );
    s.rule(
        "people",
        "//! People.\nif article.mentions(\"Huang\") { alert(\"huang\"); }",
    );
    s.write("in/a.txt", "H200 and Ascend\n\nJensen Huang spoke.\n");
    s.write("in/b.txt", "Ascend\n\nnothing else\n");
    s.write("in/c.txt", "Weather\n\nrain\n");
    s
}

#[test]
fn rule_selects_by_glob_and_says_when_nothing_matches() {
    let s = sandbox();
    let run = s.run(&["scan", "--format", "json", "--rule", "chips/*", "in"]);
    assert_eq!(run.code, 0);
    let mut rules = run.rules();
    rules.sort();
    rules.dedup();
    assert_eq!(rules, ["chips/ascend", "chips/h200"]);
    let run = s.run(&[
        "scan", "--format", "json", "--rule", "people", "--rule", "x", "in",
    ]);
    assert_eq!(run.rules(), ["people"]);
    let none = s.run(&["scan", "--rule", "nope*", "in"]);
    assert_eq!(none.code, 2);
    assert!(
        none.stderr.contains(
            "no rule matches --rule nope*: the rules are chips/ascend, chips/h200, people"
        ),
        "{}",
        none.stderr
    );
}

#[test]
fn count_files_and_quiet_print_like_grep() {
    let s = sandbox();
    let count = s.run(&["scan", "-c", "in"]);
    assert_eq!(count.code, 0);
    assert_eq!(count.stdout, "in/a.txt:3\nin/b.txt:1\nin/c.txt:0\n");
    let files = s.run(&["scan", "-l", "in"]);
    assert_eq!(files.stdout, "in/a.txt\nin/b.txt\n");
    let quiet = s.run(&["scan", "-q", "in"]);
    assert_eq!((quiet.code, quiet.stdout.as_str()), (0, ""));
    let quiet_none = s.run(&["scan", "-q", "in/c.txt"]);
    assert_eq!((quiet_none.code, quiet_none.stdout.as_str()), (1, ""));
    let both = s.run(&["scan", "-c", "-l", "in"]);
    assert_eq!(both.code, 2, "-c and -l together are refused");
}

#[test]
fn color_is_chosen_by_flag() {
    let s = sandbox();
    let always = s.run(&["scan", "--format", "text", "--color", "always", "in/b.txt"]);
    assert!(always.stdout.contains("\u{1b}["), "{}", always.stdout);
    let never = s.run(&["scan", "--format", "text", "--color", "never", "in/b.txt"]);
    assert!(!never.stdout.contains("\u{1b}["), "{}", never.stdout);
    assert!(never.stdout.contains("ascend"), "{}", never.stdout);
}
