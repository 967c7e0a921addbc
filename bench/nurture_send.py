"""Benchmark: N due nurture emails, sent by two Celery worker processes to a local SMTP server.

    DATABASE_URL=postgres://leadcrm@127.0.0.1:5432/leadcrm REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/nurture_send.py [--emails 10000] [--workers 2] [--timeout 180]

Uses a database of its own (`<name of DATABASE_URL's database>_bench_nurture`, dropped and
created afresh, dropped again at the end), a Redis queue of its own, an aiosmtpd server on a
free 127.0.0.1 port (in this process), and `--workers` single-process workers (`--pool solo`).
All emails fall due at the same moment; this process then runs what the every-minute beat
runs (the dispatcher), and waits for the server to have them all.

Prints emails/s and the time from due to delivered (median, p95). Target: 10,000 within 60 s.
Bounded: it gives up after --timeout seconds and always stops what it started.
"""

import argparse
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from benchdb import bench_database_url, drop_database, recreate_database

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HEADER = re.compile(rb"^X-Nurture-Message: (\d+)\r?$", re.MULTILINE)


class Sink:
    """aiosmtpd handler that only notes which email arrived when (no parsing: stay cheap)."""

    def __init__(self) -> None:
        self.arrivals: dict[int, list[float]] = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        now = time.time()
        match = HEADER.search(envelope.content)
        if match:
            with self.lock:
                self.arrivals.setdefault(int(match.group(1)), []).append(now)
        return "250 2.0.0 Accepted"

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed(count: int):
    from django.utils import timezone

    from leads.models import Lead
    from nurturing.models import Enrollment, Sequence, Step

    now = timezone.now()
    Lead.objects.bulk_create(
        [
            Lead(
                email=f"bench{i}@example.com",
                first_name=f"Bench{i}",
                company_name="Bench Inc",
                stage_entered_at=now,
            )
            for i in range(count)
        ],
        batch_size=2000,
    )
    sequence = Sequence.objects.create(key="bench", name="Bench", activated_at=now)
    Step.objects.create(
        sequence=sequence,
        position=1,
        subject="Hello {{ first_name }}",
        body_text="Hi {{ first_name }} at {{ company }}, https://example.com/guide",
        body_html='<p>Hi {{ first_name }}, <a href="https://example.com/guide">guide</a></p>',
    )
    due = timezone.now()
    Enrollment.objects.bulk_create(
        [
            Enrollment(
                lead_id=lead_id,
                sequence=sequence,
                trigger="manual",
                next_due_at=due,
                enrolled_at=due,
            )
            for lead_id in Lead.objects.values_list("pk", flat=True)
        ],
        batch_size=2000,
    )
    return due


def start_workers(
    count: int, threads: int, env: dict, queue: str, logs: list
) -> list[subprocess.Popen]:
    procs = []
    for n in range(count):
        log = tempfile.NamedTemporaryFile(prefix=f"bench-worker{n}-", suffix=".log", delete=False)  # noqa: SIM115
        logs.append(log)
        cmd = [
            sys.executable, "-m", "celery", "-A", "leadcrm", "worker", "-Q", queue,
            "-P", "threads", "-c", str(threads), "-n", f"bench{n}-{queue}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING",
        ]  # fmt: skip
        procs.append(
            subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        )
    return procs


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="threads per worker process")
    parser.add_argument("--timeout", type=float, default=180.0)
    args = parser.parse_args()

    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url:
        sys.exit("bench/nurture_send.py needs REDIS_URL")
    db_url = bench_database_url(suffix="_bench_nurture", script="bench/nurture_send.py")
    smtp_port = free_port()
    queue = f"bench-nurture-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
        "DEBUG": "0",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "EMAIL_TIMEOUT": "10",
        "NURTURE_QUEUE": queue,
        "NURTURE_SEND_RATE_PER_MINUTE": "0",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadcrm.settings")

    recreate_database(db_url)
    procs: list[subprocess.Popen] = []
    logs: list = []
    controller = None
    try:
        import django

        django.setup()
        from aiosmtpd.controller import Controller
        from django.core.management import call_command
        from django.db import connection
        from django.db.models import Count

        from nurturing import services
        from nurturing.models import Enrollment, Message

        call_command("migrate", verbosity=0)
        print(f"seeding {args.emails} leads and due enrollments ...", flush=True)
        seed(args.emails)

        sink = Sink()
        controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
        controller.start()
        procs = start_workers(args.workers, args.threads, env, queue, logs)
        time.sleep(3)  # let the workers connect before the emails fall due

        # Everything falls due now; the dispatcher (the beat's every-minute job) runs at once.
        due = datetime.now(UTC)
        Enrollment.objects.update(next_due_at=due)
        started = time.time()
        queued = services.due_dispatch()
        dispatched = time.time() - started
        deadline = started + args.timeout
        while sink.count() < args.emails and time.time() < deadline:
            time.sleep(0.2)
        finished = time.time()

        delivered = sink.count()
        duplicates = sum(len(times) - 1 for times in sink.arrivals.values())
        latencies = sorted(min(times) - due.timestamp() for times in sink.arrivals.values())
        elapsed = (max(min(t) for t in sink.arrivals.values()) if delivered else finished) - started
        statuses = dict(Message.objects.values_list("status").annotate(n=Count("id")))
        connection.close()

        print(f"emails due:            {args.emails}")
        print(f"queued by dispatcher:  {queued} in {dispatched:.1f} s")
        print(f"delivered:             {delivered} (duplicates: {duplicates})")
        print(f"message rows:          {statuses}")
        print(
            f"workers:               {args.workers} processes "
            f"(celery --pool threads, {args.threads} threads each)"
        )
        print(f"time to deliver all:   {elapsed:.1f} s")
        print(f"throughput:            {delivered / elapsed if elapsed else 0:.0f} emails/s")
        if latencies:
            p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
            median = statistics.median(latencies)
            print(f"due -> delivered:      median {median:.1f} s, p95 {p95:.1f} s")
        verdict = "MET" if delivered == args.emails and elapsed <= 60 else "NOT MET"
        print(f"target (all {args.emails} within 60 s): {verdict}")
    finally:
        stop(procs)
        if controller is not None:
            controller.stop()
        for log in logs:
            log.close()
            Path(log.name).unlink(missing_ok=True)
        try:
            import redis

            redis.Redis.from_url(redis_url).delete(
                queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"
            )
        except Exception as exc:  # noqa: BLE001 - cleanup must not hide the figures
            print(f"(could not delete the Redis queue {queue}: {exc})")
        from django.db import connections

        connections.close_all()
        drop_database(db_url)


if __name__ == "__main__":
    main()
