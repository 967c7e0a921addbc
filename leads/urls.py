from django.urls import path
from rest_framework.routers import DefaultRouter

from leads import apis, privacy_views, views

router = DefaultRouter(trailing_slash=True)
router.register("leads", apis.LeadViewSet, basename="lead")

api_urlpatterns = router.urls

app_name = "leads"
urlpatterns = [
    path("leads/", views.lead_list, name="list"),
    path("leads/views/", views.saved_view_create, name="view_create"),
    path("leads/views/<int:view_id>/", views.saved_view_apply, name="view_apply"),
    path("leads/views/<int:view_id>/delete/", views.saved_view_delete, name="view_delete"),
    path("leads/bulk/export/", views.bulk_export, name="bulk_export"),
    path("leads/<int:lead_id>/", views.lead_detail, name="detail"),
    path("leads/<int:lead_id>/erase/", privacy_views.lead_erase_page, name="erase"),
]
