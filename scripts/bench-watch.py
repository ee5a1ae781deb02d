#!/usr/bin/env python3
"""Measure the watcher daemon: (a) latency from a file's close to its alert in the output
file, p50 and p99 over 200 files; (b) drain rate of a burst of 10,000 files with the shipped
rules. Builds the release binary first.

usage: scripts/bench-watch.py [FILES_FOR_LATENCY=200] [BURST=10000]
"""
import os, shutil, signal, sqlite3, subprocess, sys, tempfile, time

repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
n_latency = int(sys.argv[1]) if len(sys.argv) > 1 else 200
n_burst = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=repo, check=True)
binary = os.path.join(repo, "target", "release", "newswatch")

ARTICLE = "Nvidia's H200 for DeepSeek {i}\n\nBeijing allowed DeepSeek to buy Nvidia's H200 chips, story {i}.\n"
OTHER = "Quiet news {i}\n\nNothing about chips in story {i}.\n"


def start(tmp):
    os.makedirs(os.path.join(tmp, "inbox"), exist_ok=True)
    with open(os.path.join(tmp, "newswatch.yaml"), "w") as f:
        f.write("watch:\n  - path: inbox\nstate: state.db\nrules: %s\n"
                "outputs:\n  - type: file\n    path: alerts.jsonl\n" % os.path.join(repo, "rules"))
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


def latency():
    tmp = tempfile.mkdtemp(prefix="nw-latency-")
    p = start(tmp)
    out = os.path.join(tmp, "alerts.jsonl")
    samples = []
    for i in range(n_latency):
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
    return pct(0.5), pct(0.99)


def burst():
    tmp = tempfile.mkdtemp(prefix="nw-burst-")
    p = start(tmp)
    db = sqlite3.connect(os.path.join(tmp, "state.db"))
    t0 = time.perf_counter()
    for i in range(n_burst):
        text = (ARTICLE if i % 10 == 0 else OTHER).format(i=i)
        with open(os.path.join(tmp, "inbox", f"b{i:05d}.txt"), "w") as f:
            f.write(text)
    written = time.perf_counter() - t0
    while True:
        (seen,) = db.execute("SELECT count(*) FROM files").fetchone()
        if seen >= n_burst:
            break
        if time.perf_counter() - t0 > 300:
            sys.exit(f"only {seen} of {n_burst} files recorded")
        time.sleep(0.005)
    drained = time.perf_counter() - t0
    alerts = lines(os.path.join(tmp, "alerts.jsonl"))
    stop(p)
    shutil.rmtree(tmp)
    return written, drained, alerts


p50, p99 = latency()
print(f"latency close -> alert over {n_latency} files: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
written, drained, alerts = burst()
print(f"burst of {n_burst} files: written in {written:.2f} s, all evaluated after {drained:.2f} s "
      f"-> {n_burst / drained:.0f} articles/s; {alerts} alerts (expected {(n_burst + 9) // 10})")
