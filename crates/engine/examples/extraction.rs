//! The main-text extraction harness: every page of an extraction dev set (a folder with
//! `ground-truth.jsonl` and `html/<subset>/<id>.html.gz`, as `../shared/corpus/extraction/`)
//! goes through the engine's real ingest path (`newswatch_engine::ingest`, as `<id>.html`), and
//! each page's title and body is written as one line of `predictions.jsonl`
//! (`{"id", "title", "body"}`), for that set's `score.py`. Pages per second (ingest only, the
//! pages already in memory) go to stderr.
//!
//! ```sh
//! cargo run --release -p newswatch-engine --example extraction -- \
//!     ../shared/corpus/extraction predictions.jsonl
//! python3 ../shared/corpus/extraction/score.py predictions.jsonl
//! ```
//!
//! `scripts/score-extraction.sh` does both, and times `newswatch scan` too.

use std::io::{BufRead, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use rayon::prelude::*;

/// Times the whole set is ingested for the speed figure (the best pass counts).
const PASSES: usize = 3;

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [dir, out] = &args[..] else {
        eprintln!("usage: extraction EXTRACTION_DIR PREDICTIONS_JSONL");
        return ExitCode::from(2);
    };
    let pages = match load(dir) {
        Ok(pages) => pages,
        Err(e) => {
            eprintln!("extraction: {e}");
            return ExitCode::from(2);
        }
    };
    let read = |(id, bytes): &(String, Vec<u8>), say: bool| match newswatch_engine::ingest(
        bytes,
        Path::new(&format!("{id}.html")),
    ) {
        Ok(mut articles) if !articles.is_empty() => {
            let a = articles.swap_remove(0);
            (a.title, a.body)
        }
        Ok(_) => (String::new(), String::new()),
        Err(e) => {
            if say {
                eprintln!("{id}: {e}");
            }
            (String::new(), String::new())
        }
    };
    let bytes: usize = pages.iter().map(|(_, b)| b.len()).sum();
    let results = pages.iter().map(|p| read(p, true)).collect::<Vec<_>>();
    let mut best_one = f64::INFINITY;
    let mut best_cpu = f64::INFINITY;
    let mut best_all = f64::INFINITY;
    for _ in 0..PASSES {
        let (start, cpu) = (Instant::now(), cpu_seconds());
        pages.iter().for_each(|p| drop(read(p, false)));
        best_one = best_one.min(start.elapsed().as_secs_f64());
        if let (Some(before), Some(after)) = (cpu, cpu_seconds()) {
            best_cpu = best_cpu.min(after - before);
        }
        let start = Instant::now();
        pages.par_iter().for_each(|p| drop(read(p, false)));
        best_all = best_all.min(start.elapsed().as_secs_f64());
    }
    let n = pages.len() as f64;
    eprintln!(
        "ingested {} pages ({:.1} MB), best of {PASSES}: {:.0} pages/s on one thread \
         ({:.0} pages per CPU second), {:.0} pages/s on {} threads",
        pages.len(),
        bytes as f64 / 1e6,
        n / best_one,
        n / best_cpu,
        n / best_all,
        rayon::current_num_threads(),
    );
    let written = std::fs::File::create(out).and_then(|file| {
        let mut file = BufWriter::new(file);
        for ((id, _), (title, body)) in pages.iter().zip(&results) {
            let line = serde_json::json!({"id": id, "title": title, "body": body});
            writeln!(file, "{line}")?;
        }
        file.flush()
    });
    if let Err(e) = written {
        eprintln!("extraction: {}: {e}", out.display());
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}

/// CPU time this process has used (user and system), where `/proc` says (Linux): on a busy
/// machine it tells the cost of ingest better than wall time does.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses): utime and stime are the 12th
    // and 13th, in clock ticks (100 a second on Linux).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Every page of the set: its id and its bytes, ungzipped.
fn load(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, String> {
    let truth = dir.join("ground-truth.jsonl");
    let file = std::fs::File::open(&truth).map_err(|e| format!("{}: {e}", truth.display()))?;
    let mut pages = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|e| e.to_string())?;
        if line.trim().is_empty() {
            continue;
        }
        let page: serde_json::Value = serde_json::from_str(&line).map_err(|e| e.to_string())?;
        let (Some(id), Some(html)) = (page["id"].as_str(), page["html_file"].as_str()) else {
            return Err(format!(
                "{}: a line without id or html_file",
                truth.display()
            ));
        };
        let path = dir.join(html);
        let mut bytes = Vec::new();
        std::fs::File::open(&path)
            .map(flate2::read::GzDecoder::new)
            .and_then(|mut gz| gz.read_to_end(&mut bytes))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        pages.push((id.to_string(), bytes));
    }
    Ok(pages)
}
