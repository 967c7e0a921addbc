"""The scoring REST API: rules, settings, re-scores, a lead's score, and the simulation."""

from datetime import timedelta

import pytest
from django.utils import timezone

from events.models import Event, PendingEvent
from leads.models import Lead, Stage, StageChange
from scoring import services, simulations
from scoring.models import (
    LedgerEntry,
    RescoreJob,
    RuleVersion,
    ScoringRule,
    ScoringSettings,
    SimulationJob,
)
from tests.factories import EventFactory, LeadFactory

pytestmark = pytest.mark.django_db

RULES = "/api/v1/scoring/rules/"
DEMO = {
    "name": "Booked a demo",
    "kind": "event",
    "event_type": "track",
    "event_name": "Demo Booked",
    "points": 25,
    "expires_after_days": 30,
}


def assert_error(response, status: int, code: str, fields: set[str] | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    if fields is not None:
        assert set(body["fields"]) == fields
    return body


def rule_state() -> tuple:
    return (
        list(
            ScoringRule.objects.order_by("id").values_list(
                "id", "name", "is_active", "current_version"
            )
        ),
        RuleVersion.objects.count(),
        RescoreJob.objects.count(),
    )


# --- rules ----------------------------------------------------------------------------------


def test_marketer_creates_a_rule_and_a_rescore_is_queued(marketer_client, marketer):
    response = marketer_client.post(RULES, DEMO, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert {
        k: body[k] for k in ("name", "kind", "event_name", "points", "max_times", "version")
    } == {
        "name": "Booked a demo",
        "kind": "event",
        "event_name": "Demo Booked",
        "points": 25,
        "max_times": None,
        "version": 1,
    }
    assert body["description"] == "+25 points for each “Demo Booked” event (points last 30 days)."
    job = RescoreJob.objects.get()
    assert (job.reason, job.created_by, job.status) == (
        "Rule “Booked a demo” created",
        marketer,
        "pending",
    )


def test_admin_creates_an_attribute_rule(admin_client_api):
    response = admin_client_api.post(
        RULES,
        {
            "name": "Trial plan",
            "kind": "attribute",
            "conditions": [{"field": "traits.plan", "operator": "equals", "value": "trial"}],
            "points": 5,
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["conditions"] == [
        {"field": "traits.plan", "operator": "equals", "value": "trial"}
    ]


def test_invalid_rule_is_400_naming_fields_and_nothing_is_created(marketer_client):
    before = rule_state()

    response = marketer_client.post(
        RULES,
        {**DEMO, "points": 0, "conditions": [{"field": "plan", "operator": "gt", "value": "x"}]},
        format="json",
    )

    body = assert_error(response, 400, "invalid", {"points", "conditions"})
    assert body["fields"]["conditions"] == ["plan: Must be a number."]
    assert rule_state() == before


def test_malformed_body_is_400(marketer_client):
    response = marketer_client.post(
        RULES, {"name": "x", "kind": "event", "points": "many"}, format="json"
    )

    assert_error(response, 400, "invalid", {"points"})
    assert ScoringRule.objects.count() == 0


def test_rep_cannot_write_rules_and_nothing_changes(rep_client, default_playbook):
    rule = ScoringRule.objects.get(key="demo-request")
    before = rule_state()

    responses = [
        rep_client.post(RULES, DEMO, format="json"),
        rep_client.patch(f"{RULES}{rule.pk}/", {"points": 99}, format="json"),
        rep_client.put(f"{RULES}{rule.pk}/", DEMO, format="json"),
        rep_client.delete(f"{RULES}{rule.pk}/"),
    ]

    for response in responses:
        assert_error(response, 403, "permission_denied")
    assert rule_state() == before


def test_rep_can_read_rules(rep_client, default_playbook):
    response = rep_client.get(RULES)

    assert response.status_code == 200
    assert response.json()["count"] == 12


def test_anonymous_gets_401_everywhere(anonymous, default_playbook):
    rule = ScoringRule.objects.first()
    lead = LeadFactory()
    before = rule_state()

    responses = [
        anonymous.get(RULES),
        anonymous.post(RULES, DEMO, format="json"),
        anonymous.get(f"{RULES}{rule.pk}/"),
        anonymous.patch(f"{RULES}{rule.pk}/", {"points": 1}, format="json"),
        anonymous.delete(f"{RULES}{rule.pk}/"),
        anonymous.get(f"{RULES}{rule.pk}/versions/"),
        anonymous.get("/api/v1/scoring/settings/"),
        anonymous.put("/api/v1/scoring/settings/", {"mql_threshold": 1}, format="json"),
        anonymous.get("/api/v1/scoring/rescores/"),
        anonymous.post("/api/v1/scoring/rescores/"),
        anonymous.post("/api/v1/scoring/simulate/", {}, format="json"),
        anonymous.get(f"/api/v1/leads/{lead.pk}/score/"),
    ]

    for response in responses:
        assert_error(response, 401, "not_authenticated")
    assert rule_state() == before


def test_rule_list_query_count_does_not_grow(
    marketer_client, default_playbook, django_assert_max_num_queries
):
    with django_assert_max_num_queries(2):  # COUNT, and the rules joined to their versions
        response = marketer_client.get(RULES)

    assert [row["version"] for row in response.json()["results"]] == [1] * 12


def test_rule_list_filters(marketer_client, default_playbook):
    ScoringRule.objects.filter(key="free-mail").update(is_active=False)

    fit = marketer_client.get(RULES, {"kind": "attribute"}).json()
    off = marketer_client.get(RULES, {"is_active": "false"}).json()

    assert {r["name"] for r in fit["results"]} == {
        "Senior title",
        "Company of 50 or more",
        "Free-mail address",
    }
    assert [r["name"] for r in off["results"]] == ["Free-mail address"]


def test_patch_makes_a_new_version_and_keeps_the_old(
    marketer_client, default_playbook, django_assert_max_num_queries
):
    rule = ScoringRule.objects.get(key="pricing-page")

    response = marketer_client.patch(f"{RULES}{rule.pk}/", {"points": 12}, format="json")

    body = response.json()
    assert (body["version"], body["points"], body["max_times"], body["event_name"]) == (
        2,
        12,
        3,
        "Pricing",
    )
    marketer_client.patch(f"{RULES}{rule.pk}/", {"points": 14}, format="json")
    with django_assert_max_num_queries(2):  # the rule, and its versions with their authors
        versions = marketer_client.get(f"{RULES}{rule.pk}/versions/").json()
    assert [(v["number"], v["points"]) for v in versions] == [(3, 14), (2, 12), (1, 10)]


def test_put_replaces_the_definition(marketer_client, default_playbook):
    rule = ScoringRule.objects.get(key="pricing-page")

    response = marketer_client.put(
        f"{RULES}{rule.pk}/",
        {
            "name": "Pricing",
            "kind": "event",
            "event_type": "page",
            "event_name": "Pricing",
            "points": 10,
        },
        format="json",
    )

    body = response.json()
    assert (body["version"], body["max_times"], body["expires_after_days"]) == (2, None, None)


def test_delete_switches_the_rule_off(marketer_client, default_playbook):
    rule = ScoringRule.objects.get(key="email-open")

    response = marketer_client.delete(f"{RULES}{rule.pk}/")

    rule.refresh_from_db()
    assert response.status_code == 204
    assert rule.is_active is False
    assert RescoreJob.objects.latest("id").reason == "Rule “Opened an email” switched off"
    assert marketer_client.get(f"{RULES}{rule.pk}/").json()["is_active"] is False


def test_unknown_rule_is_404(marketer_client):
    assert_error(marketer_client.get(f"{RULES}999/"), 404, "not_found")
    assert_error(
        marketer_client.patch(f"{RULES}999/", {"points": 1}, format="json"), 404, "not_found"
    )


# --- settings -------------------------------------------------------------------------------


def test_settings_read_and_write(marketer_client, rep_client):
    pql = [{"event_name": "Task Created", "min_count": 5, "within_days": 7}]

    response = marketer_client.put(
        "/api/v1/scoring/settings/", {"mql_threshold": 60, "pql_conditions": pql}, format="json"
    )

    assert response.status_code == 200, response.content
    expected = {"mql_threshold": 60, "warm_at": 25, "hot_at": 50, "pql_conditions": pql}
    assert response.json() == expected
    assert rep_client.get("/api/v1/scoring/settings/").json() == expected
    assert RescoreJob.objects.get().reason == "Scoring settings changed"


def test_settings_refuse_bad_bands_and_reps(marketer_client, rep_client):
    bad = marketer_client.patch("/api/v1/scoring/settings/", {"warm_at": 80}, format="json")
    by_rep = rep_client.put("/api/v1/scoring/settings/", {"mql_threshold": 10}, format="json")

    assert_error(bad, 400, "invalid", {"warm_at"})
    assert_error(by_rep, 403, "permission_denied")
    assert ScoringSettings.objects.count() == 0
    assert RescoreJob.objects.count() == 0


# --- re-score jobs --------------------------------------------------------------------------


def test_rescore_jobs_show_progress(
    marketer_client, default_playbook, settings, django_assert_max_num_queries
):
    settings.SCORING_RESCORE_CHUNK = 2
    LeadFactory.create_batch(3)
    started = marketer_client.post("/api/v1/scoring/rescores/")
    job_id = started.json()["id"]
    services.rescore_chunk(job_id=job_id, cursor=0)

    with django_assert_max_num_queries(2):
        listed = marketer_client.get("/api/v1/scoring/rescores/")
    one = marketer_client.get(f"/api/v1/scoring/rescores/{job_id}/").json()

    assert started.status_code == 202
    assert [j["status"] for j in listed.json()["results"]] == ["running", "superseded"]
    assert (one["status"], one["processed_leads"], one["total_leads"]) == ("running", 2, 3)
    assert one["progress"] == pytest.approx(2 / 3)


def test_rep_cannot_start_a_rescore(rep_client):
    assert_error(rep_client.post("/api/v1/scoring/rescores/"), 403, "permission_denied")
    assert RescoreJob.objects.count() == 0


# --- a lead's score -------------------------------------------------------------------------


def test_score_breakdown_per_rule(marketer_client, default_playbook, django_assert_max_num_queries):
    now = timezone.now()
    lead = LeadFactory(title="VP Sales")
    for days in (1, 2, 3, 4):
        EventFactory(lead=lead, type="page", name="Pricing", occurred_at=now - timedelta(days=days))
    EventFactory(lead=lead, name="Demo Requested", occurred_at=now - timedelta(days=85))
    EventFactory(lead=lead, name="Email Opened", occurred_at=now - timedelta(days=120))
    services.events_score_batch()
    services.leads_fit_refresh(lead_ids=[lead.pk])

    with django_assert_max_num_queries(2):  # the lead (with its visibility), one aggregate
        response = marketer_client.get(f"/api/v1/leads/{lead.pk}/score/")

    body = response.json()
    assert (body["score"], body["temperature"], body["stage"]) == (75, "hot", "MQL")
    assert body["expiring_soon"] == {"within_days": 7, "points": 30}
    by_name = {r["name"]: r for r in body["rules"]}
    assert {
        name: (r["times_fired"], r["points"], r["expired_points"]) for name, r in by_name.items()
    } == {
        "Viewed the pricing page": (3, 30, 0),
        "Requested a demo": (1, 30, 0),
        "Senior title": (1, 15, 0),
        "Opened an email": (1, 0, 2),
    }
    assert by_name["Requested a demo"]["expiring_soon_points"] == 30
    assert by_name["Senior title"]["next_expiry"] is None
    assert body["score"] == sum(r["points"] for r in body["rules"])


def test_score_soon_days_is_validated(marketer_client):
    lead = LeadFactory()

    assert_error(
        marketer_client.get(f"/api/v1/leads/{lead.pk}/score/", {"soon_days": "x"}), 400, "invalid"
    )


def test_score_follows_lead_visibility(rep, rep_client, other_rep_client):
    mine = LeadFactory(owner=rep, stage=Stage.SAL)

    assert rep_client.get(f"/api/v1/leads/{mine.pk}/score/").status_code == 200
    assert_error(other_rep_client.get(f"/api/v1/leads/{mine.pk}/score/"), 404, "not_found")
    assert_error(rep_client.get("/api/v1/leads/99999/score/"), 404, "not_found")


def test_timeline_shows_point_changes(marketer_client, default_playbook):
    lead = LeadFactory()
    EventFactory(lead=lead, name="Webinar Attended")
    services.events_score_batch()

    items = marketer_client.get(f"/api/v1/leads/{lead.pk}/timeline/").json()

    assert [i["title"] for i in items if i["kind"] == "score"] == ["+15 Attended a webinar"]


# --- simulation -----------------------------------------------------------------------------


def simulated(client, body: dict) -> dict:
    """POST a draft, run its job as the worker would (the task's body), and read the result."""
    response = client.post("/api/v1/scoring/simulate/", body, format="json")
    assert response.status_code == 202, response.content
    job = response.json()
    assert (job["status"], job["result"]) == ("pending", None)
    simulations.simulation_run(job_id=job["id"])
    done = client.get(f"/api/v1/scoring/simulations/{job['id']}/").json()
    assert (done["status"], done["progress"], done["error"]) == ("done", 1.0, "")
    assert done["processed_leads"] == done["total_leads"] == done["result"]["leads"]
    return done["result"]


def world_snapshot() -> tuple:
    return (
        list(Lead.objects.order_by("id").values_list("id", "stage", "score", "temperature")),
        list(StageChange.objects.order_by("id").values_list("id", "to_stage")),
        list(LedgerEntry.objects.order_by("id").values_list("id", "points", "is_live")),
        list(Event.objects.order_by("id").values_list("id", flat=True)),
        sorted(PendingEvent.objects.values_list("event_id", flat=True)),
        rule_state(),
        list(ScoringSettings.objects.values_list("mql_threshold", "pql_conditions")),
    )


def test_simulate_answers_without_changing_anything(marketer_client, default_playbook):
    demo_only = LeadFactory(email="demo@acme.example")
    EventFactory(lead=demo_only, name="Demo Requested")
    webinar = LeadFactory(email="webinar@acme.example")
    EventFactory(lead=webinar, name="Webinar Attended")
    EventFactory(lead=webinar, name="Webinar Attended", message_id="w2")
    already = LeadFactory(email="mql@acme.example", stage=Stage.MQL)
    product = LeadFactory(email="product@acme.example")
    EventFactory(lead=product, name="Project Created")
    services.events_score_batch()
    before = world_snapshot()

    body = simulated(
        marketer_client,
        {
            "rules": [
                {"kind": "event", "event_name": "Demo Requested", "points": 60},
                {"kind": "event", "event_name": "Webinar Attended", "points": 15, "max_times": 1},
            ],
            "mql_threshold": 40,
            "pql_conditions": [{"event_name": "Project Created", "min_count": 1, "within_days": 7}],
        },
    )

    assert {k: body[k] for k in ("leads", "mql", "pql", "changes", "score_changes")} == {
        "leads": 4,
        "mql": 2,  # demo_only (60 >= 40) and `already`; webinar has 15
        "pql": 1,
        "changes": 2,
        "score_changes": 2,  # demo_only 30 -> 60, webinar 30 -> 15
    }
    assert body["changed_leads"] == [
        {
            "id": demo_only.pk,
            "email": "demo@acme.example",
            "stage": "IQL",
            "would_be": "MQL",
            "score": 30,
            "would_score": 60,
        },
        {
            "id": product.pk,
            "email": "product@acme.example",
            "stage": "IQL",
            "would_be": "PQL",
            "score": 0,
            "would_score": 0,
        },
    ]
    assert already.pk not in [c["id"] for c in body["changed_leads"]]
    assert world_snapshot() == before


def test_simulate_defaults_to_the_current_rules(marketer_client, default_playbook):
    lead = LeadFactory()
    EventFactory(lead=lead, name="Demo Requested")
    EventFactory(lead=lead, name="Webinar Attended")
    services.events_score_batch()

    body = simulated(marketer_client, {"mql_threshold": 45})

    assert (body["mql"], body["changes"], body["score_changes"]) == (1, 1, 0)


def test_simulate_rejects_a_bad_draft_and_reps(marketer_client, rep_client):
    bad = marketer_client.post(
        "/api/v1/scoring/simulate/",
        {
            "rules": [
                {"kind": "event", "event_name": "X", "points": 1},
                {"kind": "event", "points": 1},
            ]
        },
        format="json",
    )
    by_rep = rep_client.post("/api/v1/scoring/simulate/", {}, format="json")

    body = assert_error(bad, 400, "invalid", {"rules"})
    assert body["fields"]["rules"] == {
        "1": {"event_name": ["Name the event (or the page/screen), at most 255 characters."]}
    }
    body = assert_error(by_rep, 403, "permission_denied")
    assert body["message"] == "A sales rep may not simulate scoring over every lead."


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"kind": [], "points": 1}, "kind"),
        ({"kind": {"a": 1}, "points": 1}, "kind"),
        (
            {
                "kind": "event",
                "event_name": "X",
                "points": 1,
                "conditions": [{"field": "plan", "operator": [], "value": "pro"}],
            },
            "conditions",
        ),
    ],
)
def test_a_draft_rule_with_a_list_where_text_belongs_is_a_400_not_a_500(
    marketer_client, rule, field
):
    response = marketer_client.post("/api/v1/scoring/simulate/", {"rules": [rule]}, format="json")

    body = assert_error(response, 400, "invalid", {"rules"})
    assert list(body["fields"]["rules"]["0"]) == [field]


