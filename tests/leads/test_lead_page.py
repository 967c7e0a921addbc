"""The lead's page (/leads/<id>/): the score breakdown, one timeline from every app with its
filter, the sections of the apps above leads, duplicates to merge, and its query count."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from handoff.models import Activity, Merge, Task
from leads.models import Lead, Stage, StageChange
from playbook import scoring as playbook
from scoring import services as scoring_services
from tests.factories import AssignmentFactory, EventFactory, LeadFactory

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def html_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def text(html: str) -> str:
    """The page's words, tags dropped and spaces squeezed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def timeline_titles(html: str) -> list[str]:
    part = html[html.index('id="timeline"') :]
    return re.findall(r"</time> <strong>([^<]+)</strong>", part)


def timeline_groups(html: str) -> list[str]:
    return re.findall(r'data-group="(\w+)"', html)


# --- the score and its breakdown ------------------------------------------------------------


@pytest.fixture
def scored(db):
    """A lead scored by the default playbook: pricing pages in the last days, a demo request
    that expires soon, an email open long expired, and a senior title."""
    playbook.playbook_load()
    now = timezone.now()
    lead = LeadFactory(title="VP Sales", first_name="Ada")
    for days in (1, 2, 3, 4):
        EventFactory(lead=lead, type="page", name="Pricing", occurred_at=now - timedelta(days=days))
    EventFactory(lead=lead, name="Demo Requested", occurred_at=now - timedelta(days=85))
    EventFactory(lead=lead, name="Email Opened", occurred_at=now - timedelta(days=120))
    scoring_services.events_score_batch()
    scoring_services.leads_fit_refresh(lead_ids=[lead.pk])
    return Lead.objects.get(pk=lead.pk)


def breakdown_rows(html: str) -> list[tuple[str, ...]]:
    table = re.search(r'<table class="breakdown">.*?</table>', html, re.S).group(0)
    rows = re.findall(r"<tr data-rule=\"\d+\">(.*?)</tr>", table, re.S)
    return [
        tuple(text(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S))
        for row in rows
    ]


def test_score_breakdown_shows_each_rules_points_exactly(marketer, scored):
    html = html_of(logged_in(marketer).get(f"/leads/{scored.pk}/"))

    assert (scored.score, scored.temperature) == (75, "hot")
    assert re.search(r'<span class="score-total">75</span> <span class="temp-hot">Hot</span>', html)
    rows = breakdown_rows(html)
    demo_expiry = (timezone.now() - timedelta(days=85) + timedelta(days=90)).date()
    by_name = {row[0]: row[1:] for row in rows}
    # Most points first (ties in the rules' order).
    assert [row[0] for row in rows] == [
        "Viewed the pricing page",
        "Requested a demo",
        "Senior title",
        "Opened an email",
    ]
    assert by_name["Requested a demo"][:3] == ("+30", "1", "—")
    assert by_name["Requested a demo"][3] == f"{demo_expiry:%Y-%m-%d} +30 soon"
    assert by_name["Viewed the pricing page"][:3] == ("+30", "3", "—")
    assert by_name["Senior title"] == ("+15", "1", "—", "never")
    assert by_name["Opened an email"][:3] == ("+0", "0 of 1", "+2")
    assert "30 points expire within 7 days." in html
    # The breakdown adds up to the score.
    assert sum(int(row[1]) for row in rows) == 75


def test_a_lead_without_points_says_so(marketer):
    lead = LeadFactory()

    html = html_of(logged_in(marketer).get(f"/leads/{lead.pk}/"))

    assert "No scoring rule has given this lead points yet." in html
    assert '<span class="score-total">0</span>' in html


def test_a_rep_sees_the_breakdown_of_their_own_lead(rep, scored):
    Lead.objects.filter(pk=scored.pk).update(owner=rep)

    html = html_of(logged_in(rep).get(f"/leads/{scored.pk}/"))

    assert len(breakdown_rows(html)) == 4


# --- one timeline ----------------------------------------------------------------------------


@pytest.fixture
def history(rep):
    """A lead with one item of each kind, each at its own time (minutes ago, newest last)."""
    now = timezone.now()

    def at(minutes_ago: int):
        return now - timedelta(minutes=minutes_ago)

    lead = LeadFactory(stage=Stage.IQL, stage_entered_at=at(100), first_name="Ada")
    StageChange.objects.filter(lead=lead).update(changed_at=at(100))
    EventFactory(lead=lead, name="Ebook Downloaded", occurred_at=at(90), pending=False)
    StageChange.objects.create(
        lead=lead, from_stage=Stage.IQL, to_stage=Stage.MQL, changed_at=at(80), rule="score >= 50"
    )
    assignment = AssignmentFactory(lead=lead, rep=rep, assigned_at=at(70))
    Lead.objects.filter(pk=lead.pk).update(stage=Stage.MQL)
    Activity.objects.create(
        lead=lead, user=rep, kind="call", body="Left a voicemail", occurred_at=at(60)
    )
    task = Task.objects.create(
        lead=lead, assignee=rep, created_by=rep, title="Call back", due_at=at(-60)
    )
    Task.objects.filter(pk=task.pk).update(created_at=at(50))
    assert assignment.pk
    return Lead.objects.get(pk=lead.pk)


