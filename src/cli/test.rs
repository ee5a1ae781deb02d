//! `newswatch test`: run the rules' test cases (`NAME.test.yaml` beside `NAME.rhai`).
//!
//! Each case gives an article (a file relative to the test file, or an inline map) and the
//! alerts the rule must raise on it: `expect: []` for none, else one entry per alert, in the
//! order raised, whose listed keys must equal the alert's (`fields` compares only the fields
//! listed). The cases run on the very engine `scan` and the daemon use.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use walkdir::WalkDir;

use crate::sources::Input;
use newswatch_engine::Alert;
use newswatch_engine::Error;
use newswatch_engine::article::{self, Article};
use newswatch_engine::rules::Ruleset;

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    setup: super::Setup,
    /// Only cases whose rule name or case name contains this.
    filter: Option<String>,
}

/// One test case as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    article: ArticleSpec,
    #[serde(default)]
    expect: Vec<serde_yaml::Mapping>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ArticleSpec {
    File(PathBuf),
    Inline(InlineArticle),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InlineArticle {
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
    url: Option<String>,
    published: Option<String>,
    source: Option<String>,
    lang: Option<String>,
    #[serde(default)]
    meta: serde_json::Map<String, Value>,
}

pub(crate) fn run(args: Args) -> u8 {
    let (
        super::Loaded {
            rules_dir: dir,
            config,
            ..
        },
        rules,
    ) = match args.setup.load_rules_or_exit() {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let mut report = Report::default();
    for d in rules.diagnostics() {
        println!("error: {d}");
        report.failed += 1;
    }
    let filter = args.filter.as_deref().unwrap_or("");
    let mut tested = Vec::new();
    for file in test_files(&dir) {
        let name = rule_of(&dir, &file);
        tested.push(name.clone());
        if rules.disabled_rules().iter().any(|r| r.name() == name) {
            if name.contains(filter) {
                println!("skipped {name}: switched off (disabled)");
            }
            continue;
        }
        if !rules.rules().iter().any(|r| r.name() == name) {
            let source = dir.join(format!("{name}.rhai"));
            if rules.diagnostics().iter().all(|d| d.path != source) {
                println!(
                    "error: {}: no rule {name} beside it ({name}.rhai)",
                    file.display()
                );
                report.failed += 1;
            }
            continue;
        }
        let cases: Vec<Case> = match std::fs::read_to_string(&file)
            .map_err(|e| format!("{}: {e}", file.display()))
            .and_then(|text| parse_cases(&text, &file))
        {
            Ok(cases) => cases,
            Err(e) => {
                println!("error: {e}");
                report.failed += 1;
                continue;
            }
        };
        for case in cases {
            if !(name.contains(filter) || case.name.contains(filter)) {
                continue;
            }
            match run_case(&rules, &name, &file, &case, config.limits.max_file_size) {
                Ok(()) => {
                    println!("ok      {name}: {}", case.name);
                    report.passed += 1;
                }
                Err(why) => {
                    println!("FAILED  {name}: {}", case.name);
                    for line in why.lines() {
                        println!("          {line}");
                    }
                    report.failed += 1;
                }
            }
        }
    }
    let untested: Vec<_> = rules
        .rules()
        .iter()
        .map(|r| r.name())
        .filter(|n| n.contains(filter) && !tested.iter().any(|t| t == n))
        .collect();
    for name in &untested {
        println!("untested {name}: add {}/{name}.test.yaml", dir.display());
    }
    println!(
        "\n{} passed, {} failed, {} untested rule(s)",
        report.passed,
        report.failed,
        untested.len()
    );
    if report.failed > 0 { 1 } else { 0 }
}

#[derive(Default)]
struct Report {
    passed: usize,
    failed: usize,
}

/// For `newswatch rules --tests`: each rule's test cases passed and failed (a test file that
/// cannot be read or parsed counts as one failure), by rule name. Rules switched off are not
/// run.
pub(crate) fn results(
    rules: &Ruleset,
    dir: &Path,
    max_file_size: u64,
) -> std::collections::BTreeMap<String, (usize, usize)> {
    let mut counts = std::collections::BTreeMap::new();
    for file in test_files(dir) {
        let name = rule_of(dir, &file);
        if !rules.rules().iter().any(|r| r.name() == name) {
            continue;
        }
        let entry: &mut (usize, usize) = counts.entry(name.clone()).or_default();
        let cases = std::fs::read_to_string(&file)
            .map_err(|e| e.to_string())
            .and_then(|text| parse_cases(&text, &file));
        match cases {
            Ok(cases) => {
                for case in cases {
                    match run_case(rules, &name, &file, &case, max_file_size) {
                        Ok(()) => entry.0 += 1,
                        Err(_) => entry.1 += 1,
                    }
                }
            }
            Err(_) => entry.1 += 1,
        }
    }
    counts
}

/// The rule a test file belongs to: `rules/chips/h200.test.yaml` tests `chips/h200`.
fn rule_of(dir: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(dir).unwrap_or(file);
    let rel: Vec<_> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect();
    let joined = rel.join("/");
    joined
        .strip_suffix(".test.yaml")
        .unwrap_or(&joined)
        .to_string()
}

/// Every `*.test.yaml` under `dir`, sorted; hidden files and folders skipped, as for rules.
fn test_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = WalkDir::new(dir)
        .follow_links(true)
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_type().is_file() && e.file_name().to_string_lossy().ends_with(".test.yaml")
        })
        .map(|e| e.into_path())
        .collect();
    files.sort();
    files
}

