#!/usr/bin/env bash
# newswatch against YARA-X and YARA on the same keyword rules (issue #8).
#
# Generates RULES two-word rules (seed SEED) with ../shared/bench/gen_rules.py, in Rhai for
# newswatch and in YARA syntax for the others, then times, in alternating runs over the BBC corpus:
#   newswatch scan --format json --rules OUT/rules CORPUS/bbc
#   yr scan -r OUT/rules.yar CORPUS/bbc        (YARA-X, compiling the rules from source too)
#   yara -r OUT/rules.yar CORPUS/bbc           (Debian's YARA)
# and reports for each the median wall time of RUNS runs (after one warm-up run), the peak RSS,
# the number of (rule, file) matches, the ratio to YARA-X, and whether all three found the same
# (rule, file) pairs (exit code 1 if not).
#
# It installs nothing. A missing tool is left out, with how to install it:
#   YARA-X: cargo install yara-x-cli --locked      (about 10 minutes; puts yr in ~/.cargo/bin)
#   YARA:   apt-get install -y yara
#
# usage: scripts/bench-yara.sh          (from anywhere; paths are relative to the repo root)
# env:   NEWSWATCH_CORPUS  corpus folder holding bbc/   (default: ../shared/corpus)
#        GEN_RULES         rule generator              (default: ../shared/bench/gen_rules.py)
#        RULES             number of rules             (default: 1000)
#        SEED              generator seed              (default: 7)
#        RUNS              measured runs per tool      (default: 5)
#        YR, YARA          the two binaries            (default: yr, else ~/.cargo/bin/yr; yara)
#        PREFILTER_OFF=1   also time newswatch with NEWSWATCH_PREFILTER=off (slow: every rule runs)
#        NEWSWATCH         a newswatch binary to time  (default: build target/release/newswatch)
#        CARGO_TARGET_DIR  as for cargo                (default: target)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

corpus=${NEWSWATCH_CORPUS:-../shared/corpus}
gen=${GEN_RULES:-../shared/bench/gen_rules.py}
rules=${RULES:-1000}
seed=${SEED:-7}
runs=${RUNS:-5}
bin="${CARGO_TARGET_DIR:-target}/release/newswatch"

die() { echo "bench-yara.sh: $*" >&2; exit 2; }
[[ -d "$corpus/bbc" ]] || die "no BBC corpus at $corpus/bbc (set NEWSWATCH_CORPUS)"
[[ -f "$gen" ]] || die "no rule generator at $gen (set GEN_RULES)"
command -v python3 >/dev/null || die "python3 is needed (rule generator, timing)"
for n in "$rules" "$seed" "$runs"; do [[ "$n" =~ ^[0-9]+$ ]] || die "RULES, SEED and RUNS are numbers"; done
bbc=$(cd "$corpus/bbc" && pwd)

yr=${YR:-$(command -v yr || true)}
[[ -z "$yr" && -x "$HOME/.cargo/bin/yr" ]] && yr="$HOME/.cargo/bin/yr"
yara=${YARA:-$(command -v yara || true)}
[[ -n "$yr" ]] || echo "note: YARA-X (yr) not found; install: cargo install yara-x-cli --locked" >&2
[[ -n "$yara" ]] || echo "note: YARA (yara) not found; install: apt-get install -y yara" >&2

if [[ -n "${NEWSWATCH:-}" ]]; then
  bin=$NEWSWATCH
else
  echo "== cargo build --release --locked" >&2
  cargo build --release --locked >&2
fi
[[ -x "$bin" ]] || die "no binary at $bin"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

out=$(mktemp -d "${TMPDIR:-/tmp}/newswatch-yara.XXXXXX")
trap 'rm -rf "$out"' EXIT
python3 "$gen" "$bbc" "$out" "$rules" "$seed" >&2

export BENCH_BIN="$bin" BENCH_YR="$yr" BENCH_YARA="$yara" BENCH_OUT="$out" BENCH_BBC="$bbc"
export BENCH_RUNS="$runs" BENCH_OFF="${PREFILTER_OFF:-}"
export BENCH_LABEL="newswatch $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src 2>/dev/null || echo '+dirty')"
python3 - <<'PY'
import json, os, statistics, subprocess, sys, time

