"""Ingestion benchmark: raw COPY vs /v1/batch through gunicorn, and acceptance-to-points lag.

    DATABASE_URL=postgres://... REDIS_URL=redis://... .venv/bin/python bench/ingest.py
        [--seconds 60] [--clients 4] [--workers 3] [--no-lag] [--keep]

In one run, against PostgreSQL and gunicorn on this machine, it prints:
  1. raw COPY of the same event rows into the same indexed table (the ceiling), rows/s;
  2. sustained ingestion through /v1/batch (100 events a request, several concurrent clients,
     dedupe on: every 10th request is a replay of an earlier one): new events/s, its ratio to
     the COPY rate, and request latency p50/p95/p99;
  3. while that load runs, the lag from a marker event's acceptance (the 200) to its points on
     the lead (its scoring ledger row), p50/p95 - needs the scoring app and a Celery worker,
     which the script starts; it says so plainly when scoring is not there.

It works in its own database (<DATABASE_URL's name>_bench, dropped and created afresh) and stops
every process it starts. Figures on a shared 2-core machine are noisy: run it when it is quiet.
"""

import argparse
import http.client
import io
import json
import multiprocessing as mp
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

from benchdb import bench_database_url, drop_database, recreate_database

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGETS = {"events_per_s": 10_000, "copy_ratio": 0.15, "p95_ms": 100, "lag_p95_s": 5}
EVENT_NAMES = [
    "Task Created",
    "Task Created",
    "Task Created",
    "Project Created",
    "Feature Used",
    "Report Exported",
    "Email Opened",
    "Comment Added",
]
PAGE_NAMES = ["Pricing", "Docs", "Home", "Blog", "Integrations"]
PLACEHOLDER = b"@@@@@@@@@@@@"  # swapped for a unique request number: unique message ids


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="length of the load (60)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients (4)")
    parser.add_argument("--batch", type=int, default=100, help="events per request (100)")
    parser.add_argument(
        "--workers", type=int, default=2 * (os.cpu_count() or 1), help="gunicorn workers (2/core)"
    )
    parser.add_argument("--leads", type=int, default=10_000, help="known leads (10,000)")
    parser.add_argument("--copy-rows", type=int, default=200_000, help="rows for COPY (200,000)")
    parser.add_argument("--anonymous", type=float, default=0.1, help="share of anonymous events")
    parser.add_argument(
        "--rate",
        type=float,
        default=0,
        help="cap the load at this many events/s (default: as fast as the server takes them)",
    )
    parser.add_argument("--no-lag", action="store_true", help="skip the scoring lag measurement")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    return parser.parse_args()


# --- The bench database ---------------------------------------------------------------------------


def django_setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadcrm.settings")
    import django

    django.setup()


def prepare(args) -> dict:
    """Schema, a source and its key, the playbook, and `--leads` known leads (plus markers)."""
    from django.apps import apps
    from django.core.management import call_command

    from events import services
    from events.models import Identity
    from leads.models import Lead, Stage, StageChange

    call_command("migrate", verbosity=0)
    scoring = apps.is_installed("scoring") and _has_ledger()
    if scoring:
        call_command("load_playbook", stdout=io.StringIO())
    _, key = services.source_create(name="bench")
    now = datetime.now(UTC)
    leads = [
        Lead(
            email=f"bench{i}@example.com",
            external_id=f"user-{i}",
            stage=Stage.IQL,
            stage_entered_at=now,
        )
        for i in range(args.leads)
    ] + [
        Lead(
            email=f"marker{i}@example.com",
            external_id=f"marker-{i}",
            stage=Stage.IQL,
            stage_entered_at=now,
        )
        for i in range(2000)
    ]
    Lead.objects.bulk_create(leads, batch_size=5000)
    StageChange.objects.bulk_create(
        [
            StageChange(lead=lead, to_stage=Stage.IQL, changed_at=now, reason="bench")
            for lead in leads
        ],
        batch_size=5000,
    )
    Identity.objects.bulk_create(
        [Identity(kind="user", value=lead.external_id, lead=lead) for lead in leads],
        batch_size=5000,
    )
    return {"key": key, "scoring": scoring}


