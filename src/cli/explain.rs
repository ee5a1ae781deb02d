//! `newswatch explain RULE ARTICLE`: why a rule did or did not fire on an article.

use std::path::PathBuf;

use crate::sources::Input;

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The rule's name (its path under the rules folder, without `.rhai`).
    rule: String,
    /// The article: a file in any supported format, or `-` for stdin.
    article: PathBuf,
    #[command(flatten)]
    setup: super::Setup,
}

/// Prints the trace; exit 0 when the rule raised an alert, 1 when not, 2 on error.
pub(crate) fn run(args: Args) -> u8 {
    let loaded = match args.setup.load_or_exit() {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let rules = match loaded.rules_or_exit() {
        Ok(rules) => rules,
        Err(code) => return code,
    };
    let Some(rule) = rules.rules().iter().find(|r| r.name() == args.rule) else {
        let problem = rules
            .diagnostics()
            .iter()
            .find(|d| d.path.with_extension("") == loaded.rules_dir.join(&args.rule));
        let off = rules.disabled_rules().iter().any(|r| r.name() == args.rule);
        match problem {
            Some(d) => tracing::error!("rule {} does not compile: {d}", args.rule),
            None if off => tracing::error!(
                "{}",
                newswatch_engine::Error::RuleDisabled {
                    rule: args.rule.clone()
                }
            ),
            None => tracing::error!(
                "no rule {} in {} (rules: {})",
                args.rule,
                loaded.rules_dir.display(),
                rules
                    .rules()
                    .iter()
                    .map(|r| r.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
        return 2;
    };
    let input = if args.article.as_os_str() == "-" {
        Input::Stdin
    } else {
        Input::file(args.article.clone())
    };
    let articles = match input
        .read(loaded.config.limits.max_file_size)
        .and_then(|bytes| input.ingest(&bytes, None))
    {
        Ok(articles) => articles,
        Err(e) => {
            tracing::error!("{e}");
            return 2;
        }
    };
    println!("rule {} ({})", rule.name(), rule.path().display());
    if !rule.description().is_empty() {
        println!("  {}", rule.description().replace('\n', "\n  "));
    }
    let mut fired = false;
    let mut scanner = rules.scanner();
    for mut a in articles {
        a.source.get_or_insert_with(|| input.source().to_string());
        let e = match scanner.explain(&args.rule, &a, std::time::SystemTime::now()) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!("{e}");
                return 2;
            }
        };
        println!("\narticle {:?} ({})", a.title, input.path().display());
        let prefilter = match (e.prefilter_runs, &e.prefilter_skips) {
            (Some(false), Some(why)) => format!("would skip the rule: {why}"),
            (Some(false), None) => "would skip the rule".into(),
            (Some(true), _) => "runs the rule (the terms it needs are in the article)".into(),
            (None, _) => "off".into(),
        };
        println!("  prefilter: {prefilter}");
        println!("  calls:");
        if e.calls.is_empty() {
            println!("    (no calls to the article API)");
        }
        for call in &e.calls {
            println!("    {call}");
        }
        for err in &e.errors {
            println!("  error: {err}");
        }
        for note in &e.notes {
            println!("  note: {note}");
        }
        if e.alerts.is_empty() {
            println!("  alerts: none");
        }
        for alert in &e.alerts {
            fired = true;
            println!(
                "  alert: {} {:?} {}",
                alert.severity,
                alert.message,
                alert.to_json()
            );
        }
    }
    if fired { 0 } else { 1 }
}
