"""The rep's inbox (/inbox/) and the hand-off's actions, as pages.

Every action is a plain form that works without JavaScript: its own page, a POST, then a
redirect with a message. With htmx the same view opens the form in the page's <dialog>, answers
a sent form with the inbox's updated `_queue.html` (the message out of band; on the lead page, a
redirect), and shows a refused form again in the dialog. Views parse, call one service or
selector and render: what a user may do is the services' decision.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget, trigger_client_event
from django_htmx.middleware import HtmxDetails
from rest_framework.exceptions import APIException

from accounts import services as account_services
from accounts.auth import request_user
from handoff import forms as handoff_forms
from handoff.selectors import duplicates
from handoff.selectors import inbox as selectors
from handoff.services import activities, decisions, merge
from leads import selectors as lead_selectors
from leads.models import Lead


class HtmxHttpRequest(HttpRequest):
    """A request through django-htmx's middleware (as the type checker should see it)."""

    htmx: HtmxDetails


# What a service raises when it refuses: its message is shown to the user.
REFUSALS = (APIException, DjangoValidationError, Http404, ObjectDoesNotExist)
# The event htmx fires in the browser when an action is done (static/js/inbox.js closes the
# dialog on it).
DONE_EVENT = "action-done"


@dataclass(frozen=True)
class Action:
    title: str  # the form's heading, with {lead}
    submit: str  # its button
    done: str  # the message once done, with {lead}
    form: type[forms.Form] | None = None
    back_to_lead: bool = True  # from the lead page, go back there (else to the inbox)


ACCEPT = Action("Accept {lead}", "Accept", "Accepted {lead}.")
REJECT = Action(
    "Reject {lead}", "Reject", "Rejected {lead}.", handoff_forms.RejectForm, back_to_lead=False
)
QUALIFY = Action(
    "Qualify {lead}", "Qualify: SQL", "{lead} is sales qualified.", handoff_forms.QualifyForm
)
CLOSE = Action("Close {lead}", "Close", "Closed {lead}.", handoff_forms.CloseForm)
LOG = Action("Log a call or note: {lead}", "Log", "Logged on {lead}.", handoff_forms.ActivityForm)
TASK = Action("New task: {lead}", "Add the task", "Task added on {lead}.", handoff_forms.TaskForm)
TASK_DONE = Action("Done", "Done", "Task done on {lead}.")


@login_required
@require_GET
@vary_on_headers("HX-Request")
def inbox(request: HtmxHttpRequest) -> HttpResponse:
    data = selectors.inbox_get(user=request_user(request), page=request.GET.get("page"))
    partial = request.htmx and not request.htmx.history_restore_request
    template = "handoff/_queue.html" if partial else "handoff/inbox.html"
    return render(request, template, {"inbox": data})


@login_required
@require_POST
def lead_accept(request: HtmxHttpRequest, lead_id: int) -> HttpResponse:
    def perform(lead: Lead, _: dict) -> object:
        return decisions.lead_accept(lead_id=lead.pk, actor=request_user(request))

    return _act(request, lead_id, ACCEPT, perform)


@login_required
@require_http_methods(["GET", "POST"])
def lead_reject(request: HtmxHttpRequest, lead_id: int) -> HttpResponse:
    def perform(lead: Lead, data: dict) -> object:
        return decisions.lead_reject(lead_id=lead.pk, actor=request_user(request), **data)

    return _act(request, lead_id, REJECT, perform)


@login_required
@require_http_methods(["GET", "POST"])
def lead_qualify(request: HtmxHttpRequest, lead_id: int) -> HttpResponse:
    def perform(lead: Lead, data: dict) -> object:
        return decisions.lead_qualify(lead_id=lead.pk, actor=request_user(request), answers=data)

    return _act(request, lead_id, QUALIFY, perform)


@login_required
@require_http_methods(["GET", "POST"])
def lead_close(request: HtmxHttpRequest, lead_id: int) -> HttpResponse:
    def perform(lead: Lead, data: dict) -> object:
        return decisions.lead_close(lead_id=lead.pk, actor=request_user(request), **data)

    return _act(request, lead_id, CLOSE, perform)


@login_required
@require_http_methods(["GET", "POST"])
def activity_log(request: HtmxHttpRequest, lead_id: int) -> HttpResponse:
    def perform(lead: Lead, data: dict) -> object:
        return activities.activity_log(lead_id=lead.pk, actor=request_user(request), **data)

    return _act(request, lead_id, LOG, perform)


@login_required
@require_http_methods(["GET", "POST"])
def task_create(request: HtmxHttpRequest, lead_id: int) -> HttpResponse:
    def perform(lead: Lead, data: dict) -> object:
        return activities.task_create(lead_id=lead.pk, actor=request_user(request), **data)

    return _act(request, lead_id, TASK, perform)


@login_required
@require_POST
def task_complete(request: HtmxHttpRequest, lead_id: int, task_id: int) -> HttpResponse:
    def perform(lead: Lead, _: dict) -> object:
        return activities.task_complete(task_id=task_id, actor=request_user(request))

    return _act(request, lead_id, TASK_DONE, perform)


@login_required
@require_POST
def away_set(request: HtmxHttpRequest) -> HttpResponse:
    user = request_user(request)
    form = handoff_forms.AwayForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
    else:
        try:
            account_services.user_set_away(user_id=user.pk, actor=user, **form.cleaned_data)
        except REFUSALS as exc:
            messages.error(request, _refusal(exc)[0])
        else:
            away = form.cleaned_data["is_away"]
            messages.success(request, "You are away." if away else "Welcome back.")
    if not request.htmx:
        return redirect("handoff:inbox")
    user.refresh_from_db(fields=["is_away", "away_until"])
    return render(request, "handoff/_away.html", {"oob_flash": True})


