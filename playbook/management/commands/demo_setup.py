from django.core.management import call_command
from django.core.management.base import BaseCommand

from handoff.services import routing
from leads.models import Lead
from playbook import demo
from playbook.demo_board import demo_board_ensure
from playbook.demo_handoff_decisions import demo_handoff_decisions
from playbook.demo_handoff_pages import demo_handoff_pages
from playbook.demo_handoff_routing import demo_handoff_routing
from playbook.demo_handoff_sla import demo_sla_ensure
from playbook.demo_history import demo_history_ensure
from playbook.demo_imports import demo_imports_ensure
from playbook.demo_leadlist import demo_leadlist_ensure
from playbook.demo_privacy import demo_privacy_ensure
from playbook.demo_web import demo_web_ensure
from scoring.services import backlog_score


class Command(BaseCommand):
    help = "Create the demo users and leads (idempotent) and print the log-ins."

    def handle(self, *args, **options):
        users = demo.demo_users_ensure()
        call_command("load_playbook")
        created = demo.demo_leads_ensure()
        # The sales hand-off: the team (a manager, reps with capacities, one away), routing
        # rules, SLA cases met and missed, leads decided and worked, then the waiting MQL/PQL
        # leads routed into the reps' inboxes.
        team = demo_handoff_routing(route=False)
        # Six months of history behind the dashboard: ~2,000 leads, their moves and activity.
        history = demo_history_ensure()
        # Score the demo activity now, so the first page a visitor opens shows real scores.
        backlog_score(
            lead_ids=Lead.objects.filter(email__endswith=".example").values_list("pk", flat=True)
        )
        handoff = demo_sla_ensure() + demo_handoff_decisions() + demo_handoff_pages()
        # The website: a browser source, the ebook form with its hosted page, leads from it.
        website = demo_web_ensure()
        # A finished CSV import (a trade-show list) with its report of bad rows.
        imported = demo_imports_ensure()
        # The lead page: a duplicate to merge (Sam Allen, again, from an event).
        demo_board_ensure()
        routed = routing.pool_route()
        # The lead list: saved views of the marketer and the sales manager.
        views = demo_leadlist_ensure()
        # Audit trail and privacy: edits in the audit log, an erased lead, an API token.
        privacy = demo_privacy_ensure()
        self.stdout.write(f"Demo data: {created} new leads; hand-off: {handoff} new rows.")
        self.stdout.write(f"History: {history} new leads over the last six months.")
        self.stdout.write(f"Import: {imported} leads from a trade-show list (/leads/import/).")
        self.stdout.write(f"Routed {routed} waiting leads to the reps' inboxes.")
        self.stdout.write(f"Website: {website} new rows (a browser source, the form /f/ebook/).")
        self.stdout.write(f"Lead list: {views} saved views.")
        self.stdout.write(f"Privacy: {privacy} new rows (audit log /audit/, an erased lead).")
        self.stdout.write("Demo log-ins (username / password):")
        seen = set()
        for user in [*users, *team["users"]]:
            if user.username not in seen:
                seen.add(user.username)
                self.stdout.write(f"  {user.role:<9} {user.username} / {user.password}")