def _has_ledger() -> bool:
    try:
        from scoring.models import LedgerEntry  # noqa: F401
    except ImportError:
        return False
    return True


# --- Event bodies ---------------------------------------------------------------------------------


def make_message(rng: random.Random, i: int, leads: int, anonymous: float) -> dict:
    """One realistic message: ids, a few properties, and the context an SDK sends."""
    message = {
        "messageId": f"{PLACEHOLDER.decode()}-{i}",
        "timestamp": "2026-01-01T00:00:00.000Z",
        "context": {
            "library": {"name": "analytics-python", "version": "2.4.0"},
            "ip": f"10.0.{rng.randrange(256)}.{rng.randrange(256)}",
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0",
        },
    }
    user = rng.randrange(leads)
    if rng.random() < anonymous:
        message["anonymousId"] = str(uuid.UUID(int=rng.getrandbits(128)))
    else:
        message["userId"] = f"user-{user}"
    roll = rng.random()
    if roll < 0.75:
        message |= {
            "type": "track",
            "event": rng.choice(EVENT_NAMES),
            "properties": {"plan": "pro", "count": rng.randrange(100), "source": "app"},
        }
    elif roll < 0.99:
        message |= {
            "type": "page",
            "name": rng.choice(PAGE_NAMES),
            "properties": {"path": "/x", "referrer": "https://example.com/", "title": "Page"},
        }
    else:
        # SDKs repeat identify on every visit, mostly with what the lead already has.
        message |= {"type": "identify", "traits": {"plan": ("pro", "team")[user % 2]}}
    return message


def make_templates(seed: int, count: int, batch: int, leads: int, anonymous: float) -> list[bytes]:
    rng = random.Random(seed)
    return [
        json.dumps(
            {
                "batch": [make_message(rng, i, leads, anonymous) for i in range(batch)],
                "sentAt": "2026-01-01T00:00:00.000Z",
            }
        ).encode()
        for _ in range(count)
    ]


# --- 1. COPY --------------------------------------------------------------------------------------


def copy_rate(url: str, rows: int, batch: int, leads: int, anonymous: float) -> float:
    """COPY rows shaped like the HTTP load's into events_event (all its indexes), rows/s."""
    import psycopg2

    from events.models import Identity, Source

    source_id = Source.objects.get(name="bench").pk
    lead_of = dict(Identity.objects.filter(kind="user").values_list("value", "lead_id"))
    templates = make_templates(99, max(1, rows // batch + 1), batch, leads, anonymous)
    buffer = io.StringIO()
    now = datetime.now(UTC).isoformat()
    written = 0
    for t, body in enumerate(templates):
        for m in json.loads(body)["batch"]:
            if written == rows:
                break
            values = [
                str(source_id),
                f"copy-{t}-{m['messageId']}",
                m["type"],
                m.get("event") or m.get("name") or "",
                str(lead_of.get(m.get("userId"), "")),
                m.get("userId", ""),
                m.get("anonymousId", ""),
                "",
                "",
                json.dumps(m.get("properties", {})),
                json.dumps(m.get("traits", {})),
                json.dumps(m["context"]),
                m["timestamp"],
                now,
            ]
            values = [v.replace("\\", "\\\\").replace("\t", "\\t") for v in values]
            values[4] = values[4] or "\\N"  # no lead: NULL
            buffer.write("\t".join(values))
            buffer.write("\n")
            written += 1
    columns = (
        "source_id, message_id, type, name, lead_id, user_id, anonymous_id, previous_id, "
        "group_id, properties, traits, context, occurred_at, received_at"
    )
    connection = psycopg2.connect(url)
    with connection, connection.cursor() as cursor:
        buffer.seek(0)
        started = time.perf_counter()
        cursor.copy_expert(f"COPY events_event ({columns}) FROM STDIN", buffer)
        connection.commit()
        elapsed = time.perf_counter() - started
        # Kept, as a table in use would have them; COPY bypasses scoring's queue, so scoring
        # does not chew through them while the HTTP load runs.
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # planner statistics, as autovacuum would keep them
    connection.close()
    return written / elapsed


# --- Servers --------------------------------------------------------------------------------------


def start_gunicorn(
    env: dict, workers: int, log: Path, *, app: str = "leadcrm.wsgi:application"
) -> tuple[subprocess.Popen, str]:
    """gunicorn serving `app` (a module of bench/ is importable) on a free 127.0.0.1 port."""
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--pythonpath=bench",
        app,
        "--bind=127.0.0.1:0",
        f"--workers={workers}",
        f"--error-logfile={log}",
        "--no-control-socket",  # gunicorn 27 shares one control socket path per user
    ]
    stderr = open(log.with_suffix(".stderr"), "wb")  # noqa: SIM115 - the server's life
    process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=stderr)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(
            r"Listening at: (http://127\.0\.0\.1:\d+)", log.read_text() if log.exists() else ""
        )
        if found:
            time.sleep(1.5)  # workers booting
            return process, found.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    stop(process)
    sys.exit(f"gunicorn did not start:\n{log.read_text() if log.exists() else ''}")


