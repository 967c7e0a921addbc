"""Settings for a Celery worker subprocess in the hand-off tests: the app's own, except that the
tasks the worker publishes (the SLA job's escalation emails) go to the test's queue, where this
worker, and nobody else, takes them."""

import os

from leadcrm.settings import *  # noqa: F403

CELERY_TASK_DEFAULT_QUEUE = os.environ["LEADCRM_TEST_QUEUE"]
