//! Engine benchmarks: compiling generated rules, evaluating N rules on one article (with the
//! prefilter, and without it for comparison), and evaluating rules on every BBC article.
//!
//! Rules are the two-word keyword rules of `../shared/bench/gen_rules.py`:
//! `if article.mentions_all(["w1", "w2"]) { alert("rNNNN"); }`, with words drawn
//! deterministically (fixed seed) from the BBC corpus vocabulary when the corpus is present,
//! else from a built-in list. The corpus is `$NEWSWATCH_CORPUS`, else `../shared/corpus` next
//! to the crate.
//!
//! ```text
//! cargo bench --bench engine             # full run
//! cargo bench --bench engine -- --quick  # a quick look
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use newswatch_engine::{Article, Limits, Ruleset, ingest};

/// Rules compiled in the compile benchmark.
const COMPILE_RULES: usize = 1_000;
/// Rule counts of the evaluation benchmark.
const EVAL_RULES: [usize; 4] = [1, 100, 1_000, 10_000];
/// Seed of the word draw.
const SEED: u64 = 7;

/// Used when the corpus is absent: everyday news words, a few of them in the fallback article.
const BUILTIN_VOCABULARY: &[&str] = &[
    "about",
    "after",
    "again",
    "against",
    "agency",
    "analysts",
    "announced",
    "annual",
    "army",
    "attack",
    "bank",
    "battle",
    "billion",
    "board",
    "border",
    "budget",
    "business",
    "cabinet",
    "campaign",
    "capital",
    "century",
    "champion",
    "chief",
    "china",
    "chips",
    "cities",
    "climate",
    "coach",
    "company",
    "computer",
    "contract",
    "council",
    "country",
    "court",
    "crisis",
    "customers",
    "data",
    "deal",
    "debate",
    "defence",
    "digital",
    "director",
    "dollar",
    "drugs",
    "economy",
    "election",
    "energy",
    "europe",
    "experts",
    "export",
    "factory",
    "family",
    "festival",
    "film",
    "final",
    "finance",
    "football",
    "foreign",
    "funding",
    "future",
    "game",
    "global",
    "government",
    "group",
    "growth",
    "health",
    "hospital",
    "industry",
    "inflation",
    "internet",
    "investors",
    "labour",
    "launch",
    "leader",
    "league",
    "london",
    "market",
    "media",
    "minister",
    "mobile",
    "money",
    "music",
    "nations",
    "network",
    "nvidia",
    "office",
    "online",
    "order",
    "parliament",
    "party",
    "phone",
    "players",
    "police",
    "policy",
    "power",
    "president",
    "prices",
    "prime",
    "profits",
    "public",
    "rates",
    "record",
    "report",
    "research",
    "results",
    "rules",
    "sales",
    "season",
    "security",
    "service",
    "shares",
    "software",
    "space",
    "sport",
    "startup",
    "stock",
    "strike",
    "study",
    "system",
    "talks",
    "tax",
    "team",
    "technology",
    "television",
    "trade",
    "users",
    "victory",
    "voters",
    "voting",
    "website",
    "winter",
    "workers",
    "world",
    "years",
];

/// Used when no corpus article can be read.
const BUILTIN_ARTICLE: (&str, &str) = (
    "Chip makers race to meet demand for AI data centres",
    "Technology companies are spending billions of dollars on new data centres as demand for \
     artificial intelligence grows, analysts said on Tuesday. Nvidia, whose chips power most of \
     the systems, reported record sales and profits for the quarter, and its shares rose in \
     early trading in New York.\n\n\
     The company said customers in Europe and China were ordering more of its processors, \
     although export rules agreed by the US government limit which products it may sell to \
     Chinese firms. Investors fear that the market may be growing faster than the power \
     networks that supply it: several countries have warned that energy prices could rise if \
     new plants are not built.\n\n\
     Software makers also announced results this week. Several reported growth in online \
     services and mobile phone software, but warned that the cost of computing would weigh on \
     profits next year. Ministers in London said they would publish new policy on the industry \
     before the end of the year, after talks with business leaders and workers' groups.",
);

/// The corpus folder: `$NEWSWATCH_CORPUS`, else `../shared/corpus` next to the crate.
fn corpus_dir() -> PathBuf {
    match std::env::var_os("NEWSWATCH_CORPUS") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"),
    }
}