def start_celery(env: dict, log: Path, *, nice: int = 0) -> subprocess.Popen:
    """One Celery worker process; `nice` lowers its priority below the web tier under test."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "leadcrm",
        "worker",
        "--concurrency=1",
        "--loglevel=WARNING",
        f"--logfile={log}",
    ]
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=(lambda: os.nice(nice)) if nice else None,
    )


def stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- 2. Load clients ------------------------------------------------------------------------------


class Poster:
    """POST over one keep-alive connection, reconnecting when the server closes it."""

    def __init__(self, url: str, key: str):
        parsed = urlparse(url)
        self.host, self.port = parsed.hostname, parsed.port
        import base64

        self.headers = {
            "Content-Type": "application/json",
            "Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode(),
        }
        self.connection = None

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.connection.request("POST", path, body=body, headers=self.headers)
                response = self.connection.getresponse()
                data = response.read()
                if response.will_close:
                    self.connection.close()
                    self.connection = None
                return response.status, data
            except (http.client.HTTPException, ConnectionError):
                self.connection.close()
                self.connection = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def client_main(n: int, url: str, key: str, args_dict: dict, start_at: float, end_at: float, out):
    args = argparse.Namespace(**args_dict)
    templates = make_templates(n, 20, args.batch, args.leads, args.anonymous)
    poster = Poster(url, key)
    latencies, new_events, replayed_events, errors = [], 0, 0, 0
    statuses: dict[int, int] = {}
    sent = []
    counter = 0
    while time.time() < start_at:
        time.sleep(0.005)
    # With --rate, each client sends on a fixed schedule (an open loop), else back to back.
    interval = args.clients * args.batch / args.rate if args.rate else 0.0
    while time.time() < end_at:
        if interval:
            pause = start_at + counter * interval - time.time()
            if pause > 0:
                time.sleep(pause)
        counter += 1
        if counter % 10 == 0 and sent:
            body, replay = sent[counter % len(sent)], True  # dedupe path: an earlier request again
        else:
            number = f"{n:02d}{counter:010d}".encode()
            body = templates[counter % len(templates)].replace(PLACEHOLDER, number)
            replay = False
            if len(sent) < 50:
                sent.append(body)
        began = time.perf_counter()
        try:
            status, _ = poster.post("/v1/batch", body)
        except OSError:
            status = 0
        latencies.append(time.perf_counter() - began)
        if status != 200:
            errors += 1
            statuses[status] = statuses.get(status, 0) + 1
        elif replay:
            replayed_events += args.batch
        else:
            new_events += args.batch
    out.put(
        {
            "latencies": latencies,
            "new": new_events,
            "replayed": replayed_events,
            "errors": errors,
            "statuses": statuses,
        }
    )


# --- 3. Lag markers -------------------------------------------------------------------------------


def lag_markers(url: str, key: str, end_at: float, interval: float, results: dict) -> None:
    """Every `interval` s, one "Demo Requested" for a fresh marker lead; note when it's acked."""
    poster = Poster(url, key)
    i = 0
    while time.time() < end_at and i < 2000:
        message_id = f"marker-{i}-{uuid.uuid4().hex[:8]}"
        body = json.dumps(
            {
                "batch": [
                    {
                        "type": "track",
                        "userId": f"marker-{i}",
                        "event": "Demo Requested",
                        "messageId": message_id,
                    }
                ]
            }
        ).encode()
        status, _ = poster.post("/v1/batch", body)
        if status == 200:
            results[message_id] = {"acked": time.time(), "scored": None}
        i += 1
        time.sleep(interval)