env = os.environ
out, bbc, runs = env["BENCH_OUT"], env["BENCH_BBC"], int(env["BENCH_RUNS"])
rules_dir, yar = os.path.join(out, "rules"), os.path.join(out, "rules.yar")

def newswatch_pairs(stdout):
    pairs = set()
    for line in stdout.splitlines():
        alert = json.loads(line)
        pairs.add((alert["rule"], os.path.normpath(alert["article"]["path"])))
    return pairs

def yara_pairs(stdout):
    # "RULE PATH" per match, from yr and yara alike.
    return {(r, os.path.normpath(p)) for r, p in (l.split(" ", 1) for l in stdout.splitlines() if l)}

tools = [("newswatch", [env["BENCH_BIN"], "scan", "--format", "json", "--rules", rules_dir, bbc],
          {}, newswatch_pairs)]
if env["BENCH_OFF"]:
    tools.append(("newswatch, prefilter off", tools[0][1], {"NEWSWATCH_PREFILTER": "off"},
                  newswatch_pairs))
if env["BENCH_YR"]:
    tools.append(("YARA-X (yr)", [env["BENCH_YR"], "scan", "-r", yar, bbc], {}, yara_pairs))
if env["BENCH_YARA"]:
    tools.append(("YARA (yara)", [env["BENCH_YARA"], "-r", yar, bbc], {}, yara_pairs))

# Peak RSS from GNU time: a child forked by Python would count Python's own pages.
gnu_time = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None

def run(cmd, extra):
    """Runs cmd once: wall seconds, peak RSS in KiB (0 if unknown), stdout."""
    rss_file = os.path.join(out, "rss")
    full = [gnu_time, "-f", "%M", "-o", rss_file, *cmd] if gnu_time else cmd
    with open(os.path.join(out, "stdout"), "wb") as so, open(os.path.join(out, "stderr"), "wb") as se:
        start = time.perf_counter()
        code = subprocess.run(full, stdout=so, stderr=se, env={**env, **extra}).returncode
        wall = time.perf_counter() - start
    # newswatch exits 1 when nothing matched; yr and yara 0.
    if code not in (0, 1):
        sys.exit(f"{cmd[0]} exited with {code}:\n" + open(os.path.join(out, "stderr")).read()[-2000:])
    kib = int(open(rss_file).read().split()[-1]) if gnu_time else 0
    return wall, kib, open(os.path.join(out, "stdout")).read()

walls = {name: [] for name, *_ in tools}
rss = {name: 0 for name, *_ in tools}
pairs = {}
for name, cmd, extra, parse in tools:  # warm-up: page cache, and the matches
    print(f"== {name}: {' '.join(cmd)}", file=sys.stderr)
    _, kib, stdout = run(cmd, extra)
    pairs[name], rss[name] = parse(stdout), kib
for i in range(runs):  # alternating
    for name, cmd, extra, _ in tools:
        wall, kib, _ = run(cmd, extra)
        walls[name].append(wall)
        rss[name] = max(rss[name], kib)
    print(f"   run {i + 1}: " + ", ".join(f"{n} {walls[n][-1]:.3f}s" for n, *_ in tools), file=sys.stderr)

median = {name: statistics.median(w) for name, w in walls.items()}
base = median.get("YARA-X (yr)")
reference = pairs["newswatch"]
same = all(p == reference for p in pairs.values())
print()
print(f"{env['BENCH_LABEL']}, {os.cpu_count()} cores, {len(os.listdir(rules_dir))} rules, "
      f"{bbc}, median of {runs} alternating runs")
print(f"{'tool':<26} {'wall (s)':>9} {'x YARA-X':>9} {'RSS (MiB)':>10} {'matches':>8}  same pairs")
for name, *_ in tools:
    ratio = f"{median[name] / base:.2f}" if base else "-"
    print(f"{name:<26} {median[name]:>9.3f} {ratio:>9} {rss[name] / 1024:>10.1f} {len(pairs[name]):>8}  "
          f"{'yes' if pairs[name] == reference else 'NO'}")
if not same:
    for name, p in pairs.items():
        if p != reference:
            missing, extra = sorted(reference - p)[:5], sorted(p - reference)[:5]
            print(f"{name}: {len(reference - p)} pairs missing (e.g. {missing}), "
                  f"{len(p - reference)} extra (e.g. {extra})")
    sys.exit(1)
PY
