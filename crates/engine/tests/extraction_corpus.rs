//! Main-text extraction over the dev set `extraction/` of the shared corpus (`NEWSWATCH_CORPUS`;
//! skipped without it): every page goes through `ingest`, and its body is scored against the
//! page's ground truth with the dev set's own metric (`score.py`, reimplemented here): 4-word
//! shingle multiset overlap of the lowercased `\w+` tokens, precision, recall and F1 per page,
//! averaged per subset. Each subset's F1 must stay at or above [`FLOORS`] (what the extractor
//! reached, less a small margin), so that a change that makes extraction worse fails here.
//!
//! The set is for local evaluation only (see its README): nothing of it is copied here.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

/// F1 per subset (mean over its pages) the extractor must reach, and over all pages.
const FLOORS: &[(&str, f64)] = &[
    ("cleaneval", 0.906),
    ("cleanportaleval", 0.957),
    ("dragnet", 0.905),
    ("google-trends-2017", 0.900),
    ("l3s-gn1", 0.961),
    ("readability", 0.983),
    ("ALL", 0.937),
];

/// Tokens as `score.py` reads them: runs of Unicode word characters (letters, digits, `_`),
/// lowercased.
fn tokens(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    lower
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// The multiset of 4-token shingles (one shorter shingle for 1–3 tokens).
fn shingles(tokens: &[String]) -> HashMap<&[String], u32> {
    let mut counts = HashMap::new();
    if tokens.is_empty() {
        return counts;
    }
    if tokens.len() < 4 {
        counts.insert(tokens, 1);
        return counts;
    }
    for window in tokens.windows(4) {
        *counts.entry(window).or_insert(0) += 1;
    }
    counts
}

/// Precision, recall and F1 of `predicted` against `truth`, as `score.py` computes them.
fn score(predicted: &str, truth: &str) -> (f64, f64, f64) {
    let (p, t) = (tokens(predicted), tokens(truth));
    let (p, t) = (shingles(&p), shingles(&t));
    let (np, nt): (u32, u32) = (p.values().sum(), t.values().sum());
    if np == 0 && nt == 0 {
        return (1.0, 1.0, 1.0);
    }
    if np == 0 || nt == 0 {
        return (0.0, 0.0, 0.0);
    }
    let overlap: u32 = p
        .iter()
        .map(|(s, &n)| n.min(t.get(s).copied().unwrap_or(0)))
        .sum();
    let precision = f64::from(overlap) / f64::from(np);
    let recall = f64::from(overlap) / f64::from(nt);
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    (precision, recall, f1)
}

#[test]
fn the_metric_is_score_py_s() {
    assert_eq!(score("", ""), (1.0, 1.0, 1.0));
    assert_eq!(score("", "some words"), (0.0, 0.0, 0.0));
    assert_eq!(score("One two", "one, TWO!"), (1.0, 1.0, 1.0));
    // 5 tokens: 2 shingles; 6 tokens: 3 shingles, 2 shared.
    let (p, r, _) = score("a b c d e", "a b c d e f");
    assert_eq!((p, r), (1.0, 2.0 / 3.0));
    // Duplicates count as often as both sides have them.
    let (p, _, _) = score("w x y z w x y z", "w x y z");
    assert_eq!(p, 1.0 / 5.0);
    assert_eq!(tokens("Président_2 l'été"), ["président_2", "l", "été"]);
}

struct Page {
    id: String,
    subset: String,
    truth: String,
    path: PathBuf,
}

fn pages(dir: &Path) -> Vec<Page> {
    let truth = std::fs::read_to_string(dir.join("ground-truth.jsonl")).expect("ground truth");
    truth
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            let field = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            Page {
                id: field("id"),
                subset: field("subset"),
                truth: field("body"),
                path: dir.join(field("html_file")),
            }
        })
        .collect()
}

/// The body `ingest` reads from a page (empty when it reads none).
fn body(page: &Page) -> String {
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&page.path).expect("page"))
        .read_to_end(&mut bytes)
        .expect("gzip");
    match newswatch_engine::ingest(&bytes, Path::new(&format!("{}.html", page.id))) {
        Ok(mut articles) if !articles.is_empty() => articles.swap_remove(0).body,
        _ => String::new(),
    }
}

#[test]
fn extraction_f1_per_subset_stays_at_its_floor() {
    let Some(corpus) = std::env::var_os("NEWSWATCH_CORPUS").map(PathBuf::from) else {
        println!("skipped: NEWSWATCH_CORPUS is not set");
        return;
    };
    let dir = corpus.join("extraction");
    if !dir.join("ground-truth.jsonl").is_file() {
        println!(
            "skipped: no extraction/ground-truth.jsonl in {}",
            corpus.display()
        );
        return;
    }
    let pages = pages(&dir);
    assert!(pages.len() > 300, "{} pages", pages.len());
    let pool = rayon::ThreadPoolBuilder::new()
        .stack_size(newswatch_engine::STACK_SIZE)
        .build()
        .expect("threads");
    let scores: Vec<(f64, f64, f64)> = pool.install(|| {
        pages
            .par_iter()
            .map(|p| score(&body(p), &p.truth))
            .collect()
    });
    let mut sums: HashMap<&str, (f64, f64, f64, usize)> = HashMap::new();
    for (page, &(p, r, f)) in pages.iter().zip(&scores) {
        for key in [page.subset.as_str(), "ALL"] {
            let s = sums.entry(key).or_default();
            *s = (s.0 + p, s.1 + r, s.2 + f, s.3 + 1);
        }
    }
    let mut failed = Vec::new();
    for &(subset, floor) in FLOORS {
        let (p, r, f, n) = sums.get(subset).copied().unwrap_or_default();
        let n = n.max(1) as f64;
        let (p, r, f) = (p / n, r / n, f / n);
        println!("{subset:20} P {p:.4}  R {r:.4}  F1 {f:.4}  (floor {floor})");
        if f < floor {
            failed.push(format!("{subset}: F1 {f:.4} below {floor}"));
        }
    }
    assert!(failed.is_empty(), "{failed:?}");
}
