//! `newswatch init [DIR]`: a working setup to start from — config, an example rule with its
//! test, and an inbox — then the next commands to run. Existing files are never overwritten.

use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Where to create the setup (default: the current folder).
    #[arg(default_value = ".")]
    dir: PathBuf,
}

const CONFIG: &str = r#"# newswatch configuration: every key is optional (see "Configuration" in the README).
watch:
  - path: inbox              # folders to watch (recursively)
rules: rules                 # rule files: rules/**/*.rhai
state: newswatch.db          # what has been seen and alerted (SQLite)
startup: process             # evaluate files already in the inbox at start (or: skip)
limits: { max_file_size: 16MiB, rule_max_operations: 1000000, rule_timeout: 250ms }
outputs:
  - type: stdout
  - type: file
    path: alerts.jsonl
"#;

const RULE: &str = r#"//! Example: an article that mentions DeepSeek and the Nvidia H200 together.
//! Terms match whole words in any case and with any accents: "l'H200" and "DeepSeek's" count.
if article.mentions_all(["DeepSeek", "H200"]) {
    alert(#{
        severity: "high",
        message: `DeepSeek and H200 together: ${article.title}`,
        tags: ["chips"],
    });
}
"#;

const TEST: &str = r#"# Test cases for example.rhai: `newswatch test` runs them.
- name: fires when both are mentioned
  article: { title: "Nvidia's H200 cleared for DeepSeek", body: "Beijing allowed DeepSeek to buy the H200." }
  expect: [{ severity: high, tags: [chips] }]
- name: the H2000 is not the H200
  article: { title: "DeepSeek buys H2000 boards", body: "A different product." }
  expect: []
"#;

const ARTICLE: &str = "Nvidia's H200 cleared for Chinese buyers\n\nBeijing has reportedly allowed DeepSeek's engineers to buy Nvidia's H200 accelerators.\n";

pub(crate) fn run(args: Args) -> u8 {
    let dir = &args.dir;
    let files: [(&str, &str); 4] = [
        ("newswatch.yaml", CONFIG),
        ("rules/example.rhai", RULE),
        ("rules/example.test.yaml", TEST),
        ("examples/deepseek.txt", ARTICLE),
    ];
    for sub in ["rules", "inbox", "examples"] {
        let existed = dir.join(sub).is_dir();
        if let Err(e) = std::fs::create_dir_all(dir.join(sub)) {
            eprintln!("error: cannot create {}: {e}", dir.join(sub).display());
            return 2;
        }
        if sub == "inbox" && !existed {
            println!("created {}/", dir.join(sub).display());
        }
    }
    for (rel, content) in files {
        match write_new(&dir.join(rel), content) {
            Ok(true) => println!("created {}", dir.join(rel).display()),
            Ok(false) => println!("kept    {} (already there)", dir.join(rel).display()),
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        }
    }
    let cd = if dir == Path::new(".") {
        String::new()
    } else {
        format!("cd {} && ", dir.display())
    };
    let next = [
        (
            format!("{cd}newswatch test"),
            "run the example rule's tests",
        ),
        (
            "newswatch scan examples/deepseek.txt".into(),
            "try the rule on an article",
        ),
        ("newswatch watch".into(), "then drop articles into inbox/"),
    ];
    let width = next.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
    println!("\nNext:");
    for (command, what) in next {
        println!("  {command:<width$}  # {what}");
    }
    0
}

/// Writes `content` to `path` unless it exists; true if written.
fn write_new(path: &Path, content: &str) -> Result<bool, String> {
    if path.exists() {
        return Ok(false);
    }
    std::fs::write(path, content).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(true)
}
