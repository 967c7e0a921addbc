"""The scoring pages: rules, settings, and the preview of a draft before it is published.
Everyone reads the rules; marketers and admins change them, always through a preview."""

import re

import pytest
from django.test import Client

from playbook import scoring as playbook
from scoring import services, simulations
from scoring.models import RescoreJob, ScoringRule, ScoringSettings, SimulationJob
from tests.factories import EventFactory, LeadFactory

pytestmark = pytest.mark.django_db

CHANGES = [
    ("get", "/scoring/rules/new/"),
    ("post", "/scoring/rules/new/"),
    ("get", "/scoring/settings/"),
    ("post", "/scoring/settings/"),
]


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def rule_post(**fields) -> dict:
    return {
        "name": "Pricing",
        "kind": "event",
        "event_type": "page",
        "event_name": "Pricing",
        "points": "10",
        "max_times": "3",
        "expires_after_days": "30",
        **fields,
    }


def preview_of(client, response) -> SimulationJob:
    assert response.status_code == 302, text(response)[:2000]
    job_id = int(re.fullmatch(r"/scoring/previews/(\d+)/", response["Location"]).group(1))
    return SimulationJob.objects.get(pk=job_id)


# --- who may do what ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/scoring/rules/", "/scoring/rules/new/", "/scoring/settings/"])
def test_anonymous_is_sent_to_log_in(client, path):
    response = client.get(path)

    assert (response.status_code, response["Location"]) == (302, f"/accounts/login/?next={path}")


@pytest.mark.parametrize("who", ["rep", "manager"])
def test_reps_and_managers_read_the_rules_and_change_nothing(request, who):
    playbook.playbook_load()
    rule = ScoringRule.objects.order_by("id").first()
    client = logged_in(request.getfixturevalue(who))

    page = text(client.get("/scoring/rules/"))
    refused = [getattr(client, method)(path).status_code for method, path in CHANGES]
    switch = client.post(f"/scoring/rules/{rule.pk}/switch/")
    edit = client.get(f"/scoring/rules/{rule.pk}/")

    assert rule.name in page and "New rule" not in page and "Switch off" not in page
    assert refused == [403, 403, 403, 403]
    assert (switch.status_code, edit.status_code) == (403, 403)
    assert ScoringRule.objects.get(pk=rule.pk).is_active
    assert not SimulationJob.objects.exists()


def test_a_rep_cannot_open_publish_or_discard_a_preview(marketer, rep):
    job = simulations.simulation_start(
        actor=marketer, draft=simulations.draft_for_settings(overrides={"mql_threshold": 10})
    )
    client = logged_in(rep)

    answers = [
        client.get(f"/scoring/previews/{job.pk}/").status_code,
        client.post(f"/scoring/previews/{job.pk}/publish/").status_code,
        client.post(f"/scoring/previews/{job.pk}/discard/").status_code,
    ]

    assert answers == [403, 403, 403]
    assert SimulationJob.objects.filter(pk=job.pk, published_at=None).exists()


# --- the rule list --------------------------------------------------------------------------


def test_the_rule_list_reads_each_rule_as_a_sentence_with_what_it_gives_now(
    marketer, django_assert_max_num_queries
):
    playbook.playbook_load()
    for email in ("a@x.example", "b@x.example"):
        EventFactory(lead=LeadFactory(email=email), name="Demo Requested")
    services.events_score_batch()
    demo = ScoringRule.objects.get(name="Requested a demo")
    client = logged_in(marketer)

    # session, user, ledger totals, rules, settings, latest re-score
    with django_assert_max_num_queries(6):
        page = text(client.get("/scoring/rules/"))

    row = re.search(r"<strong>Requested a demo</strong>.*?</tr>", page).group(0)
    assert "+30 points for each “Demo Requested” event (points last 90 days)." in row
    assert re.findall(r'class="num">([^<]+)</td>', row) == ["v1", "2", "60"]
    assert "the order of rules does not matter" in page
    assert demo.is_active


# --- a rule through its preview -------------------------------------------------------------


