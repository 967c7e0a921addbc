"""Reads of the web app: forms and their submissions, for marketers and admins; a form as the
public sees it."""

from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404

from accounts.models import User
from core.errors import Forbidden
from leads.models import Stage, StageChange
from web.models import Form, Submission


def forms_authorize(*, actor: User | None) -> None:
    """Forms are marketing's: marketers and admins manage them and read their submissions."""
    if actor is None or not actor.does_marketing:
        raise Forbidden("Only marketers and admins may manage forms.")


def form_list(*, user: User) -> QuerySet[Form]:
    """Every form with its submission count (marketers and admins)."""
    forms_authorize(actor=user)
    return Form.objects.select_related("sequence").annotate(submission_count=Count("submissions"))


def form_get(*, user: User, form_id: int) -> Form:
    try:
        return form_list(user=user).get(pk=form_id)
    except Form.DoesNotExist:
        raise Http404("No such form.") from None


def form_public_get(*, slug: str) -> Form:
    """The form a visitor may fill: active ones only (404 otherwise). Read with a raw
    statement: every submission and every view of the hosted page asks, and building the
    query through the ORM cost 0.4-1 ms of CPU (the row read raw and made a Form: 0.2-0.3)."""
    table = Form._meta.db_table
    found = Form.objects.raw(f"SELECT * FROM {table} WHERE slug = %s AND is_active", [slug])
    form = next(iter(found), None)
    if form is None:
        raise Http404("No such form.")
    return form


def submission_list(*, user: User, form_id: int) -> QuerySet[Submission]:
    """A form's submissions, newest first (marketers and admins)."""
    form = form_get(user=user, form_id=form_id)
    return Submission.objects.filter(form=form).select_related("lead")


# TEMPORARY (web-forms): replaced by the CONSENT helper's nurture gate at merge


def form_figures(*, form_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Per form: submissions, confirmed (double opt-in), leads, and how many of those leads
    entered MQL and SQL after submitting. One query."""
    after = {
        "lead_id": OuterRef("lead_id"),
        "changed_at__gte": OuterRef("submitted_at"),
    }
    rows = (
        Submission.objects.filter(form_id__in=form_ids)
        .annotate(
            went_mql=Exists(StageChange.objects.filter(to_stage=Stage.MQL, **after)),
            went_sql=Exists(StageChange.objects.filter(to_stage=Stage.SQL, **after)),
        )
        .values("form_id")
        .annotate(
            submissions=Count("id"),
            confirmed=Count("id", filter=Q(confirmed_at__isnull=False)),
            leads=Count("lead_id", distinct=True),
            to_mql=Count("lead_id", distinct=True, filter=Q(went_mql=True)),
            to_sql=Count("lead_id", distinct=True, filter=Q(went_sql=True)),
        )
    )
    empty = dict.fromkeys(("submissions", "confirmed", "leads", "to_mql", "to_sql"), 0)
    figures: dict[int, dict[str, Any]] = {form_id: dict(empty) for form_id in form_ids}
    for row in rows:
        found: dict[str, Any] = dict(row)
        figures[int(found["form_id"])] = {key: found[key] for key in empty}
    for values in figures.values():
        leads = values["leads"]
        values["mql_rate"] = round(100 * values["to_mql"] / leads) if leads else None
    return figures
