"""WSGI application of bench/browser_ingest.py: leadcrm's whole site plus a bare JSON view.

    gunicorn --pythonpath bench browser_site:application

The bare view (`POST /bench/bare`) reads the body, parses it as JSON and answers JSON, behind
the same middleware as every leadcrm URL: Django's own floor for a small JSON POST, to compare
ingestion with in the same run. It exists in this URLconf only, never in leadcrm's URLs.
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


def _setup():
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application

    wsgi = get_wsgi_application()  # sets Django up
    from leadcrm.urls import urlpatterns as site

    # Read on every request: from the first one on, this module is the URLconf.
    settings.ROOT_URLCONF = __name__
    return wsgi, [path("bench/bare", bare), *site]


application, urlpatterns = _setup()