/// The article every evaluation runs on: BBC `tech/001.txt`, else a built-in paragraph.
fn bench_article() -> Article {
    let path = corpus_dir().join("bbc/tech/001.txt");
    if let Ok(bytes) = std::fs::read(&path)
        && let Ok(mut articles) = ingest(&bytes, &path)
        && !articles.is_empty()
    {
        return articles.swap_remove(0);
    }
    eprintln!(
        "note: {} not readable; using the built-in article",
        path.display()
    );
    Article::new(BUILTIN_ARTICLE.0, BUILTIN_ARTICLE.1)
}

/// Words to draw from, as `gen_rules.py` picks them: `common` (in 2–25% of the BBC articles)
/// for the first word, and `vocab` (in 3 articles up to 25%) for every other second word.
struct Vocabulary {
    common: Vec<String>,
    all: Vec<String>,
}

impl Vocabulary {
    fn load() -> Vocabulary {
        Vocabulary::from_corpus(&corpus_dir().join("bbc")).unwrap_or_else(|| {
            eprintln!("note: BBC corpus not found; drawing rule words from a built-in list");
            let words: Vec<String> = BUILTIN_VOCABULARY.iter().map(|w| w.to_string()).collect();
            Vocabulary {
                common: words.clone(),
                all: words,
            }
        })
    }

    /// Document frequencies of ASCII words of 4+ letters over every `*.txt` under `dir`.
    fn from_corpus(dir: &Path) -> Option<Vocabulary> {
        let files = txt_files(dir)?;
        let mut df: BTreeMap<String, usize> = BTreeMap::new();
        for file in &files {
            let Ok(bytes) = std::fs::read(file) else {
                continue;
            };
            let text = String::from_utf8_lossy(&bytes).to_lowercase();
            // Runs of ASCII letters not touching other ASCII letters or digits.
            let words: BTreeSet<&str> = text
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|w| w.len() >= 4 && w.bytes().all(|b| b.is_ascii_lowercase()))
                .collect();
            for w in words {
                *df.entry(w.to_string()).or_default() += 1;
            }
        }
        let docs = files.len();
        let pick = |lo: usize, hi: usize| -> Vec<String> {
            df.iter()
                .filter(|&(_, &c)| lo <= c && c <= hi)
                .map(|(w, _)| w.clone())
                .collect()
        };
        let common = pick(docs / 50, docs / 4);
        let all = pick(3, docs / 4);
        (!common.is_empty() && !all.is_empty()).then_some(Vocabulary { common, all })
    }
}

/// Every `*.txt` file under `dir`, sorted.
fn txt_files(dir: &Path) -> Option<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).ok()?.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "txt") {
                files.push(path);
            }
        }
    }
    files.sort();
    Some(files)
}

/// SplitMix64: a tiny deterministic generator, so the rules are the same on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z % n as u64) as usize
    }
}

