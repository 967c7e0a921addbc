"""The hand-off's API routes (under /api/v1/) and pages. Each area keeps its own list."""

from handoff.apis import activities, decisions, reports, routing

api_urlpatterns = [
    *routing.urlpatterns,
    *decisions.urlpatterns,
    *activities.urlpatterns,
    *reports.urlpatterns,
]

app_name = "handoff"
urlpatterns: list = []  # pages (the rep's inbox) join here
