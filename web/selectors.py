"""Reads of the web app: forms and their submissions, for marketers and admins; a form as the
public sees it."""

from django.db.models import Count, QuerySet
from django.http import Http404

from accounts.models import User
from core.errors import Forbidden
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
    """The form a visitor may fill: active ones only (404 otherwise)."""
    form = Form.objects.filter(slug=slug, is_active=True).first()
    if form is None:
        raise Http404("No such form.")
    return form


def submission_list(*, user: User, form_id: int) -> QuerySet[Submission]:
    """A form's submissions, newest first (marketers and admins)."""
    form = form_get(user=user, form_id=form_id)
    return Submission.objects.filter(form=form).select_related("lead")


# TEMPORARY (web-forms): replaced by the CONSENT helper's nurture gate at merge
