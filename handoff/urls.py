"""The hand-off's API routes (under /api/v1/) and pages. Each area keeps its own list."""

from django.urls import path

from handoff import board, team, views, views_bulk
from handoff.apis import activities, decisions, reports, routing

api_urlpatterns = [
    *routing.urlpatterns,
    *decisions.urlpatterns,
    *activities.urlpatterns,
    *reports.urlpatterns,
]

app_name = "handoff"
_lead = "leads/<int:lead_id>"
urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/away/", views.away_set, name="away"),
    path(f"{_lead}/accept/", views.lead_accept, name="accept"),
    path(f"{_lead}/reject/", views.lead_reject, name="reject"),
    path(f"{_lead}/qualify/", views.lead_qualify, name="qualify"),
    path(f"{_lead}/close/", views.lead_close, name="close"),
    path(f"{_lead}/activities/new/", views.activity_log, name="activity"),
    path(f"{_lead}/tasks/new/", views.task_create, name="task"),
    path(f"{_lead}/tasks/<int:task_id>/done/", views.task_complete, name="task_done"),
    # The team pages: admins and sales managers.
    path("team/", team.team, name="team"),
    path("team/people/new/", team.person_edit, name="person_new"),
    path("team/people/<int:user_id>/", team.person_edit, name="person"),
    path("team/rules/new/", team.rule_edit, name="rule_new"),
    path("team/rules/<int:rule_id>/", team.rule_edit, name="rule"),
    path("team/rules/<int:rule_id>/move/", team.rule_move, name="rule_move"),
    path("team/rules/<int:rule_id>/delete/", team.rule_delete, name="rule_delete"),
    path("team/settings/", team.settings_edit, name="settings"),
    path("leads/bulk/assign/", views_bulk.leads_bulk_assign, name="bulk_assign"),
    path(f"{_lead}/merge/", views.lead_merge, name="merge"),
    path(f"{_lead}/duplicates/", views.lead_duplicates, name="duplicates"),
]

# The pipeline board (handoff/board.py).
urlpatterns += [
    path("board/", board.board, name="board"),
    path("board/column/<str:stage>/", board.board_column, name="board_column"),
    path("board/leads/<int:lead_id>/move/", board.board_move, name="board_move"),
]
