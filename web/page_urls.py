"""The marketer's form pages, under /forms/ (the public hosted forms are under /f/)."""

from django.urls import path

from web import pages

app_name = "forms"
urlpatterns = [
    path("", pages.form_list, name="list"),
    path("new/", pages.form_edit, name="new"),
    path("<int:form_id>/", pages.form_detail, name="detail"),
    path("<int:form_id>/edit/", pages.form_edit, name="edit"),
]
