#!/usr/bin/env python3
"""Measure the fleet: `newswatch publish` → NATS JetStream → `newswatch consume` workers →
alerts stored in the alerts stream. Builds the release binary first.

Articles: the BBC corpus (2,225 files) cycled COPIES times, each copy made unique by a trailing
line (the articles stream drops byte-identical files), staged once in a temp folder.
Rules: RULES generated two-word rules (../shared/bench/gen_rules.py, as scripts/bench.sh).

For each number of workers (1 and 2), on a fresh server each run:
  (a) end to end: the workers wait, ready; the clock starts, `publish` puts every file in the
      stream while the workers consume; the clock stops once the consumer has every article
      delivered and acked (so every alert stored before it). Articles/s = files / that time.
  (b) drain of a backlog: everything published first; the clock runs from the workers' start
      (rules compiled) until every article is acked.
And (c) `publish` alone (no worker), and (d) `newswatch scan --format json` of the same files
with the same rules: the per-message overhead of the fleet is 1/rate(a or b) - 1/rate(d).

The server, the publisher and the workers share this machine: on 2 cores the figures are a
floor for a fleet whose workers have their own machines.

usage: scripts/bench-fleet.py [--copies 4] [--rules 1000] [--runs 3] [--workers 1,2]
env:   NEWSWATCH_CORPUS (default ../shared/corpus), GEN_RULES (default ../shared/bench/gen_rules.py),
       NEWSWATCH_NATS_SERVER (default: nats-server on the PATH)
"""
import argparse, json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time
import urllib.request

repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--copies", type=int, default=4, help="times the BBC corpus is cycled")
ap.add_argument("--rules", type=int, default=1000, help="generated rules")
ap.add_argument("--seed", type=int, default=7, help="rule generator seed")
ap.add_argument("--runs", type=int, default=3, help="runs per case (median reported)")
ap.add_argument("--workers", default="1,2", help="worker counts, e.g. 1,2")
args = ap.parse_args()
corpus = os.environ.get("NEWSWATCH_CORPUS", os.path.join(repo, "..", "shared", "corpus"))
gen = os.environ.get("GEN_RULES", os.path.join(repo, "..", "shared", "bench", "gen_rules.py"))
server_bin = os.environ.get("NEWSWATCH_NATS_SERVER") or shutil.which("nats-server")
bbc = os.path.join(corpus, "bbc")
for what, path in [("BBC corpus", bbc), ("rule generator", gen)]:
    if not os.path.exists(path):
        sys.exit(f"bench-fleet.py: no {what} at {path}")
if not server_bin:
    sys.exit("bench-fleet.py: no nats-server (set NEWSWATCH_NATS_SERVER or put one on the PATH; see README)")

print("== cargo build --release --locked", file=sys.stderr)
subprocess.run(["cargo", "build", "--release", "--locked"], cwd=repo, check=True, stdout=sys.stderr)
target = os.environ.get("CARGO_TARGET_DIR", os.path.join(repo, "target"))
nw = os.path.join(target, "release", "newswatch")

tmp = tempfile.mkdtemp(prefix="newswatch-bench-fleet.")
procs = []


