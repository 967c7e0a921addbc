"""Routing benchmark: N leads become MQL at once (a threshold change) and a real Celery worker
routes them across R reps, then emails each rep about each lead.

    DATABASE_URL=postgres://... REDIS_URL=redis://... .venv/bin/python bench/handoff_routing.py
        [--leads 10000] [--reps 10] [--workers 2] [--threads 4] [--timeout 120]
        [--email-timeout 300] [--pool 10000] [--keep]

It works in its own database (<DATABASE_URL's name>_bench_routing, dropped and created afresh,
dropped again at the end unless --keep), a Redis queue of its own, an aiosmtpd server on a
free 127.0.0.1 port in this process, and one worker process (`--pool threads`). Every rep has
the same capacity, room for all the leads; one default rule holds them all. --workers
processes with --threads threads each take the bench's queue (routing and emails alike).

The threshold change is `leads.services.leads_promote` over all N leads in one transaction,
as a re-score chunk makes it; the stage-entered hook then queues `handoff.route_leads` after
the commit and the worker routes. Prints: time to promote, time from the commit until every
lead has an owner, the spread between reps (target: at most one lead), the emails' delivery,
and what the every-minute pool job costs over a pool of waiting leads when every rep is full.
Target: all N routed within 60 s. Bounded: gives up waiting for routing after --timeout
seconds and for the emails after --email-timeout, and always stops what it started.
"""

import argparse
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from benchdb import bench_database_url, database_name, drop_database, recreate_database

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The worker queues its own tasks (the assignment emails) on the bench's queue.
_WORKER = (
    "import sys; from leadcrm.celery import app; "
    "app.conf.task_default_queue = sys.argv[1]; app.worker_main(sys.argv[2:])"
)
COUNTRIES = ["Germany", "France", "Spain", "Italy", "Poland", "Sweden", "Austria", "Japan"]


class Sink:
    """aiosmtpd handler that only counts what arrives, and when (stays cheap)."""

    def __init__(self) -> None:
        self.count = 0
        self.last = 0.0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            self.last = time.time()
        return "250 2.0.0 Accepted"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def insert_leads(cursor, count: int, *, stage: str) -> None:
    """`count` leads at `stage` with their first history row, nobody owning them."""
    countries = "ARRAY[" + ", ".join(f"'{c}'" for c in COUNTRIES) + "]"
    cursor.execute("SELECT coalesce(max(id), 0) FROM leads_lead")
    offset = cursor.fetchone()[0]
    cursor.execute(
        f"""
        INSERT INTO leads_lead (email, first_name, last_name, title, phone, country,
            company_name, company_domain, company_size, source, direction, utm_source,
            utm_medium, utm_campaign, utm_term, utm_content, external_id, traits, stage,
            stage_entered_at, recycle_count, score, temperature, do_not_contact,
            do_not_contact_reason, created_at, updated_at)
        SELECT 'lead' || g || '@bench.example', 'First' || g, 'Last', 'Buyer', '',
            ({countries})[1 + mod(g, {len(COUNTRIES)})], 'Acme ' || mod(g, 700), '',
            mod(g * 7919, 2000), 'other', 'inbound', '', '', '', '', '', NULL, '{{}}', %s,
            now() - (%s - g) * interval '1 second', 0, 45, 'warm', false, '', now(), now()
        FROM generate_series(%s, %s) AS g
        """,
        [stage, offset + count, offset + 1, offset + count],
    )
    cursor.execute(
        "INSERT INTO leads_stagechange (lead_id, from_stage, to_stage, changed_at, rule, reason)"
        " SELECT id, '', stage, stage_entered_at, '', 'created' FROM leads_lead WHERE id > %s",
        [offset],
    )
    cursor.execute("ANALYZE leads_lead")


