//! `newswatch check`: compile every rule and the config, print every problem.
//!
//! Each problem is one line `FILE:LINE:COL: message`, the form editors and scripts parse. With
//! `--snippets` (the default on a terminal) the line is followed by the source line and a
//! caret, as the Rust compiler shows them. Warnings (rules that can never fire, rules without
//! a description) are shown too but do not fail the check.
//!
//! The config is read the way every command reads it ([`crate::config::Config::load_all`]),
//! so what `check` accepts, `watch` and `scan` accept; `check` only lists every problem where
//! they stop at the first.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use newswatch_engine::rules::{Diagnostic, Ruleset};

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    setup: super::Setup,
    /// Show the source line and a caret under each problem (default: on a terminal).
    #[arg(long)]
    snippets: bool,
}

/// Prints problems on stdout; exit 0 when there are none (warnings allowed), else 1.
pub(crate) fn run(args: Args) -> u8 {
    let snippets = args.snippets || std::io::stdout().is_terminal();
    let mut errors = 0;
    let (config, dir) = match args.setup.load() {
        Ok(loaded) => (loaded.config, loaded.rules_dir),
        Err(e) => {
            // Loading stops at the first problem; read the config again for all of them, and
            // for what of it could be read (its `rules:` and limits).
            let (config, problems) = match &e {
                crate::Error::Config { path, .. } => crate::config::Config::load_all(path),
                _ => (Default::default(), vec![e]),
            };
            for problem in &problems {
                errors += 1;
                show_config_problem(problem, snippets);
            }
            // Still check the rules: where `--rules` or the config say, else the default folder.
            let dir = (args.setup.rules.clone())
                .or_else(|| config.rules.clone())
                .unwrap_or_else(|| PathBuf::from("rules"));
            (config, dir)
        }
    };
    // Unset variables only stop the commands that deliver: here they are warnings.
    let mut warnings = 0;
    for unset in &config.unset {
        warnings += 1;
        println!(
            "{}:{}:{}: warning: {} (watch, scan --deliver and fetch need it)",
            unset.path.display(),
            unset.line,
            unset.column,
            unset.message
        );
        if snippets {
            print_snippet(&unset.path, unset.line, unset.column);
        }
    }
    // OPML files of `feeds:`, with their own file, line and column.
    for problem in crate::feeds::resolve_all(&config).1 {
        errors += 1;
        show_config_problem(&problem, snippets);
    }
    let rules = match Ruleset::load_with(&dir, config.ruleset_options()) {
        Ok(rules) => rules,
        Err(e) => {
            println!("{e}");
            eprintln!("1 problem");
            return 1;
        }
    };
    for d in rules.diagnostics() {
        errors += 1;
        show(d, snippets);
    }
    for rule in rules.rules() {
        let mut warn = |message: String| {
            warnings += 1;
            show(
                &Diagnostic::new(rule.path(), Some((1, 1)), format!("warning: {message}")),
                false,
            );
        };
        for term in rule.unmatchable_terms() {
            warn(format!(
                "the term {term:?} has no letters or digits, so it can never match"
            ));
        }
        if rule.never_fires() {
            warn("this rule can never raise an alert on any article".into());
        }
        if rule.description().is_empty() {
            warn("no description: start the rule with `//! what it alerts on`".into());
        }
    }
    let count = rules.rules().len();
    if errors == 0 {
        eprintln!(
            "{count} rules OK in {} ({warnings} warning(s))",
            dir.display()
        );
        0
    } else {
        eprintln!(
            "{errors} problem(s), {warnings} warning(s); {count} rules compiled in {}",
            dir.display()
        );
        1
    }
}

/// A problem of the config (or of a file it names), with its snippet when it has a place.
fn show_config_problem(problem: &crate::Error, snippets: bool) {
    println!("{problem}");
    if let (
        true,
        crate::Error::Config {
            path, line, column, ..
        },
    ) = (snippets, problem)
    {
        print_snippet(path, *line, *column);
    }
}

fn show(d: &Diagnostic, snippets: bool) {
    println!("{d}");
    if let (true, Some(line), Some(column)) = (snippets, d.line, d.column) {
        print_snippet(&d.path, line, column);
    }
}

/// Prints line `line` of `path` and a caret under character `column` (both 1-based).
fn print_snippet(path: &Path, line: usize, column: usize) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    let Some(source) = text.lines().nth(line.saturating_sub(1)) else {
        return;
    };
    let number = line.to_string();
    let pad = " ".repeat(number.len());
    // Columns count characters; tabs keep their width so the caret lines up.
    let before: String = source
        .chars()
        .take(column.saturating_sub(1))
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    println!("{pad} |");
    println!("{number} | {source}");
    println!("{pad} | {before}^");
}
