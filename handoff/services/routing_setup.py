"""Writes of routing's set-up: the hand-off settings and the ordered routing rules.

Sales managers and admins only. Rule positions are kept contiguous from 1: creating or moving a
rule to position p shifts the others; a position past the end puts the rule last. Positions are
unique in the database, so every rule write takes an advisory lock and renumbers in two steps
(out of the way, then into place). A change may let pool leads be routed: route_pool follows
on commit.
"""

from typing import Any

from django.db import connection, transaction
from django.db.models import F

from accounts.models import Role, User
from audit.services import audit_record, changes_between
from core.errors import ApiError
from core.publish import publish_on_commit
from handoff import clock
from handoff.models import HandoffSettings, RoutingRule
from handoff.selectors.routing import HANDOFF_STAGES, routing_setup_authorize

ROUTE_POOL = "handoff.route_pool"
# pg_advisory_xact_lock key of rule writes ("rules" in ASCII).
RULES_LOCK = 0x72756C6573
# Positions are parked above this while they are renumbered (rules number far fewer).
_PARK = 1_000_000
SETTINGS_FIELDS = frozenset(
    {
        "mode",
        "accept_within_minutes",
        "first_touch_within_minutes",
        "reassign_after_minutes",
        "business_hours",
    }
)
CONDITIONS = ("countries", "size_min", "size_max", "sources", "stages", "score_min", "score_max")
RULE_FIELDS = frozenset({"name", "is_default", "is_active", "reps", "position", *CONDITIONS})


def _audit(actor, action: str, row, label: str, before: dict, after: dict) -> None:
    audit_record(
        actor=actor,
        action=action,
        object_type=action.split(".")[0],
        object_id=row.pk,
        object_label=label,
        changes=changes_between(before, after),
    )


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(message, code="invalid", fields={field: [message]})


# --- Settings ---------------------------------------------------------------------------------


@transaction.atomic
def handoff_settings_update(*, actor: User | None, **changes: Any) -> HandoffSettings:
    """Change the given settings. `business_hours` is checked by handoff.clock (a 400 naming
    the field); deadlines already running keep their times."""
    if actor is not None:
        routing_setup_authorize(user=actor)
    unknown = set(changes) - SETTINGS_FIELDS
    if unknown:
        raise ValueError(f"unknown settings: {sorted(unknown)}")
    _check_settings(changes)
    HandoffSettings.objects.get_or_create(pk=1)
    row = HandoffSettings.objects.select_for_update().get(pk=1)
    before = {name: getattr(row, name) for name in changes}
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_by = actor
    row.save()
    _audit(actor, "handoff_settings.update", row, "Hand-off settings", before, changes)
    publish_on_commit(ROUTE_POOL)
    return row


def _check_settings(changes: dict[str, Any]) -> None:
    for name in ("accept_within_minutes", "first_touch_within_minutes", "reassign_after_minutes"):
        if name in changes and not changes[name] > 0:
            raise _invalid(name, f"{name} must be at least 1.")
    if "business_hours" in changes:
        try:
            clock.hours_parse(changes["business_hours"])
        except clock.InvalidHours as exc:
            raise _invalid("business_hours", str(exc)) from exc


# --- Rules ------------------------------------------------------------------------------------


def _lock_rules() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [RULES_LOCK])


def _check_reps(rep_ids: list[int]) -> list[User]:
    if not rep_ids:
        raise _invalid("reps", "A rule needs at least one sales rep.")
    reps = list(
        User.objects.filter(pk__in=rep_ids, role=Role.REP, is_superuser=False, is_active=True)
    )
    wrong = sorted(set(rep_ids) - {rep.pk for rep in reps})
    if wrong:
        listed = ", ".join(str(i) for i in wrong)
        raise _invalid("reps", f"Not active sales reps: {listed}.")
    return reps


def _check_rule(rule: RoutingRule) -> None:
    if not rule.name.strip():
        raise _invalid("name", "A rule needs a name.")
    for low, high in (("size_min", "size_max"), ("score_min", "score_max")):
        a, b = getattr(rule, low), getattr(rule, high)
        if a is not None and b is not None and a > b:
            raise _invalid(high, f"{high} must not be below {low}.")
    stray = sorted(set(rule.stages) - set(HANDOFF_STAGES))
    if stray:
        raise _invalid("stages", f"Only MQL and PQL leads are routed, not {', '.join(stray)}.")
    if rule.is_default:
        set_conditions = [name for name in CONDITIONS if getattr(rule, name) not in (None, [])]
        if set_conditions:
            raise _invalid(
                set_conditions[0],
                "The default rule catches every lead no other rule takes: it has no "
                f"conditions (remove {', '.join(set_conditions)}).",
            )


