from django.urls import path
from rest_framework.routers import SimpleRouter

from nurturing import apis, views, views_bulk

router = SimpleRouter(trailing_slash=True)
router.register("nurturing/sequences", apis.SequenceViewSet, basename="nurture-sequence")
router.register("nurturing/steps", apis.StepViewSet, basename="nurture-step")
router.register("nurturing/enrollments", apis.EnrollmentViewSet, basename="nurture-enrollment")
router.register("nurturing/messages", apis.MessageViewSet, basename="nurture-message")

api_urlpatterns = router.urls

# Public links inside emails (no login; a signed token each).
app_name = "nurturing"
urlpatterns = [
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("open/<str:token>/", views.open_pixel, name="open"),
    path("click/<str:token>/", views.click, name="click"),
    # The lead list's bulk enroll (under /e/ with the rest of nurturing's pages).
    path("leads/bulk/enroll/", views_bulk.leads_bulk_enroll, name="bulk_enroll"),
]
