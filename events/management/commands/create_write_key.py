from django.core.management.base import BaseCommand, CommandError

from events import services
from events.models import Source


class Command(BaseCommand):
    help = (
        "Create a source and print its new write key (the last line of output; it is shown "
        "only once). With --rotate, give an existing source a new key: the old one stops working."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="The source's name, e.g. website or product.")
        parser.add_argument(
            "--rotate", action="store_true", help="Replace the key of an existing source."
        )

    def handle(self, *args, name, rotate, **options):
        try:
            if rotate:
                source = Source.objects.filter(name=name).first()
                if source is None:
                    raise CommandError(f"No source named {name!r}.")
                key = services.source_rotate_key(source=source)
                self.stdout.write(f"New write key for source {name!r}; the old key is void.")
            else:
                source, key = services.source_create(name=name)
                self.stdout.write(f"Created source {name!r}.")
        except services.SourceError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write("Keep the key now: only its digest is stored. Write key:")
        self.stdout.write(key)
