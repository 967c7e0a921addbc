"""The lead list at 100,000 leads: the streaming CSV export (time, peak memory) and the list
page (server time, queries) in every sort and a few filters.

    DATABASE_URL=postgres://... .venv/bin/python bench/export.py [--leads 100000] [--runs 5]
        [--keep]

It works in its own database (<DATABASE_URL's name>_bench_export, made afresh, dropped at the
end unless --keep), seeded in a few seconds by INSERT ... SELECT generate_series: --leads leads
over six months, every stage, source and score, each with its first history row. Everything
runs in this process through Django's whole stack (middleware, session, the view, its queries,
the CSV writer; no network), as a marketer:

  1. GET /api/v1/leads/export/ of a tenth of the leads, then of all of them: seconds, rows/s,
     and the process's resident memory before and at its peak during the export (Linux's VmHWM,
     reset before each export). Flat memory: the two peaks are about the same.
  2. GET /leads/ in each sort (first page, and a page 50,000 rows deep by its cursor) and with
     a few filters: median and worst server time of --runs requests, and the page's queries.

Figures on a shared 2-core machine are noisy: run it when it is quiet.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

from benchdb import bench_database_url, recreate_database, run_with_django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_EXPORT_S = 10
TARGET_PAGE_MS = 200

# Modulo is %% here: psycopg2 fills %(name)s in.
SEED = """
INSERT INTO leads_lead (email, first_name, last_name, title, phone, country, company_name,
    company_domain, company_size, source, direction, utm_source, utm_medium, utm_campaign,
    utm_term, utm_content, traits, stage, stage_entered_at, recycle_count, score, temperature,
    do_not_contact, do_not_contact_reason, consent, consent_required, created_at, updated_at,
    owner_id)
SELECT 'lead' || g || '@bench.example',
    (ARRAY['Ada','Bob','Cyd','Dee','Eve','Finn','Gus','Hana','Ivo','Jo'])[1 + g %% 10],
    (ARRAY['Adams','Baker','Clark','Diaz','Evans','Fox','Gray','Hill','Ito','Jones','King',
           'Lopez','Moss'])[1 + (g * 7) %% 13],
    'Engineer', '+1 555 ' || lpad((g %% 10000)::text, 4, '0'), 'US',
    'Company ' || (g %% 5000), 'company' || (g %% 5000) || '.example', 10 + g %% 500,
    (ARRAY['organic_search','paid_search','social','referral','guest_blog','lead_magnet',
           'direct_outreach','partner','event','import','other'])[1 + g %% 11],
    'inbound', 'newsletter', 'email', 'campaign-' || (g %% 20), '', '', '{}',
    (ARRAY['IQL','IQL','IQL','MQL','MQL','PQL','SAL','SQL','CUSTOMER','DISQUALIFIED'])[1 + g %% 10],
    now() - (g %% 180) * interval '1 day' + (g %% 97) * interval '1 hour',
    0, (g * 37) %% 101,
    CASE WHEN (g * 37) %% 101 >= 60 THEN 'hot' WHEN (g * 37) %% 101 >= 30 THEN 'warm'
         ELSE 'cold' END,
    g %% 50 = 0, CASE WHEN g %% 50 = 0 THEN 'bounced' ELSE '' END, 'unknown', false,
    now() - (g %% 180) * interval '1 day' - (g %% 1440) * interval '1 minute', now(),
    CASE WHEN g %% 10 IN (6, 7, 8) THEN %(rep)s END
