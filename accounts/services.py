"""Every write to a user, and who may make it.

Admins manage everyone. Sales managers manage sales reps: they create reps and change a rep's
fields, but never give anyone another role. Anyone else (a rep, a marketer, a manager about
themselves) may change only their own away status. `actor=None` is the system (demo data,
management commands).

A change that may free a rep's capacity (back from away, more capacity, active again, a new
rep) asks the hand-off to route its waiting pool once the change commits: accounts sits below
handoff, so it publishes the task by name.
"""

from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import Role, User
from core import hooks
from core.errors import ApiError, Conflict, Forbidden
from core.publish import publish_on_commit

# Published by name (handoff/tasks.py registers it): handoff sits above accounts.
ROUTE_POOL_TASK = "handoff.route_pool"

# What the API and the admin may set on a user.
FIELDS = frozenset(
    {
        "username",
        "first_name",
        "last_name",
        "email",
        "role",
        "password",
        "is_active",
        "capacity",
        "is_away",
        "away_until",
        "territory_countries",
        "territory_size_min",
        "territory_size_max",
    }
)
# Django's own flags, which only an admin may change (the admin site shows them).
ADMIN_ONLY = frozenset({"is_staff", "is_superuser"})
# What anybody may change about themselves.
SELF_SERVICE = frozenset({"is_away", "away_until"})
# Changes after which a rep may have room for more leads.
ROUTING_FIELDS = frozenset(
    {
        "role",
        "is_active",
        "capacity",
        "is_away",
        "away_until",
        "territory_countries",
        "territory_size_min",
        "territory_size_max",
    }
)
# Changes an admin may not make to their own account (they would lock themselves out).
SELF_LOCKOUT = frozenset({"role", "is_active", "is_superuser", "is_staff"})


class DuplicateUsername(Conflict):
    default_code = "duplicate_username"
    default_detail = "A user with this username already exists."


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(f"{field}: {message}", code="invalid", fields={field: [message]})


def user_create_authorize(*, actor: User | None, role: str | None = None) -> None:
    """Admins create anyone; managers create reps (`role=None`: may they create at all)."""
    if actor is None or actor.is_admin:
        return
    if actor.manages_sales and role in (None, Role.REP):
        return
    if actor.manages_sales:
        raise Forbidden("A sales manager may create sales reps only.", fields={"role": [role]})
    raise Forbidden("Only admins and sales managers manage users.")


def user_update_authorize(*, actor: User | None, user: User, changed: set[str]) -> None:
    """May `actor` make these changes (field names whose value changes) to `user`?"""
    if actor is None:
        return
    if actor.pk == user.pk and not actor.is_admin:
        _forbid_beyond_away(changed)
        return
    if actor.is_admin:
        if actor.pk == user.pk and changed & SELF_LOCKOUT:
            raise Forbidden("You may not change your own role, active or staff status.")
        return
    if actor.manages_sales and user.is_rep:
        if changed & (ADMIN_ONLY | {"role"}):
            raise Forbidden("A sales manager may not change a user's role or admin flags.")
        return
    raise Forbidden("You may not change this user.")


def _forbid_beyond_away(changed: set[str]) -> None:
    others = sorted(changed - SELF_SERVICE)
    if others:
        raise Forbidden(
            "You may change only your own away status (is_away, away_until).",
            fields={name: ["Not yours to change."] for name in others},
        )


def _check_password(password: str, user: User) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ApiError(
            f"password: {' '.join(exc.messages)}", code="invalid", fields={"password": exc.messages}
        ) from exc


def _check_territory(user: User) -> None:
    low, high = user.territory_size_min, user.territory_size_max
    if low is not None and high is not None and low > high:
        raise _invalid("territory_size_max", "Must not be below territory_size_min.")


def _check_role(user: User) -> None:
    if user.role not in Role.values:
        raise _invalid("role", f"Must be one of: {', '.join(Role.values)}.")


def _check_username(user: User) -> None:
    if not user.username.strip():
        raise _invalid("username", "This field may not be blank.")
    if User.objects.exclude(pk=user.pk).filter(username=user.username).exists():
        raise DuplicateUsername(fields={"username": [DuplicateUsername.default_detail]})


