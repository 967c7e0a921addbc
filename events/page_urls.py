"""The sources page, under /sources/ (the ingestion endpoints are under /v1/)."""

from django.urls import path

from events import pages

app_name = "sources"
urlpatterns = [
    path("", pages.source_list, name="list"),
    path("new/", pages.source_new, name="new"),
    path("<int:source_id>/rotate/", pages.source_rotate, name="rotate"),
    path("<int:source_id>/toggle/", pages.source_toggle, name="toggle"),
]
