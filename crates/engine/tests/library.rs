//! The library API, as an embedding program uses it.

use std::sync::Arc;

use newswatch_engine::{Article, Limits, Ruleset};

#[test]
fn a_ruleset_is_shared_across_threads() {
    let rules = Arc::new(Ruleset::from_sources(
        [("h200", r#"if article.mentions("H200") { alert("chip"); }"#)],
        Limits::default(),
    ));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let rules = rules.clone();
            std::thread::spawn(move || {
                let a = Article::new(format!("Story {i}"), "The H200 ships.");
                rules
                    .evaluate(&a, std::time::SystemTime::UNIX_EPOCH)
                    .unwrap()
                    .alerts
                    .len()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 1);
    }
}

#[test]
fn rules_from_sources_are_sorted_and_unique() {
    let rules = Ruleset::from_sources(
        [
            ("b", "alert(\"b\");"),
            ("a", "alert(\"a\");"),
            ("b", "alert(\"b2\");"),
        ],
        Limits::default(),
    );
    let names: Vec<_> = rules.rules().iter().map(|r| r.name().to_string()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(rules.diagnostics().len(), 1);
    let alerts = rules
        .evaluate(&Article::new("t", ""), std::time::SystemTime::UNIX_EPOCH)
        .unwrap()
        .alerts;
    assert_eq!(alerts[1].message, "b");
}

#[test]
fn reload_keeps_the_last_good_version_of_a_broken_rule() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, src: &str| std::fs::write(dir.path().join(name), src).unwrap();
    write("keep.rhai", "alert(\"v1\");");
    write("gone.rhai", "alert(\"gone\");");
    let v1 = Ruleset::load(dir.path()).unwrap();
    assert_eq!(v1.rules().len(), 2);

    write("keep.rhai", "alert(\"v2\"");
    write("new.rhai", "//! Added later.\nalert(\"new\");");
    std::fs::remove_file(dir.path().join("gone.rhai")).unwrap();
    let v2 = v1.reload(dir.path()).unwrap();
    let names: Vec<_> = v2.rules().iter().map(|r| r.name()).collect();
    assert_eq!(names, ["keep", "new"]);
    assert_eq!(v2.rules()[1].description(), "Added later.");
    let d = v2.diagnostics()[0].to_string();
    assert!(d.contains("keep.rhai:1:"), "{d}");
    let messages: Vec<_> = v2
        .evaluate(&Article::new("t", ""), std::time::SystemTime::UNIX_EPOCH)
        .unwrap()
        .alerts
        .into_iter()
        .map(|a| a.message)
        .collect();
    assert_eq!(
        messages,
        ["v1", "new"],
        "the broken rule runs as it last compiled"
    );

    write("keep.rhai", "alert(\"v3\");");
    let v3 = v2.reload(dir.path()).unwrap();
    assert!(v3.diagnostics().is_empty());
    assert_eq!(
        v3.evaluate(&Article::new("t", ""), std::time::SystemTime::UNIX_EPOCH)
            .unwrap()
            .alerts[0]
            .message,
        "v3"
    );
}

#[test]
fn ingest_reads_bytes_and_a_name() {
    let articles =
        newswatch_engine::ingest(b"# Title\n\nBody", std::path::Path::new("x.md")).unwrap();
    assert_eq!(articles[0].title, "Title");
    assert_eq!(articles[0].body, "Body");
}
