"""The marketer's dashboard at 100,000 leads: server time and queries of each page and filter.

    DATABASE_URL=postgres://... .venv/bin/python bench/dashboard.py
        [--leads 100000] [--events 1000000] [--runs 20] [--reuse] [--keep] [--explain]

It works in its own database (<DATABASE_URL's name>_bench_dashboard): made afresh and filled
by `manage.py seed_bench` (leads with their stage history, events, nurture sequences and their
emails), dropped at the end unless --keep. With --reuse, a database a previous --keep run left
is used as it is (migrated, not seeded again; --reuse keeps it too), so that a second run
measures without the seed's minutes.

Each URL is requested --runs times through Django's whole stack in this process (middleware,
session, the view, its queries, the templates; no network), as the marketer, after one warm-up
request that also counts the queries (django.test.utils.CaptureQueriesContext). The table
gives the median, p95 and worst server time, the queries, and PASS when the median is within
the 200 ms target (p95 shown: a shared 2-core machine is noisy). A URL that answers 404 (its
page not built yet) is reported "missing", any other non-200 answer "error", not a crash.
With --explain it then prints EXPLAIN ANALYZE of each lead-list filter's first page.
"""

import argparse
import resource
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

from benchdb import bench_database_url, database_name, recreate_database, run_with_django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_MS = 200.0


def database_exists(url: str) -> bool:
    from urllib.parse import urlparse, urlunparse

    import psycopg2

    conn = psycopg2.connect(urlunparse(urlparse(url)._replace(path="/postgres")))
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database_name(url)])
            return cursor.fetchone() is not None
    finally:
        conn.close()


def seed(args) -> None:
    from django.core.management import call_command

    from leads.models import Lead

    if args.reuse and Lead.objects.exists():
        print(f"reusing the seeded database: {Lead.objects.count():,} leads", flush=True)
        return
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    call_command("seed_bench", leads=args.leads, events=args.events)
    print(
        f"seed_bench: {time.perf_counter() - started:.1f} s, peak RSS growth "
        f"{(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024:.1f} MB",
        flush=True,
    )


def lead_filters() -> list[tuple[str, str]]:
    """(label, query string) of each lead-list filter and sort of the shared contract, with
    values that exist in the data."""
    from django.utils import timezone

    from leads.models import Lead

    owner = Lead.objects.filter(owner__isnull=False).values_list("owner_id", flat=True).first() or 0
    name = Lead.objects.values_list("last_name", flat=True).first() or "Keller"
    campaign = Lead.objects.exclude(utm_campaign="").values_list("utm_campaign", flat=True)[:1]
    today = timezone.now().date()
    month_ago, quarter_ago = today - timedelta(days=30), today - timedelta(days=90)
    return [
        ("lead list", ""),
        ("stage=MQL", "stage=MQL"),
        ("stage=SAL&stage=SQL", "stage=SAL&stage=SQL"),
        ("owner", f"owner={owner}"),
        ("unowned", "unowned=true"),
        ("source=referral", "source=referral"),
        ("score 40..60", "score_min=40&score_max=60"),
        ("temperature=hot", "temperature=hot"),
        ("created last 30 days", f"created_after={month_ago}"),
        ("created 90..30 days ago", f"created_after={quarter_ago}&created_before={month_ago}"),
        ("stage entered last 30 days", f"stage_entered_after={month_ago}"),
        ("do_not_contact=true", "do_not_contact=true"),
        ("utm_campaign", f"utm_campaign={campaign[0] if campaign else 'x'}"),
        ("reached=SQL", "reached=SQL"),
        ("not_reached=MQL", "not_reached=MQL"),
        ("search q", f"q={name}"),
        ("sort by score", "sort=-score"),
        ("page 2 of stage=IQL", "stage=IQL&page=2"),
    ]


def urls() -> list[tuple[str, str]]:
    """(label, URL) of every page and filter measured."""
    from django.utils import timezone

    from nurturing.models import Sequence
    from playbook.bench_nurture import BIG_KEY

    # The big sequence's figures: every seeded lead's welcome emails (0: answered "missing").
    big = Sequence.objects.filter(key=BIG_KEY).values_list("pk", flat=True).first() or 0
    today = timezone.now().date()
    quarter_ago, year_ago = today - timedelta(days=90), today - timedelta(days=365)
    leads = lead_filters()
    return [
        ("funnel page /", "/"),
        ("funnel page, last 90 days", f"/?from={quarter_ago}&to={today}"),
        ("funnel JSON", f"/api/v1/reports/funnel/?from={year_ago}&to={today}"),
        ("funnel JSON source=paid_search", "/api/v1/reports/funnel/?source=paid_search"),
        *[(f"/leads/ {label}", "/leads/" + (f"?{q}" if q else "")) for label, q in leads],
        ("leads API", "/api/v1/leads/"),
        ("leads API ordering=-score", "/api/v1/leads/?ordering=-score"),
        ("leads API stage=SQL", "/api/v1/leads/?stage=SQL"),
        ("board /board/", "/board/"),
        ("sources /reports/sources/", "/reports/sources/"),
        # The marketer's controls (issue 13).
        ("scoring rules /scoring/rules/", "/scoring/rules/"),
        ("nurture sequences /nurturing/sequences/", "/nurturing/sequences/"),
        ("sequence page /nurturing/sequences/<id>/", f"/nurturing/sequences/{big}/"),
        ("write keys /sources/", "/sources/"),
    ]


