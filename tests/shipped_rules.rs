//! The rules in `rules/` on the articles in `examples/articles/`.

mod common;

use common::{Sandbox, repo};

fn scan(file: &str) -> Vec<serde_json::Value> {
    let s = Sandbox::new();
    let rules = repo().join("rules");
    let path = repo().join("examples/articles").join(file);
    let run = s.run(&[
        "scan",
        "--format",
        "json",
        "--rules",
        rules.to_str().unwrap(),
        path.to_str().unwrap(),
    ]);
    assert!(
        run.code < 2 && !run.stderr.contains("error"),
        "{}",
        run.stderr
    );
    run.alerts()
}

fn rules_of(alerts: &[serde_json::Value]) -> Vec<&str> {
    alerts.iter().map(|a| a["rule"].as_str().unwrap()).collect()
}

#[test]
fn deepseek_h200_fires_on_english_possessives() {
    let alerts = scan("deepseek_en.txt");
    assert_eq!(rules_of(&alerts), ["deepseek_h200"]);
    assert_eq!(alerts[0]["severity"], "high");
}

#[test]
fn deepseek_h200_ignores_the_h2000() {
    assert!(scan("h2000_boards.txt").is_empty());
}

#[test]
fn export_controls_uses_near_and_fields() {
    let alerts = scan("export_rules.md");
    assert_eq!(rules_of(&alerts), ["export_controls"]);
    assert_eq!(alerts[0]["severity"], "high", "the chip is in the title");
    assert_eq!(alerts[0]["fields"]["chip"], "H20");
    assert_eq!(
        alerts[0]["article"]["url"],
        "https://example.com/2026/export-rules"
    );
}

#[test]
fn ai_funding_uses_matches_and_count() {
    let alerts = scan("funding.txt");
    assert_eq!(rules_of(&alerts), ["ai_funding"]);
    assert_eq!(alerts[0]["fields"]["ai_mentions"], 6);
    assert_eq!(alerts[0]["severity"], "medium");
}
