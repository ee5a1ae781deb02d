//! The shape of the workspace, checked: the engine crate builds without the program's heavy
//! dependencies; the modules of the engine and of the program depend on each other one way
//! only (the pipeline's order); and the test command runs without the article corpus —
//! `.ci/run` sets `NEWSWATCH_CORPUS` only where the corpus is, and the corpus tests are then
//! skipped, saying so.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{SKIPPED, repo};

// ---------------------------------------------------------------------------------------------
// The engine's dependencies.

/// Crates an embedder of the engine must not have to compile: SQLite, the CLI parser, the file
/// watcher, the HTTP client, the desktop bus, signals, the log subscriber, an async runtime and
/// the NATS client, the metrics client and the metrics endpoint's request parser.
const NOT_IN_THE_ENGINE: &[&str] = &[
    "rusqlite",
    "clap",
    "notify",
    "ureq",
    "notify-rust",
    "signal-hook",
    "tracing-subscriber",
    "tokio",
    "async-nats",
    "prometheus-client",
    "httparse",
];

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn the_engine_depends_on_none_of_the_programs_heavy_crates() {
    let output = cargo()
        .args([
            "tree",
            "-p",
            "newswatch-engine",
            "-e",
            "normal",
            "--locked",
            "--offline",
        ])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let tree = String::from_utf8(output.stdout).unwrap();
    // Each line is tree glyphs, then `NAME vVERSION …`.
    let crates: BTreeSet<&str> = tree
        .lines()
        .filter_map(|l| {
            l.trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
                .split_whitespace()
                .next()
        })
        .collect();
    assert!(crates.contains("newswatch-engine"), "{tree}");
    assert!(crates.contains("rhai"), "{tree}");
    let found: Vec<&&str> = NOT_IN_THE_ENGINE
        .iter()
        .filter(|c| crates.contains(**c))
        .collect();
    assert!(found.is_empty(), "the engine depends on {found:?}:\n{tree}");
}

// ---------------------------------------------------------------------------------------------
// The module graph.

/// A reference from a source file to a top-level module of its crate.
#[derive(Debug)]
struct Edge {
    file: PathBuf,
    line: usize,
    to: String,
}

/// The crate whose sources are under `src` (its root `lib.rs` or `main.rs`).
struct Crate {
    src: PathBuf,
    /// Top-level modules (`mod NAME;` in the root).
    modules: BTreeSet<String>,
    /// Names the root imports, by the module they come from: `crate::Error` is `error`'s.
    imports: BTreeMap<String, String>,
}

