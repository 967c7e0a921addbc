"""Demo data for CSV imports: the demo marketer's list from a spring trade show, imported
through the real service and task body (detection, mapping, batches, scoring), with two bad rows
and one person listed twice, so /leads/import/ shows a finished job and its report.

Idempotent: a second call adds nothing (the job is found by its file name).
"""

import csv
import io

from accounts.models import User
from imports import services
from imports.models import ImportJob

FILENAME = "spring-trade-show-2026.csv"
HEADER = [
    "E-mail",
    "First name",
    "Surname",
    "Company",
    "Job title",
    "Employees",
    "Country",
    "Booth visit",
]
PEOPLE = [
    ("lena.hoffmann", "Lena", "Hoffmann", "Nordwerk GmbH", "Head of Marketing", "240", "DE"),
    ("tom.baker", "Tom", "Baker", "Baker & Sons", "Owner", "12", "GB"),
    ("claire.dubois", "Claire", "Dubois", "Atelier Lumen", "Marketing Director", "85", "FR"),
    ("raj.patel", "Raj", "Patel", "Fintrail", "VP Growth", "410", "US"),
    ("sofia.rossi", "Sofia", "Rossi", "Verde Foods", "Brand Manager", "60", "IT"),
    ("jan.novak", "Jan", "Novák", "Kovo Tech", "Engineer", "33", "CZ"),
    ("emma.larsen", "Emma", "Larsen", "Fjord Analytics", "Chief Data Officer", "150", "DK"),
    ("diego.garcia", "Diego", "García", "Sol Retail", "Ecommerce Lead", "900", "ES"),
    ("mei.chen", "Mei", "Chen", "Lotus Labs", "Founder", "8", "SG"),
    ("omar.haddad", "Omar", "Haddad", "Cedar Cloud", "Head of Sales", "75", "AE"),
]


def _csv() -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for i, (local, first, last, company, title, size, country) in enumerate(PEOPLE):
        domain = company.split()[0].lower().replace("&", "") + ".example"
        writer.writerow(
            [f"{local}@{domain}", first, last, company, title, size, country, f"Day {1 + i % 2}"]
        )
    writer.writerow(["lena.hoffmann@NORDWERK.example", "", "", "", "", "", "", "Day 2"])  # twice
    writer.writerow(
        ["sam at ventures dot example", "Sam", "Ng", "Ventures", "Partner", "20", "US", "Day 1"]
    )
    writer.writerow(["", "No", "Card", "", "", "", "", "Day 2"])
    return out.getvalue().encode()


def demo_imports_ensure() -> int:
    """Import the trade-show list as the demo marketer. Returns how many leads it created."""
    marketer = User.objects.get(username="marketer")
    if ImportJob.objects.filter(created_by=marketer, filename=FILENAME).exists():
        return 0
    job = services.job_create(
        actor=marketer,
        filename=FILENAME,
        data=_csv(),
        consent="given",
        consent_wording="Yes, send me product news and event invitations by email.",
    )
    while services.job_run_step(job_id=job.pk):
        pass
    job.refresh_from_db()
    return job.created
