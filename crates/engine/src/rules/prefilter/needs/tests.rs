//! Tests of the walk: what each construct of a rule makes of its condition. They pin the shape
//! of Rhai's `internals` AST the walk relies on.

use super::*;
use crate::rules::{Limits, sandbox};

/// The rule's condition, written `m(x)` (mentions), `t(x)` (in_title), `c(x)>n` (count),
/// `near(a,b,n)`, `ss(a,b)`, `!`, `&`, `|`, `?` (unknown).
fn effect(source: &str) -> String {
    show(&needs(source).effect)
}

fn needs(source: &str) -> Needs {
    let engine = sandbox::engine(
        &Limits::default(),
        &sandbox::standard_library(),
        &std::sync::Arc::new(Lists::default()),
        &crate::rules::api::FrameRef::new(),
    );
    let mut scope = rhai::Scope::new();
    scope.push("article", ());
    let ast = engine
        .compile_with_scope(&scope, source)
        .unwrap_or_else(|e| panic!("{source}: {e}"));
    analyze(&ast, &Lists::default())
}

fn show(c: &Cond<ImmutableString>) -> String {
    let list = |cs: &[Cond<ImmutableString>], sep: &str| {
        let parts: Vec<String> = cs.iter().map(show).collect();
        format!("({})", parts.join(sep))
    };
    match c {
        Const(b) => b.to_string(),
        Unknown => "?".into(),
        Cond::Mentions(t) => format!("m({t})"),
        Cond::InTitle(t) => format!("t({t})"),
        Cond::Count(t, cmp, n) => format!("c({t}){cmp:?}{n}"),
        Cond::Near(a, b, n) => format!("near({a},{b},{n})"),
        Cond::SameSentence(a, b) => format!("ss({a},{b})"),
        Cond::Not(c) => format!("!{}", show(c)),
        Cond::And(cs) => list(cs, " & "),
        Cond::Or(cs) => list(cs, " | "),
    }
}

