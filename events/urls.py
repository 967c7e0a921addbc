from django.urls import path, re_path

from events import apis, source_apis

# Segment's Tracking API paths, at the site root so SDKs need only `host`; the browser
# libraries' own paths beside them (read in their source: see events.apis and events.cors).
segment_urlpatterns = [
    re_path(
        r"^v1/(?P<kind>identify|track|page|screen|group|alias|batch)/?$",
        apis.segment_api,
        name="segment-api",
    ),
    # analytics-next: /v1/t, /v1/i, /v1/p, /v1/s, /v1/g, /v1/a, and /v1/b when batching.
    re_path(r"^v1/(?P<kind>[tipsgab])/?$", apis.segment_api, name="segment-api-short"),
    # RudderStack analytics-js with `useBeacon`: navigator.sendBeacon, the key in the query.
    re_path(r"^beacon/v1/(?P<kind>batch)/?$", apis.segment_api, name="segment-api-beacon"),
    # The settings each library fetches before it sends (Segment's `cdnURL`, RudderStack's
    # `configUrl`: both leadcrm's base URL).
    re_path(
        r"^v1/projects/(?P<write_key>[^/]+)/settings/?$",
        apis.segment_settings,
        name="segment-settings",
    ),
    re_path(r"^sourceConfig/?$", apis.rudderstack_source_config, name="rudderstack-config"),
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
