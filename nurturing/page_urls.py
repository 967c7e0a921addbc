"""The nurture pages, under /nurturing/ (the email links are in urls.py, under /e/)."""

from django.urls import path

from nurturing import pages

app_name = "sequences"
_seq = "sequences/<int:sequence_id>"
_step = f"{_seq}/steps/<int:step_id>"
urlpatterns = [
    path("sequences/", pages.sequence_list, name="list"),
    path("sequences/new/", pages.sequence_edit, name="new"),
    path(f"{_seq}/", pages.sequence_detail, name="detail"),
    path(f"{_seq}/edit/", pages.sequence_edit, name="edit"),
    path(f"{_seq}/toggle/", pages.sequence_toggle, name="toggle"),
    path(f"{_seq}/steps/new/", pages.step_edit, name="step_new"),
    path(f"{_step}/", pages.step_edit, name="step"),
    path(f"{_step}/move/", pages.step_move, name="step_move"),
    path(f"{_step}/preview/", pages.step_preview, name="step_preview"),
    path(f"{_step}/preview.html", pages.step_preview_html, name="step_preview_html"),
    path(f"{_step}/test/", pages.step_test, name="step_test"),
]
