"""The funnel and sources reports on a large stage history: server time, the database's own CPU
time and the queries of the funnel page, its JSON and the sources page.

    DATABASE_URL=postgres://... .venv/bin/python bench/funnel.py [--leads 100000] [--runs 10]
        [--keep]

It works in its own database (<DATABASE_URL's name>_bench_funnel, made afresh, dropped at the
end unless --keep), seeded in SQL (generate_series): --leads leads created over the last twelve
months from eleven source channels and thirty UTM campaigns, a third of them owned by one of
twenty reps, and a believable stage history (about 2.6 rows a lead: half reach MQL, a quarter
PQL, a third SAL, SQL and customers fewer; recycles, disqualifications, rejections). Each page
is requested --runs times through Django's whole stack in this process after one warm-up, for
the whole year (every lead in one cohort), the last six months (the default period's size),
one month, and one source over the year. It prints the median and worst server time, the
median CPU time of the PostgreSQL backend (what the statement costs, without the time spent
waiting for a core: on a shared machine the two differ widely). The queries of each page are
counted by the tests (tests/reports/: a funnel page is 7, its JSON 6, whatever the leads).
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

from benchdb import bench_database_url, recreate_database, run_with_django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEED = """
INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email,
    is_staff, is_active, date_joined, role, capacity, is_away, territory_countries)
SELECT '!', false, 'bench-rep-' || g, '', '', '', false, true, now(), 'rep', 25, false, '{}'
FROM generate_series(1, 20) AS g;

INSERT INTO leads_lead (email, first_name, last_name, title, phone, country, company_name,
    company_domain, source, direction, utm_source, utm_medium, utm_campaign, utm_term,
    utm_content, traits, owner_id, stage, stage_entered_at, recycle_count, score, temperature,
    do_not_contact, do_not_contact_reason, consent, consent_required, created_at, updated_at)
SELECT 'bench' || g || '@acme.example', 'First' || g, 'Last', '', '', '', 'Acme', '',
    (ARRAY['organic_search', 'paid_search', 'social', 'referral', 'guest_blog', 'lead_magnet',
        'direct_outreach', 'partner', 'event', 'import', 'other'])[1 + g %% 11],
    'inbound', '', '', 'campaign-' || g %% 30, '', '', '{}',
    CASE WHEN g %% 3 = 0 THEN (SELECT min(id) + g %% 20 FROM accounts_user
        WHERE username LIKE 'bench-rep-%%') END,
    'IQL', now(), 0, 0, 'cold', false, '', 'unknown', false,
    now() - (365.0 * g / %(leads)s) * interval '1 day', now()
FROM generate_series(1, %(leads)s) AS g;

CREATE TEMPORARY TABLE path AS
SELECT id, created_at AS t0, random() AS r1, random() AS r2, random() AS r3, random() AS r4,
    random() AS r5, random() AS r6
FROM leads_lead;

INSERT INTO leads_stagechange (lead_id, from_stage, to_stage, changed_at, rule, reason)
SELECT id, '', 'IQL', t0, '', 'created' FROM path
UNION ALL
SELECT id, 'IQL', 'MQL', t0 + r2 * interval '20 days', '', '' FROM path WHERE r1 < 0.5
UNION ALL
SELECT id, CASE WHEN r1 < 0.5 THEN 'MQL' ELSE 'IQL' END, 'PQL',
    t0 + interval '21 days' + r3 * interval '5 days', '', ''
FROM path WHERE r1 BETWEEN 0.35 AND 0.65
UNION ALL
SELECT id, 'MQL', 'SAL', t0 + interval '27 days' + r3 * interval '3 days', '', ''
FROM path WHERE r1 < 0.65 AND r4 < 0.5
UNION ALL
SELECT id, 'SAL', 'SQL', t0 + interval '31 days' + r5 * interval '10 days', '', ''
FROM path WHERE r1 < 0.65 AND r4 < 0.3
UNION ALL
SELECT id, 'SQL', 'CUSTOMER', t0 + interval '45 days' + r6 * interval '30 days', '', ''
FROM path WHERE r1 < 0.65 AND r4 < 0.1
UNION ALL
SELECT id, 'SQL', 'MQL', t0 + interval '45 days' + r6 * interval '30 days', '', ''
FROM path WHERE r1 < 0.65 AND r4 >= 0.1 AND r4 < 0.2
UNION ALL
SELECT id, 'IQL', 'DISQUALIFIED', t0 + interval '45 days' + r6 * interval '30 days', '', ''
FROM path WHERE r1 >= 0.65 AND r2 < 0.3;

INSERT INTO handoff_rejection (lead_id, rep_id, reason, note, source, stage, qualified_by,
    rejected_at)
SELECT id, (SELECT min(id) FROM accounts_user), 'no_budget', '', source, 'MQL', '',
    created_at + interval '10 days'
FROM leads_lead WHERE id %% 17 = 0;

ANALYZE;
"""


def seed(args) -> None:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(SEED, {"leads": args.leads})
        cursor.execute("SELECT count(*) FROM leads_stagechange")
        [history] = cursor.fetchone()
    seconds = time.perf_counter() - started
    print(f"{args.leads:,} leads, {history:,} history rows (seeded in {seconds:.0f} s)")


def _backend_cpu() -> float:
    """CPU seconds the PostgreSQL backend of this connection has used (it runs on this
    machine, as every bench here assumes)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        [pid] = cursor.fetchone()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(client, path: str, runs: int) -> dict:
    response = client.get(path)  # warm-up
    assert response.status_code == 200, response.status_code
    times, cpu = [], []
    for _ in range(runs):
        cpu_before, started = _backend_cpu(), time.perf_counter()
        client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((_backend_cpu() - cpu_before) * 1000)
    return {
        "median": statistics.median(times),
        "max": max(times),
        "cpu": statistics.median(cpu),
    }


def run(args) -> None:
    from django.core.management import call_command
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections
    from django.test import Client
    from django.utils import timezone

    from accounts.models import Role, User

    call_command("migrate", verbosity=0)
    # One connection (one backend) for every request, as a persistent connection would be, so
    # that the backend's CPU time is read before and after each request on the same process.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    seed(args)
    marketer = User.objects.create_user("bench-marketer", password="x", role=Role.MARKETER)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(marketer)
    periods = {
        "a year (every lead)": "from={year}",
        "six months": "from={half}",
        "one month": "from={month}",
        "a year, one source": "from={year}&source=social",
    }
    today = timezone.localdate()
    days = {
        "year": today - timedelta(days=366),
        "half": today - timedelta(days=182),
        "month": today - timedelta(days=30),
    }
    for label, query in periods.items():
        query = query.format(**{key: day.isoformat() for key, day in days.items()})
        for name, path in (
            ("funnel page", "/"),
            ("funnel JSON", "/api/v1/reports/funnel/"),
            ("sources page", "/reports/sources/"),
        ):
            row = measure(client, f"{path}?{query}", args.runs)
            print(
                f"{name:<13} {label:<20} median {row['median']:7.1f} ms  max {row['max']:7.1f} ms"
                f"  PostgreSQL CPU {row['cpu']:6.1f} ms",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()

    url = bench_database_url(suffix="_bench_funnel", script="bench/funnel.py")
    recreate_database(url)
    run_with_django(url, run, args, prefix="bench-funnel-", env={"DEBUG": "0"})


if __name__ == "__main__":
    main()