def measure(client, path: str, runs: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)  # warm-up: connection, templates, caches
    row = {"status": response.status_code, "queries": len(queries.captured_queries)}
    if response.status_code != 200:
        return row
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        client.get(path)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    row.update(
        median=statistics.median(times),
        p95=times[max(0, round(0.95 * len(times)) - 1)],
        max=times[-1],
        bytes=len(response.content),
    )
    return row


def explain(runs: int = 3) -> None:
    """The database's side of each filter: EXPLAIN ANALYZE of the list's first page (the
    filterset the list and the API share, newest first, 26 rows), best of `runs`, and the
    indexes the plan uses. Filters the filterset does not know yet are left out."""
    import re

    from django.http import QueryDict

    from leads.filters import LeadFilter
    from leads.models import Lead

    print("\nEXPLAIN ANALYZE of the first page of each filter (best of 3):", flush=True)
    for label, query in lead_filters():
        data = QueryDict(query)
        if "page" in data:
            continue  # the first page is what is planned here
        filterset = LeadFilter(data, queryset=Lead.objects.all())
        known = set(data) <= set(filterset.filters) | {"sort", "page"}
        ordering = ["-score", "-id"] if data.get("sort") == "-score" else ["-created_at", "-id"]
        page = filterset.qs.order_by(*ordering)[:26]
        plans = [page.explain(analyze=True) for _ in range(runs)]
        best = min(float(re.search(r"Execution Time: ([\d.]+)", p).group(1)) for p in plans)
        indexes = ", ".join(sorted(set(re.findall(r" using (\w+)", plans[0])))) or "none"
        note = "" if known else "  (filter not in LeadFilter yet: the plan is unfiltered)"
        print(f"  {label:<32} {best:8.1f} ms  indexes: {indexes}{note}", flush=True)


def verdict(row: dict) -> str:
    if row["status"] == 404:
        return "missing"
    if row["status"] != 200:
        return f"error {row['status']}"
    return "PASS" if row["median"] <= TARGET_MS else "FAIL"


def report(label: str, path: str, row: dict) -> None:
    if row["status"] != 200:
        print(f"{label:<40} {verdict(row):>9}   {path}", flush=True)
        return
    print(
        f"{label:<40} {verdict(row):>9}  median {row['median']:7.1f} ms  p95 {row['p95']:7.1f} ms"
        f"  max {row['max']:7.1f} ms  {row['queries']:>3} queries  {row['bytes']:>8,} bytes",
        flush=True,
    )


def run(args) -> None:
    import logging

    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from accounts.models import Role, User

    logging.getLogger("django.request").setLevel(logging.ERROR)  # 404s are reported "missing"
    call_command("migrate", verbosity=0)
    seed(args)
    marketer, _ = User.objects.get_or_create(
        username="bench-marketer", defaults={"role": Role.MARKETER}
    )
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(marketer)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM leads_lead), (SELECT count(*) FROM leads_stagechange),"
            " (SELECT count(*) FROM events_event), (SELECT count(*) FROM nurturing_message)"
        )
        leads, changes, events, emails = cursor.fetchone()
    print(
        f"PostgreSQL {connection.pg_version}; {leads:,} leads, {changes:,} stage changes, "
        f"{events:,} events, {emails:,} nurture emails; {args.runs} runs a URL; "
        f"target: median within {TARGET_MS:.0f} ms",
        flush=True,
    )
    verdicts = []
    for label, path in urls():
        row = measure(client, path, args.runs)
        report(label, path, row)
        verdicts.append(verdict(row))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    counts = {v: verdicts.count(v) for v in sorted(set(verdicts))}
    print(f"\n{counts}; peak RSS of this process {peak:.0f} MB", flush=True)
    if args.explain:
        explain()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--reuse", action="store_true", help="reuse a kept, seeded database")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument(
        "--explain", action="store_true", help="then EXPLAIN ANALYZE each lead-list filter"
    )
    args = parser.parse_args()
    args.keep = args.keep or args.reuse

    url = bench_database_url(suffix="_bench_dashboard", script="bench/dashboard.py")
    if not (args.reuse and database_exists(url)):
        recreate_database(url)
    run_with_django(url, run, args, prefix="bench-dashboard-", env={"DEBUG": "0"})


if __name__ == "__main__":
    main()