def test_timeline_merges_every_app_newest_first(marketer, history):
    html = html_of(logged_in(marketer).get(f"/leads/{history.pk}/"))

    assert timeline_titles(html) == [
        "Task for rep: Call back",
        "Call by rep",
        "Assigned to rep by routing",
        "IQL → MQL",
        "Ebook Downloaded",
        "new → IQL",
    ]
    assert timeline_groups(html) == ["task", "activity", "handoff", "stage", "event", "stage"]


@pytest.mark.parametrize(
    "kind, titles",
    [
        ("stage", ["IQL → MQL", "new → IQL"]),
        ("event", ["Ebook Downloaded"]),
        ("activity", ["Call by rep"]),
        ("task", ["Task for rep: Call back"]),
        ("handoff", ["Assigned to rep by routing"]),
        ("email", []),
    ],
)
def test_timeline_filter_by_kind(marketer, history, kind, titles):
    html = html_of(logged_in(marketer).get(f"/leads/{history.pk}/", {"kind": kind}))

    assert timeline_titles(html) == titles
    assert re.search(
        rf'href="/leads/{history.pk}/\?kind={kind}#timeline"[^>]*aria-current="true"', html
    )
    if not titles:
        assert "Nothing here of this kind yet." in html


def test_an_unknown_kind_shows_everything(marketer, history):
    html = html_of(logged_in(marketer).get(f"/leads/{history.pk}/", {"kind": "nonsense"}))

    assert len(timeline_titles(html)) == 6


def test_the_filter_answers_htmx_with_the_timeline_alone(marketer, history):
    response = logged_in(marketer).get(
        f"/leads/{history.pk}/",
        {"kind": "stage"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="timeline",
    )

    html = html_of(response)
    assert html.strip().startswith('<section class="card timeline-card" id="timeline"')
    assert "<html" not in html and "Profile" not in html
    assert timeline_titles(html) == ["IQL → MQL", "new → IQL"]
    assert response["Vary"].count("HX-Request") == 1


def test_filtering_to_stage_changes_asks_no_other_app(marketer, history, django_assert_num_queries):
    client = logged_in(marketer)
    headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "timeline"}

    # session, user, the lead, its stage history (with who moved it)
    with django_assert_num_queries(4):
        client.get(f"/leads/{history.pk}/", {"kind": "stage"}, **headers)


