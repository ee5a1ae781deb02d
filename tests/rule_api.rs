//! The rule API of DESIGN.md, exercised through `newswatch scan` on real files.

mod common;

use common::Sandbox;
use serde_json::json;

/// Runs one rule on one article file and returns the alerts.
fn eval(rule: &str, file: &str, content: &str) -> Vec<serde_json::Value> {
    let s = Sandbox::new();
    s.rule("r", rule);
    s.write(file, content);
    let run = s.run(&["scan", "--format", "json", file]);
    assert!(run.code < 2, "{}", run.stderr);
    assert!(!run.stderr.contains("error"), "{}", run.stderr);
    run.alerts()
}

/// Runs a rule that reports `fields: #{...}` and returns those fields.
fn fields(expr_map: &str, content: &str) -> serde_json::Value {
    let rule = format!("let f = {expr_map}; f.message = \"m\"; alert(f);");
    let alerts = eval(&rule, "a.txt", content);
    let mut f = alerts[0]["fields"].clone();
    f.as_object_mut().unwrap().remove("message");
    f
}

#[test]
fn mentions_is_whole_word_case_and_accent_insensitive() {
    let text = "Nvidia's H200 ships\n\nPékin allowed DeepSeek's team to buy l'H200; not the H2000. DeepSeek-V3 too.\n";
    let f = fields(
        r#"#{
            h200: article.mentions("h200"),
            pekin: article.mentions("pekin"),
            h20: article.mentions("H20"),
            h2000: article.mentions("H2000"),
            phrase: article.mentions("DeepSeek-V3"),
            phrase_words: article.mentions("deepseek v3"),
            prefix: article.mentions("ship*"),
            no_prefix: article.mentions("shi"),
            nothing: article.mentions("!!!"),
        }"#,
        text,
    );
    assert_eq!(
        f,
        json!({"h200": true, "pekin": true, "h20": false, "h2000": true, "phrase": true,
               "phrase_words": true, "prefix": true, "no_prefix": false, "nothing": false})
    );
}

#[test]
fn nfd_text_matches_nfc_terms() {
    // "décédé à" with combining accents, as in corpus fr/orangesum/txt/3678.txt.
    let text = "Titre\n\nIl est de\u{301}ce\u{301}de\u{301} a\u{300} Paris.\n";
    let f = fields(
        r#"#{ nfc: article.mentions("décédé à"), plain: article.mentions("decede a") }"#,
        text,
    );
    assert_eq!(f, json!({"nfc": true, "plain": true}));
}

#[test]
fn all_any_count_near_sentence_title_matches() {
    let text = "DeepSeek in the title\n\nThe H200 is fast. DeepSeek bought many chips! Then one two three four five six H200.\n\nNew para with chips";
    let f = fields(
        r#"#{
            all: article.mentions_all(["DeepSeek", "H200"]),
            all_missing: article.mentions_all(["DeepSeek", "Huawei"]),
            any: article.mentions_any(["Huawei", "chips"]),
            any_none: article.mentions_any(["Huawei", "Intel"]),
            count_h200: article.count("H200"),
            count_deepseek: article.count("deepseek"),
            count_none: article.count("Intel"),
            near_3: article.near("DeepSeek", "chips", 2),
            near_tight: article.near("DeepSeek", "chips", 1),
            near_far: article.near("chips", "H200", 2),
            near_back: article.near("H200", "six", 1),
            same: article.same_sentence("DeepSeek", "chips"),
            not_same: article.same_sentence("chips", "H200"),
            paragraph: article.same_sentence("H200", "para"),
            title: article.in_title("DeepSeek"),
            not_title: article.in_title("H200"),
            regex: article.matches("H\\d{3}\\b"),
            regex_no: article.matches("^H200"),
        }"#,
        text,
    );
    assert_eq!(
        f,
        json!({"all": true, "all_missing": false, "any": true, "any_none": false,
               "count_h200": 2, "count_deepseek": 2, "count_none": 0,
               "near_3": true, "near_tight": false, "near_far": false, "near_back": true,
               "same": true, "not_same": false, "paragraph": false,
               "title": true, "not_title": false, "regex": true, "regex_no": false})
    );
}

#[test]
fn article_fields_and_meta() {
    let md = "---\ntitle: Front title\nurl: https://example.com/x\npublished: 2026-11-20T09:00:00Z\ntags: [a, b]\nauthor: Ann\n---\nBody words here.\n";
    let alerts = eval(
        r#"alert(#{ message: "m", title: article.title, url: article.url, published: article.published,
                   author: article.meta.author, meta_tags: article.meta.tags, lang: article.lang,
                   source: article.source });"#,
        "notes/a.md",
        md,
    );
    assert_eq!(
        alerts[0]["fields"],
        json!({"title": "Front title", "url": "https://example.com/x",
               "published": "2026-11-20T09:00:00Z", "author": "Ann", "meta_tags": ["a", "b"],
               "lang": null, "source": "notes"})
    );
    assert_eq!(alerts[0]["article"]["url"], "https://example.com/x");
    assert_eq!(alerts[0]["article"]["title"], "Front title");
}

