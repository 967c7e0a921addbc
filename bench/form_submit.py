"""Form submission benchmark: POST /f/<slug>/ through gunicorn at a steady rate.

    DATABASE_URL=postgres://... [REDIS_URL=redis://...] .venv/bin/python bench/form_submit.py
        [--rate 100] [--seconds 20] [--clients 16] [--workers 4] [--keep]

Each request is what the embed script sends: a form-encoded body with the answers, the consent
box, a start token shown 10 s earlier, UTM fields, a referrer and an anonymous id, with
`Accept: application/json`. Four in five are new visitors (a new IQL lead), one in five an
existing lead's address (blanks filled). The form has no double opt-in and starts a nurture
sequence, so each submission writes the most: lead, history, consent evidence, enrollment,
event, identity, Submission, and publishes its email task after the commit. With REDIS_URL the
rate limits run (set high, so nothing is refused) and a Celery worker (locmem mail) drains the
tasks at a lower priority (nice 10); without it the limiter is off and the tasks wait in the
filesystem broker of a temporary folder.

The load is an open loop: `--clients` threads send on a fixed schedule that adds up to `--rate`
requests a second, whatever the answers' latency. It prints the latency p50/p95/p99, the rate
reached and the server CPU per request; target: p95 under 100 ms at 100 submissions/s. Its own
database (<name>_forms_bench), made afresh and dropped; every process it starts is stopped.
"""

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from benchdb import bench_database_url, drop_database, recreate_database
from ingest import (
    Poster,
    cpu_used,
    django_setup,
    percentile,
    server_cpu,
    start_celery,
    start_gunicorn,
    stop,
    verdict,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_P95_MS = 100
SLUG = "bench-ebook"
EXISTING = 2000  # leads already known (one submission in five is one of them)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100, help="submissions a second (100)")
    parser.add_argument("--seconds", type=float, default=20, help="length of the load (20)")
    parser.add_argument("--clients", type=int, default=16, help="sending threads (16)")
    parser.add_argument(
        "--workers", type=int, default=2 * (os.cpu_count() or 1), help="gunicorn workers (2/core)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    return parser.parse_args()


def prepare() -> int:
    """Schema, the playbooks, a marketer, the form (with a sequence) and the known leads."""
    import io

    from django.core.management import call_command

    from accounts.models import Role, User
    from leads.models import Lead, Stage, StageChange
    from nurturing.models import Sequence
    from web import services

    call_command("migrate", verbosity=0)
    call_command("load_playbook", stdout=io.StringIO())
    marketer = User.objects.create(username="bench-marketer", role=Role.MARKETER)
    form = services.form_create(
        actor=marketer,
        slug=SLUG,
        name="Bench ebook",
        title="The ebook",
        fields=[
            {"name": "email", "label": "Email", "required": True},
            {"name": "first_name", "label": "First name", "required": True},
            {"name": "last_name", "label": "Last name"},
            {"name": "company_name", "label": "Company"},
            {"name": "title", "label": "Title"},
            {"name": "team_size", "label": "Team", "kind": "select", "options": ["1-10", "11+"]},
        ],
        offer_title="the ebook",
        offer_url="https://example.com/ebook.pdf",
        consent_text="Send me the ebook and occasional emails.",
        double_opt_in=False,
        sequence=Sequence.objects.get(key="mql-offer"),
    )
    now = datetime.now(UTC)
    leads = Lead.objects.bulk_create(
        [
            Lead(email=f"known{i}@example.com", stage=Stage.IQL, stage_entered_at=now)
            for i in range(EXISTING)
        ]
    )
    StageChange.objects.bulk_create(
        [StageChange(lead=lead, to_stage=Stage.IQL, changed_at=now) for lead in leads]
    )
    return form.pk


def bodies(form_id: int, count: int, run: str) -> list[bytes]:
    """`count` submissions as the embed script posts them, made before the clock starts."""
    from web import spam

    token = spam.form_token(form_id=form_id, at=datetime.now(UTC) - timedelta(seconds=10))
    made = []
    for i in range(count):
        known = i % 5 == 4
        email = f"known{i % EXISTING}@example.com" if known else f"v{run}-{i}@example.com"
        made.append(
            urlencode(
                {
                    "email": email,
                    "first_name": "Ada",
                    "last_name": f"Visitor {i}",
                    "company_name": "Analytical Engines",
                    "title": "Head of Research",
                    "team_size": "11+",
                    "consent": "yes",
                    "leadcrm_ts": token,
                    "leadcrm_hp": "",
                    "utm_source": "linkedin",
                    "utm_medium": "social",
                    "utm_campaign": "bench",
                    "referrer": "https://www.example.com/blog/post",
                    "anonymous_id": f"anon-{run}-{i}",
                }
            ).encode()
        )
    return made


class FormPoster(Poster):
    def __init__(self, url: str):
        super().__init__(url, key="")
        self.headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            "Origin": "https://www.example.com",
        }


def client(url, start_at, interval, mine: list[bytes], results: list, lock) -> None:
    poster = FormPoster(url)
    for n, body in enumerate(mine):
        pause = start_at + n * interval - time.time()
        if pause > 0:
            time.sleep(pause)
        began = time.perf_counter()
        try:
            status, _ = poster.post(f"/f/{SLUG}/", body)
        except OSError:
            status = 0
        elapsed = time.perf_counter() - began
        with lock:
            results.append((status, elapsed))


def run_load(args, server: str, form_id: int, master: int, db_url: str) -> dict:
    total = int(args.rate * args.seconds)
    work = bodies(form_id, total, uuid.uuid4().hex[:6])
    # Client k sends requests k, k + clients, ...: together, one every 1/rate seconds.
    interval = args.clients / args.rate
    results: list = []
    lock = threading.Lock()
    cpu_before = server_cpu(master, db_url)
    start_at = time.time() + 1.0
    threads = [
        threading.Thread(
            target=client,
            args=(
                server,
                start_at + k / args.rate,
                interval,
                work[k :: args.clients],
                results,
                lock,
            ),
        )
        for k in range(args.clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.time() - start_at
    return {
        "results": results,
        "took": took,
        "cpu": cpu_used(cpu_before, server_cpu(master, db_url)),
        "load": os.getloadavg()[0],
    }


def report(args, run: dict, before: int) -> None:
    from web.models import Submission

    results = run["results"]
    ok = [elapsed for status, elapsed in results if status == 200]
    failed: dict[int, int] = {}
    for status, _ in results:
        if status != 200:
            failed[status] = failed.get(status, 0) + 1
    latencies = [elapsed for _, elapsed in results]
    p50, p95, p99 = (percentile(latencies, p) * 1000 for p in (50, 95, 99))
    stored = Submission.objects.count() - before
    requests = len(results) or 1
    print(
        f"\nPOST /f/{SLUG}/ via gunicorn ({args.workers} workers), {args.clients} clients, "
        f"target {args.rate:.0f}/s for {args.seconds:.0f} s (open loop):"
    )
    print(
        f"   requests {len(results):,}  ok {len(ok):,}  failed {sum(failed.values())}"
        + (f" {failed}" if failed else "")
        + f"  submissions stored {stored:,}"
    )
    print(f"   rate reached {len(results) / run['took']:.1f} requests/s")
    print(
        f"   latency p50 {p50:.1f} ms  p95 {p95:.1f} ms  p99 {p99:.1f} ms  "
        f"max {max(latencies) * 1000:.1f} ms - p95 {verdict(p95 < TARGET_P95_MS)} "
        f"(< {TARGET_P95_MS} ms)"
    )
    print(
        f"   server CPU a submission: gunicorn {run['cpu']['gunicorn'] / requests * 1000:.1f} ms, "
        f"PostgreSQL {run['cpu']['postgres'] / requests * 1000:.1f} ms"
    )
    if stored != len(ok):
        print(f"   !! {stored:,} submissions stored for {len(ok):,} answered 200")


def main() -> None:
    args = parse_args()
    url = bench_database_url(suffix="_forms_bench", script="bench/form_submit.py")
    print(f"bench/form_submit.py  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"machine: {os.cpu_count()} cores, load average before {os.getloadavg()[0]:.2f} "
        "(shared with other engineers' runs: figures are noisy)"
    )
    recreate_database(url)
    django_setup(url)
    from django.db import connection

    processes = []
    logdir = Path(tempfile.mkdtemp(prefix="bench-forms-"))
    try:
        form_id = prepare()
        connection.close()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "DATABASE_URL": url,
            "SECRET_KEY": os.environ["SECRET_KEY"],
            "ALLOWED_HOSTS": "127.0.0.1",
            "LEADCRM_VAR_DIR": str(logdir / "var"),
            "LOG_LEVEL": "ERROR",
            # Counted in Redis (when there is one), never refusing: the bench is one address.
            "FORMS_RATE_PER_IP_PER_MINUTE": "100000000",
            "FORMS_RATE_PER_FORM_PER_MINUTE": "100000000",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        }
        redis = os.environ.get("REDIS_URL")
        if redis:
            env["REDIS_URL"] = redis
        gunicorn, server = start_gunicorn(env, args.workers, logdir / "gunicorn.log")
        processes.append(gunicorn)
        if redis:
            # At a lower priority: the worker drains what the submissions queue while the web tier
            # under test keeps the CPU first (in production they need not share cores).
            processes.append(start_celery(env, logdir / "celery.log", nice=10))
        print(f"Redis: {'yes (rate limits counted, a worker sends the emails)' if redis else 'no'}")
        warm = FormPoster(server)
        for body in bodies(form_id, 20, "warm"):
            warm.post(f"/f/{SLUG}/", body)
        from web.models import Submission

        before = Submission.objects.count()
        connection.close()
        run = run_load(args, server, form_id, gunicorn.pid, url)
        report(args, run, before)
        print(f"\nload average after the load {run['load']:.2f}; logs in {logdir}")
    finally:
        for process in processes:
            stop(process)
        connection.close()
        if not args.keep:
            drop_database(url)
            print(f"dropped database {url.rsplit('/', 1)[-1]}")


if __name__ == "__main__":
    main()
