//! Ingest arbitrary bytes under every file name newswatch reads: it must never panic, hang or
//! blow up memory — only return articles or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;

const NAMES: &[&str] = &[
    "a.txt", "a", "a.md", "a.html", "a.htm", "a.json", "a.jsonl", "a.ndjson", "a.xml", "a.rss",
    "a.atom", "a.eml",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else { return };
    let name = NAMES[pick as usize % NAMES.len()];
    let _ = newswatch_engine::ingest(bytes, std::path::Path::new(name));
});
