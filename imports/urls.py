from django.urls import path

from imports import apis, views

api_urlpatterns = [
    path("imports/", apis.ImportCreateApi.as_view(), name="import-create"),
    path("imports/<int:job_id>/", apis.ImportDetailApi.as_view(), name="import-detail"),
    path("imports/<int:job_id>/cancel/", apis.ImportCancelApi.as_view(), name="import-cancel"),
    path(
        "imports/<int:job_id>/errors.csv", apis.ImportErrorsCsvApi.as_view(), name="import-errors"
    ),
]

app_name = "imports"
urlpatterns = [
    path("leads/import/", views.upload, name="upload"),
    path("leads/import/<int:job_id>/", views.job, name="job"),
    path("leads/import/<int:job_id>/cancel/", views.cancel, name="cancel"),
]