def test_rep_is_refused_a_simulation_before_the_draft_is_read(rep_client):
    response = rep_client.post(
        "/api/v1/scoring/simulate/", {"rules": [{"kind": "event", "points": 1}]}, format="json"
    )

    body = assert_error(response, 403, "permission_denied")
    assert body["message"] == "A sales rep may not simulate scoring over every lead."


def test_admin_simulates(admin_client_api):
    assert simulated(admin_client_api, {})["leads"] == 0


def test_simulation_shows_the_score_histogram_and_each_draft_rules_points(
    marketer_client, default_playbook
):
    # Today: 30 points for a demo request (the playbook), nothing for the others.
    demo = LeadFactory(email="demo@acme.example")
    EventFactory(lead=demo, name="Demo Requested")
    twice = LeadFactory(email="twice@acme.example")
    EventFactory(lead=twice, name="Webinar Attended")
    EventFactory(lead=twice, name="Webinar Attended", message_id="w2")
    LeadFactory(email="idle@acme.example")
    services.events_score_batch()
    scores = sorted(Lead.objects.values_list("score", flat=True))

    body = simulated(
        marketer_client,
        {
            "rules": [
                {"kind": "event", "event_name": "Webinar Attended", "points": 50},
                {"kind": "event", "event_name": "Demo Requested", "points": 9, "name": "Demo"},
                {"kind": "event", "event_name": "Never Sent", "points": 5},
            ]
        },
    )

    histogram = {row["bucket"]: (row["before"], row["after"]) for row in body["histogram"]}
    assert list(histogram)[:3] == ["below 0", "0–9", "10–19"]
    assert list(histogram)[-1] == "100+"
    # before: the playbook's scores; after: idle 0 and demo 9 in 0–9, twice 100 in 100+
    assert sum(before for before, _ in histogram.values()) == 3
    assert histogram["0–9"][1] == 2 and histogram["100+"][1] == 1
    assert histogram["0–9"][0] == sum(1 for score in scores if 0 <= score <= 9)
    assert [(r["index"], r["points"], r["leads"]) for r in body["rules"]] == [
        (0, 100, 1),
        (1, 9, 1),
        (2, 0, 0),
    ]