#[test]
fn alert_map_form_sets_severity_tags_key_and_fields() {
    let rule = r#"
        alert(#{ message: "one", severity: "critical", tags: ["x", "y"], score: 3, nested: #{ a: [1, 2.5, ()] } });
        alert(#{ message: "two", key: "fixed" });
        alert("three");
    "#;
    let alerts = eval(rule, "a.txt", "t\n");
    assert_eq!(
        alerts.len(),
        2,
        "`three` has the same default key as `one`: {alerts:?}"
    );
    assert_eq!(alerts[0]["severity"], "critical");
    assert_eq!(alerts[0]["tags"], json!(["x", "y"]));
    assert_eq!(
        alerts[0]["fields"],
        json!({"score": 3, "nested": {"a": [1, 2.5, null]}})
    );
    assert_eq!(alerts[1]["severity"], "medium");
    assert_ne!(alerts[0]["id"], alerts[1]["id"]);
    // A fixed key gives the same id whatever the article.
    let other = eval(rule, "b.txt", "another article\n");
    assert_eq!(alerts[1]["id"], other[1]["id"]);
    assert_ne!(alerts[0]["id"], other[0]["id"]);
}

/// Literal mistakes are refused when the rule compiles, at their position; the same
/// mistakes made of values known only at run time are errors naming the rule.
#[test]
fn bad_severity_and_missing_message_are_errors_naming_the_rule() {
    let s = Sandbox::new();
    s.rule(
        "bad_severity",
        r#"alert(#{ message: "x", severity: "urgent" });"#,
    );
    s.rule("no_message", r#"alert(#{ severity: "high" });"#);
    s.rule(
        "late_severity",
        r#"let s = "urg" + "ent"; alert(#{ message: "x", severity: s });"#,
    );
    s.rule("bad_tags", r#"alert(#{ message: "x", tags: "one" });"#);
    s.rule("fine", r#"alert("ok");"#);
    s.write("a.txt", "t\n");
    let run = s.run(&["scan", "--format", "json", "a.txt"]);
    assert_eq!(run.rules(), ["fine"]);
    assert_eq!(run.code, 0);
    for expected in [
        "rules/bad_severity.rhai:1:7: alert invalid severity \"urgent\": expected info, low, medium, high or critical",
        "rules/no_message.rhai:1:7: alert has no message: add `message: \"…\"` to the map",
        "rule late_severity: rules/late_severity.rhai:1:",
        "rule bad_tags:",
    ] {
        assert!(run.stderr.contains(expected), "{expected}\n{}", run.stderr);
    }
}

#[test]
fn rule_names_come_from_paths_under_the_rules_folder() {
    let s = Sandbox::new();
    s.rule("chips/nvidia/h200", r#"alert("x");"#);
    s.write("a.txt", "t\n");
    assert_eq!(
        s.run(&["scan", "--format", "json", "a.txt"]).rules(),
        ["chips/nvidia/h200"]
    );
}

#[test]
fn matches_snippets_point_at_each_found_term() {
    let body = format!(
        "{} DeepSeek arrives. {} and the H200 later.",
        "filler ".repeat(40),
        "more ".repeat(40)
    );
    let alerts = eval(
        r#"if article.mentions_all(["DeepSeek", "H200"]) { alert("x"); }"#,
        "a.txt",
        &format!("Title\n\n{body}\n"),
    );
    let m = &alerts[0]["matches"];
    assert_eq!(m[0]["term"], "DeepSeek");
    assert_eq!(m[1]["term"], "H200");
    let s0 = m[0]["snippet"].as_str().unwrap();
    let s1 = m[1]["snippet"].as_str().unwrap();
    assert!(
        s0.contains("DeepSeek arrives") && s0.starts_with('…') && s0.len() < 250,
        "{s0}"
    );
    assert!(s1.contains("the H200 later"), "{s1}");
}

#[test]
fn invalid_regex_is_refused_at_compile_time_or_named_at_run_time() {
    let s = Sandbox::new();
    s.rule("re", r#"if article.matches("([") { alert("x"); }"#);
    s.rule(
        "late_re",
        r#"let p = "(" + "["; if article.matches(p) { alert("x"); }"#,
    );
    s.write("a.txt", "t\n");
    let run = s.run(&["scan", "a.txt"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("rules/re.rhai:1:20: invalid regex \"([\": unclosed character class"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("rule late_re:") && run.stderr.contains("invalid regex"),
        "{}",
        run.stderr
    );
}

#[test]
fn sentences_end_even_when_the_space_after_them_was_lost() {
    let f = fields(
        r#"#{
            glued: article.same_sentence("domestique", "consternant"),
            bang: article.same_sentence("gamma", "delta"),
            decimal: article.same_sentence("DeepSeek", "H200"),
        }"#,
        "Title\n\nUne aide domestique.Consternant, le juge. gamma!delta. DeepSeek v3.5 on the H200.",
    );
    assert_eq!(f, json!({"glued": false, "bang": false, "decimal": true}));
}
