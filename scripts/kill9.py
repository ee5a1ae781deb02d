#!/usr/bin/env python3
"""kill -9 the daemon again and again during a burst; count what was lost and what repeated.

A burst of N small articles (each raising one alert with its own id) is written into the
watched folder while the release daemon is killed with SIGKILL every 0.2-1.5 s (random) and
started again at once, K times. Two outputs take every alert: a file output and a webhook (an
HTTP server in this script, answering 200 and recording the ids it got). After the last kill
the daemon runs until every alert is recorded and delivered, then stops cleanly.

Printed: alerts recorded (must be N, each once), per output the alerts never delivered (must
be 0) and the deliveries repeated (must be at most one per kill: only a delivery in flight at
the kill can repeat). Exit 1 if any of these fails.

usage: scripts/kill9.py [--files 18000] [--kills 50] [--seed 1]
"""
import argparse, http.server, json, os, random, signal, sqlite3, subprocess, sys, tempfile
import threading, time

repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--files", type=int, default=18000)
ap.add_argument("--kills", type=int, default=50)
ap.add_argument("--seed", type=int, default=1)
args = ap.parse_args()
random.seed(args.seed)

subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=repo, check=True)
binary = os.path.join(repo, "target", "release", "newswatch")

received = []
lock = threading.Lock()


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        with lock:
            received.append(json.loads(body)["id"])
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=server.serve_forever, daemon=True).start()

tmp = tempfile.mkdtemp(prefix="newswatch-kill9-")
os.makedirs(os.path.join(tmp, "inbox"))
os.makedirs(os.path.join(tmp, "rules"))
with open(os.path.join(tmp, "rules", "every.rhai"), "w") as f:
    f.write("//! Every article.\nalert(#{ message: article.title });\n")
with open(os.path.join(tmp, "newswatch.yaml"), "w") as f:
    f.write(
        "watch:\n  - path: inbox\nstate: state.db\noutputs:\n"
        "  - type: file\n    path: alerts.jsonl\n"
        f"  - type: webhook\n    url: http://127.0.0.1:{server.server_port}/hook\n"
    )
log = open(os.path.join(tmp, "daemon.log"), "ab")


def start():
    return subprocess.Popen([binary, "watch"], cwd=tmp, stdout=log, stderr=log)


def writer():
    for i in range(args.files):
        with open(os.path.join(tmp, "inbox", f"{i:06}.txt"), "w") as f:
            f.write(f"Story {i}\n\nbody {i}\n")


def recorded():
    try:
        db = sqlite3.connect(f"file:{tmp}/state.db?mode=ro", uri=True, timeout=5)
        ids = [r[0] for r in db.execute("SELECT id FROM alerts")]
        db.close()
        return ids
    except sqlite3.Error:
        return None


daemon = start()
time.sleep(0.5)
w = threading.Thread(target=writer)
t0 = time.time()
w.start()
kills = 0
while kills < args.kills:
    time.sleep(random.uniform(0.2, 1.5))
    daemon.send_signal(signal.SIGKILL)
    daemon.wait()
    kills += 1
    daemon = start()
w.join()
burst = time.time() - t0

deadline = time.time() + 600
while time.time() < deadline:
    ids = recorded()
    with lock:
        got = len(set(received))
    filed = sum(1 for _ in open(os.path.join(tmp, "alerts.jsonl"))) if os.path.exists(os.path.join(tmp, "alerts.jsonl")) else 0
    if ids is not None and len(ids) >= args.files and got >= args.files and filed >= args.files:
        break
    time.sleep(0.5)
time.sleep(1)
daemon.send_signal(signal.SIGTERM)
daemon.wait(timeout=10)

ids = recorded() or []
unique = set(ids)
filed = {}
with open(os.path.join(tmp, "alerts.jsonl")) as f:
    for line in f:
        try:
            filed[json.loads(line)["id"]] = filed.get(json.loads(line)["id"], 0) + 1
        except ValueError:
            filed["<unparseable line>"] = filed.get("<unparseable line>", 0) + 1
hooked = {}
for i in received:
    hooked[i] = hooked.get(i, 0) + 1

ok = len(ids) == args.files and len(unique) == args.files
print(f"{args.files} articles written in {burst:.1f} s, {kills} kill -9 during the burst")
print(f"alerts recorded: {len(ids)} ({len(unique)} distinct)  {'ok' if ok else 'WRONG'}")
for name, got in [("file", filed), ("webhook", hooked)]:
    lost = len(unique - set(got))
    repeats = sum(n - 1 for n in got.values())
    bad = lost > 0 or repeats > kills or "<unparseable line>" in got
    ok = ok and not bad
    print(f"{name:8} lost {lost}, repeated {repeats} (at most {kills} allowed: one per kill)"
          f"{', unparseable lines' if '<unparseable line>' in got else ''}  {'WRONG' if bad else 'ok'}")
print(f"(run folder: {tmp})")
sys.exit(0 if ok else 1)
