from django.urls import path

from audit import apis, views

api_urlpatterns = [
    path("audit/", apis.AuditListApi.as_view(), name="audit-list"),
]

app_name = "audit"
urlpatterns = [
    path("audit/", views.audit_log, name="log"),
]
