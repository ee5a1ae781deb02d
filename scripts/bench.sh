#!/usr/bin/env bash
# Whole-process benchmarks of the release binary:
#   (a) `newswatch scan --format json` over the BBC corpus with 1 rule and with 100 generated rules:
#       wall time, articles/s, peak RSS;
#   (b) `newswatch check` on 1,000 generated rules: rules compiled per second.
# Uses hyperfine when it is installed, else a loop of RUNS runs (median wall time).
# Peak RSS comes from /usr/bin/time when present.
#
# usage: scripts/bench.sh            (from anywhere; paths are relative to the repo root)
# env:   NEWSWATCH_CORPUS  corpus folder holding bbc/   (default: ../shared/corpus)
#        GEN_RULES         rule generator              (default: ../shared/bench/gen_rules.py)
#        RUNS              measured runs per case      (default: 5)
#        CARGO_TARGET_DIR  as for cargo                (default: target)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

corpus=${NEWSWATCH_CORPUS:-../shared/corpus}
gen=${GEN_RULES:-../shared/bench/gen_rules.py}
runs=${RUNS:-5}
target=${CARGO_TARGET_DIR:-target}
bin="$target/release/newswatch"

die() { echo "bench.sh: $*" >&2; exit 1; }
[[ -d "$corpus/bbc" ]] || die "no BBC corpus at $corpus/bbc (set NEWSWATCH_CORPUS)"
[[ -f "$gen" ]] || die "no rule generator at $gen (set GEN_RULES)"
command -v python3 >/dev/null || die "python3 is needed to generate rules"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"
corpus=$(cd "$corpus" && pwd)
bbc="$corpus/bbc"
articles=$(find "$bbc" -type f -name '*.txt' | wc -l)

echo "== cargo build --release --locked" >&2
cargo build --release --locked >&2
[[ -x "$bin" ]] || die "no binary at $bin"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/newswatch-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Rules: the shipped example alone, and generated two-word rules.
mkdir -p "$tmp/one/rules"
cp rules/deepseek_h200.rhai "$tmp/one/rules/"
python3 "$gen" "$bbc" "$tmp/g100" 100 7 >&2
python3 "$gen" "$bbc" "$tmp/g1000" 1000 7 >&2

have_hyperfine=false
command -v hyperfine >/dev/null && have_hyperfine=true
gnu_time=""
if [[ -x /usr/bin/time ]] && /usr/bin/time -f %M true >/dev/null 2>&1; then
  gnu_time=/usr/bin/time
fi

# run_case OK_CODES CMD...: runs CMD once; fails unless its exit code is in OK_CODES ("0 1").
# Sets last_wall (seconds) and last_rss (KiB, or "" without /usr/bin/time).
run_case() {
  local ok=$1; shift
  local start end code=0
  start=$EPOCHREALTIME
  if [[ -n "$gnu_time" ]]; then
    "$gnu_time" -f "%e %M" -o "$tmp/time.out" "$@" >"$tmp/stdout" 2>"$tmp/stderr" || code=$?
  else
    "$@" >"$tmp/stdout" 2>"$tmp/stderr" || code=$?
  fi
  end=$EPOCHREALTIME
  if [[ " $ok " != *" $code "* ]]; then
    echo "bench.sh: '$*' exited with $code:" >&2
    tail -n 20 "$tmp/stderr" >&2
    exit 1
  fi
  # GNU time reports the child's exit status on its own line when it is not 0.
  last_rss=""
  [[ -n "$gnu_time" ]] && last_rss=$(tail -n 1 "$tmp/time.out" | awk '{print $2}')
  last_wall=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.4f", e - s }')
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# measure LABEL OK_CODES CMD...: sets wall (median seconds), rss (max KiB) and out_lines
# (lines on stdout of the last run).
measure() {
  local label=$1 ok=$2; shift 2
  local walls=() rsses=() i
  echo "== $label: $*" >&2
  run_case "$ok" "$@" # warm-up: page cache, and a check that it works
  out_lines=$(wc -l <"$tmp/stdout")
  if $have_hyperfine; then
    local cmd
    cmd=$(printf '%q ' "$@")
    hyperfine --style basic --warmup 1 --runs "$runs" -i --export-json "$tmp/hf.json" \
      --output null "$cmd" >&2
    wall=$(python3 -c 'import json,sys; print("%.4f" % json.load(open(sys.argv[1]))["results"][0]["median"])' "$tmp/hf.json")
    run_case "$ok" "$@" # one more run for the peak RSS
    rss=$last_rss
  else
    for ((i = 0; i < runs; i++)); do
      run_case "$ok" "$@"
      walls+=("$last_wall")
      [[ -n "$last_rss" ]] && rsses+=("$last_rss")
      echo "   run $((i + 1)): ${last_wall}s${last_rss:+, ${last_rss} KiB}" >&2
    done
    wall=$(printf '%s\n' "${walls[@]}" | median)
    rss=""
    ((${#rsses[@]})) && rss=$(printf '%s\n' "${rsses[@]}" | sort -n | tail -n 1)
  fi
}

mib() { [[ -n "$1" ]] && awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }' || echo "n/a"; }
per_s() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "inf" }'; }

rows=()
row() { rows+=("$(printf '%-28s %10s %14s %10s %8s' "$@")"); }

# scan exits 0 when alerts were raised, 1 when none.
measure "scan, 1 rule" "0 1" "$bin" scan --format json --rules "$tmp/one/rules" "$bbc"
row "scan bbc, 1 rule" "$wall" "$(per_s "$articles" "$wall") art/s" "$(mib "$rss")" "$out_lines"

measure "scan, 100 rules" "0 1" "$bin" scan --format json --rules "$tmp/g100/rules" "$bbc"
row "scan bbc, 100 rules" "$wall" "$(per_s "$articles" "$wall") art/s" "$(mib "$rss")" "$out_lines"

measure "check, 1000 rules" "0" "$bin" check --rules "$tmp/g1000/rules"
row "check, 1000 rules" "$wall" "$(per_s 1000 "$wall") rules/s" "$(mib "$rss")" "-"

echo
echo "newswatch $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo '+dirty'), $(nproc) cores, $articles BBC articles, median of $runs runs ($($have_hyperfine && echo hyperfine || echo 'bash loop'))"
printf '%-28s %10s %14s %10s %8s\n' "case" "wall (s)" "throughput" "RSS (MiB)" "alerts"
printf '%s\n' "${rows[@]}"