def test_a_bad_rule_shows_errors_per_field_and_opens_no_draft(marketer):
    response = logged_in(marketer).post(
        "/scoring/rules/new/",
        rule_post(
            event_name="",
            points="0",
            cond_0_field="company_size",
            cond_0_operator="gt",
            cond_0_value="many",
            kind="attribute",
        ),
    )

    page = text(response)
    assert response.status_code == 200
    assert "A rule worth 0 points does nothing." in page
    assert "company_size: Must be a number." in page
    assert not SimulationJob.objects.exists() and not ScoringRule.objects.exists()


def test_a_new_rule_is_previewed_then_published_with_its_rescore(marketer):
    lead = LeadFactory()
    for i in range(4):
        EventFactory(lead=lead, type="page", name="Pricing", message_id=f"p{i}")
    client = logged_in(marketer)

    job = preview_of(client, client.post("/scoring/rules/new/", rule_post()))
    pending = text(client.get(f"/scoring/previews/{job.pk}/"))
    simulations.simulation_run(job_id=job.pk)
    done = text(client.get(f"/scoring/previews/{job.pk}/"))
    assert not ScoringRule.objects.exists()  # nothing changes before publishing
    published = client.post(f"/scoring/previews/{job.pk}/publish/")

    assert "Simulating over the real history" in pending and 'hx-trigger="load delay:1s"' in pending
    assert "Preview: New rule “Pricing”" in done
    assert (
        "+10 points for each view of the page “Pricing” (at most 3 times; points last 30 days)."
        in done
    )
    per_rule = re.search(r"Points per rule under the draft.*?</table>", done).group(0)
    assert re.findall(r'data-label="(?:Leads|Points)">(\d+)<', per_rule) == ["1", "30"]
    assert published["Location"] == "/scoring/rules/"
    rule = ScoringRule.objects.get()
    assert (rule.name, rule.version.as_def().max_times) == ("Pricing", 3)
    assert RescoreJob.objects.filter(reason="Rule “Pricing” created").exists()
    again = client.post(f"/scoring/previews/{job.pk}/publish/", follow=True)
    assert "This preview is published already." in text(again)
    assert ScoringRule.objects.count() == 1


def test_discarding_a_draft_leaves_nothing_behind(marketer):
    client = logged_in(marketer)
    job = preview_of(client, client.post("/scoring/rules/new/", rule_post()))
    simulations.simulation_run(job_id=job.pk)

    response = client.post(f"/scoring/previews/{job.pk}/discard/")

    assert response["Location"] == "/scoring/rules/"
    assert not SimulationJob.objects.exists() and not ScoringRule.objects.exists()
    assert client.get(f"/scoring/previews/{job.pk}/").status_code == 404


def test_an_edit_previewed_against_an_old_version_is_not_published(marketer):
    playbook.playbook_load()
    rule = ScoringRule.objects.get(name="Requested a demo")
    client = logged_in(marketer)
    form = client.get(f"/scoring/rules/{rule.pk}/")
    assert 'value="Demo Requested"' in text(form)
    job = preview_of(
        client,
        client.post(
            f"/scoring/rules/{rule.pk}/",
            rule_post(
                name="Requested a demo",
                event_type="track",
                event_name="Demo Requested",
                points="45",
                max_times="",
                expires_after_days="",
            ),
        ),
    )
    simulations.simulation_run(job_id=job.pk)
    services.rule_update(actor=marketer, rule_id=rule.pk, definition={"points": 5})

    response = client.post(f"/scoring/previews/{job.pk}/publish/", follow=True)

    assert "changed since this preview: preview the change again." in text(response)
    rule.refresh_from_db()
    assert rule.version.as_def().points == 5
    assert SimulationJob.objects.get(pk=job.pk).published_at is None


def test_switching_a_rule_off_and_on(marketer):
    playbook.playbook_load()
    rule = ScoringRule.objects.get(name="Requested a demo")
    client = logged_in(marketer)

    off = client.post(f"/scoring/rules/{rule.pk}/switch/", follow=True)
    state_off = ScoringRule.objects.get(pk=rule.pk).is_active
    client.post(f"/scoring/rules/{rule.pk}/switch/")

    assert state_off is False
    assert "“Requested a demo” is off; the re-score is under way." in text(off)
    assert ScoringRule.objects.get(pk=rule.pk).is_active is True


# --- settings through their preview ----------------------------------------------------------


