"""`manage.py demo_setup`: the demo users and a lead in every stage, idempotent."""

import io

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from accounts.models import Role, User
from leads.models import Lead, Stage, StageChange

pytestmark = pytest.mark.django_db


def demo_setup() -> str:
    out = io.StringIO()
    call_command("demo_setup", stdout=out)
    return out.getvalue()


def counts() -> tuple[int, int, int]:
    return User.objects.count(), Lead.objects.count(), StageChange.objects.count()


def test_demo_creates_the_users_with_working_logins():
    output = demo_setup()

    users = {u.username: u for u in User.objects.all()}
    assert sorted(users) == ["admin", "manager", "marketer", "rep1", "rep2", "rep3", "rep4"]
    assert (users["manager"].role, users["rep4"].away_now()) == (Role.MANAGER, True)
    assert (users["admin"].is_superuser, users["admin"].is_staff, users["admin"].is_admin) == (
        True,
        True,
        True,
    )
    assert (users["marketer"].role, users["rep1"].role, users["rep2"].role) == (
        Role.MARKETER,
        Role.REP,
        Role.REP,
    )
    for username in users:
        assert authenticate(username=username, password=f"{username}-demo") == users[username]
        assert f"{username} / {username}-demo" in output


def test_demo_has_leads_in_every_stage_each_with_history():
    demo_setup()

    assert set(Lead.objects.values_list("stage", flat=True)) == set(Stage.values)
    for lead in Lead.objects.all():
        rows = list(lead.stage_changes.order_by("changed_at", "id"))
        assert rows[0].from_stage == "" and rows[0].to_stage == Stage.IQL, lead.email
        assert rows[-1].to_stage == lead.stage, lead.email
        # the history is one unbroken chain: each row starts where the previous one ended
        assert [r.from_stage for r in rows[1:]] == [r.to_stage for r in rows[:-1]], lead.email
        assert lead.stage_entered_at == rows[-1].changed_at


def test_demo_owned_leads_belong_to_the_demo_reps():
    demo_setup()

    owners = set(Lead.objects.filter(owner__isnull=False).values_list("owner__username", flat=True))
    # Routing hands the waiting leads to the reps with room; rep4 is away.
    assert owners == {"rep1", "rep2", "rep3"}
    assert Lead.objects.filter(stage__in=[Stage.SAL, Stage.SQL], owner__isnull=True).count() == 0


def test_demo_includes_a_recycled_lead():
    demo_setup()

    recycled = Lead.objects.get(email="rita.cycle@vandelay.example")
    assert (recycled.stage, recycled.owner, recycled.recycle_count) == (Stage.MQL, None, 1)


def test_second_run_creates_nothing_new():
    demo_setup()
    before = counts()
    ids_before = sorted(StageChange.objects.values_list("id", flat=True))

    output = demo_setup()

    assert counts() == before
    assert sorted(StageChange.objects.values_list("id", flat=True)) == ids_before
    assert "Demo data: 0 new leads; hand-off: 0 new rows." in output
    assert "Routed 0 waiting leads" in output


def test_second_run_keeps_a_changed_password():
    demo_setup()
    rep1 = User.objects.get(username="rep1")
    rep1.set_password("changed-by-rep1")
    rep1.save()

    demo_setup()

    assert authenticate(username="rep1", password="changed-by-rep1") == rep1


def test_demo_activity_is_scored_by_the_default_playbook():
    demo_setup()

    lead = Lead.objects.get(email="mark.quigley@globex.example")
    # Pricing page twice (+10 each), Webinar Attended +15, Newsletter Subscribed +10,
    # title "Head of Ops" +15, company of 240 people +10.
    assert (lead.score, lead.temperature) == (70, "hot")
    assert lead.score == sum(lead.ledger.filter(is_live=True).values_list("points", flat=True))
    assert Lead.objects.get(email="dina.quarry@gringotts.example").score == 0
