"""Demo set-up of the hand-off's routing: a sales manager, reps with capacities, an away rep and
territories, ordered routing rules with a default, and the settings. Idempotent: a user or
rule that exists already is left as it is (what someone changed since stays changed).

`demo_handoff_routing()` is meant to run after `demo_setup`'s users and leads (it makes sure
rep1 and rep2 exist either way); with `route=True` it then routes the demo's waiting MQL/PQL
leads, so reps have leads in their inboxes.
"""

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Role, User
from handoff.models import RoutingRule
from handoff.selectors import handoff_settings
from handoff.services import routing, routing_setup
from playbook.demo import DEMO_DOMAIN, DEMO_USERS, DemoUser

DEMO_SALES_USERS = (
    DemoUser("manager", "manager-demo", Role.MANAGER, "Mina"),
    *(user for user in DEMO_USERS if user.username in ("rep1", "rep2")),
    DemoUser("rep3", "rep3-demo", Role.REP, "Raj"),
    DemoUser("rep4", "rep4-demo", Role.REP, "Rue"),
)

# Routing fields of each rep, set once (see _users_ensure).
_REPS: dict[str, dict[str, Any]] = {
    "rep1": {"capacity": 25, "territory_countries": ["Germany", "Austria", "Switzerland"]},
    "rep2": {"capacity": 25},
    "rep3": {"capacity": 15, "territory_size_min": 500},
    # Away for a week: routing skips Rue until she is back.
    "rep4": {"capacity": 20, "is_away": True, "away_days": 7},
}

# (name, conditions, reps), by position; the default rule catches the rest.
_RULES = (
    ("DACH", {"countries": ["Germany", "Austria", "Switzerland"]}, ["rep1", "rep2"]),
    ("Enterprise (500+ staff)", {"size_min": 500}, ["rep3", "rep1"]),
    ("Product-qualified", {"stages": ["PQL"]}, ["rep2", "rep3", "rep4"]),
    ("Everyone else", {"is_default": True}, ["rep1", "rep2", "rep3", "rep4"]),
)


def _user_ensure(demo: DemoUser) -> tuple[User, bool]:
    # Demo passwords are short on purpose: set directly, as demo_setup does.
    user, created = User.objects.get_or_create(
        username=demo.username,
        defaults={
            "role": demo.role,
            "first_name": demo.first_name,
            "email": f"{demo.username}@{DEMO_DOMAIN}",
        },
    )
    if created:
        user.set_password(demo.password)
        user.save()
    return user, created


def _rep_setup(user: User, fields: Mapping[str, Any]) -> None:
    fields = dict(fields)
    days = fields.pop("away_days", None)
    if days is not None:
        fields["away_until"] = timezone.now() + timedelta(days=days)
    account_services.user_update(actor=None, user_id=user.pk, **fields)


def _users_ensure(*, first_run: bool) -> dict[str, User]:
    """The sales team; a rep's routing fields are set when the rep is new, or on the first
    run (rep1 and rep2 come from demo_setup without them), and never again."""
    users = {}
    for demo in DEMO_SALES_USERS:
        user, created = _user_ensure(demo)
        if demo.username in _REPS and (created or first_run):
            _rep_setup(user, _REPS[demo.username])
        users[demo.username] = user
    return users


def _rules_ensure(users: dict[str, User]) -> int:
    created = 0
    for name, conditions, members in _RULES:
        if RoutingRule.objects.filter(name=name).exists():
            continue
        routing_setup.routing_rule_create(
            actor=None, name=name, reps=[users[m].pk for m in members], **conditions
        )
        created += 1
    return created


@transaction.atomic
def demo_handoff_routing(*, route: bool = True) -> dict:
    """Create the sales team, the routing rules and the settings (assign mode, the default
    deadlines, around the clock); then route the waiting leads if `route`. Returns what was
    done: {"users": [...DemoUser], "rules_created": n, "routed": n}."""
    users = _users_ensure(first_run=not RoutingRule.objects.exists())
    rules = _rules_ensure(users)
    handoff_settings()  # the settings row with its defaults: assign mode, 60/240/120 minutes
    routed = routing.pool_route() if route else 0
    return {"users": list(DEMO_SALES_USERS), "rules_created": rules, "routed": routed}
