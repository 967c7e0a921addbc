"""WSGI application of bench/browser_ingest.py: leadcrm's whole site plus a bare JSON view.

    gunicorn --pythonpath bench browser_site:application

The bare view (`POST /bench/bare`) reads the body, parses it as JSON and answers JSON, behind
the site's middleware (settings.MIDDLEWARE, as every page and /api/ URL): Django's floor for a
small JSON POST in this project, to compare ingestion with in the same run. Ingestion runs
behind its own, shorter stack (settings.MACHINE_MIDDLEWARE, core/wsgi.py), as in production;
with `BENCH_BARE_MACHINE=1` the bare view is served under /v1/ behind that stack too (the
bench's --bare-stack machine). It exists in this URLconf only, never in leadcrm's URLs.
"""

import json
import os

from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadcrm.settings")


@csrf_exempt
def bare(request):
    json.loads(request.body)
    return JsonResponse({"ok": True})


BARE_PATH = "v1/bench-bare" if os.environ.get("BENCH_BARE_MACHINE") else "bench/bare"


def _setup():
    from django.conf import settings

    from core.wsgi import get_application

    wsgi = get_application()  # sets Django up: leadcrm.wsgi's application
    from leadcrm.urls import urlpatterns as site

    # Read on every request: from the first one on, this module is the URLconf.
    settings.ROOT_URLCONF = __name__
    return wsgi, [path(BARE_PATH, bare), *site]


application, urlpatterns = _setup()
