from django.urls import path
from rest_framework.routers import SimpleRouter

from scoring import apis

router = SimpleRouter(trailing_slash=True)
router.register("scoring/rules", apis.RuleViewSet, basename="scoring-rule")
router.register("scoring/rescores", apis.RescoreJobViewSet, basename="scoring-rescore")
router.register("scoring/simulations", apis.SimulationJobViewSet, basename="scoring-simulation")

api_urlpatterns = [
    path("scoring/settings/", apis.SettingsApi.as_view(), name="scoring-settings"),
    path("scoring/simulate/", apis.SimulateApi.as_view(), name="scoring-simulate"),
    path(
        "scoring/rules/<int:rule_id>/versions/",
        apis.RuleVersionsApi.as_view(),
        name="scoring-rule-versions",
    ),
    path("leads/<int:lead_id>/score/", apis.LeadScoreApi.as_view(), name="lead-score"),
    *router.urls,
]
