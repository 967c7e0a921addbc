import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

from leadcrm.schedule import BEAT_SCHEDULE

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadcrm.settings")

app = Celery("leadcrm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.beat_schedule = BEAT_SCHEDULE
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _database_connections_checked(sender=None, **kwargs) -> None:
    """Around each task, what Django does around each request: close a connection that is
    older than CONN_MAX_AGE or broke, and have the next query check a kept one first
    (CONN_HEALTH_CHECKS), so a task never runs on a connection the database has dropped.
    (CELERY_DB_REUSE_MAX keeps Celery's fixup from closing every connection instead.)"""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return  # run in the caller's process: its connection is the caller's business
    from django.db import close_old_connections

    close_old_connections()
