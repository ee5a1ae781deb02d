#!/usr/bin/env python3
"""Measure the watcher daemon. Builds the release binary first.

(a) latency from a file's close to its alert in the output file, p50 and p99 over N files,
    with the shipped rules;
(b) drain rate of a burst of 10,000 small synthetic files with the shipped rules (written
    one after another into the watched folder, so the writer competes for the cores);
(c) drain rate of a burst of 10,000 real articles with RULES generated keyword rules
    (../shared/bench/gen_rules.py, as in bench-yara.sh): the BBC corpus, cycled, each copy
    made unique by a trailing line, staged beside the inbox and then renamed into it as fast
    as the kernel allows. The alerts must equal what `newswatch scan` finds in the same files.

Rates count from the first file written (or renamed) to the moment the state store holds all
of them, so they include event handling, hashing, reading, evaluation and the SQLite record.

usage: scripts/bench-watch.py [--latency 200] [--burst 10000] [--rules 1000] [--only a,b,c]
env:   NEWSWATCH_CORPUS (default ../shared/corpus), GEN_RULES (default ../shared/bench/gen_rules.py)
"""
import argparse, json, os, shutil, signal, sqlite3, subprocess, sys, tempfile, time

repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--latency", type=int, default=200, help="files for the latency run")
ap.add_argument("--burst", type=int, default=10000, help="files per burst")
ap.add_argument("--rules", type=int, default=1000, help="generated rules for burst (c)")
ap.add_argument("--seed", type=int, default=7, help="rule generator seed")
ap.add_argument("--only", default="a,b,c", help="which measurements, e.g. 'c'")
ap.add_argument("--stories", default="7d",
                help="stories.window of the daemon (0s: copies of a story are not grouped)")
args = ap.parse_args()
corpus = os.environ.get("NEWSWATCH_CORPUS", os.path.join(repo, "..", "shared", "corpus"))
gen = os.environ.get("GEN_RULES", os.path.join(repo, "..", "shared", "bench", "gen_rules.py"))

subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=repo, check=True)
binary = os.path.join(repo, "target", "release", "newswatch")

ARTICLE = "Nvidia's H200 for DeepSeek {i}\n\nBeijing allowed DeepSeek to buy Nvidia's H200 chips, story {i}.\n"
OTHER = "Quiet news {i}\n\nNothing about chips in story {i}.\n"


def start(tmp, rules):
    os.makedirs(os.path.join(tmp, "inbox"), exist_ok=True)
    with open(os.path.join(tmp, "newswatch.yaml"), "w") as f:
        f.write("watch:\n  - path: inbox\nstate: state.db\nrules: %s\n"
                "stories: { window: %s }\n"
                "outputs:\n  - type: file\n    path: alerts.jsonl\n" % (rules, args.stories))
    err = open(os.path.join(tmp, "daemon.log"), "w")
    p = subprocess.Popen([binary, "watch"], cwd=tmp, stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.time() + 10
    while "watching" not in open(os.path.join(tmp, "daemon.log")).read():
        if time.time() > deadline:
            sys.exit("daemon did not start: " + open(os.path.join(tmp, "daemon.log")).read())
        time.sleep(0.01)
    time.sleep(0.3)
    return p


def stop(p):
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=10)


def lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def wait_recorded(tmp, n, t0):
    db = sqlite3.connect(os.path.join(tmp, "state.db"))
    while True:
        (seen,) = db.execute("SELECT count(*) FROM files").fetchone()
        if seen >= n:
            return time.perf_counter() - t0
        if time.perf_counter() - t0 > 300:
            sys.exit(f"only {seen} of {n} files recorded")
        time.sleep(0.005)


def latency():
    tmp = tempfile.mkdtemp(prefix="nw-latency-")
    p = start(tmp, os.path.join(repo, "rules"))
    out = os.path.join(tmp, "alerts.jsonl")
    samples = []
    for i in range(args.latency):
        before = lines(out)
        with open(os.path.join(tmp, "inbox", f"{i:04d}.txt"), "w") as f:
            f.write(ARTICLE.format(i=i))
        closed = time.perf_counter()
        while lines(out) <= before:
            if time.perf_counter() - closed > 10:
                sys.exit(f"no alert for file {i}")
            time.sleep(0.0002)
        samples.append((time.perf_counter() - closed) * 1000)
        time.sleep(0.01)
    stop(p)
    shutil.rmtree(tmp)
    samples.sort()
    pct = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]
    print(f"(a) latency close -> alert over {args.latency} files, shipped rules: "
          f"p50 {pct(0.5):.1f} ms, p99 {pct(0.99):.1f} ms")