fn parse_cases(text: &str, file: &Path) -> Result<Vec<Case>, String> {
    serde_yaml::from_str(text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!(":{}:{}", l.line(), l.column()))
            .unwrap_or_default();
        let hint = if e.to_string().contains("untagged enum ArticleSpec") {
            " (`article` is a file path or a map with title, body, url, published, source, lang, meta)"
        } else {
            ""
        };
        format!("{}{at}: {e}{hint}", file.display())
    })
}

/// Runs one case; the error says what differed.
fn run_case(
    rules: &Ruleset,
    rule: &str,
    file: &Path,
    case: &Case,
    max_file_size: u64,
) -> Result<(), String> {
    let articles = articles(file, &case.article, max_file_size)?;
    let mut alerts: Vec<Alert> = Vec::new();
    let mut errors = Vec::new();
    let mut scanner = rules.scanner();
    for a in &articles {
        let eval = scanner
            .scan(a, std::time::SystemTime::now())
            .map_err(|e| e.to_string())?;
        alerts.extend(eval.alerts.into_iter().filter(|al| al.rule == rule));
        errors.extend(
            eval.errors
                .into_iter()
                .filter(|e| e.rule == rule)
                .map(|e| e.to_string()),
        );
    }
    if !errors.is_empty() {
        return Err(format!("the rule failed: {}", errors.join("; ")));
    }
    if alerts.len() != case.expect.len() {
        let mut why = format!(
            "expected {} alert(s), got {}",
            case.expect.len(),
            alerts.len()
        );
        for a in &alerts {
            why += &format!(
                "\n  got: {} {:?} {}",
                a.severity,
                a.message,
                Value::Object(a.fields.clone())
            );
        }
        return Err(why);
    }
    let mut diffs = Vec::new();
    for (i, (want, got)) in case.expect.iter().zip(&alerts).enumerate() {
        let got = serde_json::to_value(got).expect("alerts serialize");
        for (key, value) in want {
            let key = key.as_str().unwrap_or_default();
            let want = serde_json::to_value(value).unwrap_or(Value::Null);
            let have = &got[key];
            let equal = match (key, &want, have) {
                ("fields", Value::Object(w), Value::Object(h)) => {
                    w.iter().all(|(k, v)| h.get(k) == Some(v))
                }
                _ => &want == have,
            };
            if !equal {
                diffs.push(format!(
                    "alert {}: {key}: expected {want}, got {have}",
                    i + 1
                ));
            }
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join("\n"))
    }
}

/// The case's article(s): a file read like `scan` reads it, or the inline map.
fn articles(
    test_file: &Path,
    spec: &ArticleSpec,
    max_file_size: u64,
) -> Result<Vec<Article>, String> {
    match spec {
        ArticleSpec::File(rel) => {
            // Read as `scan` reads a file it is given: same source, same size limit.
            let input = Input::file(test_file.parent().unwrap_or(Path::new(".")).join(rel));
            let bytes = input
                .read(max_file_size)
                .map_err(|e| format!("article {e}"))?;
            article::ingest(&bytes, input.path())
                .map(|list| {
                    list.into_iter()
                        .map(|mut a| {
                            a.source.get_or_insert_with(|| input.source().to_string());
                            a
                        })
                        .collect()
                })
                .map_err(|e: Error| format!("article {e}"))
        }
        ArticleSpec::Inline(a) => {
            let mut article = Article::new(a.title.clone(), a.body.clone());
            article.url.clone_from(&a.url);
            article.published.clone_from(&a.published);
            article.source.clone_from(&a.source);
            article.lang.clone_from(&a.lang);
            article.meta.clone_from(&a.meta);
            Ok(vec![article])
        }
    }
}
