//! `newswatch check`: compile every rule and the config, print every problem.

use std::path::PathBuf;

use crate::rules::Ruleset;

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Rules folder (default: `rules:` from the config, else ./rules).
    #[arg(long, value_name = "DIR")]
    rules: Option<PathBuf>,
    /// Config file (default: ./newswatch.yaml if present).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Prints problems on stdout as `FILE:LINE:COL: message`; exit 0 when there are none, else 1.
pub(crate) fn run(args: Args) -> u8 {
    let mut problems = Vec::new();
    let (config, _) = match super::load_config(args.config.as_ref()) {
        Ok(loaded) => loaded,
        Err(e) => {
            problems.push(e.to_string());
            Default::default()
        }
    };
    let dir = super::rules_dir(args.rules, &config);
    let count = match Ruleset::load_with(&dir, config.limits.rules()) {
        Ok(rules) => {
            problems.extend(rules.diagnostics().iter().map(ToString::to_string));
            rules.rules().len()
        }
        Err(e) => {
            problems.push(e.to_string());
            0
        }
    };
    for p in &problems {
        println!("{p}");
    }
    if problems.is_empty() {
        eprintln!("{count} rules OK in {}", dir.display());
        0
    } else {
        eprintln!(
            "{} problem(s); {count} rules compiled in {}",
            problems.len(),
            dir.display()
        );
        1
    }
}