impl Crate {
    fn new(src: PathBuf) -> Crate {
        let root = ["lib.rs", "main.rs"]
            .iter()
            .map(|f| src.join(f))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("no lib.rs or main.rs in {}", src.display()));
        let code = strip_comments(&std::fs::read_to_string(&root).unwrap());
        let mut modules = BTreeSet::new();
        let mut imports = BTreeMap::new();
        for statement in code.split(';') {
            // The statement from its line that starts with `mod` or `use` (after visibility):
            // attributes and items before it are left out.
            let lines: Vec<&str> = statement.lines().collect();
            let Some(first) = lines.iter().position(|l| {
                let words: Vec<&str> = l.split_whitespace().collect();
                words
                    .iter()
                    .position(|w| *w == "mod" || *w == "use")
                    .is_some_and(|i| words[..i].iter().all(|w| w.starts_with("pub")))
            }) else {
                continue;
            };
            let statement = lines[first..].join(" ");
            let words: Vec<&str> = statement.split_whitespace().collect();
            let rest = words
                .iter()
                .position(|w| *w == "mod" || *w == "use")
                .unwrap();
            let keyword = words[rest];
            if keyword == "mod" {
                if let Some(name) = words.get(rest + 1) {
                    modules.insert(name.to_string());
                }
                continue;
            }
            let path = words[rest + 1..].join(" ");
            let path = path.strip_prefix("crate::").unwrap_or(&path);
            let Some((module, names)) = path.split_once("::") else {
                continue;
            };
            for item in names.split(['{', '}', ',']) {
                let item = item.trim();
                let leaf = match item.split_once(" as ") {
                    Some((_, alias)) => alias.trim(),
                    None => item.rsplit("::").next().unwrap().trim(),
                };
                if is_ident(leaf) && leaf != "self" {
                    imports.insert(leaf.to_string(), module.trim().to_string());
                }
            }
        }
        Crate {
            src,
            modules,
            imports,
        }
    }

    /// The top-level module a name after `crate::` belongs to, if it is one of a module.
    fn module_of(&self, name: &str) -> Option<String> {
        if self.modules.contains(name) {
            Some(name.to_string())
        } else {
            self.imports.get(name).cloned()
        }
    }

    /// The source files of the module `rel`: `rel.rs` and everything under `rel/`.
    fn files(&self, rel: &str) -> Vec<PathBuf> {
        let mut files = Vec::new();
        let file = self.src.join(format!("{rel}.rs"));
        if file.is_file() {
            files.push(file);
        }
        let dir = self.src.join(rel);
        if dir.is_dir() {
            collect_rs(&dir, &mut files);
        }
        assert!(
            !files.is_empty(),
            "no module {rel} in {}",
            self.src.display()
        );
        files.sort();
        files
    }

    /// References from the files of module `rel` to other top-level modules of the crate:
    /// `crate::NAME…` (also in `use crate::{…}` groups, and `NAME` a name the root imports)
    /// and `super::…` paths that climb to the root. Comments are left out (a doc link is not
    /// a dependency).
    fn edges(&self, rel: &str) -> Vec<Edge> {
        let own = rel.split('/').next().unwrap();
        let mut edges = Vec::new();
        for file in self.files(rel) {
            let code = strip_comments(&std::fs::read_to_string(&file).unwrap());
            let depth = module_depth(&self.src, &file);
            for (line, to) in references(&code, depth) {
                if let Some(to) = self.module_of(&to).filter(|m| m != own) {
                    edges.push(Edge {
                        file: file.strip_prefix(repo()).unwrap_or(&file).to_path_buf(),
                        line,
                        to,
                    });
                }
            }
        }
        edges
    }

    /// Panics, listing them, if the files of module `rel` reference any of `forbidden`.
    fn assert_no_edges(&self, rel: &str, forbidden: &[&str]) {
        for name in forbidden {
            assert!(
                self.modules.contains(*name),
                "{name} is not a module of {}: update this test",
                self.src.display()
            );
        }
        let back: Vec<String> = self
            .edges(rel)
            .into_iter()
            .filter(|e| forbidden.contains(&e.to.as_str()))
            .map(|e| format!("{}:{}: {rel} → {}", e.file.display(), e.line, e.to))
            .collect();
        assert!(
            back.is_empty(),
            "{rel} must not depend on {forbidden:?}:\n{}",
            back.join("\n")
        );
    }
}

fn engine() -> Crate {
    Crate::new(repo().join("crates/engine/src"))
}

