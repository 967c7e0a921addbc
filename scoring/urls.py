from django.urls import path
from rest_framework.routers import SimpleRouter

from scoring import apis, views

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

# Pages, under /scoring/.
app_name = "scoring"
urlpatterns = [
    path("rules/", views.rule_list, name="rules"),
    path("rules/new/", views.rule_edit, name="rule_new"),
    path("rules/<int:rule_id>/", views.rule_edit, name="rule_edit"),
    path("rules/<int:rule_id>/switch/", views.rule_switch, name="rule_switch"),
    path("settings/", views.settings_edit, name="settings"),
    path("previews/<int:job_id>/", views.preview, name="preview"),
    path("previews/<int:job_id>/publish/", views.preview_publish, name="publish"),
    path("previews/<int:job_id>/discard/", views.preview_discard, name="discard"),
    path("rescores/<int:job_id>/", views.rescore_progress, name="rescore"),
]
