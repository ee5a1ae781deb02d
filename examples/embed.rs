//! Embedding newswatch: compile a rules folder once, evaluate articles, print alerts as JSON.
//!
//! ```sh
//! cargo run --example embed -- rules examples/articles/deepseek_en.txt
//! ```

use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let rules_dir = args.next().unwrap_or_else(|| "rules".into());

    // Compile once; the `Ruleset` is immutable and can be shared across threads.
    let rules = newswatch::Ruleset::load(&rules_dir)?;
    for problem in rules.diagnostics() {
        eprintln!("{problem}");
    }

    // An article built in memory…
    let article = newswatch::Article::new(
        "Nvidia's H200 cleared for Chinese buyers",
        "Beijing has reportedly allowed DeepSeek's engineers to buy the accelerators.",
    );
    for alert in rules.evaluate(&article).alerts {
        println!("{}", alert.to_json());
    }

    // …or read from files given on the command line, in any supported format.
    for path in args {
        let bytes = std::fs::read(&path)?;
        for article in newswatch::ingest(&bytes, Path::new(&path))? {
            let evaluation = rules.evaluate(&article);
            for error in &evaluation.errors {
                eprintln!("{error}");
            }
            for alert in evaluation.alerts {
                println!("{}", alert.to_json());
            }
        }
    }
    Ok(())
}