fn program() -> Crate {
    Crate::new(repo().join("src"))
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// How deep the module of `file` is under the crate root: `a.rs` and `a/mod.rs` are 1,
/// `a/b.rs` is 2 (what `super::` climbs from).
fn module_depth(src: &Path, file: &Path) -> usize {
    let rel = file.strip_prefix(src).unwrap();
    let parts = rel.components().count();
    if rel.file_name().is_some_and(|f| f == "mod.rs") {
        parts - 1
    } else {
        parts
    }
}

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// `code` without `//` and `/* */` comments (string literals are not told apart: a `//` in
/// one ends the line early, which only hides code from this test).
fn strip_comments(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    loop {
        let line = rest.find("//");
        let block = rest.find("/*");
        match (line, block) {
            (Some(l), b) if b.is_none_or(|b| l < b) => {
                out.push_str(&rest[..l]);
                rest = &rest[l..];
                rest = &rest[rest.find('\n').unwrap_or(rest.len())..];
            }
            (_, Some(b)) => {
                out.push_str(&rest[..b]);
                let end = rest[b..].find("*/").map_or(rest.len(), |e| b + e + 2);
                // Keep the line count.
                out.extend(rest[b..end].chars().filter(|c| *c == '\n'));
                rest = &rest[end..];
            }
            (None, None) => {
                out.push_str(rest);
                return out;
            }
            (Some(_), None) => unreachable!(),
        }
    }
}

/// The first names of the paths in `code` that start at the crate root — `crate::NAME`,
/// `crate::{NAME…, NAME…}`, or `super::` × `depth` then `NAME` — with their line numbers.
/// (`super::` inside an inline module climbs one less than counted here; the only ones in
/// these sources are `use super::*` in test modules, which name nothing.)
fn references(code: &str, depth: usize) -> Vec<(usize, String)> {
    let bytes = code.as_bytes();
    let line_of = |i: usize| code[..i].matches('\n').count() + 1;
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let at_word = i == 0 || !is_ident_char(bytes[i - 1]);
        let rest = &bytes[i..];
        if at_word && rest.starts_with(b"crate::") {
            let after = i + "crate::".len();
            for name in first_names(&code[after..]) {
                found.push((line_of(i), name));
            }
            i = after;
        } else if at_word && rest.starts_with(b"super::") {
            let mut climbed = 0;
            let mut j = i;
            while code[j..].starts_with("super::") {
                climbed += 1;
                j += "super::".len();
            }
            if climbed == depth {
                for name in first_names(&code[j..]) {
                    found.push((line_of(i), name));
                }
            }
            i = j;
        } else {
            i += 1;
        }
    }
    found
}

/// The first name of the path that `rest` starts, or of each path of a `{…}` group.
fn first_names(rest: &str) -> Vec<String> {
    let rest = rest.trim_start();
    if let Some(group) = rest.strip_prefix('{') {
        let mut names = Vec::new();
        let mut nesting = 0;
        let mut start = true;
        for (i, c) in group.char_indices() {
            match c {
                '{' => nesting += 1,
                '}' if nesting == 0 => break,
                '}' => nesting -= 1,
                ',' if nesting == 0 => start = true,
                c if start && !c.is_whitespace() => {
                    start = false;
                    names.extend(first_names(&group[i..]).into_iter().take(1));
                }
                _ => {}
            }
        }
        names
    } else {
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if is_ident(&name) { vec![name] } else { vec![] }
    }
}

// The engine is the middle of the pipeline: `text` (folding, terms) and `alert` are leaves,
// `article` (ingest) builds on neither the rules nor the alerts, and `rules` uses them all.

#[test]
fn the_engines_articles_know_nothing_of_rules_alerts_or_text_indexing() {
    engine().assert_no_edges("article", &["rules", "alert", "text"]);
}

#[test]
fn the_engines_text_indexing_knows_nothing_of_articles_rules_or_alerts() {
    engine().assert_no_edges("text", &["article", "rules", "alert"]);
}

#[test]
fn the_engines_alerts_know_nothing_of_articles_rules_or_text_indexing() {
    engine().assert_no_edges("alert", &["article", "rules", "text"]);
}

// The program: sources → (engine) → state → outputs; the config, the daemon (`watch`) and the
// commands (`cli`) sit on top and hand each layer what it needs.

// Outputs know alerts; the config builds them (`config/routes.rs`), the outbox drives them.
#[test]
fn outputs_know_nothing_of_the_config_the_state_the_daemon_or_the_commands() {
    program().assert_no_edges("outputs", &["config", "state", "outbox", "watch", "cli"]);
}

#[test]
fn the_state_knows_nothing_of_outputs_the_config_the_daemon_or_the_commands() {
    program().assert_no_edges("state", &["outputs", "config", "watch", "cli"]);
}

// The metrics are counted by the daemon and the outbox, and know none of them: a leaf.
#[test]
fn metrics_know_nothing_of_the_config_the_state_outputs_the_daemon_or_the_commands() {
    program().assert_no_edges(
        "metrics",
        &["config", "state", "outputs", "outbox", "watch", "cli"],
    );
}

