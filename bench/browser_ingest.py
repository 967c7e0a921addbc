"""Browser-shaped ingestion vs a bare Django JSON view, through gunicorn, in the same run.

    DATABASE_URL=postgres://... [REDIS_URL=redis://...] .venv/bin/python bench/browser_ingest.py
        [--seconds 20] [--clients 4] [--workers 2/core] [--rounds 2] [--keep]

Each request is what analytics-next sends from a visitor's page: one call (a page view, a track,
now and then an identify) as JSON in a `text/plain` body with the write key inside (and as
Basic auth), to `/v1/p`, `/v1/t` or `/v1/i`, with the page's `Origin` (one a browser source
allows), a browser's User-Agent and a fresh connection whenever gunicorn closes one. The
preflight is not repeated: a browser caches it (Access-Control-Max-Age).

The bare view (bench/browser_site.py, in this bench's URLconf only) reads and parses the same
body and answers `{"ok": true}` behind the same middleware. Both run `--seconds` each, split
into `--rounds` alternating slices so that a change in the machine's load falls on both; the
script prints each one's requests/s and latency (p50/p95/p99), their ratio (target >= 0.6) and
ingestion's p95 (target < 50 ms). Figures on a shared 2-core machine are noisy.

With the event buffer on (--buffer on, production's default: events/buffer.py) page views and
tracks are accepted into Redis and a Celery worker the bench starts beside gunicorn stores them
in batches; its CPU is counted with gunicorn's and PostgreSQL's, each slice waits for it to
drain before its figures are taken, and at the end every acknowledged event must be in the
database. REDIS_URL is then required: give the bench a Redis database of its own (its broker).

It works in its own database (<DATABASE_URL's name>_bench_browser, made afresh, dropped at the
end unless --keep) and stops every process it starts.
"""