def cleanup():
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    shutil.rmtree(tmp, ignore_errors=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server():
    port, mon = free_port(), free_port()
    store = tempfile.mkdtemp(dir=tmp, prefix="store.")
    log = open(os.path.join(store, "server.log"), "w")
    p = subprocess.Popen([server_bin, "-js", "-sd", store, "-a", "127.0.0.1", "-p", str(port), "-m", str(mon)],
                         stdout=log, stderr=log)
    procs.append(p)
    deadline = time.time() + 20
    while True:
        try:
            jsz(mon)
            break
        except OSError:
            if time.time() > deadline:
                sys.exit("bench-fleet.py: nats-server did not start")
            time.sleep(0.02)
    return p, f"nats://127.0.0.1:{port}", mon, store


def stop(p, sig=signal.SIGTERM):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def jsz(mon):
    url = f"http://127.0.0.1:{mon}/jsz?accounts=true&streams=true&consumers=true"
    with urllib.request.urlopen(url, timeout=2) as r:
        return json.load(r)


def state(mon):
    """(articles stored, articles delivered up to, pending, ack pending, alerts stored)."""
    streams = {}
    for acc in jsz(mon).get("account_details", []):
        for s in acc.get("stream_detail", []) or []:
            streams[s["name"]] = s
    arts = streams.get("NEWSWATCH_ARTICLES")
    alerts = streams.get("NEWSWATCH_ALERTS", {}).get("state", {}).get("messages", 0)
    if not arts:
        return None
    cons = {c["name"]: c for c in arts.get("consumer_detail", []) or []}.get("newswatch")
    last = arts["state"]["last_seq"]
    if not cons:
        return (last, 0, None, None, alerts)
    return (last, cons["delivered"]["stream_seq"], cons["num_pending"], cons["num_ack_pending"], alerts)


def wait_drained(mon, articles, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        s = state(mon)
        # Called once `publish` is done: the stream holds every article (byte-identical files
        # once: the BBC corpus has a few).
        if s and s[0] > 0 and s[1] >= s[0] and s[2] == 0 and s[3] == 0:
            return s
        time.sleep(0.005)
    sys.exit(f"bench-fleet.py: not drained in {timeout}s: {state(mon)}")


def start_workers(url, n, rules):
    ws = []
    for i in range(n):
        err = open(os.path.join(tmp, f"worker{len(procs)}.err"), "w+")
        p = subprocess.Popen([nw, "consume", "--nats", url, "--rules", rules], cwd=tmp,
                             stdout=subprocess.DEVNULL, stderr=err)
        procs.append(p)
        ws.append((p, err))
    for p, err in ws:
        deadline = time.time() + 60
        while True:
            err.seek(0)
            if "consuming stream" in err.read():
                break
            if p.poll() is not None or time.time() > deadline:
                err.seek(0)
                sys.exit(f"bench-fleet.py: a worker did not start:\n{err.read()}")
            time.sleep(0.005)
    return ws


def publish(url, folder):
    r = subprocess.run([nw, "publish", "--nats", url, folder], cwd=tmp, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"bench-fleet.py: publish failed:\n{r.stderr}")


load0 = "%.1f" % os.getloadavg()[0]
try:
    # Articles: BBC cycled, each copy unique.
    staged = os.path.join(tmp, "articles")
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(bbc) for f in fs if f.endswith(".txt"))
    n = 0
    for c in range(args.copies):
        for f in files:
            rel = os.path.relpath(f, bbc)
            out = os.path.join(staged, f"copy{c}", rel)
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with open(f, "rb") as src, open(out, "wb") as dst:
                dst.write(src.read())
                dst.write(f"\n(copy {c})\n".encode())
            n += 1
    subprocess.run([sys.executable, gen, bbc, os.path.join(tmp, "gen"), str(args.rules), str(args.seed)],
                   check=True, stdout=sys.stderr)
    rules = os.path.join(tmp, "gen", "rules")

    # (d) scan of the same files: the reference, and the expected alerts.
    scans = []
    for _ in range(args.runs):
        t = time.perf_counter()
        r = subprocess.run([nw, "scan", "--format", "json", "--rules", rules, staged], cwd=tmp,
                           capture_output=True, text=True)
        scans.append(time.perf_counter() - t)
        print(f"   scan: {scans[-1]:.3f}s", file=sys.stderr)
        if r.returncode not in (0, 1):
            sys.exit(f"bench-fleet.py: scan failed:\n{r.stderr}")
    expected = len({json.loads(l)["id"] for l in r.stdout.splitlines()})
    scan_s = statistics.median(scans)
    rows = [("scan (one process, reference)", "-", scan_s, n / scan_s)]

    # (c) publish alone.
    pubs = []
    for _ in range(args.runs):
        server, url, mon, _ = start_server()
        t = time.perf_counter()
        publish(url, staged)
        pubs.append(time.perf_counter() - t)
        print(f"   publish alone: {pubs[-1]:.3f}s", file=sys.stderr)
        stop(server)
    rows.append(("publish alone", "-", statistics.median(pubs), n / statistics.median(pubs)))

    results = {}
    for w in [int(x) for x in args.workers.split(",")]:
        e2e, drain = [], []
        for _ in range(args.runs):
            # (a) end to end.
            server, url, mon, _ = start_server()
            ws = start_workers(url, w, rules)
            t = time.perf_counter()
            publish(url, staged)
            s = wait_drained(mon, n)
            e2e.append(time.perf_counter() - t)
            stored = s[0]
            print(f"   end to end, {w} worker(s): {e2e[-1]:.3f}s", file=sys.stderr)
            if s[4] != expected:
                sys.exit(f"bench-fleet.py: {s[4]} alerts stored, scan finds {expected}")
            for p, _ in ws:
                stop(p)
            stop(server)
            # (b) drain of a backlog.
            server, url, mon, _ = start_server()
            publish(url, staged)
            t = time.perf_counter()
            ws = start_workers(url, w, rules)
            wait_drained(mon, n)
            drain.append(time.perf_counter() - t)
            print(f"   backlog drain, {w} worker(s): {drain[-1]:.3f}s", file=sys.stderr)
            for p, _ in ws:
                stop(p)
            stop(server)
        results[w] = (statistics.median(e2e), statistics.median(drain))
        rows.append((f"end to end, {w} worker(s)", w, results[w][0], stored / results[w][0]))
        rows.append((f"backlog drain, {w} worker(s)", w, results[w][1], stored / results[w][1]))

    version = subprocess.run([server_bin, "--version"], capture_output=True, text=True).stdout.strip()
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    print(f"\nnewswatch {rev}, {os.cpu_count()} cores (server, publisher and workers on this one machine: a floor), "
          f"{version}, {n} files (BBC × {args.copies}; {stored} distinct articles in the stream), {args.rules} rules, "
          f"{expected} alerts, median of {args.runs}, load average before {load0}")
    print(f"{'case':34} {'wall (s)':>9} {'articles/s':>11} {'µs/article':>11}")
    for name, _, wall, rate in rows:
        print(f"{name:34} {wall:9.3f} {rate:11.0f} {1e6 / rate:11.1f}")
    per_scan = scan_s / n
    for w, (a, b) in results.items():
        print(f"overhead per message against scan, {w} worker(s): end to end {1e6 * (a / stored - per_scan):.1f} µs, "
              f"backlog {1e6 * (b / stored - per_scan):.1f} µs")
finally:
    cleanup()