// Feeds are a source: they hand polls on, and know neither what is done with them nor the
// outputs (their rows are the state's plain data; nothing of them writes it).
#[test]
fn feeds_know_nothing_of_outputs_the_outbox_the_daemon_or_the_commands() {
    program().assert_no_edges("feeds", &["outputs", "outbox", "watch", "cli"]);
}

#[test]
fn sources_know_nothing_of_the_state_outputs_the_daemon_or_the_commands() {
    program().assert_no_edges("sources", &["state", "outputs", "watch", "cli"]);
}

/// The parser itself, on the forms it must see.
#[test]
fn module_references_are_found_in_paths_groups_and_super() {
    let code = strip_comments(
        "use crate::{config::{A, B}, state};\n\
         // crate::cli in a comment\n\
         /* crate::watch\n in a block */ let x = crate::outputs::f();\n\
         use super::super::time; use super::sibling; my_crate::no();",
    );
    let found = references(&code, 2);
    let expected: Vec<(usize, String)> = [(1, "config"), (1, "state"), (4, "outputs"), (5, "time")]
        .iter()
        .map(|(l, n)| (*l, n.to_string()))
        .collect();
    assert_eq!(found, expected);
    let program = program();
    assert_eq!(program.module_of("Error").as_deref(), Some("error"));
    assert_eq!(program.module_of("deadline"), None);
    assert_eq!(engine().module_of("Article").as_deref(), Some("article"));
}

// ---------------------------------------------------------------------------------------------
// The test command without the corpus.

/// `.ci/run` exports `NEWSWATCH_CORPUS` only where `../shared/corpus` exists, keeps one already
/// set, and runs `cargo test --locked`: run on a copy of it, with a `cargo` that reports what
/// it was given.
#[test]
fn ci_run_sets_the_corpus_only_where_it_exists() {
    let run = |with_corpus: bool, preset: Option<&str>| -> String {
        let top = tempfile::tempdir().unwrap();
        let clone = top.path().join("clone");
        std::fs::create_dir_all(clone.join(".ci")).unwrap();
        std::fs::copy(repo().join(".ci/run"), clone.join(".ci/run")).unwrap();
        if with_corpus {
            std::fs::create_dir_all(top.path().join("shared/corpus")).unwrap();
        }
        let bin = top.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::write(
            bin.join("cargo"),
            "#!/bin/sh\necho \"cargo $*; NEWSWATCH_CORPUS=${NEWSWATCH_CORPUS-unset}\"\n",
        )
        .unwrap();
        common::set_mode(&bin.join("cargo"), 0o755);
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![bin];
        paths.extend(std::env::split_paths(&path));
        let mut command = Command::new("bash");
        command
            .arg(clone.join(".ci/run"))
            .current_dir(top.path())
            .env("PATH", std::env::join_paths(paths).unwrap())
            .env_remove("NEWSWATCH_CORPUS");
        if let Some(preset) = preset {
            command.env("NEWSWATCH_CORPUS", preset);
        }
        let output = command.output().unwrap();
        assert!(output.status.success(), "{}", text(&output));
        let stdout = String::from_utf8(output.stdout).unwrap();
        let corpus = top.path().join("shared/corpus");
        stdout.replace(corpus.to_str().unwrap(), "<corpus>")
    };
    assert_eq!(
        run(false, None),
        "cargo test --locked; NEWSWATCH_CORPUS=unset\n"
    );
    assert_eq!(
        run(true, None),
        "cargo test --locked; NEWSWATCH_CORPUS=<corpus>\n"
    );
    assert_eq!(
        run(true, Some("/elsewhere")),
        "cargo test --locked; NEWSWATCH_CORPUS=/elsewhere\n"
    );
}

