"""The pipeline board and the lead page at 100,000 leads: server time and queries of one page.

    DATABASE_URL=postgres://... .venv/bin/python bench/board.py [--leads 100000] [--runs 30]
        [--keep]

It works in its own database (<DATABASE_URL's name>_bench_board, made afresh, dropped at the
end unless --keep): --leads leads spread over the stages as a funnel would leave them (IQL 45%,
MQL 20%, PQL 8%, SAL 7%, SQL 5%, customers 5%, disqualified 10%), scores 0-120, every source,
the sales stages owned by 20 reps, each lead with its history row. Each page is requested
--runs times through Django's whole stack in this process (middleware, session, the view, its
queries, the templates; no network), after one warm-up request; the script prints the median,
p95 and worst server time and the page's number of queries. Figures on a shared 2-core machine
are noisy.
"""

import argparse
import sys
from pathlib import Path

from benchdb import bench_database_url, recreate_database, run_with_django
from inbox import measure, report

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REPS = 20

# Upper bounds of g / leads for each stage, in funnel order.
_STAGE_CASE = """
CASE
    WHEN g <= 0.45 * %(n)s THEN 'IQL'
    WHEN g <= 0.65 * %(n)s THEN 'MQL'
    WHEN g <= 0.73 * %(n)s THEN 'PQL'
    WHEN g <= 0.80 * %(n)s THEN 'SAL'
    WHEN g <= 0.85 * %(n)s THEN 'SQL'
    WHEN g <= 0.90 * %(n)s THEN 'CUSTOMER'
    ELSE 'DISQUALIFIED'
END
"""


def seed(args) -> tuple:
    from django.db import connection

    from accounts.models import Role, User
    from leads.models import SourceChannel

    marketer = User.objects.create_user("bench-marketer", password="x", role=Role.MARKETER)
    reps = [
        User.objects.create_user(f"bench-rep{n}", password="x", role=Role.REP) for n in range(REPS)
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO leads_lead (email, first_name, last_name, title, phone, country,
                company_name, company_domain, company_size, source, direction, utm_source,
                utm_medium, utm_campaign, utm_term, utm_content, traits, stage,
                stage_entered_at, recycle_count, score, temperature, do_not_contact,
                do_not_contact_reason, consent, consent_required, created_at, updated_at)
            SELECT 'lead' || g || '@acme' || mod(g, 5000) || '.example', 'First' || g, 'Last',
                'Engineer', '+1 555 ' || lpad(g::text, 7, '0'), '', 'Acme ' || mod(g, 5000),
                'acme' || mod(g, 5000) || '.example', 50, (%(sources)s)[1 + mod(g, %(nsources)s)],
                'inbound', '', '', '', '', '', '{{}}', {_STAGE_CASE},
                now() - mod(g, 1000) * interval '1 hour', 0, mod(g * 7, 121),
                'cold', false, '', 'unknown', false,
                now() - (%(n)s - g) * interval '2 minutes', now()
            FROM generate_series(1, %(n)s) AS g
            """,
            {
                "n": args.leads,
                "sources": list(SourceChannel.values),
                "nsources": len(SourceChannel.values),
            },
        )
        cursor.execute(
            "UPDATE leads_lead SET owner_id = (%s::bigint[])[1 + mod(id, %s)] "
            "WHERE stage IN ('SAL', 'SQL', 'CUSTOMER', 'DISQUALIFIED')",
            [[rep.pk for rep in reps], REPS],
        )
        cursor.execute(
            "INSERT INTO leads_stagechange (lead_id, from_stage, to_stage, changed_at, rule, "
            "reason) SELECT id, '', stage, stage_entered_at, '', 'bench' FROM leads_lead"
        )
        cursor.execute("VACUUM ANALYZE leads_lead")
        cursor.execute("ANALYZE")
    return marketer, reps[0]


def run(args) -> None:
    from django.core.management import call_command
    from django.test import Client

    from leads.models import Lead

    call_command("migrate", verbosity=0)
    marketer, rep = seed(args)
    print(f"{Lead.objects.count():,} leads, {REPS} reps", flush=True)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(marketer)
    htmx = {"HTTP_HX_REQUEST": "true"}
    report("GET /board/ (marketer: every lead)", measure(client, "/board/", args.runs))
    report(
        "GET /board/?source=referral",
        measure(client, "/board/?source=referral", args.runs),
    )
    report(f"GET /board/?owner={rep.pk}", measure(client, f"/board/?owner={rep.pk}", args.runs))
    report(
        "GET /board/column/IQL/?page=2 (htmx)",
        measure(client, "/board/column/IQL/?page=2", args.runs, htmx),
    )
    report(
        "GET /board/column/IQL/?page=100 (htmx)",
        measure(client, "/board/column/IQL/?page=100", args.runs, htmx),
    )
    sal = Lead.objects.filter(stage="SAL", owner=rep).first()
    assert sal is not None
    report(f"GET /leads/{sal.pk}/ (marketer)", measure(client, f"/leads/{sal.pk}/", args.runs))
    report(
        f"GET /leads/{sal.pk}/?kind=stage (htmx)",
        measure(
            client,
            f"/leads/{sal.pk}/?kind=stage",
            args.runs,
            {**htmx, "HTTP_HX_TARGET": "timeline"},
        ),
    )
    client.force_login(rep)
    report("GET /board/ (a rep: their own)", measure(client, "/board/", args.runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()

    url = bench_database_url(suffix="_bench_board", script="bench/board.py")
    recreate_database(url)
    run_with_django(url, run, args, prefix="bench-board-", env={"DEBUG": "0"})


if __name__ == "__main__":
    main()
