#!/usr/bin/env python3
"""Measure the daemon polling feeds: 100 feeds polled every 15 minutes for one day, with time
scaled down (a scaled schedule: every 15m / SCALE, for 1 day / SCALE — by default 1 s for 96 s,
so that a day's 96 polls of each feed happen in a minute and a half).

Feed servers on loopback (HOSTS ports, the feeds spread over them) serve RSS with an ETag and
answer 304 to a matching If-None-Match. Each feed publishes a new item in a 15-minute slot with
probability P (default 0.1: about 10 items a day, a typical news feed), decided per feed and slot
by a seeded hash, so runs compare. Reported: requests made, the share answered 304, polls per
feed, the most requests one host had at a time (the daemon allows 2), the daemon's CPU-seconds
(user + system, from /proc) per 1,000 polls, and its peak RSS (VmHWM).

The daemon's idle cost (its loop turns every 50 ms whatever it does) is spread over a day's
polls in a real run and over 96 s here, so CPU per 1,000 polls is an upper bound of the real one.

usage: scripts/bench-feeds.py [--feeds 100] [--scale 900] [--hosts 10] [--p 0.1] [--debug]
"""
import argparse, hashlib, http.server, os, shutil, signal, socketserver, subprocess, tempfile, threading, time

repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--feeds", type=int, default=100)
ap.add_argument("--scale", type=float, default=900.0, help="real seconds per scaled second")
ap.add_argument("--hosts", type=int, default=10, help="feed servers (ports) the feeds are spread over")
ap.add_argument("--p", type=float, default=0.1, help="chance a feed publishes in a 15-minute slot")
ap.add_argument("--debug", action="store_true", help="use the debug build (default: release)")
args = ap.parse_args()

EVERY = 15 * 60 / args.scale          # seconds between polls of a feed
DAY = 86400 / args.scale              # seconds the run stands for a day
profile = "debug" if args.debug else "release"
build = ["cargo", "build", "--locked", "--quiet"] + ([] if args.debug else ["--release"])
subprocess.run(build, cwd=repo, check=True)
binary = os.path.join(repo, "target", profile, "newswatch")

lock = threading.Lock()
stats = {"requests": 0, "not_modified": 0, "ok": 0, "other": 0}
inflight, peak = {}, {}
t0 = None


def published(feed, slot):
    h = hashlib.sha256(f"{feed}:{slot}".encode()).digest()
    return int.from_bytes(h[:4], "big") / 2**32 < args.p


def body_of(feed):
    slot = int((time.monotonic() - t0) / EVERY) if t0 else 0
    items = [s for s in range(max(0, slot - 200), slot + 1) if published(feed, s)][-20:]
    out = [f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {feed}</title>']
    for s in reversed(items):
        out.append(f"<item><title>Feed {feed} story {s}</title><link>https://example.com/{feed}/{s}</link>"
                   f"<description>Story {s} of feed {feed}: markets, weather and sport.</description></item>")
    out.append("</channel></rss>")
    return "".join(out).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        port = self.server.server_address[1]
        with lock:
            stats["requests"] += 1
            inflight[port] = inflight.get(port, 0) + 1
            peak[port] = max(peak.get(port, 0), inflight[port])
        try:
            feed = int(self.path.strip("/").split(".")[0])
            body = body_of(feed)
            etag = '"%s"' % hashlib.sha1(body).hexdigest()
            if self.headers.get("If-None-Match") == etag:
                with lock:
                    stats["not_modified"] += 1
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            with lock:
                stats["ok"] += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        finally:
            with lock:
                inflight[port] -= 1


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # pooled connections closed by the daemon as it stops


servers = [Server(("127.0.0.1", 0), Handler) for _ in range(args.hosts)]
for s in servers:
    threading.Thread(target=s.serve_forever, daemon=True).start()

tmp = tempfile.mkdtemp(prefix="bench-feeds-")
try:
    os.makedirs(os.path.join(tmp, "inbox"))
    shutil.copytree(os.path.join(repo, "rules"), os.path.join(tmp, "rules"))
    feeds = "".join(
        f"  - url: http://127.0.0.1:{servers[i % args.hosts].server_address[1]}/{i}.xml\n"
        for i in range(args.feeds))
    with open(os.path.join(tmp, "newswatch.yaml"), "w") as f:
        f.write(f"watch:\n  - path: inbox\nstate: state.db\noutputs:\n  - type: file\n    path: alerts.jsonl\n"
                f"feed_defaults: {{ every: {EVERY * 1000:.0f}ms, first_poll: skip }}\nfeeds:\n{feeds}")
    t0 = time.monotonic()
    log = open(os.path.join(tmp, "daemon.log"), "w")
    d = subprocess.Popen([binary, "watch", "--config", "newswatch.yaml"], cwd=tmp,
                         stdout=subprocess.DEVNULL, stderr=log)
    time.sleep(DAY)
    with open(f"/proc/{d.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{d.pid}/status") as f:
        hwm = next(l for l in f if l.startswith("VmHWM")).split()[1]
    d.send_signal(signal.SIGTERM)
    d.wait(timeout=10)
    with lock:
        r = dict(stats)
    alerts = sum(1 for _ in open(os.path.join(tmp, "alerts.jsonl"))) if os.path.exists(os.path.join(tmp, "alerts.jsonl")) else 0
    print(f"{args.feeds} feeds every 15m (scaled: every {EVERY:g}s), one day scaled to {DAY:g}s, {profile} build")
    print(f"requests          {r['requests']} ({r['requests'] / args.feeds:.1f} per feed; 96 a day at most)")
    print(f"answered 304      {r['not_modified']} ({100 * r['not_modified'] / max(1, r['requests']):.1f}%); 200: {r['ok']}")
    print(f"most at once/host {max(peak.values()) if peak else 0} (limit 2)")
    print(f"CPU               {cpu:.2f} s user+system = {1000 * cpu / max(1, r['requests']):.2f} CPU-s per 1,000 polls")
    print(f"peak RSS          {int(hwm) / 1024:.1f} MiB")
    print(f"alerts            {alerts} (shipped rules on the new items)")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
