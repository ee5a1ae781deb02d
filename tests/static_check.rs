//! `check`'s static pass: each broken rule of the fixture is refused with its exact line
//! (position and, where one is close, a suggestion), and nothing valid is flagged — the
//! shipped rules, every rule example in the README and the docs, and a rule using the whole
//! API in the ways that are not known statically.

mod common;

use common::{Sandbox, repo};

/// (rule name, source, the line `check` prints for it).
const BROKEN: &[(&str, &str, &str)] = &[
    (
        "typo_method",
        "if article.mention(\"x\") { alert(\"m\"); }",
        "rules/typo_method.rhai:1:12: `article` has no method `mention`; did you mean `mentions`?",
    ),
    (
        "typo_function",
        "if mentionz(article, \"x\") { alert(\"m\"); }",
        "rules/typo_function.rhai:1:4: unknown function `mentionz`; did you mean `mentions`?",
    ),
    (
        "typo_property",
        "if article.titel == \"x\" { alert(\"t\"); }",
        "rules/typo_property.rhai:1:12: `article` has no property `titel`; did you mean `title`? (it has body, lang, meta, path, published, source, text, title, url)",
    ),
    (
        "near_arity",
        "if article.near(\"a\", \"b\") { alert(\"n\"); }",
        "rules/near_arity.rhai:1:12: `article.near` takes 3 arguments (string, string, int), not 2",
    ),
    (
        "severity",
        "alert(#{ message: \"x\", severity: \"urgent\" });",
        "rules/severity.rhai:1:7: alert invalid severity \"urgent\": expected info, low, medium, high or critical",
    ),
    (
        "no_message",
        "alert(#{ severity: \"high\" });",
        "rules/no_message.rhai:1:7: alert has no message: add `message: \"…\"` to the map",
    ),
    (
        "regex",
        "if article.matches(\"(unclosed\") { alert(\"r\"); }",
        "rules/regex.rhai:1:20: invalid regex \"(unclosed\": unclosed group",
    ),
    (
        "string_method",
        "if article.title.lenn() > 3 { alert(\"l\"); }",
        "rules/string_method.rhai:1:18: unknown method `lenn`; did you mean `len`?",
    ),
    (
        "own_function",
        "fn both(a, x, y) { a.mentions(x) && a.mentions(y) }\nif both(article, \"x\") { alert(\"b\"); }",
        "rules/own_function.rhai:2:4: `both` takes 3 arguments, not 2",
    ),
    (
        "alert_arity",
        "alert(\"a\", \"b\");",
        "rules/alert_arity.rhai:1:1: `alert` takes 1 argument, not 2",
    ),
];

/// Every rule of the fixture is refused with exactly its line, and nothing else is said.
#[test]
fn broken_rules_are_refused_with_their_position_and_a_suggestion() {
    let s = Sandbox::new();
    for (name, source, _) in BROKEN {
        s.rule(name, &format!("//! Broken on purpose.\n{source}"));
    }
    let run = s.run(&["check"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let mut expected: Vec<String> = BROKEN.iter().map(|(_, _, line)| shift_line(line)).collect();
    expected.sort();
    let mut got: Vec<String> = run.stdout.lines().map(str::to_string).collect();
    got.sort();
    assert_eq!(got, expected);
    assert!(run.stderr.contains("10 problem(s)"), "{}", run.stderr);
}

/// The fixture's lines count from the rule's first line; each rule file starts with its
/// description line.
fn shift_line(line: &str) -> String {
    let (file, rest) = line.split_once(".rhai:").unwrap();
    let (n, rest) = rest.split_once(':').unwrap();
    format!("{file}.rhai:{}:{rest}", n.parse::<usize>().unwrap() + 1)
}

/// What the pass cannot know is left alone: methods on values whose type depends on the run,
/// function pointers, the rule's own functions, keywords, every `article` property and
/// method.
#[test]
fn valid_rules_pass_clean() {
    let s = Sandbox::new();
    s.rule(
        "everything",
        r#"//! Uses the API every way a valid rule may.
fn helper(a, t) { a.mentions(t) }
let words = ["x", "y"];
let f = Fn("helper");
let n = article.title.len() + article.body.to_lower().index_of("x") + article.text.len();
let m = #{ a: 1, b: [1, 2] };
let meta = article.meta;
let sev = if n > 10 { "high" } else { "low" };
if helper(article, "x") && f.call(article, "y") && words.contains("x") && m.a == 1
    && article.mentions_all(words) && article.mentions_any(["a"]) && article.count("x") >= 0
    && article.near("a", "b", 3) || article.same_sentence("a", "b") || article.in_title("c")
    || article.matches("(?i)deep\\s*seek") || article.url == () || article.published == ()
    || article.source == () || article.path == () || article.lang == () || meta.len() > 0 {
    print(type_of(n));
    debug(m);
    alert(#{ message: `${article.title} ${n}`, severity: sev, tags: ["t"], key: article.url });
    alert(#{ message: "fixed", severity: "critical", chip: m.b });
    alert("plain");
}
"#,
    );
    let run = s.run(&["check"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

/// The shipped rules and every `rhai` example of the README and the docs.
#[test]
fn shipped_rules_and_documented_examples_pass_clean() {
    let s = Sandbox::new();
    let shipped = s.run(&["check", "--rules", repo().join("rules").to_str().unwrap()]);
    assert_eq!(shipped.code, 0, "{}", shipped.stdout);
    // The examples' lists.
    s.write("rules/lists/chips.txt", "H200\nAscend 910\n");
    let mut examples = 0;
    for doc in ["README.md", "docs/rules.md"] {
        let text = std::fs::read_to_string(repo().join(doc)).unwrap();
        for (i, block) in text.split("```rhai\n").skip(1).enumerate() {
            let code = block.split("```").next().unwrap();
            s.rule(
                &format!("{}_{i}", doc.replace(['/', '.'], "_")),
                &format!("//! An example.\n{code}"),
            );
            examples += 1;
        }
    }
    assert!(examples >= 5, "found {examples} examples");
    let run = s.run(&["check"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        !run.stdout.lines().any(|l| !l.contains("warning:")),
        "{}",
        run.stdout
    );
}
