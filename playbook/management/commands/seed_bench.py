import time

from django.core.management.base import BaseCommand, CommandError

from playbook import bench_seed


class Command(BaseCommand):
    help = (
        "Fill the database with bench data: leads with their stage history, events "
        "(100,000 and 1,000,000 by default) and nurture sequences with their emails. "
        "Refuses a database that has leads, unless --force."
    )

    def add_arguments(self, parser):
        parser.add_argument("--leads", type=int, default=100_000)
        parser.add_argument("--events", type=int, default=1_000_000)
        parser.add_argument(
            "--force", action="store_true", help="add to a database that already has leads"
        )

    def handle(self, *args, leads: int, events: int, force: bool, **options):
        if leads < 1 or events < 0:
            raise CommandError("--leads must be at least 1 and --events at least 0.")
        if bench_seed.database_has_data() and not force:
            raise CommandError(
                "This database has leads already: seed_bench is for an empty bench database. "
                "Pass --force to add the bench data anyway."
            )
        started = time.perf_counter()
        result = bench_seed.seed(
            leads=leads, events=events, report=lambda line: self.stdout.write(f"  {line}")
        )
        self.stdout.write(
            f"Seeded {result.leads:,} leads, {result.stage_changes:,} stage changes, "
            f"{result.events:,} events and {result.messages:,} nurture emails in "
            f"{time.perf_counter() - started:.1f} s."
        )
