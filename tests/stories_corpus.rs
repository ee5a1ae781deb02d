//! Story grouping on a labelled set built from the corpus (`NEWSWATCH_CORPUS`): the copies a
//! syndicating site would make of BBC and French articles (`common::syndicate`) must be grouped
//! with their original, and different articles of the same category must not.
//!
//! The set is generated here, not stored: a deterministic sample of the corpus' articles, each
//! with nine copies (another headline, the lead cut, boilerplate or a correction added, words
//! changed, wrapped in another site's page, a feed item, a JSON item, a newsletter e-mail),
//! all read through ingest as files of their format. Hard negatives are the pairs of sampled
//! articles of one BBC folder (the dataset's categories) and of the French sample. The
//! dataset holds its own copies of some stories (98 byte-identical pairs, and a few updated
//! versions); pairs whose texts share at least half of their word 3-shingles, counted exactly
//! here, are such copies and are left out of the negatives (their number is reported).
//! Grouping is as the state does it: an exact key, or a shared band and a similarity of at
//! least `SAME_STORY`.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use common::syndicate::{self, Story};
use newswatch_engine::story::{Fingerprint, SAME_STORY};

/// Every `STRIDE`th article of each folder is sampled.
const BBC_STRIDE: usize = 6;
const FR_STRIDE: usize = 4;

fn grouped(a: &Fingerprint, b: &Fingerprint) -> bool {
    let exact = a.exact_keys().iter().any(|k| b.exact_keys().contains(k));
    let band = a.bands().any(|x| b.bands().any(|y| x == y));
    (exact || band) && a.same_story(b)
}

fn fingerprint(bytes: &[u8], name: &str) -> Fingerprint {
    let articles =
        newswatch_engine::ingest(bytes, Path::new(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(articles.len(), 1, "{name}");
    Fingerprint::of(&articles[0])
}

/// Word 3-shingles of `text` as hashes, sorted: the exact measure the dataset's own copies are
/// told by (lowercased runs of letters and digits).
fn shingles(text: &str) -> Vec<u64> {
    use std::hash::{Hash, Hasher};
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let mut out: Vec<u64> = words
        .windows(3)
        .map(|w| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            w.hash(&mut h);
            h.finish()
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    let (mut i, mut j, mut both) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                both += 1;
                i += 1;
                j += 1;
            }
        }
    }
    both as f64 / (a.len() + b.len() - both).max(1) as f64
}

/// The sampled articles, by category: (name, text).
fn sample(corpus: &Path) -> BTreeMap<String, Vec<(String, String)>> {
    let mut out = BTreeMap::new();
    let mut folders: Vec<(String, std::path::PathBuf, usize)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir(corpus.join("bbc")) {
        for e in entries.flatten().filter(|e| e.path().is_dir()) {
            let name = format!("bbc/{}", e.file_name().to_string_lossy());
            folders.push((name, e.path(), BBC_STRIDE));
        }
    }
    folders.push(("fr".into(), corpus.join("fr/orangesum/txt"), FR_STRIDE));
    for (category, dir, stride) in folders {
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .collect();
        files.sort();
        let mut seen = HashSet::new();
        let articles: Vec<(String, String)> = files
            .iter()
            .step_by(stride)
            .map(|p| {
                let bytes = std::fs::read(p).unwrap();
                (
                    format!("{category}/{}", p.file_name().unwrap().to_string_lossy()),
                    String::from_utf8_lossy(&bytes).into_owned(),
                )
            })
            .filter(|(_, text)| seen.insert(text.clone()))
            .collect();
        out.insert(category, articles);
    }
    out
}

#[test]
fn copies_are_grouped_and_different_articles_are_not() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let sample = sample(&corpus);
    let articles: usize = sample.values().map(Vec::len).sum();
    assert!(articles > 300, "only {articles} articles sampled");

    // Positives: each copy against its original.
    let mut by_kind: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut missed = Vec::new();
    let mut originals: BTreeMap<String, Vec<Fingerprint>> = BTreeMap::new();
    for (category, list) in &sample {
        for (i, (name, text)) in list.iter().enumerate() {
            let original = fingerprint(text.as_bytes(), name);
            let story = Story::parse(text);
            for copy in syndicate::copies(&story, "copy", i as u64) {
                let variant = fingerprint(&copy.bytes, &copy.name);
                let entry = by_kind.entry(copy.kind).or_default();
                entry.1 += 1;
                if grouped(&original, &variant) {
                    entry.0 += 1;
                } else {
                    missed.push(format!(
                        "{name} ({}): {:.2}",
                        copy.kind,
                        original.similarity(&variant)
                    ));
                }
            }
            originals
                .entry(category.clone())
                .or_default()
                .push(original);
        }
    }
    let (hit, total) = by_kind
        .values()
        .fold((0, 0), |(h, t), (a, b)| (h + a, t + b));
    let recall = hit as f64 / total as f64;

    // Hard negatives: pairs of one category, less the dataset's own copies of one story.
    let (mut pairs, mut merged, mut own_copies) = (0usize, Vec::new(), 0usize);
    for (category, list) in &sample {
        let fps = &originals[category];
        let sh: Vec<Vec<u64>> = list.iter().map(|(_, t)| shingles(t)).collect();
        for i in 0..list.len() {
            for j in i + 1..list.len() {
                if jaccard(&sh[i], &sh[j]) >= 0.5 {
                    own_copies += 1;
                    continue;
                }
                pairs += 1;
                if grouped(&fps[i], &fps[j]) {
                    merged.push(format!(
                        "{} ~ {}: {:.2}",
                        list[i].0,
                        list[j].0,
                        fps[i].similarity(&fps[j])
                    ));
                }
            }
        }
    }
    let false_rate = merged.len() as f64 / pairs as f64;

    let kinds: Vec<String> = by_kind
        .iter()
        .map(|(k, (h, t))| format!("{k} {h}/{t}"))
        .collect();
    common::note(&format!(
        "stories: {articles} articles, threshold {SAME_STORY}: {hit}/{total} copies grouped with \
         their original ({:.2}%: {}); {} of {pairs} hard-negative pairs merged ({:.3}%); \
         {own_copies} pairs of the dataset's own copies left out",
        recall * 100.0,
        kinds.join(", "),
        merged.len(),
        false_rate * 100.0
    ));
    assert!(
        recall >= 0.95,
        "recall {recall:.3}; missed: {:?}",
        &missed[..missed.len().min(30)]
    );
    assert!(
        false_rate <= 0.005,
        "false merges {false_rate:.4}: {:?}",
        &merged[..merged.len().min(30)]
    );
}