def _apply(rule: RoutingRule, changes: dict[str, Any]) -> None:
    for name, value in changes.items():
        if name in ("reps", "position"):
            continue
        if name == "countries":
            value = [c.strip() for c in value if c.strip()]
        setattr(rule, name, value)


def _order_without(rule_id: int | None) -> list[int]:
    rules = RoutingRule.objects.order_by("position")
    if rule_id is not None:
        rules = rules.exclude(pk=rule_id)
    return list(rules.values_list("pk", flat=True))


def _renumber(order: list[int]) -> None:
    """Positions 1..N in this order; parked first so no two rows ever share a position."""
    RoutingRule.objects.filter(pk__in=order).update(position=F("position") + _PARK)
    for position, rule_id in enumerate(order, start=1):
        RoutingRule.objects.filter(pk=rule_id).update(position=position)


def _place(rule: RoutingRule, position: int | None) -> None:
    order = _order_without(rule.pk)
    index = len(order) if position is None else min(max(position, 1) - 1, len(order))
    order.insert(index, rule.pk)
    _renumber(order)
    rule.refresh_from_db(fields=["position"])


def _save_rule(rule: RoutingRule) -> None:
    if rule.is_default:
        # One default rule: the new one takes over (a database constraint holds it).
        RoutingRule.objects.filter(is_default=True).exclude(pk=rule.pk).update(is_default=False)
    rule.save()


@transaction.atomic
def routing_rule_create(
    *, actor: User | None, name: str, reps: list[int], position: int | None = None, **fields: Any
) -> RoutingRule:
    """A rule at `position` (default: last). `reps` are user ids of active sales reps."""
    if actor is not None:
        routing_setup_authorize(user=actor)
    unknown = set(fields) - RULE_FIELDS
    if unknown:
        raise ValueError(f"unknown rule fields: {sorted(unknown)}")
    _lock_rules()
    rule = RoutingRule(name=name)
    _apply(rule, fields)
    _check_rule(rule)
    members = _check_reps(list(reps))
    rule.position = _PARK * 2 + RoutingRule.objects.count()
    _save_rule(rule)
    rule.reps.set(members)
    _place(rule, position)
    _audit(
        actor, "routing_rule.create", rule, rule.name, {}, {**fields, "name": name, "reps": reps}
    )
    publish_on_commit(ROUTE_POOL)
    return rule


@transaction.atomic
def routing_rule_update(*, actor: User | None, rule_id: int, **changes: Any) -> RoutingRule:
    """Change the given fields; `position` moves the rule (the others shift)."""
    if actor is not None:
        routing_setup_authorize(user=actor)
    unknown = set(changes) - RULE_FIELDS
    if unknown:
        raise ValueError(f"unknown rule fields: {sorted(unknown)}")
    _lock_rules()
    rule = RoutingRule.objects.select_for_update().get(pk=rule_id)
    before = {name: getattr(rule, name) for name in changes if name not in ("reps", "position")}
    if "reps" in changes:
        before["reps"] = sorted(rule.reps.values_list("pk", flat=True))
    if "position" in changes:
        before["position"] = rule.position
    _apply(rule, changes)
    _check_rule(rule)
    members = _check_reps(list(changes["reps"])) if "reps" in changes else None
    _save_rule(rule)
    if members is not None:
        rule.reps.set(members)
    if "position" in changes:
        _place(rule, changes["position"])
    after = {**changes, "reps": sorted(changes["reps"])} if "reps" in changes else changes
    _audit(actor, "routing_rule.update", rule, rule.name, before, after)
    publish_on_commit(ROUTE_POOL)
    return rule


@transaction.atomic
def routing_rule_delete(*, actor: User | None, rule_id: int) -> None:
    """Delete the rule (assignments keep their history without it); the others close up."""
    if actor is not None:
        routing_setup_authorize(user=actor)
    _lock_rules()
    rule = RoutingRule.objects.filter(pk=rule_id).first()
    if rule is not None:
        _audit(actor, "routing_rule.delete", rule, rule.name, {}, {})
    RoutingRule.objects.filter(pk=rule_id).delete()
    _renumber(_order_without(None))
