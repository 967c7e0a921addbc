from django.urls import path

from reports import apis, views

api_urlpatterns: list = [*apis.urlpatterns]

app_name = "reports"
urlpatterns = [
    path("", views.home, name="home"),
    path("reports/sources/", views.sources, name="sources"),
]