def test_anonymous_filter_is_sent_to_log_in(client, history):
    response = client.get(f"/leads/{history.pk}/", {"kind": "stage"})

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_other_reps_lead_timeline_is_404(other_rep, history):
    response = logged_in(other_rep).get(
        f"/leads/{history.pk}/",
        {"kind": "stage"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="timeline",
    )

    assert response.status_code == 404


# --- duplicates to merge ---------------------------------------------------------------------


def duplicates_of(user, lead, htmx: bool = True):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return logged_in(user).get(f"/leads/{lead.pk}/duplicates/", **headers)


def test_the_page_loads_its_duplicates_afterwards(marketer):
    lead = LeadFactory(email="ada@example.com")

    html = html_of(logged_in(marketer).get(f"/leads/{lead.pk}/"))

    # Comparing with every lead reads the whole table: htmx asks for it once the page is shown.
    assert f'hx-get="/leads/{lead.pk}/duplicates/" hx-trigger="load"' in html
    assert f'<a href="/leads/{lead.pk}/duplicates/">Look for duplicates of this lead</a>' in html


def test_duplicates_are_listed_with_why_and_a_merge(marketer, django_assert_max_num_queries):
    lead = LeadFactory(email="ada@example.com", phone="+44 20 7946 0000")
    twin = LeadFactory(email="ada+news@example.com", phone="")
    same_phone = LeadFactory(email="lovelace@example.org", phone="(44) 20-7946-0000")
    LeadFactory(email="someone@example.net", phone="+1 555 0100")

    client = logged_in(marketer)

    with django_assert_max_num_queries(4):  # session, user, the lead, the candidates
        html = html_of(client.get(f"/leads/{lead.pk}/duplicates/", HTTP_HX_REQUEST="true"))

    found = [int(i) for i in re.findall(r'data-duplicate="(\d+)"', html)]
    assert sorted(found) == sorted([twin.pk, same_phone.pk])
    assert "Same email ignoring case and +tags: ada+news@example.com" in html
    assert "Same phone number: (44) 20-7946-0000 (442079460000)" in html
    assert html.count(f'action="/leads/{lead.pk}/merge/"') == 2


def test_no_duplicates_no_section(marketer):
    lead = LeadFactory(email="alone@example.com")

    assert html_of(duplicates_of(marketer, lead)) == ""
    page = html_of(duplicates_of(marketer, lead, htmx=False))
    assert "No lead looks like a duplicate of this one." in page


def test_duplicates_without_javascript_are_a_page_with_the_merge(marketer):
    lead = LeadFactory(email="ada@example.com")
    twin = LeadFactory(email="ada+news@example.com")

    html = html_of(duplicates_of(marketer, lead, htmx=False))

    assert "<html" in html
    assert f'name="other" value="{twin.pk}"' in html


def test_anonymous_duplicates_is_sent_to_log_in(client):
    lead = LeadFactory(email="ada@example.com")

    response = client.get(f"/leads/{lead.pk}/duplicates/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_other_reps_lead_duplicates_is_404(rep, other_rep):
    lead = LeadFactory(email="ada@example.com", owner=other_rep, stage=Stage.SAL)

    assert duplicates_of(rep, lead).status_code == 404


def test_merge_keeps_this_lead_and_deletes_the_other(marketer):
    lead = LeadFactory(email="ada@example.com")
    twin = LeadFactory(email="ada+news@example.com")
    client = logged_in(marketer)

    response = client.post(f"/leads/{lead.pk}/merge/", {"other": twin.pk})

    assert (response.status_code, response["Location"]) == (302, f"/leads/{lead.pk}/")
    assert not Lead.objects.filter(pk=twin.pk).exists()
    merge = Merge.objects.get(lead=lead)
    assert (merge.merged_lead_id, merge.merged_email, merge.merged_by_id) == (
        twin.pk,
        "ada+news@example.com",
        marketer.pk,
    )
    assert "Merged ada+news@example.com into" in html_of(client.get(response["Location"]))


def test_a_rep_is_offered_a_merge_only_of_two_leads_they_own(rep, other_rep, pool_mode):
    lead = LeadFactory(email="ada@example.com", owner=rep, stage=Stage.SAL)
    mine = LeadFactory(email="ada+1@example.com", owner=rep, stage=Stage.SAL)
    pool = LeadFactory(email="ada+2@example.com", stage=Stage.MQL)  # visible, not owned

    html = html_of(duplicates_of(rep, lead))

    assert sorted(int(i) for i in re.findall(r'data-duplicate="(\d+)"', html)) == sorted(
        [mine.pk, pool.pk]
    )
    assert re.findall(r'name="other" value="(\d+)"', html) == [str(mine.pk)]


def test_a_rep_cannot_merge_a_lead_they_do_not_own(rep, pool_mode):
    lead = LeadFactory(email="ada@example.com", owner=rep, stage=Stage.SAL)
    pool = LeadFactory(email="ada+2@example.com", stage=Stage.MQL)
    client = logged_in(rep)

    response = client.post(f"/leads/{lead.pk}/merge/", {"other": pool.pk})

    assert response.status_code == 302
    assert "A sales rep may merge only two leads they own." in html_of(
        client.get(response["Location"])
    )
    assert Lead.objects.filter(pk=pool.pk).exists()
    assert Merge.objects.count() == 0


def test_a_rep_cannot_merge_into_another_reps_lead(rep, other_rep):
    theirs = LeadFactory(email="ada@example.com", owner=other_rep, stage=Stage.SAL)
    mine = LeadFactory(email="ada+1@example.com", owner=rep, stage=Stage.SAL)

    response = logged_in(rep).post(f"/leads/{theirs.pk}/merge/", {"other": mine.pk})

    assert response.status_code == 404
    assert Lead.objects.filter(pk=mine.pk).exists()


def test_merge_into_itself_is_refused(marketer):
    lead = LeadFactory(email="ada@example.com")
    client = logged_in(marketer)

    response = client.post(f"/leads/{lead.pk}/merge/", {"other": lead.pk})

    assert "A lead cannot be merged into itself." in html_of(client.get(response["Location"]))
    assert Lead.objects.filter(pk=lead.pk).exists()


def test_anonymous_cannot_merge(client):
    lead = LeadFactory(email="ada@example.com")
    twin = LeadFactory(email="ada+news@example.com")

    response = client.post(f"/leads/{lead.pk}/merge/", {"other": twin.pk})

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert Lead.objects.filter(pk=twin.pk).exists()


# --- the page's cost -----------------------------------------------------------------------------


def test_lead_page_query_count_does_not_grow_with_its_history(
    marketer, rep, history, django_assert_max_num_queries
):
    for minutes in range(30):
        EventFactory(
            lead=history, occurred_at=timezone.now() - timedelta(minutes=minutes), pending=False
        )
        Activity.objects.create(lead=history, user=rep, kind="note", occurred_at=timezone.now())
    LeadFactory(email=history.email.replace("@", "+dup@"))
    client = logged_in(marketer)

    # session, user, the lead; the timeline: stage history, consent, events, score changes,
    # enrollments, emails, assignments, activities, tasks, rejections, merges; latest consent,
    # stage history for the durations; the sections: the score breakdown (one GROUP BY), the
    # hand-off (assignment, discovery, activities, tasks); the duplicates load afterwards.
    with django_assert_max_num_queries(21):
        html = html_of(client.get(f"/leads/{history.pk}/"))

    assert len(timeline_titles(html)) == 6 + 60
