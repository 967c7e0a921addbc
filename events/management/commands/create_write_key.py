from django.core.management.base import BaseCommand, CommandError

from core.errors import ApiError
from events import services
from events.models import Source, SourceKind


class Command(BaseCommand):
    help = (
        "Create a source and print its new write key (the last line of output; it is shown "
        "only once). A server key (the default) is secret: a backend, imports. With --browser "
        "and one --origin or more, a browser key: public, used from pages on those origins, "
        "and held to the browser-key rules. With --rotate, give an existing source a new key: "
        "the old one stops working."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="The source's name, e.g. website or product.")
        parser.add_argument(
            "--rotate", action="store_true", help="Replace the key of an existing source."
        )
        parser.add_argument(
            "--browser",
            action="store_true",
            help="A browser (public) key for web pages; needs --origin.",
        )
        parser.add_argument(
            "--origin",
            action="append",
            default=[],
            metavar="URL",
            help="An origin pages send from, scheme://host[:port] (repeat for more).",
        )

    def handle(self, *args, name, rotate, browser, origin, **options):
        if rotate and (browser or origin):
            raise CommandError(
                "--rotate changes only the key; --browser and --origin are for new sources."
            )
        if origin and not browser:
            raise CommandError("--origin is for browser keys: add --browser.")
        try:
            if rotate:
                source = Source.objects.filter(name=name).first()
                if source is None:
                    raise CommandError(f"No source named {name!r}.")
                key = services.source_rotate_key(source=source)
                self.stdout.write(f"New write key for source {name!r}; the old key is void.")
            else:
                kind = SourceKind.BROWSER if browser else SourceKind.SERVER
                source, key = services.source_create(name=name, kind=kind, allowed_origins=origin)
                self.stdout.write(f"Created {kind} source {name!r}.")
                if browser:
                    self.stdout.write(f"Allowed origins: {', '.join(source.allowed_origins)}")
        except ApiError as exc:
            raise CommandError(str(exc.detail)) from exc
        self.stdout.write("Keep the key now: only its digest is stored. Write key:")
        self.stdout.write(key)