# --- one action: its form, the service call, where it ends ----------------------------------------


def _act(
    request: HtmxHttpRequest, lead_id: int, action: Action, perform: Callable[[Lead, dict], Any]
) -> HttpResponse:
    back_to_lead = request.POST.get("next", request.GET.get("next")) == "lead"
    try:
        lead = lead_selectors.lead_get(user=request_user(request), lead_id=lead_id)
    except Http404:
        messages.error(request, "That lead is not yours to act on (any more).")
        return _finish(request, None)
    form = action.form(request.POST) if action.form and request.method == "POST" else None
    if request.method == "POST" and (form is None or form.is_valid()):
        try:
            perform(lead, form.cleaned_data if form else {})
        except REFUSALS as exc:
            if form is None:
                messages.error(request, _refusal(exc)[0])
                return _finish(request, lead if back_to_lead else None)
            _show_refusal(form, exc)
        else:
            messages.success(request, action.done.format(lead=_name(lead)))
            return _finish(request, lead if back_to_lead and action.back_to_lead else None)
    assert action.form is not None, "an action without a form is POST only"
    return _form_page(request, action, form or action.form(), lead, back_to_lead)


def _finish(request: HtmxHttpRequest, lead: Lead | None) -> HttpResponse:
    """Done (or refused without a form): back to the lead's page, or else to the inbox."""
    url = reverse("leads:detail", args=[lead.pk]) if lead else reverse("handoff:inbox")
    if not request.htmx:
        return redirect(url)
    if lead:
        return HttpResponseClientRedirect(url)
    data = selectors.inbox_get(user=request_user(request))
    response = render(request, "handoff/_queue.html", {"inbox": data, "oob_flash": True})
    response = reswap(retarget(response, "#queue"), "outerHTML")
    return trigger_client_event(response, DONE_EVENT)


def _form_page(
    request: HtmxHttpRequest, action: Action, form: forms.Form, lead: Lead, back_to_lead: bool
) -> HttpResponse:
    back_url = reverse("leads:detail", args=[lead.pk]) if back_to_lead else reverse("handoff:inbox")
    context = {
        "title": action.title.format(lead=_name(lead)),
        "submit": action.submit,
        "form": form,
        "lead": lead,
        "back_to_lead": back_to_lead,
        "back_url": back_url,
        "in_dialog": bool(request.htmx),
    }
    if not request.htmx:
        return render(request, "handoff/action.html", context)
    response = render(request, "handoff/_action_form.html", context)
    return reswap(retarget(response, "#dialog-body"), "innerHTML")


def _show_refusal(form: forms.Form, exc: Exception) -> None:
    message, fields = _refusal(exc)
    known = {name: errors for name, errors in fields.items() if name in form.fields}
    for name, errors in known.items():
        form.add_error(name, errors)
    if not known:
        form.add_error(None, message)


def _refusal(exc: Exception) -> tuple[str, dict[str, list[str]]]:
    """A refusal's message and its per-field errors, from whichever kind of error it is."""
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        return "That is not yours to act on (any more).", {}
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {}
        return " ".join(exc.messages), fields
    detail = exc.detail  # type: ignore[attr-defined]
    fields = {k: [str(e) for e in v] for k, v in (getattr(exc, "fields", None) or {}).items()}
    if isinstance(detail, dict):
        fields = fields or {k: [str(e) for e in v] for k, v in detail.items()}
        return " ".join(" ".join(errors) for errors in fields.values()), fields
    if isinstance(detail, list):
        return " ".join(str(item) for item in detail), fields
    return str(detail), fields


def _form_errors(form: forms.Form) -> str:
    return " ".join(
        f"{name}: {' '.join(str(e) for e in errors)}" for name, errors in form.errors.items()
    )


def _name(lead: Lead) -> str:
    return lead.full_name or lead.email


# --- merging a duplicate from the lead's page ----------------------------------------------


@login_required
@require_POST
def lead_merge(request: HtmxHttpRequest, lead_id: int) -> HttpResponse:
    """Merge the lead `other` (deleted) into this one; back to this lead's page with a message."""
    user = request_user(request)
    lead = lead_selectors.lead_get(user=user, lead_id=lead_id)
    other = request.POST.get("other", "")
    try:
        row = merge.lead_merge(
            lead_id=lead.pk, other_id=int(other) if other.isdigit() else 0, actor=user
        )
    except REFUSALS as exc:
        messages.error(request, _refusal(exc)[0])
    else:
        messages.success(request, f"Merged {row.merged_email} into {_name(lead)}.")
    return redirect("leads:detail", lead_id=lead.pk)


@login_required
@require_GET
@vary_on_headers("HX-Request")
def lead_duplicates(request: HtmxHttpRequest, lead_id: int) -> HttpResponse:
    """The lead's likely duplicates: htmx swaps them into the lead's page (nothing when there
    are none); without it, a page of their own."""
    user = request_user(request)
    lead = lead_selectors.lead_get(user=user, lead_id=lead_id)
    candidates = duplicates.duplicates_candidates(user=user, lead=lead)
    section = {"lead": lead, "candidates": candidates}
    if not request.htmx:
        return render(request, "handoff/duplicates.html", {"section": section})
    if not candidates:
        return HttpResponse("")
    return render(request, "handoff/_duplicates.html", {"section": section})
