import os

from core.wsgi import get_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadcrm.settings")
# The site's middleware for people, a shorter stack for the SDKs' write-key endpoints.
application = get_application()
