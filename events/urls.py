from django.urls import path, re_path

from events import apis, source_apis

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
    path("sources/", source_apis.SourceListApi.as_view(), name="source-list"),
    path("sources/<int:source_id>/", source_apis.SourceDetailApi.as_view(), name="source-detail"),
    path(
        "sources/<int:source_id>/rotate/",
        source_apis.SourceRotateApi.as_view(),
        name="source-rotate",
    ),
]
