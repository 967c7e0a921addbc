"""The lead list's filters (leads/filters.py), one vocabulary: each is checked on the API
(`GET /api/v1/leads/`), the list page (`/leads/`) and the CSV export, which must agree exactly,
at its boundaries (a threshold's own value, an instant's own microsecond)."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from leads.models import Lead, SourceChannel, Stage, StageChange, Temperature
from tests.factories import LeadFactory
from tests.support import assert_error

pytestmark = pytest.mark.django_db

T = datetime(2026, 3, 1, tzinfo=UTC)
US = timedelta(microseconds=1)


def lead(email: str, *, created_at=None, **fields) -> Lead:
    made = LeadFactory(email=email, **fields)
    if created_at is not None:
        Lead.objects.filter(pk=made.pk).update(created_at=created_at)
    return made


def found(marketer, marketer_client, params: dict) -> list[str]:
    """The emails the API, the page and the export each find for `params` (sorted; they must
    be the same three lists)."""
    response = marketer_client.get("/api/v1/leads/", params)
    assert response.status_code == 200, response.content
    api = sorted(row["email"] for row in response.json()["results"])

    client = Client()
    client.force_login(marketer)
    html = client.get("/leads/", params).content.decode()
    page = sorted(re.findall(r"<small>([^<]+@[^<]+)</small>", html))

    export = marketer_client.get("/api/v1/leads/export/", params)
    assert export.status_code == 200
    rows = csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode()))
    exported = sorted(row["email"] for row in rows)

    assert api == page == exported, (api, page, exported)
    return api


def test_stage_is_repeatable(marketer, marketer_client):
    lead("iql@x.test", stage=Stage.IQL)
    lead("mql@x.test", stage=Stage.MQL)
    lead("sal@x.test", stage=Stage.SAL)

    assert found(marketer, marketer_client, {"stage": ["MQL", "SAL"]}) == [
        "mql@x.test",
        "sal@x.test",
    ]


def test_source_and_temperature_are_repeatable(marketer, marketer_client):
    lead("a@x.test", source=SourceChannel.EVENT, temperature=Temperature.HOT)
    lead("b@x.test", source=SourceChannel.SOCIAL, temperature=Temperature.WARM)
    lead("c@x.test", source=SourceChannel.REFERRAL, temperature=Temperature.COLD)

    assert found(marketer, marketer_client, {"source": ["event", "social"]}) == [
        "a@x.test",
        "b@x.test",
    ]
    assert found(marketer, marketer_client, {"temperature": ["hot", "cold"]}) == [
        "a@x.test",
        "c@x.test",
    ]


def test_owner_and_unowned(marketer, marketer_client, rep, other_rep):
    lead("mine@x.test", owner=rep, stage=Stage.SAL)
    lead("theirs@x.test", owner=other_rep, stage=Stage.SAL)
    lead("nobody@x.test")

    assert found(marketer, marketer_client, {"owner": rep.pk}) == ["mine@x.test"]
    assert found(marketer, marketer_client, {"unowned": "true"}) == ["nobody@x.test"]
    assert found(marketer, marketer_client, {"unowned": "false"}) == [
        "mine@x.test",
        "theirs@x.test",
    ]


def test_score_range_is_inclusive_at_both_ends(marketer, marketer_client):
    for score in (49, 50, 70, 71):
        lead(f"s{score}@x.test", score=score)

    assert found(marketer, marketer_client, {"score_min": 50}) == [
        "s50@x.test",
        "s70@x.test",
        "s71@x.test",
    ]
    assert found(marketer, marketer_client, {"score_max": 70}) == [
        "s49@x.test",
        "s50@x.test",
        "s70@x.test",
    ]
    assert found(marketer, marketer_client, {"score_min": 50, "score_max": 70}) == [
        "s50@x.test",
        "s70@x.test",
    ]


def test_created_after_includes_its_instant_and_before_excludes_it(marketer, marketer_client):
    lead("just-before@x.test", created_at=T - US)
    lead("at@x.test", created_at=T)
    lead("just-after@x.test", created_at=T + US)

    assert found(marketer, marketer_client, {"created_after": T.isoformat()}) == [
        "at@x.test",
        "just-after@x.test",
    ]
    assert found(marketer, marketer_client, {"created_before": T.isoformat()}) == [
        "just-before@x.test"
    ]


def test_a_date_is_its_midnight(marketer, marketer_client):
    lead("feb@x.test", created_at=T - US)
    lead("march@x.test", created_at=T)

    assert found(marketer, marketer_client, {"created_after": "2026-03-01"}) == ["march@x.test"]
    assert found(marketer, marketer_client, {"created_before": "2026-03-01"}) == ["feb@x.test"]


def test_stage_entered_dates(marketer, marketer_client):
    lead("before@x.test", stage_entered_at=T - US)
    lead("at@x.test", stage_entered_at=T)

    assert found(marketer, marketer_client, {"stage_entered_after": T.isoformat()}) == ["at@x.test"]
    assert found(marketer, marketer_client, {"stage_entered_before": T.isoformat()}) == [
        "before@x.test"
    ]


def test_do_not_contact(marketer, marketer_client):
    lead("dnc@x.test", do_not_contact=True, do_not_contact_reason="bounced")
    lead("ok@x.test")

    assert found(marketer, marketer_client, {"do_not_contact": "true"}) == ["dnc@x.test"]
    assert found(marketer, marketer_client, {"do_not_contact": "false"}) == ["ok@x.test"]


def test_utm_campaign_is_exact(marketer, marketer_client):
    lead("a@x.test", utm_campaign="spring")
    lead("b@x.test", utm_campaign="spring-2")
    lead("c@x.test", utm_campaign="Spring")

    assert found(marketer, marketer_client, {"utm_campaign": "spring"}) == ["a@x.test"]


def test_reached_counts_the_history_not_the_current_stage(marketer, marketer_client):
    # IQL -> MQL -> SAL, then rejected back to MQL: it reached SAL, and is MQL now.
    recycled = lead("recycled@x.test", stage=Stage.MQL)
    for from_stage, to_stage in [("IQL", "MQL"), ("MQL", "SAL"), ("SAL", "MQL")]:
        StageChange.objects.create(
            lead=recycled, from_stage=from_stage, to_stage=to_stage, changed_at=T
        )
    lead("mql@x.test", stage=Stage.MQL)  # created at MQL: its one row is "" -> MQL
    lead("iql@x.test", stage=Stage.IQL)

    assert found(marketer, marketer_client, {"reached": "SAL"}) == ["recycled@x.test"]
    assert found(marketer, marketer_client, {"reached": "MQL"}) == [
        "mql@x.test",
        "recycled@x.test",
    ]
    assert found(marketer, marketer_client, {"not_reached": "SAL"}) == [
        "iql@x.test",
        "mql@x.test",
    ]
    assert found(marketer, marketer_client, {"reached": "MQL", "not_reached": "SAL"}) == [
        "mql@x.test"
    ]


def test_repeated_reached_and_not_reached_must_all_hold(marketer, marketer_client):
    # The funnel's links: MQL converted to SAL is reached=MQL&reached=SAL; IQL's drop-off
    # is reached=IQL&not_reached=MQL&not_reached=PQL. Every value counts, not the last one.
    converted = lead("converted@x.test", stage=Stage.SAL)
    StageChange.objects.create(lead=converted, from_stage="MQL", to_stage="MQL", changed_at=T)
    lead("mql@x.test", stage=Stage.MQL)
    trial = lead("trial@x.test", stage=Stage.IQL)
    StageChange.objects.create(lead=trial, from_stage="IQL", to_stage="PQL", changed_at=T)
    lead("iql@x.test", stage=Stage.IQL)

    both = found(marketer, marketer_client, {"reached": ["SAL", "MQL"]})
    dropped = found(marketer, marketer_client, {"reached": ["IQL"], "not_reached": ["PQL", "MQL"]})

    assert both == ["converted@x.test"]
    assert dropped == ["iql@x.test"]


def test_q_searches_name_email_and_company_every_word(marketer, marketer_client):
    lead("ada@x.test", first_name="Ada", last_name="Lovelace", company_name="Engines")
    lead("grace@navy.test", first_name="Grace", last_name="Hopper", company_name="Navy")
    lead("alan@x.test", first_name="Alan", last_name="Turing", company_name="Bletchley Navy")

    assert found(marketer, marketer_client, {"q": "lovelace"}) == ["ada@x.test"]
    assert found(marketer, marketer_client, {"q": "NAVY"}) == ["alan@x.test", "grace@navy.test"]
    assert found(marketer, marketer_client, {"q": "navy alan"}) == ["alan@x.test"]
    assert found(marketer, marketer_client, {"q": "ENGINES"}) == ["ada@x.test"]


def test_filters_combine(marketer, marketer_client):
    lead("hit@x.test", stage=Stage.MQL, score=80, source=SourceChannel.EVENT)
    lead("low@x.test", stage=Stage.MQL, score=10, source=SourceChannel.EVENT)
    lead("other@x.test", stage=Stage.MQL, score=80, source=SourceChannel.SOCIAL)

    params = {"stage": "MQL", "score_min": 50, "source": "event"}
    assert found(marketer, marketer_client, params) == ["hit@x.test"]


def test_a_rep_filters_only_what_they_may_see(rep, rep_client, other_rep):
    lead("mine@x.test", owner=rep, stage=Stage.SAL)
    lead("theirs@x.test", owner=other_rep, stage=Stage.SAL)

    assert found(rep, rep_client, {"stage": "SAL"}) == ["mine@x.test"]
    assert found(rep, rep_client, {"owner": other_rep.pk}) == []


def test_a_bad_filter_is_a_400_on_the_api_and_an_error_on_the_page(marketer, marketer_client):
    lead("a@x.test")

    assert_error(
        marketer_client.get("/api/v1/leads/", {"score_min": "lots"}), 400, "invalid", {"score_min"}
    )
    assert_error(
        marketer_client.get("/api/v1/leads/export/", {"stage": "NOPE"}), 400, "invalid", {"stage"}
    )
    client = Client()
    client.force_login(marketer)
    html = client.get("/leads/", {"score_min": "lots"}).content.decode()
    assert "score_min: Enter a number." in html
    assert "a@x.test" not in html
