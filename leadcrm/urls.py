from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import password_reset
from accounts.urls import admin_login_urlpatterns, login_urlpatterns
from accounts.urls import api_urlpatterns as accounts_api
from audit.urls import api_urlpatterns as audit_api
from core.health import healthz
from events.urls import api_urlpatterns as events_api
from events.urls import segment_urlpatterns
from handoff.urls import api_urlpatterns as handoff_api
from imports.urls import api_urlpatterns as imports_api
from leads.urls import api_urlpatterns as leads_api
from nurturing.urls import api_urlpatterns as nurturing_api
from reports.urls import api_urlpatterns as reports_api
from scoring.urls import api_urlpatterns as scoring_api
from web.urls import api_urlpatterns as web_api

api_v1 = [
    *accounts_api,
    *handoff_api,
    *leads_api,
    *events_api,
    *scoring_api,
    *nurturing_api,
    *web_api,
    *imports_api,
    *reports_api,
    *audit_api,
]

urlpatterns = [
    # First: the ingestion endpoints carry most requests (a website sends one a page view), and
    # Django tries the patterns in order (last, /v1/p went through every app's before its own).
    *segment_urlpatterns,
    path("", include("reports.urls")),
    path("", include("leads.urls")),
    path("", include("imports.urls")),
    path("", include("handoff.urls")),
    path("", include("audit.urls")),
    path("accounts/", include(login_urlpatterns)),
    # Django's password reset, throttled (before the auth URLs, which hold the unthrottled one).
    path(
        "accounts/password_reset/",
        password_reset.PasswordResetView.as_view(),
        name="password_reset",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("account/", include("accounts.urls")),
    path("e/", include("nurturing.urls")),
    path("scoring/", include("scoring.urls")),
    path("nurturing/", include("nurturing.page_urls")),
    path("f/", include("web.urls")),
    path("forms/", include("web.page_urls")),
    path("sources/", include("events.page_urls")),
    *admin_login_urlpatterns,
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("healthz", healthz, name="healthz"),
    # Browsers ask for /favicon.ico on pages that name none (the admin, the API's JSON).
    path("favicon.ico", RedirectView.as_view(url=static("img/favicon.svg"), permanent=True)),
]

# JSON error answers under /api/ and /v1/, Django's pages elsewhere (core/handlers.py).
handler400 = "core.handlers.bad_request"
handler404 = "core.handlers.not_found"
handler500 = "core.handlers.server_error"
