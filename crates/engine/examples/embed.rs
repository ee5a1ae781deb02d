//! Embedding newswatch: compile a rules folder once, then read, ingest and evaluate files on
//! every core, one scanner per thread, and print each alert as one line of JSON on stdout.
//!
//! ```sh
//! cargo run --release -p newswatch-engine --example embed -- rules examples/articles/*.txt
//! ```
//!
//! Only `newswatch-engine` is needed: no SQLite, no file watcher, no HTTP client. Problems go
//! to stderr, each handled by what it is (the engine's errors are one enum to match on).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use newswatch_engine::{Error, Limits, Ruleset, article};

/// The size limit of one input file.
const MAX_FILE_SIZE: u64 = 16 << 20;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let Some(rules_dir) = args.next() else {
        eprintln!("usage: embed RULES_DIR FILE...");
        return ExitCode::from(2);
    };
    let files: Vec<PathBuf> = args.collect();

    // Compile once: a `Ruleset` is immutable and shared by reference across threads.
    let rules = match Ruleset::load(&rules_dir) {
        Ok(rules) => rules,
        Err(Error::NoRules { path }) => {
            eprintln!("no rules folder at {}", path.display());
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    // A rule that does not compile is left out; the others run.
    for problem in rules.diagnostics() {
        eprintln!("{problem}");
    }

    // Per-evaluation options: a tighter time budget than the rule set's default, and the
    // rules' `print` output tagged and sent to stderr.
    let mut limits: Limits = rules.limits().clone();
    limits.timeout = Duration::from_millis(100);

    let next = Mutex::new(files.iter());
    // One alert per line: a thread writes its file's alerts in one go.
    let stdout = std::io::stdout();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            std::thread::Builder::new()
                // Parsers of nested formats and Rhai recurse: give them the stack they need.
                .stack_size(newswatch_engine::STACK_SIZE)
                .spawn_scoped(scope, || {
                    // One scanner per thread, reused for every file it takes.
                    let mut scanner = rules.scanner();
                    scanner.set_limits(limits.clone());
                    scanner.on_print(|rule, text| eprintln!("[{rule}] {text}"));
                    while let Some(path) = next.lock().unwrap().next() {
                        let lines = evaluate(&mut scanner, path);
                        let mut out = stdout.lock();
                        for line in lines {
                            use std::io::Write;
                            let _ = writeln!(out, "{line}");
                        }
                    }
                })
                .expect("a thread");
        }
    });
    ExitCode::SUCCESS
}

/// The alerts of the articles in `path`, as JSON lines; problems are said on stderr.
fn evaluate(scanner: &mut newswatch_engine::Scanner<'_>, path: &Path) -> Vec<String> {
    let articles = match article::read_file(path, MAX_FILE_SIZE)
        .and_then(|bytes| newswatch_engine::ingest(&bytes, path))
    {
        Ok(articles) => articles,
        Err(Error::TooLarge { size, limit, .. }) => {
            eprintln!("{}: skipped: {size} bytes (limit {limit})", path.display());
            return Vec::new();
        }
        Err(Error::Binary { .. }) => {
            eprintln!("{}: skipped: not text", path.display());
            return Vec::new();
        }
        Err(e) => {
            eprintln!("{e}");
            return Vec::new();
        }
    };
    let mut lines = Vec::new();
    for article in articles {
        match scanner.scan(&article, SystemTime::now()) {
            Ok(evaluation) => {
                for error in &evaluation.errors {
                    let kind = if error.limit { "stopped" } else { "failed" };
                    eprintln!("{kind}: {error}");
                }
                lines.extend(evaluation.alerts.iter().map(|a| a.to_json()));
            }
            Err(e) => eprintln!("{e}"),
        }
    }
    lines
}
