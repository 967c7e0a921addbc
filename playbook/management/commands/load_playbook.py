from django.core.management.base import BaseCommand
from django.db import transaction

from playbook.nurturing import playbook_load as nurturing_playbook_load
from playbook.scoring import playbook_load as scoring_playbook_load


class Command(BaseCommand):
    help = "Load the default scoring rules and nurture sequences (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        rules = scoring_playbook_load()
        sequences = nurturing_playbook_load()
        self.stdout.write(f"Playbook: {rules} new scoring rules, {sequences} new sequences.")
