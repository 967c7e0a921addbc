from django.urls import path

from reports import views

api_urlpatterns: list = []

app_name = "reports"
urlpatterns = [
    path("", views.home, name="home"),
]