/// `n` rules `(name, source)`, the same for a given vocabulary on every run.
fn generate_rules(vocab: &Vocabulary, n: usize) -> Vec<(String, String)> {
    let mut rng = Rng(SEED);
    (0..n)
        .map(|i| {
            let a = &vocab.common[rng.below(vocab.common.len())];
            let pool = if i % 2 == 1 {
                &vocab.all
            } else {
                &vocab.common
            };
            let b = &pool[rng.below(pool.len())];
            let name = format!("r{i:05}");
            let source =
                format!(r#"if article.mentions_all(["{a}", "{b}"]) {{ alert("{name}"); }}"#);
            (name, source)
        })
        .collect()
}

fn compile(rules: &[(String, String)]) -> Ruleset {
    Ruleset::from_sources(
        rules.iter().map(|(n, s)| (n.as_str(), s.as_str())),
        Limits::default(),
    )
}

fn bench_compile(c: &mut Criterion, vocab: &Vocabulary) {
    let rules = generate_rules(vocab, COMPILE_RULES);
    let check = compile(&rules);
    assert!(
        check.diagnostics().is_empty(),
        "generated rules do not compile: {}",
        check.diagnostics()[0]
    );
    assert_eq!(check.rules().len(), COMPILE_RULES);

    let mut group = c.benchmark_group("compile");
    group.throughput(Throughput::Elements(COMPILE_RULES as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group.bench_function(BenchmarkId::new("rules", COMPILE_RULES), |b| {
        b.iter(|| compile(black_box(&rules)))
    });
    group.finish();
}

fn bench_evaluate(c: &mut Criterion, vocab: &Vocabulary) {
    let article = bench_article();
    let all = generate_rules(vocab, *EVAL_RULES.iter().max().unwrap());

    let mut group = c.benchmark_group("evaluate");
    group.throughput(Throughput::Elements(1));
    group.warm_up_time(Duration::from_secs(1));
    for n in EVAL_RULES {
        let rules = compile(&all[..n]);
        assert!(rules.diagnostics().is_empty());
        let eval = rules.evaluate(&article, UNIX_EPOCH).unwrap();
        assert!(
            eval.errors.is_empty(),
            "rules failed on the article: {}",
            eval.errors[0]
        );
        eprintln!(
            "evaluate/{n}: {} alerts on the article; {} of the {n} rules run",
            eval.alerts.len(),
            rules.candidates(&article).len()
        );
        if n >= 10_000 {
            group.sample_size(10);
            group.measurement_time(Duration::from_secs(4));
        } else {
            group.sample_size(30);
            group.measurement_time(Duration::from_secs(2));
        }
        group.bench_with_input(BenchmarkId::new("rules", n), &rules, |b, rules| {
            // One scanner per thread, as the program keeps one per worker.
            let mut scanner = rules.scanner();
            b.iter(|| scanner.scan(black_box(&article), UNIX_EPOCH).unwrap())
        });
    }
    group.finish();
}

/// The same rules without the prefilter: every rule runs in Rhai, every query is searched.
fn bench_without_prefilter(c: &mut Criterion, vocab: &Vocabulary) {
    let article = bench_article();
    let all = generate_rules(vocab, 1_000);
    let mut group = c.benchmark_group("evaluate-without-prefilter");
    group.throughput(Throughput::Elements(1));
    group.warm_up_time(Duration::from_secs(1));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(3));
    for n in [1, 100, 1_000] {
        let rules = compile(&all[..n]).with_prefilter(false);
        group.bench_with_input(BenchmarkId::new("rules", n), &rules, |b, rules| {
            // One scanner per thread, as the program keeps one per worker.
            let mut scanner = rules.scanner();
            b.iter(|| scanner.scan(black_box(&article), UNIX_EPOCH).unwrap())
        });
    }
    group.finish();
}

/// Every BBC article in turn: the cost per article on a real mix, where most rules match
/// nothing and some articles raise many alerts. Skipped without the corpus.
fn bench_corpus(c: &mut Criterion, vocab: &Vocabulary) {
    let Some(files) = txt_files(&corpus_dir().join("bbc")) else {
        eprintln!("note: BBC corpus not found; corpus benchmark skipped");
        return;
    };
    let articles: Vec<Article> = files
        .iter()
        .filter_map(|f| ingest(&std::fs::read(f).ok()?, f).ok())
        .flatten()
        .collect();
    let all = generate_rules(vocab, 10_000);
    let mut group = c.benchmark_group("corpus");
    group.throughput(Throughput::Elements(articles.len() as u64));
    group.warm_up_time(Duration::from_secs(1));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    for n in [1_000, 10_000] {
        let rules = compile(&all[..n]);
        let run: usize = articles.iter().map(|a| rules.candidates(a).len()).sum();
        let alerts: usize = articles
            .iter()
            .map(|a| rules.evaluate(a, UNIX_EPOCH).unwrap().alerts.len())
            .sum();
        eprintln!(
            "corpus/{n}: {} articles, {alerts} alerts; {run} rule runs of {} pairs ({:.3}%): \
             the prefilter skips {:.2}%",
            articles.len(),
            n * articles.len(),
            100.0 * run as f64 / (n * articles.len()) as f64,
            100.0 - 100.0 * run as f64 / (n * articles.len()) as f64,
        );
        group.bench_with_input(BenchmarkId::new("rules", n), &rules, |b, rules| {
            let mut scanner = rules.scanner();
            b.iter(|| {
                for a in &articles {
                    black_box(scanner.scan(black_box(a), UNIX_EPOCH).unwrap());
                }
            })
        });
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    let vocab = Vocabulary::load();
    bench_compile(c, &vocab);
    bench_evaluate(c, &vocab);
    bench_without_prefilter(c, &vocab);
    bench_corpus(c, &vocab);
}

criterion_group!(engine, benches);
criterion_main!(engine);