import argparse
import base64
import http.client
import json
import multiprocessing as mp
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from benchdb import bench_database_url, drop_database, recreate_database
from ingest import (
    _cpu_of,
    cpu_used,
    django_setup,
    percentile,
    server_cpu,
    start_gunicorn,
    stop,
    verdict,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGETS = {"ratio": 0.6, "p95_ms": 50}
IP_LIMIT = 1_000_000  # requests a minute from the bench's one address: counted, never reached
ORIGIN = "https://www.example.com"
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
PAGES = ["Pricing", "Home", "Blog", "Docs", "Integrations", "Customers"]
EVENTS = ["CTA Clicked", "Video Played", "Ebook Downloaded", "Newsletter Subscribed"]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20, help="load per side (20)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (4)")
    parser.add_argument(
        "--workers", type=int, default=2 * (os.cpu_count() or 1), help="gunicorn workers (2/core)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="alternating slices per side (2)")
    parser.add_argument(
        "--buffer",
        choices=["on", "off"],
        default="on",
        help="the event buffer (INGEST_BROWSER_BUFFER), drained by a Celery worker the bench "
        "runs beside gunicorn, its CPU counted with the server's (on: production's default)",
    )
    parser.add_argument(
        "--bare-stack",
        choices=["site", "machine"],
        default="site",
        help="the middleware the bare view runs behind: the site's (settings.MIDDLEWARE, as "
        "every page and /api/ URL: the issue's baseline) or ingestion's own shorter stack "
        "(settings.MACHINE_MIDDLEWARE: the view then answers at /v1/bench-bare)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    return parser.parse_args()


# --- Set-up ---------------------------------------------------------------------------------------


def prepare() -> str:
    """Schema and a browser source allowing ORIGIN; returns its write key."""
    from django.core.management import call_command

    from events import services
    from events.models import Source, SourceKind

    call_command("migrate", verbosity=0)
    source, key = services.source_create(name="Website")
    # The limits are counted (with REDIS_URL set, as in production: one Redis round trip a
    # request) but set far above what the bench sends: it measures ingestion, not 429s.
    Source.objects.filter(pk=source.pk).update(
        kind=SourceKind.BROWSER,
        allowed_origins=[ORIGIN],
        rate_limit_per_minute=services.RATE_LIMIT_MAX,
    )
    return key


# --- What a browser sends -------------------------------------------------------------------------


def analytics_next_call(rng: random.Random, key: str, visitor: str, n: int) -> tuple[str, bytes]:
    """(path, body) of one analytics-next call from a visitor's page."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    page = rng.choice(PAGES)
    url = f"{ORIGIN}/{page.lower()}"
    message = {
        "timestamp": now,
        "integrations": {},
        "context": {
            "page": {"path": f"/{page.lower()}", "referrer": "", "search": "", "title": page},
            "userAgent": USER_AGENT,
            "locale": "en-US",
            "library": {"name": "analytics.js", "version": "next-1.84.3"},
            "timezone": "Europe/Paris",
        },
        "messageId": f"ajs-next-{uuid.uuid4()}",
        "anonymousId": visitor,
        "writeKey": key,
        "userId": None,
        "sentAt": now,
        "_metadata": {"bundled": ["Segment.io"], "unbundled": [], "bundledIds": []},
    }
    message["context"]["page"]["url"] = url
    roll = rng.random()
    if roll < 0.75:
        path = "/v1/p"
        message |= {
            "type": "page",
            "name": page,
            "properties": {"path": f"/{page.lower()}", "url": url, "title": page, "name": page},
        }
    elif roll < 0.99:
        path = "/v1/t"
        message |= {"type": "track", "event": rng.choice(EVENTS), "properties": {"n": n}}
    else:
        path = "/v1/i"
        message |= {"type": "identify", "traits": {"email": f"{visitor[:8]}@example.org"}}
    return path, json.dumps(message).encode()


class Browser:
    """POSTs as a page does: one connection, opened again whenever the server closes it."""

    def __init__(self, url: str, key: str):
        match = re.match(r"http://([^:]+):(\d+)", url)
        assert match
        self.host, self.port = match.group(1), int(match.group(2))
        self.headers = {
            "Content-Type": "text/plain",
            "Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode(),
            "Origin": ORIGIN,
            "Referer": f"{ORIGIN}/",
            "User-Agent": USER_AGENT,
        }
        self.connection: http.client.HTTPConnection | None = None

    def post(self, path: str, body: bytes) -> int:
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.connection.request("POST", path, body=body, headers=self.headers)
                response = self.connection.getresponse()
                response.read()
                if response.will_close:
                    self.connection.close()
                    self.connection = None
                return response.status
            except (http.client.HTTPException, ConnectionError):
                self.connection.close()
                self.connection = None
                if attempt == 2:
                    return 0
        return 0


def bare_path(stack: str) -> str:
    """Where browser_site serves the bare view for `--bare-stack`."""
    return "/v1/bench-bare" if stack == "machine" else "/bench/bare"


def client_main(n: int, url: str, key: str, target: str, start_at: float, end_at: float, out):
    """Send back to back until `end_at`: to the bare view (target "bare" or "bare:<path>")
    or to ingestion."""
    rng = random.Random(n)
    browser = Browser(url, key)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    visitor, count = str(uuid.uuid4()), 0
    while time.time() < start_at:
        time.sleep(0.002)
    while time.time() < end_at:
        count += 1
        if count % 5 == 0:
            visitor = str(uuid.uuid4())  # a visitor views a few pages, then another comes
        path, body = analytics_next_call(rng, key, visitor, count)
        if target.startswith("bare"):
            path = target.partition(":")[2] or "/bench/bare"
        began = time.perf_counter()
        status = browser.post(path, body)
        latencies.append(time.perf_counter() - began)
        statuses[status] = statuses.get(status, 0) + 1
    out.put({"latencies": latencies, "statuses": statuses})


def run_side(target: str, url: str, key: str, clients: int, seconds: float) -> dict:
    start_at = time.time() + 0.5
    end_at = start_at + seconds
    queue: mp.Queue = mp.Queue()
    processes = [
        mp.Process(target=client_main, args=(n, url, key, target, start_at, end_at, queue))
        for n in range(clients)
    ]
    for process in processes:
        process.start()
    reports = [queue.get() for _ in processes]
    for process in processes:
        process.join()
    statuses: dict[int, int] = {}
    for report in reports:
        for status, count in report["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    return {"latencies": [x for r in reports for x in r["latencies"]], "statuses": statuses}


def _tree(pid: int) -> list[int]:
    """`pid` and its children (a Celery worker's pool)."""
    pids = [pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def all_cpu(master: int, db_url: str, worker: subprocess.Popen | None) -> dict:
    """CPU seconds so far of gunicorn's workers, the bench db's PostgreSQL backends and the
    buffer's Celery worker: the server's whole cost."""
    cpu = server_cpu(master, db_url)
    cpu["worker"] = {pid: _cpu_of(pid) for pid in _tree(worker.pid)} if worker else {}
    return cpu


def machine_times() -> tuple[float, float]:
    """(busy, idle) CPU seconds of the whole machine so far (/proc/stat; iowait is idle)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / tick, idle / tick


def redis_cpu() -> float:
    """CPU seconds the Redis server has used so far (0 without REDIS_URL)."""
    if not os.environ.get("REDIS_URL"):
        return 0.0
    import redis

    info = redis.Redis.from_url(os.environ["REDIS_URL"]).info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def measure(
    args, url: str, key: str, master: int, db_url: str, worker: subprocess.Popen | None
) -> dict[str, dict]:
    sides: dict[str, dict] = {
        name: {
            "latencies": [],
            "statuses": {},
            "cpu": {"gunicorn": 0.0, "postgres": 0.0, "worker": 0.0, "redis": 0.0},
            "machine": [0.0, 0.0],  # busy and idle CPU seconds while the clients sent
        }
        for name in ("bare", "ingest")
    }
    slice_seconds = args.seconds / args.rounds
    for _ in range(args.rounds):
        for target in ("bare", "ingest"):
            before = all_cpu(master, db_url, worker)
            redis_before, machine_before = redis_cpu(), machine_times()
            sent_to = f"bare:{bare_path(args.bare_stack)}" if target == "bare" else target
            result = run_side(sent_to, url, key, args.clients, slice_seconds)
            for i, (after, start) in enumerate(zip(machine_times(), machine_before, strict=True)):
                sides[target]["machine"][i] += after - start
            if target == "ingest":
                wait_for_drain(worker)  # the drain's work counts in this slice, not the next
            for kind, seconds in cpu_used(before, all_cpu(master, db_url, worker)).items():
                sides[target]["cpu"][kind] += seconds
            sides[target]["cpu"]["redis"] += redis_cpu() - redis_before
            sides[target]["latencies"] += result["latencies"]
            for status, count in result["statuses"].items():
                statuses = sides[target]["statuses"]
                statuses[status] = statuses.get(status, 0) + count
    return sides


def wait_for_drain(worker: subprocess.Popen | None, timeout: float = 60) -> int:
    """Wait until the worker has drained the buffer; the rows still waiting after `timeout`."""
    from events import buffer

    if worker is None:
        return 0
    deadline = time.monotonic() + timeout
    while (waiting := buffer.waiting()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return waiting


def start_worker(env: dict, log: Path) -> subprocess.Popen:
    """A Celery worker (one process, as `make run`'s) that drains the buffer when kicked."""
    command = [
        sys.executable, "-m", "celery", "-A", "leadcrm", "worker", "--pool=solo",
        "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel=WARNING",
    ]  # fmt: skip
    output = open(log, "wb")  # noqa: SIM115 - the worker's life
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=output)


def warm_up(url: str, key: str, workers: int, bare: str) -> None:
    """A few calls of each kind, so every worker has loaded its URLconf and connected."""
    browser, rng = Browser(url, key), random.Random(0)
    for i in range(workers * 10):
        path, body = analytics_next_call(rng, key, f"warm-{i}", i)
        assert browser.post(path, body) == 200, "ingestion refused the warm-up"
        assert browser.post(bare, body) == 200, "the bare view failed"


# --- Figures --------------------------------------------------------------------------------------


def report(args, sides: dict[str, dict]) -> None:
    from events.models import Event

    figures = {}
    for name, side in sides.items():
        latencies = side["latencies"]
        ok = side["statuses"].get(200, 0)
        figures[name] = {
            "rps": ok / args.seconds,
            "p50": percentile(latencies, 50) * 1000,
            "p95": percentile(latencies, 95) * 1000,
            "p99": percentile(latencies, 99) * 1000,
            "failed": {s: c for s, c in side["statuses"].items() if s != 200},
            "ok": ok,
            "cpu": {k: v / max(len(latencies), 1) * 1000 for k, v in side["cpu"].items()},
            "idle": side["machine"][1] / max(sum(side["machine"]), 1e-9),
        }
    labels = {
        "bare": f"bare Django JSON view (POST {bare_path(args.bare_stack)})",
        "ingest": "browser-shaped ingestion (POST /v1/p|t|i)",
    }
    print(
        f"\n{args.clients} clients back to back, gunicorn {args.workers} sync workers, "
        f"{args.seconds:.0f} s a side in {args.rounds} alternating slices, event buffer "
        f"{args.buffer}{' (drained by a Celery worker)' if args.buffer == 'on' else ''}, bare "
        f"view behind the {args.bare_stack}'s middleware:"
    )
    for name, f in figures.items():
        failed = f"  failed by status (0: connection) {f['failed']}" if f["failed"] else ""
        print(
            f"  {labels[name]:<44} {f['rps']:8,.0f} requests/s   p50 {f['p50']:5.1f} ms  "
            f"p95 {f['p95']:5.1f} ms  p99 {f['p99']:5.1f} ms{failed}"
        )
        print(
            f"  {'':<44} server CPU a request: gunicorn {f['cpu']['gunicorn']:.2f} ms, "
            f"PostgreSQL {f['cpu']['postgres']:.2f} ms, "
            f"buffer's worker {f['cpu']['worker']:.2f} ms, Redis {f['cpu']['redis']:.2f} ms; "
            f"machine idle {f['idle']:.0%}"
        )
    ratio = figures["ingest"]["rps"] / max(figures["bare"]["rps"], 1e-9)
    p95 = figures["ingest"]["p95"]
    print(f"  ratio {ratio:.2f} - {verdict(ratio >= TARGETS['ratio'])} (>= {TARGETS['ratio']})")
    print(f"  ingestion p95 {p95:.1f} ms - {verdict(p95 < TARGETS['p95_ms'])} (< 50 ms)")
    stored = Event.objects.exclude(anonymous_id__startswith="warm-").count()
    if stored != figures["ingest"]["ok"]:
        print(f"  !! {stored:,} events stored for {figures['ingest']['ok']:,} acknowledged")


def main() -> None:
    args = parse_args()
    url = bench_database_url(suffix="_bench_browser", script="bench/browser_ingest.py")
    print(f"bench/browser_ingest.py  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"machine: {os.cpu_count()} cores, load average before {os.getloadavg()[0]:.2f} "
        "(shared with other engineers' runs: figures are noisy)"
    )
    if args.buffer == "on":
        if not os.environ.get("REDIS_URL"):
            sys.exit(
                "--buffer on needs REDIS_URL (a Redis database of the bench's own: its broker)"
            )
        import redis

        waiting = redis.Redis.from_url(os.environ["REDIS_URL"]).llen("celery")
        if waiting:
            sys.exit(
                f"REDIS_URL's Celery queue holds {waiting:,} tasks another run left: the bench's "
                "worker would run them first. Give the bench a Redis database of its own."
            )
    # This run's own buffer list; this process reads it too (how much waits to be drained).
    os.environ["INGEST_BUFFER_KEY"] = f"leadcrm:bench-{uuid.uuid4().hex[:8]}:events:buffer"
    os.environ["INGEST_BROWSER_BUFFER"] = "1" if args.buffer == "on" else "0"
    recreate_database(url)
    django_setup(url)
    from django.db import connection

    logdir = Path(tempfile.mkdtemp(prefix="bench-browser-"))
    gunicorn = worker = None
    try:
        key = prepare()
        connection.close()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "DATABASE_URL": url,
            "SECRET_KEY": os.environ["SECRET_KEY"],
            "ALLOWED_HOSTS": "127.0.0.1",
            "LEADCRM_VAR_DIR": str(logdir / "var"),
            "LOG_LEVEL": "WARNING",
            # Every client of the bench is one address: its limit is counted, never reached.
            "INGEST_BROWSER_IP_RATE_PER_MINUTE": str(IP_LIMIT),
            "INGEST_BROWSER_BUFFER": os.environ["INGEST_BROWSER_BUFFER"],
            "INGEST_BUFFER_KEY": os.environ["INGEST_BUFFER_KEY"],
        }
        if os.environ.get("REDIS_URL"):
            env["REDIS_URL"] = os.environ["REDIS_URL"]
        if args.bare_stack == "machine":
            env["BENCH_BARE_MACHINE"] = "1"
        if args.buffer == "on":
            worker = start_worker(env, logdir / "worker.log")
        gunicorn, server = start_gunicorn(
            env, args.workers, logdir / "gunicorn.log", app="browser_site:application"
        )
        warm_up(server, key, args.workers, bare_path(args.bare_stack))
        if left := wait_for_drain(worker):
            sys.exit(f"the worker did not drain the warm-up ({left} rows left): see {logdir}")
        sides = measure(args, server, key, gunicorn.pid, url, worker)
        if left := wait_for_drain(worker):
            print(f"  !! the worker left {left:,} rows in the buffer")
        report(args, sides)
        print(f"\nload average after {os.getloadavg()[0]:.2f}; logs in {logdir}")
    finally:
        stop(worker)
        stop(gunicorn)
        connection.close()
        if not args.keep:
            drop_database(url)
            print(f"dropped database {url.rsplit('/', 1)[-1]}")


if __name__ == "__main__":
    main()