/// The test binaries that read the corpus, and the tests in them that do (`None`: all).
const CORPUS_TESTS: &[(&str, Option<&[&str]>)] = &[
    ("corpus", None),
    ("ingest_corpus", None),
    ("stories_corpus", None),
    (
        "fetch",
        Some(&["corpus_feeds_served_over_http_are_read_like_files"]),
    ),
    (
        "feedparser_suite",
        Some(&["feedparser_expectations_met_stay_at_their_floor"]),
    ),
    (
        "ingest_contract",
        Some(&[
            "feedparser_atom_texts_of_odd_types_are_read",
            "iso_2022_kr_corpus_files_decode_to_korean",
        ]),
    ),
    (
        "prefilter",
        Some(&[
            "tricky_rules_on_the_corpora",
            "generated_rules_on_the_corpora",
        ]),
    ),
];

/// The newest build of the integration test `name` (`tests/NAME.rs`) of this package, next to
/// this one: `target/…/deps/NAME-HASH`. `cargo test` builds every test before running any.
/// A target folder shared by several clones holds builds of each: the dep-info file beside a
/// build (`NAME-HASH.d`) names the package folder it was built from.
fn test_binary(name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let builds: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(deps)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| {
            let file = e.file_name();
            let file = file.to_string_lossy();
            file.strip_prefix(name)
                .and_then(|r| r.strip_prefix('-'))
                .is_some_and(|hash| !hash.is_empty() && hash.chars().all(|c| c.is_ascii_hexdigit()))
        })
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            (meta.is_file() && meta.permissions().mode() & 0o111 != 0)
                .then(|| (meta.modified().unwrap(), e.path()))
        })
        .collect();
    let ours = format!("# env-dep:CARGO_MANIFEST_DIR={}\n", repo().display());
    let of_this_package = |path: &PathBuf| {
        std::fs::read_to_string(path.with_extension("d")).is_ok_and(|d| d.contains(&ours))
    };
    let newest = |builds: &mut dyn Iterator<Item = &(std::time::SystemTime, PathBuf)>| {
        builds.max().map(|(_, path)| path.clone())
    };
    newest(&mut builds.iter().filter(|(_, p)| of_this_package(p)))
        .or_else(|| newest(&mut builds.iter()))
        .unwrap_or_else(|| {
            panic!(
                "no build of tests/{name}.rs in {}: run the whole suite (`cargo test --locked`)",
                deps.display()
            )
        })
}

/// Runs the corpus tests with `NEWSWATCH_CORPUS` as `corpus` (`None`: unset) and checks that
/// every one of them passes and prints its one `skipped:` line.
fn corpus_tests_skip(corpus: Option<&Path>) {
    for (name, tests) in CORPUS_TESTS {
        let binary = test_binary(name);
        let mut command = Command::new(&binary);
        command.env_remove("NEWSWATCH_CORPUS");
        if let Some(corpus) = corpus {
            command.env("NEWSWATCH_CORPUS", corpus);
        }
        if let Some(tests) = tests {
            command.arg("--exact").args(*tests);
        }
        let output = command.output().unwrap();
        let report = format!("{}: {}", binary.display(), text(&output));
        assert!(output.status.success(), "{report}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let passed: Vec<&str> = stdout
            .lines()
            .filter_map(|l| l.strip_prefix("test ")?.strip_suffix(" ... ok"))
            .collect();
        if let Some(tests) = tests {
            assert_eq!(passed.len(), tests.len(), "{report}");
        }
        assert!(!passed.is_empty(), "{report}");
        for test in passed {
            let lines: Vec<&str> = stderr
                .lines()
                .filter(|l| l.starts_with(&format!("{SKIPPED} {test}: NEWSWATCH_CORPUS")))
                .collect();
            assert_eq!(lines.len(), 1, "{test}: one skip line\n{report}");
        }
    }
}

#[test]
fn without_the_corpus_the_corpus_tests_pass_and_say_they_were_skipped() {
    corpus_tests_skip(None);
}

#[test]
fn a_corpus_folder_that_is_missing_skips_the_corpus_tests() {
    let dir = tempfile::tempdir().unwrap();
    corpus_tests_skip(Some(&dir.path().join("missing")));
}
