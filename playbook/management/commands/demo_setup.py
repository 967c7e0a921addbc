from django.core.management import call_command
from django.core.management.base import BaseCommand

from leads.models import Lead
from playbook import demo
from scoring.services import backlog_score


class Command(BaseCommand):
    help = "Create the demo users and leads (idempotent) and print the log-ins."

    def handle(self, *args, **options):
        users = demo.demo_users_ensure()
        call_command("load_playbook")
        created = demo.demo_leads_ensure()
        # Score the demo activity now, so the first page a visitor opens shows real scores.
        backlog_score(
            lead_ids=Lead.objects.filter(email__endswith=".example").values_list("pk", flat=True)
        )
        self.stdout.write(f"Demo data: {created} new leads.")
        self.stdout.write("Demo log-ins (username / password):")
        for user in users:
            self.stdout.write(f"  {user.role:<9} {user.username} / {user.password}")