def _save(user: User) -> None:
    """Save; a username taken by a concurrent request in between is the same 409."""
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", "") or ""
        if "username" in constraint:
            raise DuplicateUsername(
                fields={"username": [DuplicateUsername.default_detail]}
            ) from exc
        raise


def _capacity_may_free(user: User, changed: set[str]) -> None:
    if user.is_rep and user.is_active and changed & ROUTING_FIELDS:
        publish_on_commit(ROUTE_POOL_TASK)


@transaction.atomic
def user_create(*, actor: User | None, username: str, password: str | None = None, **fields: Any):
    """A new user. Without a password the user cannot log in until one is set."""
    role = fields.get("role", Role.MARKETER)
    user_create_authorize(actor=actor, role=role)
    unknown = set(fields) - FIELDS - ADMIN_ONLY
    if unknown:
        raise ValueError(f"unknown user fields: {sorted(unknown)}")
    if fields.keys() & ADMIN_ONLY and not (actor is None or actor.is_admin):
        raise Forbidden("Only an admin may set is_staff or is_superuser.")
    user = User(username=username, **fields)
    _validate(user, password)
    _save(user)
    _audit(actor, "user.create", user, {}, {"username": username, **fields})
    _capacity_may_free(user, set(ROUTING_FIELDS))
    return user


def _audit(actor: User | None, action: str, user: User, before: dict, after: dict) -> None:
    """Tell the audit (above accounts: through the hook, in this transaction)."""
    changes: dict[str, list[Any]] = {}
    for name in sorted(after):
        old, new = before.get(name), after[name]
        if name == "password":
            changes[name] = ["***", "***"]
        elif old != new:
            changes[name] = [old, new]
    hooks.account_changed.call(actor, action, user, changes)


def _validate(user: User, password: str | None) -> None:
    _check_role(user)
    _check_username(user)
    _check_territory(user)
    if password is None:
        user.set_unusable_password()
    else:
        _check_password(password, user)
        user.set_password(password)


@transaction.atomic
def user_update(*, actor: User | None, user_id: int, **changes: Any) -> User:
    """Change a user's fields (like a PATCH: only the given ones). Raises Forbidden for a
    change the actor may not make, checked on the fields whose value actually changes."""
    unknown = set(changes) - FIELDS - ADMIN_ONLY
    if unknown:
        raise ValueError(f"unknown user fields: {sorted(unknown)}")
    user = User.objects.select_for_update().get(pk=user_id)
    password = changes.pop("password", None)
    changed = {name for name, value in changes.items() if getattr(user, name) != value}
    before = {name: getattr(user, name) for name in changed}
    user_update_authorize(
        actor=actor, user=user, changed=changed | ({"password"} if password is not None else set())
    )
    for name in changed:
        setattr(user, name, changes[name])
    _check_role(user)
    _check_username(user)
    _check_territory(user)
    if password is not None:
        _check_password(password, user)
        user.set_password(password)
    _save(user)
    after = {name: changes[name] for name in changed}
    if password is not None:
        after["password"] = "***"
    if after:
        _audit(actor, "user.update", user, before, after)
    _capacity_may_free(user, changed)
    return user


def user_set_away(*, actor: User | None, user_id: int, is_away: bool, away_until=None) -> User:
    """Away (optionally until a time: then back by itself), or back now. Anybody may set
    their own; managers their reps'; admins anyone's."""
    return user_update(
        actor=actor, user_id=user_id, is_away=is_away, away_until=away_until if is_away else None
    )


def user_access_authorize(*, actor: User | None) -> None:
    """Groups and model permissions (the admin site's pages): admins only."""
    if actor is not None and not actor.is_admin:
        raise Forbidden("Only an admin may change groups and permissions.")


@transaction.atomic
def user_delete(*, actor: User | None, user_id: int) -> None:
    """Admins only; deactivate a rep instead (`is_active`), which keeps their history."""
    if actor is not None and not actor.is_admin:
        raise Forbidden("Only an admin may delete users; deactivate the user instead.")
    if actor is not None and actor.pk == user_id:
        raise Forbidden("You may not delete yourself.")
    user = User.objects.filter(pk=user_id).first()
    if user is not None:
        _audit(actor, "user.delete", user, {}, {})
    User.objects.filter(pk=user_id).delete()
