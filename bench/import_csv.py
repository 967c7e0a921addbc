"""CSV import benchmark: 100,000 rows end to end, from the upload to the last scored batch.

    DATABASE_URL=postgres://... .venv/bin/python bench/import_csv.py
        [--rows 100000] [--existing 10000] [--keep]

It works in its own database (<DATABASE_URL's name>_bench_import, dropped and created afresh,
dropped again at the end unless --keep), loads the default playbook (its fit rules score the
imported titles, company sizes and free-mail addresses), creates --existing leads whose emails
the file repeats in upper case (they are updated), and generates a CSV of --rows rows: contact,
company and UTM columns and two custom columns, with 1% bad emails and 1% repeated emails.

The import runs through the real Celery task, `imports.tasks.run`, called directly in this
process (no worker: the figure is the import's own work, not the broker's), step after step
until the job is done, exactly as a worker would run the steps it queues for itself. It prints
the upload's time (reading, detection, storing the file), the run's, the total, rows/s, and
checks the job's counters and the leads' scores against what the file holds.
"""

import argparse
import csv
import io
import os
import random
import sys
import time
from pathlib import Path

from benchdb import bench_database_url, recreate_database, run_with_django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_SECONDS, AIM_SECONDS = 60, 20
TITLES = ["Engineer", "VP Sales", "Head of Growth", "Analyst", "Director IT", "Designer", "Founder"]
HEADER = [
    "Email",
    "First name",
    "Last name",
    "Job title",
    "Company",
    "Employees",
    "Phone",
    "Country",
    "utm_source",
    "utm_campaign",
    "Plan",
    "Lead owner (old CRM)",
]


def make_csv(rows: int, existing: int) -> tuple[bytes, dict]:
    """The file, and what it holds: distinct good emails, bad rows, repeats."""
    rng = random.Random(12)
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    bad = repeats = known = 0

    def email_of(i: int) -> str:
        if i < existing:
            return f"OLD{i}@ACME{i % 500}.EXAMPLE"  # an existing lead's, in upper case
        domain = "gmail.com" if i % 3 == 0 else f"acme{i % 500}.example"
        return f"person{i}@{domain}"

    for i in range(rows):
        if i % 100 == 50:
            email, bad = f"broken-address-{i}", bad + 1
        elif i % 100 == 75:  # the row before's email again, in another case
            email, repeats = email_of(i - 1).swapcase(), repeats + 1
        else:
            email = email_of(i)
            known += i < existing
        writer.writerow(
            [
                email,
                f"First{i}",
                "Last",
                TITLES[i % len(TITLES)],
                f"Acme {i % 500}",
                str(rng.randrange(1, 400)),
                f"+1 555 {i:07d}",
                rng.choice(["US", "DE", "FR", "GB"]),
                "linkedin",
                "spring-list",
                rng.choice(["free", "pro"]),
                f"owner{i % 7}",
            ]
        )
    return out.getvalue().encode(), {"bad": bad, "repeats": repeats, "known": known}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--existing", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()
    url = bench_database_url(suffix="_bench_import", script="bench/import_csv.py")
    recreate_database(url)
    run_with_django(url, run, args, prefix="bench-import-")


def create_existing(count: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO leads_lead (email, first_name, last_name, title, phone, country,
                company_name, company_domain, source, direction, utm_source, utm_medium,
                utm_campaign, utm_term, utm_content, traits, stage, stage_entered_at,
                recycle_count, score, temperature, do_not_contact, do_not_contact_reason,
                consent, consent_required, created_at, updated_at)
            SELECT 'old' || g || '@acme' || mod(g, 500) || '.example', 'Old', '', '', '', '',
                '', '', 'other', 'inbound', '', '', '', '', '', '{}', 'IQL', now(), 0, 0,
                'cold', false, '', 'unknown', false, now(), now()
            FROM generate_series(0, %s - 1) AS g
            """,
            [count],
        )


def backend_cpu_seconds() -> float | None:
    """CPU time of this connection's PostgreSQL backend (user + system), when the server runs
    on this machine and /proc shows it; None otherwise."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(args) -> None:
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Role, User
    from imports import services, tasks
    from imports.models import ImportJob
    from leads.models import Lead, Stage
    from playbook import scoring as playbook

    call_command("migrate", verbosity=0)
    playbook.playbook_load()
    create_existing(args.existing)
    user = User.objects.create(username="bench-marketer", role=Role.MARKETER)
    data, holds = make_csv(args.rows, args.existing)
    print(
        f"PostgreSQL {connection.pg_version}; {args.rows:,} rows ({len(data) / 1e6:.1f} MB), "
        f"{args.existing:,} of them existing leads, {holds['bad']:,} bad, "
        f"{holds['repeats']:,} repeated; batches of {services.settings.IMPORT_BATCH_SIZE:,}",
        flush=True,
    )

    load_before = os.getloadavg()[0]
    backend_started = backend_cpu_seconds()
    cpu_started = time.process_time()
    started = time.perf_counter()
    job = services.job_create(actor=user, filename="bench.csv", data=data)
    uploaded = time.perf_counter()
    steps = 1
    while tasks.run(job.pk):  # the task's own body, as a worker runs it
        steps += 1
    finished = time.perf_counter()
    cpu = time.process_time() - cpu_started
    backend_ended = backend_cpu_seconds()

    job = ImportJob.objects.get(pk=job.pk)
    upload_s, run_s, total_s = uploaded - started, finished - uploaded, finished - started
    print(f"upload (read, detect, store): {upload_s:6.2f} s")
    print(f"run ({steps} task step{'s' if steps > 1 else ''}):          {run_s:6.2f} s")
    print(f"total:                        {total_s:6.2f} s   {args.rows / total_s:,.0f} rows/s")
    backend = None
    if backend_started is not None and backend_ended is not None:
        backend = backend_ended - backend_started
    print(
        f"CPU: this process {cpu:.2f} s, its PostgreSQL backend "
        f"{'unknown' if backend is None else f'{backend:.2f} s'}; load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores "
        "(the wall time beyond the CPU is disk and waiting for a core)"
    )
    print(
        f"job: {job.status}, processed {job.processed:,}, created {job.created:,}, "
        f"updated {job.updated:,}, skipped {job.skipped:,}, errors {job.errors:,}"
    )
    expected_created = args.rows - holds["known"] - holds["bad"] - holds["repeats"]
    checks = {
        "processed every row": job.processed == args.rows,
        "bad rows reported": job.errors == holds["bad"],
        "created": job.created == expected_created,
        "updated (existing + repeats)": job.updated == holds["known"] + holds["repeats"],
        "no lead doubled": Lead.objects.count() == args.existing + expected_created,
    }
    scored = Lead.objects.exclude(score=0).count()
    mql = Lead.objects.filter(stage=Stage.MQL).count()
    print(f"scored (non-zero score): {scored:,} leads; at MQL: {mql:,}")
    checks["scoring applied"] = scored > args.rows // 2
    for name, ok in checks.items():
        print(f"  {'ok ' if ok else 'BAD'} {name}")
    verdict = "met" if total_s < TARGET_SECONDS else "NOT met"
    print(
        f"target: {args.rows:,} rows under {TARGET_SECONDS} s (aim {AIM_SECONDS} s): "
        f"{verdict} ({total_s:.1f} s)"
    )
    if not all(checks.values()):
        sys.exit("some checks failed")


if __name__ == "__main__":
    main()