def lag_poller(db_url: str, results: dict, stop_at: list[float]) -> None:
    """Poll the scoring ledger for the markers' rows; a row is the points on the lead."""
    import psycopg2

    connection = psycopg2.connect(db_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        while time.time() < stop_at[0]:
            pending = [m for m, r in list(results.items()) if r["scored"] is None]
            if pending:
                # Index lookups only, or the poll takes CPU from what it measures: events by
                # (source, message id), ledger rows by event (`event_id IS NOT NULL` lets the
                # planner use that partial index; a join alone scanned the ledger every 50 ms).
                cursor.execute(
                    "SELECT e.message_id FROM events_event e WHERE e.source_id = "
                    "(SELECT id FROM events_source WHERE name = 'bench') "
                    "AND e.message_id = ANY(%s) AND EXISTS (SELECT 1 FROM scoring_ledgerentry l "
                    "WHERE l.event_id = e.id AND l.event_id IS NOT NULL)",
                    [pending],
                )
                seen = time.time()
                for (message_id,) in cursor.fetchall():
                    results[message_id]["scored"] = seen
            time.sleep(0.05)
    connection.close()


# --- Server CPU: what a request costs, whatever else the machine is doing -------------------------


def _cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu(master_pid: int, db_url: str) -> dict[str, dict[int, float]]:
    """CPU seconds so far of gunicorn's workers and of the PostgreSQL backends of the bench db."""
    import psycopg2

    workers = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master_pid:
                workers.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    connection = psycopg2.connect(db_url)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        backends = [pid for (pid,) in cursor.fetchall()]
    connection.close()
    return {
        "gunicorn": {pid: _cpu_of(pid) for pid in workers},
        "postgres": {pid: _cpu_of(pid) for pid in backends},
    }


def cpu_used(before: dict, after: dict) -> dict[str, float]:
    return {
        kind: sum(seconds - before[kind].get(pid, 0.0) for pid, seconds in after[kind].items())
        for kind in after
    }


# --- Figures --------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


def run_load(args, server: str, key: str, db_url: str, measure_lag: bool, master: int) -> dict:
    """The clients for `--seconds`, the lag markers alongside; returns what they saw."""
    cpu_before = server_cpu(master, db_url)
    start_at = time.time() + 1.0
    end_at = start_at + args.seconds
    queue = mp.Queue()
    clients = [
        mp.Process(target=client_main, args=(n, server, key, vars(args), start_at, end_at, queue))
        for n in range(args.clients)
    ]
    for process in clients:
        process.start()
    lag_results: dict = {}
    poll_until = [end_at + 3600]
    markers = threading.Thread(target=lag_markers, args=(server, key, end_at, 0.25, lag_results))
    poller = threading.Thread(target=lag_poller, args=(db_url, lag_results, poll_until))
    if measure_lag:
        while time.time() < start_at:
            time.sleep(0.01)
        markers.start()
        poller.start()
    reports = [queue.get() for _ in clients]
    for process in clients:
        process.join()
    load_after = os.getloadavg()[0]
    cpu = cpu_used(cpu_before, server_cpu(master, db_url))
    backlog, scored_per_s = 0, 0.0
    if measure_lag:
        backlog = scoring_backlog()
        linked = linked_events_between(start_at, end_at)
        scored_per_s = max(0, linked - backlog) / args.seconds
    if measure_lag:
        markers.join()
        grace = time.time() + 30  # markers sent near the end get their chance
        while time.time() < grace and any(r["scored"] is None for r in lag_results.values()):
            time.sleep(0.1)
        poll_until[0] = 0
        poller.join()
    return {
        "reports": reports,
        "lag": lag_results,
        "load_after": load_after,
        "cpu": cpu,
        "backlog": backlog,
        "scored_per_s": scored_per_s,
    }


def report_load(args, run: dict, copy_per_s: float) -> None:
    from events.models import Event

    reports = run["reports"]
    latencies = [lat for r in reports for lat in r["latencies"]]
    new = sum(r["new"] for r in reports)
    replayed = sum(r["replayed"] for r in reports)
    errors = sum(r["errors"] for r in reports)
    rate, ratio = new / args.seconds, new / args.seconds / copy_per_s
    p50, p95, p99 = (percentile(latencies, p) * 1000 for p in (50, 95, 99))
    stored = (
        Event.objects.exclude(message_id__startswith="marker-")
        .exclude(message_id__startswith="copy-")
        .exclude(message_id__contains="warm-")
        .count()
    )
    lines = [
        f"2. /v1/batch via gunicorn ({args.workers} workers), {args.clients} clients, "
        f"{args.batch} events a request, {args.seconds:.0f} s, every 10th request a replay"
        + (f", capped at {args.rate:,.0f} events/s:" if args.rate else ":"),
        f"   requests {len(latencies):,}  errors {errors}  new events {new:,}  "
        f"replayed {replayed:,}  rows stored {stored:,}",
        f"   throughput {rate:,.0f} new events/s "
        f"({(new + replayed) / args.seconds:,.0f} incl. replays)"
        f" - {verdict(rate >= TARGETS['events_per_s'])} (>= {TARGETS['events_per_s']:,})",
        f"   ratio to COPY {ratio:.3f} - {verdict(ratio >= TARGETS['copy_ratio'])}"
        f" (>= {TARGETS['copy_ratio']})",
        f"   latency p50 {p50:.1f} ms  p95 {p95:.1f} ms  p99 {p99:.1f} ms  "
        f"max {max(latencies) * 1000:.1f} ms"
        f" - p95 {verdict(p95 < TARGETS['p95_ms'])} (< {TARGETS['p95_ms']} ms)",
    ]
    requests = len(latencies) or 1
    lines.append(
        f"   server CPU a request: gunicorn {run['cpu']['gunicorn'] / requests * 1000:.1f} ms, "
        f"PostgreSQL {run['cpu']['postgres'] / requests * 1000:.1f} ms "
        f"(so {args.batch * requests / max(sum(run['cpu'].values()), 1e-9):,.0f} events per "
        "CPU-second of server work)"
    )
    failed: dict[int, int] = {}
    for r in reports:
        for code, count in r["statuses"].items():
            failed[code] = failed.get(code, 0) + count
    if failed:
        lines.append(f"   failed requests by status (0: connection error): {failed}")
    if stored != new:
        lines.append(f"   !! {stored:,} rows stored for {new:,} new events acknowledged")
    print("\n" + "\n".join(lines))


def linked_events_between(start_at: float, end_at: float) -> int:
    """Events linked to a lead and received while the load ran."""
    from django.db import connection

    start, end = (datetime.fromtimestamp(t, UTC) for t in (start_at, end_at + 1))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM events_event WHERE lead_id IS NOT NULL "
            "AND received_at BETWEEN %s AND %s",
            [start, end],
        )
        return cursor.fetchone()[0]