/// Rules and the condition the walk derives for them.
const CONDITIONS: &[(&str, &str)] = &[
    // Term queries, `&&`, `||`, `!`, both call styles.
    (
        r#"if article.mentions_all(["DeepSeek", "H200"]) { alert("x"); }"#,
        "(m(DeepSeek) & m(H200))",
    ),
    (
        r#"if article.mentions("a") || article.in_title("b") { alert("x"); }"#,
        "(m(a) | t(b))",
    ),
    (r#"if !article.mentions("a") { alert("x"); }"#, "!m(a)"),
    // Both branches have effects.
    (
        r#"if mentions(article, "a") { alert("x"); } else { print("no"); }"#,
        "true",
    ),
    (r#"if article.mentions_any([]) { alert("x"); }"#, "false"),
    (r#"let x = 1;"#, "false"),
    // Early returns and blocks.
    (
        r#"if !article.mentions_any(["a", "b"]) { return; } alert("x");"#,
        "(m(a) | m(b))",
    ),
    (
        r#"{ if article.mentions("a") { return 1; } } if article.mentions("b") { alert("x"); }"#,
        "(!m(a) & m(b))",
    ),
    (r#"return; alert("never");"#, "false"),
    // A throw after the condition is an effect on every article.
    (
        r#"if article.mentions("a") { alert("x"); } throw "boom";"#,
        "true",
    ),
    // Counts compared with integers, `near`, `same_sentence`.
    (r#"if article.count("a") > 2 { alert("x"); }"#, "c(a)Gt2"),
    (r#"if 1 <= article.count("a") { alert("x"); }"#, "c(a)Ge1"),
    (
        r#"if article.near("a", "b", 3) && article.same_sentence("c", "d") { alert("x"); }"#,
        "(near(a,b,3) & ss(c,d))",
    ),
    // A negative distance fails at run time; so does comparing a count with a string.
    (r#"if article.near("a", "b", -1) { alert("x"); }"#, "true"),
    (r#"if article.count("a") > "2" { alert("x"); }"#, "true"),
    // Literals through variables and unrolled loops.
    (
        r#"let ai = ["a", "b c"]; if !article.mentions_any(ai) { return; } alert("x");"#,
        "(m(a) | m(b c))",
    ),
    (
        r#"const T = "h200"; if article.mentions(T) { alert("x"); }"#,
        "m(h200)",
    ),
    (
        r#"for t in ["a", "b"] { if article.mentions(t) { alert(t); return; } }"#,
        "(m(a) | (!m(a) & m(b)))",
    ),
    (
        r#"let xs = ["a", "b"]; let ys = ["c"];
           for x in xs { for y in ys { if article.near(x, y, 2) { alert("n"); return; } } }"#,
        "(near(a,c,2) | (!near(a,c,2) & near(b,c,2)))",
    ),
    // Opaque parts behind a condition count only where it holds.
    (
        r#"if article.mentions("a") && article.matches("b+") { alert("x"); }"#,
        "m(a)",
    ),
    (
        r#"if article.mentions("a") || article.matches("b+") { alert("x"); }"#,
        "true",
    ),
    (
        r#"if article.mentions("a") { let w = article.count("b") + 1; print(w); }"#,
        "m(a)",
    ),
];

#[test]
fn conditions() {
    for (source, expected) in CONDITIONS {
        assert_eq!(effect(source), *expected, "{source}");
    }
}

#[test]
fn anything_unprovable_always_runs() {
    for source in [
        // Effects before the condition.
        r#"print("x"); if article.mentions("a") { alert("x"); }"#,
        r#"debug("x"); if article.mentions("a") { alert("x"); }"#,
        r#"let n = 0; n += 1; if article.mentions("a") { alert("x"); }"#,
        // Arguments that are not literals.
        r#"let t = article.title; if article.mentions(t) { alert("x"); }"#,
        r#"if article.mentions(article.title) { alert("x"); }"#,
        r#"let t = "a"; t += "b"; if article.mentions(t) { alert("x"); }"#,
        r#"if article.mentions_all(["a", 1]) { alert("x"); }"#,
        // Queries the walk does not model.
        r#"if article.matches("a+") { alert("x"); }"#,
        r#"if article.lang == "fr" { alert("x"); }"#,
        r#"if article.count("a") { alert("x"); }"#,
        // Constructs it does not follow.
        r#"fn f() { true } if article.mentions("a") { alert("x"); }"#,
        r#"let i = 0; while i < 2 { i += 1; } if article.mentions("a") { alert("x"); }"#,
        r#"for i in 0..2 { if article.mentions("a") { alert("x"); } }"#,
        r#"for t in ["a"] { if article.mentions(t) { break; } } alert("x");"#,
        r#"try { if article.mentions("a") { alert("x"); } } catch { }"#,
        r#"switch 1 { 1 => alert("x") }"#,
        // A rule of its own `article`.
        r#"let article = #{}; if article.mentions("a") { alert("x"); }"#,
    ] {
        assert_eq!(effect(source), "true", "{source}");
    }
}

#[test]
fn terms_are_collected_everywhere() {
    let n = needs(
        r#"let l = ["x", "y"]; print(article.count("z")); if article.mentions("a") { alert("m"); }"#,
    );
    let terms: Vec<&str> = n.terms.iter().map(|t| t.as_str()).collect();
    assert_eq!(terms, ["a", "x", "y", "z"]);
    assert!(n.cost > 0);
}

#[test]
fn the_shipped_rules() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    assert_eq!(
        effect(&read("deepseek_h200.rhai")),
        "(m(DeepSeek) & m(H200))"
    );
    let funding = effect(&read("ai_funding.rhai"));
    assert_eq!(
        funding,
        "(m(artificial intelligence) | m(AI) | m(machine learning) | m(LLM*) \
         | m(intelligence artificielle) | m(IA))"
    );
    let export = needs(&read("export_controls.rhai"));
    assert!(
        show(&export.effect).starts_with("(near(H200,export control*,12) | (!near("),
        "{}",
        show(&export.effect)
    );
    assert!(export.cost < 1_000, "{}", export.cost);
}
