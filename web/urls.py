from django.urls import path

from web import apis, views

api_urlpatterns = apis.urlpatterns

# Public pages (no login): the hosted forms and the double opt-in link.
app_name = "web"
urlpatterns = [
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("<slug:slug>/", views.form_page, name="form"),
    path("<slug:slug>/start/", views.form_start, name="start"),
]