@pytest.mark.parametrize(
    "score, bucket", [(-1, -1), (0, 0), (9, 0), (10, 10), (99, 90), (100, 100)]
)
def test_histogram_buckets_at_their_edges(score, bucket):
    from scoring.selectors import _bucket

    assert _bucket(score) == bucket


def test_a_cancelled_simulation_stops_and_keeps_no_result(marketer_client):
    LeadFactory()
    job = marketer_client.post("/api/v1/scoring/simulate/", {}, format="json").json()

    cancelled = marketer_client.post(f"/api/v1/scoring/simulations/{job['id']}/cancel/")
    simulations.simulation_run(job_id=job["id"])  # the worker finds it cancelled
    again = marketer_client.post(f"/api/v1/scoring/simulations/{job['id']}/cancel/")

    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert_error(again, 409, "simulation_closed")
    row = SimulationJob.objects.get(pk=job["id"])
    assert (row.status, row.result, row.started_at) == ("cancelled", None, None)


def test_a_simulation_cancelled_while_running_stops_after_the_chunk(marketer, monkeypatch):
    from scoring import selectors

    for _ in range(3):
        LeadFactory()
    job = simulations.simulation_start(actor=marketer, draft={"rules": None, "limit": 10})
    real = selectors.scoring_simulate
    seen = []

    def one_lead_chunks(**kwargs):
        def progress(done):
            seen.append(done)
            if done == 1:
                simulations.simulation_cancel(job=job, actor=marketer)
            return kwargs["progress"](done)

        return real(**{**kwargs, "chunk": 1, "progress": progress})

    monkeypatch.setattr(selectors, "scoring_simulate", one_lead_chunks)
    simulations.simulation_run(job_id=job.pk)

    job.refresh_from_db()
    assert seen == [1]
    assert (job.status, job.result, job.processed_leads) == ("cancelled", None, 0)