def seed(*, leads: int, reps: int) -> list[int]:
    from django.db import connection

    from accounts.models import Role, User
    from handoff.models import RoutingRule
    from leads.models import Stage

    capacity = -(-leads // reps) + 10  # room for everything, equal for everyone
    users = [
        User.objects.create(
            username=f"rep{n}", email=f"rep{n}@bench.example", role=Role.REP, capacity=capacity
        )
        for n in range(reps)
    ]
    rule = RoutingRule.objects.create(position=1, name="everyone", is_default=True)
    rule.reps.set(users)
    with connection.cursor() as cursor:
        insert_leads(cursor, leads, stage=Stage.IQL)
    return [user.pk for user in users]


def start_worker(env: dict, queue: str, threads: int, n: int, log) -> subprocess.Popen:
    cmd = [
        sys.executable, "-c", _WORKER, queue, "worker", "-Q", queue, "-P", "threads",
        "-c", str(threads), "-n", f"bench{n}-{queue}@%h", "--without-gossip", "--without-mingle",
        "--without-heartbeat", "-l", "WARNING",
    ]  # fmt: skip
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def wait_until(check, deadline: float) -> float | None:
    """Poll until `check()`; the time it held, or None past `deadline`."""
    while time.time() < deadline:
        if check():
            return time.time()
        time.sleep(0.2)
    return None


def promote_all() -> tuple[float, float]:
    """The threshold change: every IQL lead to MQL in one transaction. (seconds, commit time)"""
    from leads import services
    from leads.models import Lead, Stage

    ids = list(Lead.objects.filter(stage=Stage.IQL).values_list("pk", flat=True))
    started = time.time()
    services.leads_promote(
        reasons={lead_id: "score 45 >= 40 (threshold lowered)" for lead_id in ids},
        to=Stage.MQL,
        rule="MQL threshold",
    )
    committed = time.time()
    return committed - started, committed


def pool_job_cost(pool: int) -> tuple[float, int]:
    """Fill every rep, add `pool` waiting MQL leads, and time one run of the pool job."""
    from django.db import connection
    from django.db.models import Count

    from accounts.models import User
    from handoff.services import routing
    from leads.models import Stage

    for user in User.objects.annotate(n=Count("owned_leads")):
        User.objects.filter(pk=user.pk).update(capacity=user.n)
    with connection.cursor() as cursor:
        insert_leads(cursor, pool, stage=Stage.MQL)
    started = time.perf_counter()
    routed = routing.pool_route()
    return time.perf_counter() - started, routed


def report(args, *, promote_s, routed_at, committed, emails_at, sink) -> None:
    from django.db.models import Count

    from handoff.models import Assignment
    from leads.models import Lead

    per_rep = dict(
        Lead.objects.filter(owner__isnull=False)
        .values_list("owner__username")
        .annotate(n=Count("id"))
    )
    routed = sum(per_rep.values())
    print(f"leads promoted to MQL:  {args.leads:,} in {promote_s:.1f} s (one transaction)")
    if routed_at:
        took = routed_at - committed
        print(f"all routed:             {took:.1f} s after the commit ({args.leads / took:,.0f}/s)")
    else:
        print(f"routed:                 {routed:,} of {args.leads:,} within {args.timeout:.0f} s")
    counts = sorted(per_rep.values()) or [0]
    print(f"per rep:                min {counts[0]:,}, max {counts[-1]:,} over {len(per_rep)} reps")
    print(f"assignments:            {Assignment.objects.count():,} (one per lead)")
    if emails_at:
        print(f"emails delivered:       {sink.count:,}, all {emails_at - committed:.1f} s after")
    else:
        print(f"emails delivered:       {sink.count:,} of {args.leads:,} (stopped waiting)")
    met = routed_at is not None and routed_at - committed <= 60 and counts[-1] - counts[0] <= 1
    print(f"target (all {args.leads:,} within 60 s, spread <= 1): {'MET' if met else 'NOT MET'}")


def run(args, env: dict, queue: str, sink: Sink) -> None:
    from django.core.management import call_command

    from leadcrm.celery import app
    from leads.models import Lead

    call_command("migrate", verbosity=0)
    app.conf.task_default_queue = queue  # the hook's route_leads goes to the bench's queue
    seed(leads=args.leads, reps=args.reps)
    log = tempfile.NamedTemporaryFile(prefix="bench-routing-", suffix=".log", delete=False)  # noqa: SIM115
    workers = [start_worker(env, queue, args.threads, n, log) for n in range(args.workers)]
    try:
        time.sleep(3)  # let the workers connect before the leads move
        promote_s, committed = promote_all()
        unowned = Lead.objects.filter(owner__isnull=True)
        routed_at = wait_until(lambda: not unowned.exists(), committed + args.timeout)
        emails_at = wait_until(lambda: sink.count >= args.leads, committed + args.email_timeout)
        report(
            args,
            promote_s=promote_s,
            routed_at=routed_at,
            committed=committed,
            emails_at=emails_at,
            sink=sink,
        )
    finally:
        for worker in workers:
            stop(worker)
        log.close()
        if "Traceback" in Path(log.name).read_text(errors="replace"):
            print(f"(errors in the worker log: {log.name})")
        else:
            Path(log.name).unlink(missing_ok=True)
    seconds, routed = pool_job_cost(args.pool)
    print(f"pool job, every rep full: {seconds * 1000:.0f} ms over {args.pool:,} waiting leads "
          f"(routed {routed})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker process")
    parser.add_argument("--pool", type=int, default=10_000, help="waiting leads for the pool job")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for routing")
    parser.add_argument(
        "--email-timeout", type=float, default=300.0, help="seconds to wait for all the emails"
    )
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()

    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url:
        sys.exit("bench/handoff_routing.py needs REDIS_URL (a real worker routes)")
    url = bench_database_url(suffix="_bench_routing", script="bench/handoff_routing.py")
    recreate_database(url)
    smtp_port, queue = free_port(), f"bench-routing-{uuid.uuid4().hex[:8]}"
    var = tempfile.TemporaryDirectory(prefix="bench-routing-")
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
        "DEBUG": "0",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "EMAIL_TIMEOUT": "10",
        "NURTURE_QUEUE": queue,
        "LEADCRM_VAR_DIR": var.name,
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadcrm.settings")
    import django
    from aiosmtpd.controller import Controller

    django.setup()
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        run(args, env, queue, sink)
    finally:
        controller.stop()
        _cleanup(redis_url, queue)
        from django.db import connections

        connections.close_all()
        var.cleanup()
        if not args.keep:
            drop_database(url)
            print(f"dropped database {database_name(url)}")


def _cleanup(redis_url: str, queue: str) -> None:
    import redis

    try:
        redis.Redis.from_url(redis_url).delete(
            queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"
        )
    except redis.RedisError as exc:
        print(f"(could not delete the Redis queue {queue}: {exc})")


if __name__ == "__main__":
    main()
