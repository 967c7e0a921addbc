from django.urls import path, re_path

from events import apis

# Segment's Tracking API paths, at the site root so SDKs need only `host`.
segment_urlpatterns = [
    re_path(
        r"^v1/(?P<kind>identify|track|page|screen|group|alias|batch)/?$",
        apis.segment_api,
        name="segment-api",
    ),
]

api_urlpatterns = [
    path("events/", apis.EventIngestApi.as_view(), name="event-ingest"),
]