FROM generate_series(1, %(count)s) AS g
"""
HISTORY = """
INSERT INTO leads_stagechange (lead_id, from_stage, to_stage, changed_at, rule, reason)
SELECT id, '', stage, created_at, '', 'bench' FROM leads_lead
"""


def seed(count: int):
    from django.db import connection

    from accounts.models import Role, User

    marketer = User.objects.create_user("bench-marketer", password="x", role=Role.MARKETER)
    rep = User.objects.create_user("bench-rep", password="x", role=Role.REP)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(SEED, {"count": count, "rep": rep.pk})
        cursor.execute(HISTORY)
        cursor.execute("ANALYZE")
    print(f"seeded {count:,} leads and their history in {time.perf_counter() - started:.1f} s")
    return marketer


def _status(field: str) -> int:
    """A field of /proc/self/status in KiB (VmRSS: resident now; VmHWM: its peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> None:
    # "5" resets the peak resident set size (VmHWM) to the current one (Linux 4.0+).
    Path("/proc/self/clear_refs").write_text("5")


def measure_export(client, query: str) -> dict:
    import gc

    gc.collect()
    _reset_peak()
    before = _status("VmRSS")
    started = time.perf_counter()
    response = client.get(f"/api/v1/leads/export/?{query}")
    assert response.status_code == 200, response.status_code
    size = lines = 0
    for chunk in response.streaming_content:
        size += len(chunk)
        lines += chunk.count(b"\n")
    response.close()
    seconds = time.perf_counter() - started
    return {
        "rows": lines - 1,
        "bytes": size,
        "seconds": seconds,
        "rss_before_mb": before / 1024,
        "rss_peak_mb": _status("VmHWM") / 1024,
    }


def report_export(label: str, row: dict) -> None:
    rate = row["rows"] / row["seconds"] if row["seconds"] else 0
    verdict = "ok" if row["seconds"] < TARGET_EXPORT_S else f"OVER {TARGET_EXPORT_S} s"
    print(
        f"{label:<34} {row['rows']:>7,} rows {row['bytes'] / 1e6:6.1f} MB "
        f"{row['seconds']:6.2f} s ({rate:,.0f} rows/s, {verdict})  RSS {row['rss_before_mb']:.0f}"
        f" MB before, peak {row['rss_peak_mb']:.0f} MB "
        f"(+{row['rss_peak_mb'] - row['rss_before_mb']:.1f} MB)",
        flush=True,
    )


def measure_page(client, path: str, runs: int) -> dict:
    from django.db import connection
    from django.http import QueryDict

    from leads import listing

    client.get(path)  # warm-up
    # Counted by an execute wrapper: a request's start clears Django's query log.
    queries: list[str] = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        response = client.get(path)
    assert response.status_code == 200, response.status_code
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        client.get(path)
        times.append((time.perf_counter() - started) * 1000)
    # The selector alone (its two queries: the page's rows, the capped count), without the
    # request, the session and the templates.
    params, user = QueryDict(path.partition("?")[2]), client.marketer
    selector = []
    for _ in range(runs):
        started = time.perf_counter()
        listing.lead_list(user=user, params=params)
        selector.append((time.perf_counter() - started) * 1000)
    return {
        "median": statistics.median(times),
        "max": max(times),
        "selector": statistics.median(selector),
        "queries": len(queries),
    }


def report_page(label: str, row: dict) -> None:
    verdict = "ok" if row["median"] < TARGET_PAGE_MS else f"OVER {TARGET_PAGE_MS} ms"
    print(
        f"{label:<52} median {row['median']:6.1f} ms  max {row['max']:6.1f} ms  "
        f"(selector {row['selector']:5.1f} ms)  {row['queries']} queries  {verdict}",
        flush=True,
    )


def deep_cursor(sort_param: str, offset: int) -> str:
    from leads import listing
    from leads.models import Lead

    sort = listing.sort_parse(sort_param)
    lead = Lead.objects.order_by(*sort.order_by)[offset]
    return listing.Cursor(getattr(lead, sort.field), lead.pk).encode(sort)


def run(args) -> None:
    from django.core.management import call_command
    from django.test import Client

    from leads import listing

    call_command("migrate", verbosity=0)
    marketer = seed(args.leads)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(marketer)
    client.marketer = marketer

    print("\nStreaming CSV export (GET /api/v1/leads/export/), target < 10 s, flat memory")
    report_export("a tenth (score_max=9)", measure_export(client, "score_max=9"))
    report_export("every lead", measure_export(client, ""))
    report_export("every lead, by score", measure_export(client, "ordering=-score"))

    print(f"\nThe list page (GET /leads/), {args.runs} runs each, target < {TARGET_PAGE_MS} ms")
    for sort_param, label in listing.SORT_LABELS:
        report_page(f"sort {label}", measure_page(client, f"/leads/?sort={sort_param}", args.runs))
        cursor = deep_cursor(sort_param, args.leads // 2)
        path = f"/leads/?sort={sort_param}&cursor={cursor}"
        report_page(
            f"sort {label}, {args.leads // 2:,} rows deep", measure_page(client, path, args.runs)
        )
    filters = [
        "stage=MQL",
        "source=event",
        "score_min=90",
        "temperature=hot&sort=-score",
        "owner=0",
        "unowned=true",
        "reached=SAL",
        "not_reached=MQL",
        "utm_campaign=campaign-7",
        "q=jones",
        "created_after=2026-01-01&created_before=2026-02-01",
    ]
    for query in filters:
        report_page(f"filter {query}", measure_page(client, f"/leads/?{query}", args.runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()

    url = bench_database_url(suffix="_bench_export", script="bench/export.py")
    recreate_database(url)
    run_with_django(url, run, args, prefix="bench-export-", env={"DEBUG": "0"})


if __name__ == "__main__":
    main()