def test_the_threshold_preview_matches_the_api_simulation_of_the_same_draft(
    marketer, marketer_client
):
    playbook.playbook_load()
    for score_events in (1, 2, 3):
        lead = LeadFactory()
        for i in range(score_events):
            EventFactory(lead=lead, name="Webinar Attended", message_id=f"{lead.pk}-{i}")
    services.events_score_batch()
    threshold = ScoringSettings.objects.get().mql_threshold
    client = logged_in(marketer)
    settings_page = text(client.get("/scoring/settings/"))
    assert f'name="mql_threshold" value="{threshold}"' in settings_page

    job = preview_of(
        client,
        client.post(
            "/scoring/settings/",
            {
                "mql_threshold": "20",
                "warm_at": "10",
                "hot_at": "60",
                "pql_0_min_count": "2",
                "pql_0_event_name": "Project Created",
                "pql_0_within_days": "14",
            },
        ),
    )
    simulations.simulation_run(job_id=job.pk)
    page = text(client.get(f"/scoring/previews/{job.pk}/"))
    api = marketer_client.post(
        "/api/v1/scoring/simulate/",
        {
            "mql_threshold": 20,
            "warm_at": 10,
            "hot_at": 60,
            "pql_conditions": [
                {"event_name": "Project Created", "min_count": 2, "within_days": 14}
            ],
        },
        format="json",
    ).json()
    simulations.simulation_run(job_id=api["id"])
    result = SimulationJob.objects.get(pk=api["id"]).result

    would_mql = re.search(
        r'<span class="value">(\d+)\+?</span><span class="label">would become MQL', page
    )
    assert int(would_mql.group(1)) == sum(
        1 for c in result["changed_leads"] if c["would_be"] == "MQL"
    )
    assert int(would_mql.group(1)) == 2  # 2 and 3 webinars (15 points each) reach 20
    assert ScoringSettings.objects.get().mql_threshold == threshold  # not published yet


def test_settings_that_contradict_each_other_are_refused_per_field(marketer):
    response = logged_in(marketer).post(
        "/scoring/settings/",
        {"mql_threshold": "20", "warm_at": "70", "hot_at": "60", "pql_0_event_name": "X"},
    )

    page = text(response)
    assert response.status_code == 200
    assert "warm_at must be below hot_at." in page
    assert "Give the count, the event and the days." in page
    assert not SimulationJob.objects.exists()


def test_editing_a_rule_with_more_conditions_than_three_keeps_every_one(marketer):
    conditions = [{"field": f"prop_{i}", "operator": "equals", "value": f"v{i}"} for i in range(5)]
    rule = services.rule_create(
        actor=marketer,
        name="Five",
        definition={"kind": "event", "event_name": "Signed Up", "points": 5,
                    "conditions": conditions},
        rescore=False,
    )  # fmt: skip
    client = logged_in(marketer)

    form = client.get(f"/scoring/rules/{rule.pk}/").content.decode()
    fields = dict(
        re.findall(r'name="(cond_\d+_(?:field|operator|value))"[^>]*?value="([^"]*)"', form)
    )
    posted = rule_post(name="Five", event_type="track", event_name="Signed Up", points="5",
                       max_times="", expires_after_days="")  # fmt: skip
    posted.update({f"cond_{i}_field": f"prop_{i}" for i in range(5)})
    posted.update({f"cond_{i}_operator": "equals" for i in range(5)})
    posted.update({f"cond_{i}_value": f"v{i}" for i in range(5)})
    job = preview_of(client, client.post(f"/scoring/rules/{rule.pk}/", posted))

    assert [fields[f"cond_{i}_field"] for i in range(5)] == [f"prop_{i}" for i in range(5)]
    assert 'name="cond_5_field"' in form and 'name="cond_6_field"' not in form
    assert job.draft["change"]["definition"]["conditions"] == conditions


def test_settings_with_four_pql_conditions_keep_every_one(marketer):
    pql = [{"event_name": f"Step {i}", "min_count": i + 1, "within_days": 7} for i in range(4)]
    services.scoring_settings_update(actor=marketer, data={"pql_conditions": pql}, rescore=False)

    form = logged_in(marketer).get("/scoring/settings/").content.decode()

    assert [f"Step {i}" for i in range(4)] == re.findall(
        r'name="pql_\d+_event_name"[^>]*?value="([^"]*)"', form
    )
    assert 'name="pql_4_event_name"' in form and 'name="pql_5_event_name"' not in form