def synthetic_burst():
    n = args.burst
    tmp = tempfile.mkdtemp(prefix="nw-burst-")
    p = start(tmp, os.path.join(repo, "rules"))
    t0 = time.perf_counter()
    for i in range(n):
        with open(os.path.join(tmp, "inbox", f"b{i:05d}.txt"), "w") as f:
            f.write((ARTICLE if i % 10 == 0 else OTHER).format(i=i))
    written = time.perf_counter() - t0
    drained = wait_recorded(tmp, n, t0)
    alerts = lines(os.path.join(tmp, "alerts.jsonl"))
    stop(p)
    shutil.rmtree(tmp)
    print(f"(b) burst of {n} small files, shipped rules: written in {written:.2f} s, all recorded "
          f"after {drained:.2f} s -> {n / drained:.0f} articles/s; {alerts} alerts "
          f"(expected {(n + 9) // 10})")


def corpus_burst():
    n, bbc = args.burst, os.path.join(corpus, "bbc")
    if not os.path.isdir(bbc):
        sys.exit(f"no BBC corpus at {bbc} (set NEWSWATCH_CORPUS)")
    tmp = tempfile.mkdtemp(prefix="nw-rules-burst-")
    subprocess.run([sys.executable, gen, bbc, tmp, str(args.rules), str(args.seed)], check=True,
                   stdout=subprocess.DEVNULL)
    sources = sorted(os.path.join(d, f) for d, _, fs in os.walk(bbc) for f in fs if f.endswith(".txt"))
    stage = os.path.join(tmp, "stage")
    os.makedirs(stage)
    names = []
    for i in range(n):
        name = f"a{i:05d}.txt"
        with open(sources[i % len(sources)], "rb") as src, open(os.path.join(stage, name), "wb") as f:
            f.write(src.read() + f"\n\nCopy {i}.\n".encode())
        names.append(name)
    p = start(tmp, os.path.join(tmp, "rules"))
    inbox = os.path.join(tmp, "inbox")
    t0 = time.perf_counter()
    for name in names:
        os.rename(os.path.join(stage, name), os.path.join(inbox, name))
    moved = time.perf_counter() - t0
    drained = wait_recorded(tmp, n, t0)
    # The output file is written by its own thread after the record; give it a moment.
    # With stories grouped, which copy of a story comes first depends on the order files are
    # read: the daemon's alerts are then compared with a `scan --state` rule by rule.
    grouped = args.stories not in ("0s", "0", "0m", "0d")
    scan = [binary, "scan", "--format", "json", "--config", os.path.join(tmp, "newswatch.yaml"),
            "--rules", os.path.join(tmp, "rules"), inbox]
    if grouped:
        scan += ["--state", os.path.join(tmp, "scan.db")]
    expected = subprocess.run(scan, capture_output=True, text=True, cwd=tmp)
    key = ((lambda a: a["rule"]) if grouped
           else (lambda a: (a["rule"], os.path.basename(a["article"]["path"]))))
    want = sorted(key(a) for a in map(json.loads, expected.stdout.splitlines()))
    # The file output delivers one alert at a time, each recorded as delivered: a burst of
    # thousands takes seconds more; wait while it makes progress.
    seen, stalled = -1, time.time()
    while (count := lines(os.path.join(tmp, "alerts.jsonl"))) < len(want):
        if count != seen:
            seen, stalled = count, time.time()
        elif time.time() - stalled > 10:
            break
        time.sleep(0.05)
    with open(os.path.join(tmp, "alerts.jsonl")) as f:
        got = sorted(key(a) for a in map(json.loads, f))
    stop(p)
    shutil.rmtree(tmp)
    print(f"(c) burst of {n} BBC articles ({len(sources)} cycled), {args.rules} generated rules, "
          f"stories.window {args.stories}: "
          f"renamed in {moved:.2f} s, all recorded after {drained:.2f} s -> {n / drained:.0f} "
          f"articles/s; {len(got)} alerts, scan finds {len(want)}: "
          f"{'same' if got == want else 'DIFFERENT'}")
    if got != want:
        sys.exit(1)


only = set(args.only.split(","))
if "a" in only:
    latency()
if "b" in only:
    synthetic_burst()
if "c" in only:
    corpus_burst()
