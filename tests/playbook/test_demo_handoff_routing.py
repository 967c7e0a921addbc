"""playbook.demo_handoff_routing: the sales team, routing rules and settings, idempotent."""

import io

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from accounts.models import Role, User
from handoff.models import Assignment, HandoffSettings, RoutingRule
from leads.models import Lead, Stage
from leads.selectors import lead_returned_to_nurture_q
from playbook.demo_handoff_routing import demo_handoff_routing
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def state() -> tuple:
    return (
        list(User.objects.order_by("pk").values()),
        list(RoutingRule.objects.order_by("pk").values()),
        list(Assignment.objects.order_by("pk").values_list("lead_id", "rep_id")),
        list(HandoffSettings.objects.values()),
    )


def test_creates_the_team_rules_and_settings_with_working_logins():
    result = demo_handoff_routing(route=False)

    users = {u.username: u for u in User.objects.all()}
    assert users["manager"].role == Role.MANAGER
    assert [users[f"rep{n}"].role for n in range(1, 5)] == [Role.REP] * 4
    assert users["rep1"].territory_countries == ["Germany", "Austria", "Switzerland"]
    assert (users["rep3"].capacity, users["rep3"].territory_size_min) == (15, 500)
    assert users["rep4"].away_now() is True
    for demo in result["users"]:
        assert authenticate(username=demo.username, password=demo.password) is not None
    assert list(RoutingRule.objects.values_list("position", "name", "is_default")) == [
        (1, "DACH", False),
        (2, "Enterprise (500+ staff)", False),
        (3, "Product-qualified", False),
        (4, "Everyone else", True),
    ]
    assert HandoffSettings.objects.get(pk=1).mode == "assign"


def test_routes_waiting_leads_and_running_twice_changes_nothing():
    german = LeadFactory(stage=Stage.MQL, country="Germany")
    pql = LeadFactory(stage=Stage.PQL, country="Chile")

    first = demo_handoff_routing()
    before = state()
    second = demo_handoff_routing()

    assert (first["rules_created"], first["routed"]) == (4, 2)
    assert (second["rules_created"], second["routed"]) == (0, 0)
    assert state() == before
    owners = dict(Lead.objects.values_list("pk", "owner__username"))
    assert owners[german.pk] in ("rep1", "rep2")
    assert owners[pql.pk] in ("rep2", "rep3")  # rep4 is away


def test_demo_setup_routes_the_waiting_demo_leads_into_inboxes():
    call_command("demo_setup", stdout=io.StringIO())

    waiting = Lead.objects.filter(stage__in=[Stage.MQL, Stage.PQL], owner__isnull=True)
    sent_back = waiting.filter(lead_returned_to_nurture_q())
    taken_back = waiting.filter(assignments__status="reassigned").distinct()
    # Only leads sales handed back to nurture wait, and one taken back from a rep who let it
    # lapse (its rule's other rep is away); every other MQL/PQL lead is in an inbox.
    assert waiting.count() == sent_back.count() + taken_back.count()
    assert Lead.objects.get(first_name="Rita") in sent_back
    assert list(taken_back.values_list("first_name", flat=True)) == ["Nora"]
    pending = Assignment.objects.filter(status="pending")
    assert pending.count() >= 4
    assert not pending.filter(rep__username="rep4").exists()  # away