def test_a_failed_simulation_says_so_without_internals(marketer_client, monkeypatch):
    from scoring import selectors

    job = marketer_client.post("/api/v1/scoring/simulate/", {}, format="json").json()

    def boom(**kwargs):
        raise RuntimeError("relation scoring_secret does not exist")

    monkeypatch.setattr(selectors, "scoring_simulate", boom)
    with pytest.raises(RuntimeError):
        simulations.simulation_run(job_id=job["id"])

    body = marketer_client.get(f"/api/v1/scoring/simulations/{job['id']}/").json()
    assert body["status"] == "failed"
    assert body["error"] == (
        f"The simulation failed (job {job['id']}); the server log has the details."
    )


def test_a_second_delivery_of_a_simulation_does_nothing(marketer_client):
    LeadFactory()
    job = marketer_client.post("/api/v1/scoring/simulate/", {}, format="json").json()
    simulations.simulation_run(job_id=job["id"])
    first = SimulationJob.objects.get(pk=job["id"])

    simulations.simulation_run(job_id=job["id"])

    again = SimulationJob.objects.get(pk=job["id"])
    assert (again.status, again.finished_at, again.result) == (
        "done",
        first.finished_at,
        first.result,
    )


def test_simulation_jobs_are_marketings_only(marketer_client, rep_client, anonymous):
    job = marketer_client.post("/api/v1/scoring/simulate/", {}, format="json").json()
    url = f"/api/v1/scoring/simulations/{job['id']}/"

    assert_error(rep_client.get(url), 403, "permission_denied")
    assert_error(rep_client.get("/api/v1/scoring/simulations/"), 403, "permission_denied")
    assert_error(rep_client.post(f"{url}cancel/"), 403, "permission_denied")
    assert anonymous.get(url).status_code in (401, 403)
    assert SimulationJob.objects.get(pk=job["id"]).status == "pending"
    assert (
        marketer_client.get("/api/v1/scoring/simulations/").json()["results"][0]["id"]
        == (job["id"])
    )


def test_simulating_queues_the_job_on_commit(
    marketer_client, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = marketer_client.post("/api/v1/scoring/simulate/", {}, format="json").json()

    assert published == [("scoring.simulate_run", (job["id"],))]