def scoring_backlog() -> int:
    """Linked events still in scoring's queue."""
    from events.models import PendingEvent

    return PendingEvent.objects.count()


def report_lag(args, run: dict, scoring: bool, logdir: Path) -> None:
    print("\n3. acceptance -> points on the lead ('Demo Requested' marker every 0.25 s):")
    if not scoring:
        print("   NOT MEASURED: the scoring app (scoring.models.LedgerEntry) is not here.")
        return
    if args.no_lag:
        print("   skipped (--no-lag)")
        return
    results = run["lag"].values()
    lags = [r["scored"] - r["acked"] for r in results if r["scored"] is not None]
    missing = sum(1 for r in results if r["scored"] is None)
    if not lags:
        print(f"   no marker scored within the run + 30 s ({missing} sent); see {logdir}")
        return
    lag_p95 = percentile(lags, 95)
    ok = lag_p95 < TARGETS["lag_p95_s"] and not missing
    backlog = run["backlog"]
    print(
        f"   scoring kept up with {run['scored_per_s']:,.0f} events/s during the load "
        f"(linked events accepted, minus the queue left); {backlog:,} still queued at its end"
    )
    print(f"   markers {len(lags) + missing}  scored {len(lags)}  not scored by +30 s {missing}")
    print(
        f"   lag p50 {percentile(lags, 50):.2f} s  p95 {lag_p95:.2f} s  max {max(lags):.2f} s"
        f" - p95 {verdict(ok)} (< {TARGETS['lag_p95_s']} s)"
    )


