"""The rep's inbox with 1,000 leads waiting: server time and queries of one page.

    DATABASE_URL=postgres://... .venv/bin/python bench/inbox.py [--waiting 1000] [--runs 50]
        [--pool 10000] [--keep]

It works in its own database (<DATABASE_URL's name>_bench_inbox, made afresh, dropped at the
end unless --keep): one rep with --waiting leads assigned and not yet accepted, 25 accepted
leads and 50 open tasks (half due today), and --pool unclaimed MQL leads for the pool-mode run.
Each page is requested --runs times through Django's whole stack in this process (middleware,
session, the view, its queries, the templates; no network), after one warm-up request, and the
script prints the median, p95 and worst server time and the page's number of queries.
Figures on a shared 2-core machine are noisy.
"""

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

from benchdb import bench_database_url, recreate_database, run_with_django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def create_leads(cursor, *, count: int, stage: str, owner_id: int | None, tag: str) -> None:
    cursor.execute(
        """
        INSERT INTO leads_lead (email, first_name, last_name, title, phone, country,
            company_name, company_domain, company_size, source, direction, utm_source,
            utm_medium, utm_campaign, utm_term, utm_content, traits, stage,
            stage_entered_at, recycle_count, score, temperature, do_not_contact,
            do_not_contact_reason, created_at, updated_at, owner_id)
        SELECT %(tag)s || g || '@acme.example', 'First' || g, 'Last', 'Engineer', '', '',
            'Acme ' || g, '', 50, 'referral', 'inbound', '', '', '', '', '', '{}', %(stage)s,
            now() - g * interval '1 minute', 0, 60, 'hot', false, '', now(), now(), %(owner)s
        FROM generate_series(1, %(count)s) AS g
        """,
        {"tag": tag, "stage": stage, "owner": owner_id, "count": count},
    )


def create_assignments(cursor, *, rep_id: int, stage: str, status: str) -> None:
    """One assignment per lead of the rep in `stage`, deadlines spread over the next days."""
    cursor.execute(
        """
        INSERT INTO handoff_assignment (lead_id, rep_id, status, assigned_at, accept_due_at,
            reassign_due_at, decided_at, first_touch_due_at)
        SELECT id, %(rep)s, %(status)s, now(), now() + mod(id, 3000) * interval '1 minute',
            now() + (mod(id, 3000) + 120) * interval '1 minute',
            CASE WHEN %(status)s = 'accepted' THEN now() END,
            CASE WHEN %(status)s = 'accepted' THEN now() + interval '4 hours' END
        FROM leads_lead WHERE owner_id = %(rep)s AND stage = %(stage)s
        """,
        {"rep": rep_id, "stage": stage, "status": status},
    )


def seed(args) -> tuple:
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Role, User
    from handoff.models import Task
    from leads.models import Lead

    rep = User.objects.create_user("bench-rep", password="x", role=Role.REP)
    with connection.cursor() as cursor:
        create_leads(cursor, count=args.waiting, stage="MQL", owner_id=rep.pk, tag="waiting")
        create_leads(cursor, count=25, stage="SAL", owner_id=rep.pk, tag="accepted")
        create_leads(cursor, count=args.pool, stage="MQL", owner_id=None, tag="pool")
        create_assignments(cursor, rep_id=rep.pk, stage="MQL", status="pending")
        create_assignments(cursor, rep_id=rep.pk, stage="SAL", status="accepted")
        # Every lead has its history row, as leads.services.lead_create writes it.
        cursor.execute(
            "INSERT INTO leads_stagechange (lead_id, from_stage, to_stage, changed_at, rule, "
            "reason) SELECT id, '', stage, stage_entered_at, '', 'bench' FROM leads_lead"
        )
        cursor.execute("ANALYZE")
    sal = Lead.objects.filter(owner=rep, stage="SAL").first()
    start = timezone.now()
    Task.objects.bulk_create(
        Task(lead=sal, assignee=rep, title=f"Task {n}", due_at=start + timedelta(hours=n - 25))
        for n in range(50)
    )
    return rep, sal


def measure(client, path: str, runs: int, headers: dict | None = None) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    headers = headers or {}
    client.get(path, **headers)  # warm-up: connection, templates, the settings row
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, **headers)
    query_count = len(queries.captured_queries)  # before the runs below reset the log
    assert response.status_code == 200, response.status_code
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        client.get(path, **headers)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "median": statistics.median(times),
        "p95": times[max(0, round(0.95 * len(times)) - 1)],
        "max": times[-1],
        "queries": query_count,
        "bytes": len(response.content),
    }


def report(label: str, row: dict) -> None:
    print(
        f"{label:<44} median {row['median']:6.1f} ms  p95 {row['p95']:6.1f} ms  "
        f"max {row['max']:6.1f} ms  {row['queries']:>2} queries  {row['bytes']:>7,} bytes",
        flush=True,
    )


def run(args) -> None:
    from django.core.management import call_command
    from django.test import Client

    from handoff.models import HandoffSettings, Mode

    call_command("migrate", verbosity=0)
    rep, sal = seed(args)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(rep)
    print(f"{args.waiting:,} leads waiting for the rep, {args.pool:,} in the pool", flush=True)
    report("GET /inbox/ (assign mode)", measure(client, "/inbox/", args.runs))
    report(
        "GET /inbox/ with htmx (the lists only)",
        measure(client, "/inbox/", args.runs, {"HTTP_HX_REQUEST": "true"}),
    )
    report("GET /inbox/?page=40 (assign mode)", measure(client, "/inbox/?page=40", args.runs))
    lead_page = f"/leads/{sal.pk}/"
    report(f"GET {lead_page} (the hand-off section)", measure(client, lead_page, args.runs))
    HandoffSettings.objects.update_or_create(pk=1, defaults={"mode": Mode.POOL})
    report("GET /inbox/ (pool mode)", measure(client, "/inbox/", args.runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waiting", type=int, default=1000)
    parser.add_argument("--pool", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()

    url = bench_database_url(suffix="_bench_inbox", script="bench/inbox.py")
    recreate_database(url)
    run_with_django(url, run, args, prefix="bench-inbox-", env={"DEBUG": "0"})


if __name__ == "__main__":
    main()
