//! `newswatch rules`: the rules a folder holds — on or switched off, what each looks for, and
//! (with `--tests`) whether its test cases pass.

use std::path::Path;
use std::sync::Arc;

use newswatch_engine::rules::Rule;
use serde_json::json;

use super::Format;

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    setup: super::Setup,
    /// Run each rule's test cases and show how many pass and fail.
    #[arg(long)]
    tests: bool,
    /// Output format [default: text on a terminal, json otherwise].
    #[arg(long, value_enum)]
    format: Option<Format>,
}

/// One line (text) or object (JSON) per rule, by name; rules that do not compile are listed
/// on stderr. Exit 0 unless the rules or the config cannot be read (2).
pub(crate) fn run(args: Args) -> u8 {
    let (loaded, rules) = match args.setup.load_rules_or_exit() {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    for d in rules.diagnostics() {
        tracing::error!("{d}");
    }
    let tests = args.tests.then(|| {
        super::test::results(
            &rules,
            &loaded.rules_dir,
            loaded.config.limits.max_file_size,
        )
    });
    let mut all: Vec<(&Arc<Rule>, bool)> = rules.rules().iter().map(|r| (r, true)).collect();
    all.extend(rules.disabled_rules().iter().map(|r| (r, false)));
    all.sort_by(|a, b| a.0.name().cmp(b.0.name()));
    let format = Format::or_default(args.format);
    for (rule, enabled) in all {
        let counts = tests
            .as_ref()
            .map(|t| t.get(rule.name()).copied().unwrap_or_default());
        match format {
            Format::Json => println!("{}", as_json(rule, enabled, counts, &loaded.rules_dir)),
            Format::Text => println!("{}", as_text(rule, enabled, counts)),
        }
    }
    0
}

fn as_json(rule: &Rule, enabled: bool, tests: Option<(usize, usize)>, dir: &Path) -> String {
    let file = rule.path().strip_prefix(dir).unwrap_or(rule.path());
    let mut object = json!({
        "name": rule.name(),
        "description": rule.description(),
        "enabled": enabled,
        "file": rule.path().display().to_string(),
        "relative_file": file.display().to_string(),
        "terms": rule.terms(),
    });
    if let Some((passed, failed)) = tests {
        object["tests"] = json!({ "passed": passed, "failed": failed });
    }
    object.to_string()
}

fn as_text(rule: &Rule, enabled: bool, tests: Option<(usize, usize)>) -> String {
    let state = if enabled { "on " } else { "off" };
    let summary = rule
        .description()
        .lines()
        .next()
        .unwrap_or("(no description)");
    let mut line = format!("{state}  {:<28} {summary}", rule.name());
    let terms = rule.terms();
    if !terms.is_empty() {
        let shown: Vec<String> = terms.iter().take(6).map(|t| format!("{t:?}")).collect();
        let more = terms.len().saturating_sub(6);
        line.push_str(&format!("\n     terms: {}", shown.join(", ")));
        if more > 0 {
            line.push_str(&format!(" and {more} more"));
        }
    }
    match tests {
        Some((0, 0)) => line.push_str("\n     tests: none"),
        Some((passed, 0)) => line.push_str(&format!("\n     tests: {passed} passed")),
        Some((passed, failed)) => {
            line.push_str(&format!("\n     tests: {passed} passed, {failed} FAILED"))
        }
        None => {}
    }
    line
}
