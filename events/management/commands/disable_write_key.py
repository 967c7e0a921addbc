from django.core.management.base import BaseCommand, CommandError

from events import services
from events.models import Source


class Command(BaseCommand):
    help = "Disable a source's write key (its requests get 401), or --enable it again."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The source's name.")
        parser.add_argument("--enable", action="store_true", help="Enable the key again.")

    def handle(self, *args, name, enable, **options):
        source = Source.objects.filter(name=name, internal=False).first()
        if source is None:
            raise CommandError(f"No source named {name!r} with a write key.")
        services.source_set_active(source=source, active=enable)
        self.stdout.write(f"Write key of {name!r} {'enabled' if enable else 'disabled'}.")