def main() -> None:
    args = parse_args()
    url = bench_database_url(suffix="_bench", script="bench/ingest.py")
    print(f"bench/ingest.py  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"machine: {os.cpu_count()} cores, load average before {os.getloadavg()[0]:.2f} "
        "(shared with other engineers' runs: figures are noisy)"
    )
    recreate_database(url)
    django_setup(url)
    from django.db import connection

    processes: list[subprocess.Popen] = []
    logdir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        setup = prepare(args)
        print(f"PostgreSQL {connection.pg_version // 10000}, database {urlparse(url).path[1:]}")
        connection.close()
        copy_per_s = copy_rate(url, args.copy_rows, args.batch, args.leads, args.anonymous)
        print(
            f"\n1. raw COPY into events_event (all its indexes): {copy_per_s:,.0f} rows/s "
            f"({args.copy_rows:,} rows)"
        )
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "DATABASE_URL": url,
            "SECRET_KEY": os.environ["SECRET_KEY"],
            "ALLOWED_HOSTS": "127.0.0.1",
            "LEADCRM_VAR_DIR": str(logdir / "var"),
            "LOG_LEVEL": "WARNING",
        }
        if os.environ.get("REDIS_URL"):
            env["REDIS_URL"] = os.environ["REDIS_URL"]
        # Scoring's knobs (SCORING_BATCH_SIZE, ...) reach the worker, and ingestion's limits
        # (INGEST_SERVER_RATE_PER_MINUTE=0: none) the server, to try them under load.
        env |= {k: v for k, v in os.environ.items() if k.startswith(("SCORING_", "INGEST_"))}
        gunicorn, server = start_gunicorn(env, args.workers, logdir / "gunicorn.log")
        processes.append(gunicorn)
        measure_lag = setup["scoring"] and not args.no_lag
        if measure_lag:
            processes.append(start_celery(env, logdir / "celery.log"))
        warm = Poster(server, setup["key"])
        for body in make_templates(7, 10, args.batch, args.leads, args.anonymous):
            warm.post(
                "/v1/batch", body.replace(PLACEHOLDER, b"warm-" + uuid.uuid4().hex[:7].encode())
            )
        run = run_load(args, server, setup["key"], url, measure_lag, gunicorn.pid)
        report_load(args, run, copy_per_s)
        connection.close()
        report_lag(args, run, setup["scoring"], logdir)
        print(f"\nload average after the load {run['load_after']:.2f}; logs in {logdir}")
    finally:
        for process in processes:
            stop(process)
        connection.close()
        if not args.keep:
            drop_database(url)


if __name__ == "__main__":
    main()
