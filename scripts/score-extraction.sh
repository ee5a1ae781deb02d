#!/usr/bin/env bash
# Main-text extraction: quality and speed of the HTML body on the extraction dev set.
#   (a) every dev page through the engine's ingest (crates/engine/examples/extraction.rs):
#       predictions.jsonl {id, title, body}, scored by the set's own score.py (F1, P, R per
#       subset), and pages/s of ingest alone;
#   (b) `newswatch scan` (release binary, one rule that alerts on everything) over the dev
#       pages ungzipped and over corpus/html: wall time and pages/s (best of RUNS).
#
# usage: scripts/score-extraction.sh [OUT_DIR]   (predictions.jsonl and pages.tsv land there;
#        default: a temporary folder, removed at the end)
# env:   NEWSWATCH_CORPUS  corpus folder holding extraction/ and html/ (default: ../shared/corpus)
#        RUNS              timed scans per folder (default: 3)
#        CARGO_TARGET_DIR  as for cargo (default: target)
# The dev set is for local evaluation only: never copy its pages into the repository.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

corpus=${NEWSWATCH_CORPUS:-../shared/corpus}
runs=${RUNS:-3}
target=${CARGO_TARGET_DIR:-target}
die() { echo "score-extraction.sh: $*" >&2; exit 1; }
[[ -f "$corpus/extraction/ground-truth.jsonl" ]] || die "no dev set at $corpus/extraction (set NEWSWATCH_CORPUS)"
command -v python3 >/dev/null || die "python3 is needed for score.py"
corpus=$(cd "$corpus" && pwd)
dev="$corpus/extraction"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/newswatch-extraction.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
out=${1:-$tmp}
mkdir -p "$out"

echo "== cargo build --release (newswatch, example extraction)" >&2
cargo build --release --locked >&2
cargo build --release --locked -p newswatch-engine --example extraction >&2

echo "== ingest of every dev page" >&2
"$target/release/examples/extraction" "$dev" "$out/predictions.jsonl"
python3 "$dev/score.py" "$out/predictions.jsonl" --per-page "$out/pages.tsv"

# scan_speed LABEL DIR: best wall time of RUNS scans of DIR, and pages/s.
mkdir -p "$tmp/rules"
echo 'alert("page");' >"$tmp/rules/every.rhai"
scan_speed() {
  local label=$1 dir=$2 pages best="" i start end wall
  pages=$(find "$dir" -type f \( -name '*.html' -o -name '*.htm' \) | wc -l)
  "$target/release/newswatch" scan --format json --rules "$tmp/rules" "$dir" >/dev/null 2>&1 || true
  for ((i = 0; i < runs; i++)); do
    start=$EPOCHREALTIME
    "$target/release/newswatch" scan --format json --rules "$tmp/rules" "$dir" >/dev/null 2>&1 || true
    end=$EPOCHREALTIME
    wall=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.4f", e - s }')
    if [[ -z "$best" ]] || awk -v a="$wall" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$wall; fi
  done
  printf '%-34s %6d pages %8.3f s %8.0f pages/s\n' "$label" "$pages" "$best" \
    "$(awk -v n="$pages" -v s="$best" 'BEGIN { print n / s }')"
}

echo "== newswatch scan, $(nproc) cores, best of $runs" >&2
mkdir -p "$tmp/dev"
while IFS= read -r gz; do
  rel=${gz#"$dev/html/"}
  mkdir -p "$tmp/dev/$(dirname "$rel")"
  gzip -dc "$gz" >"$tmp/dev/${rel%.gz}"
done < <(find "$dev/html" -type f -name '*.html.gz')
scan_speed "scan extraction/ (dev set)" "$tmp/dev"
scan_speed "scan html/" "$corpus/html"
