"""The team pages (admins and sales managers): people with their role, capacity, load, away
status and territory; the routing rules in order; the hand-off settings (deadlines, business
hours). Every write goes through the same services as the API, so the same rules hold: a
manager creates and edits reps only, nobody locks themselves out, a rule's reps are active
reps, business hours are checked by handoff.clock."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import services as accounts_services
from accounts.auth import sales_manager_user
from accounts.models import User
from core.errors import ApiError, errors_to_form
from handoff import selectors
from handoff.selectors.routing import OPEN_STAGES, routing_rule_get, routing_rule_list
from handoff.services import routing_setup
from handoff.team_forms import PersonForm, RuleForm, SettingsForm
from leads.models import Lead

# Who may use these pages, as the 403 says it.
REFUSAL = "Only admins and sales managers manage the team."


def _people():
    load = (
        Lead.objects.filter(owner_id=OuterRef("pk"), stage__in=OPEN_STAGES)
        .values("owner_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return User.objects.annotate(
        load=Coalesce(Subquery(load, output_field=IntegerField()), Value(0))
    ).order_by("role", "username")


@login_required
@require_GET
def team(request: HttpRequest) -> HttpResponse:
    user = sales_manager_user(request, refusal=REFUSAL)
    context = {
        "people": _people(),
        "rules": routing_rule_list(user=user),
        "settings": selectors.handoff_settings(),
    }
    return render(request, "handoff/team/team.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def person_edit(request: HttpRequest, user_id: int | None = None) -> HttpResponse:
    actor = sales_manager_user(request, refusal=REFUSAL)
    person = User.objects.filter(pk=user_id).first() if user_id is not None else None
    if user_id is not None and person is None:
        raise Http404("No such user.")
    if request.method == "POST":
        form = PersonForm(request.POST)
        if form.is_valid():
            try:
                person = _person_save(actor, person, form)
            except ApiError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(request, f"Saved {person.get_username()}.")
                return redirect("handoff:team")
    else:
        form = PersonForm(initial=PersonForm.initial_for(person) if person else {"role": "rep"})
    return render(request, "handoff/team/person.html", {"form": form, "person": person})


def _person_save(actor: User, person: User | None, form: PersonForm) -> User:
    changes = form.changes()
    if person is None:
        password = changes.pop("password", None)
        return accounts_services.user_create(
            actor=actor, username=form.cleaned_data["username"], password=password, **changes
        )
    changes["username"] = form.cleaned_data["username"]
    return accounts_services.user_update(actor=actor, user_id=person.pk, **changes)


@login_required
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, rule_id: int | None = None) -> HttpResponse:
    actor = sales_manager_user(request, refusal=REFUSAL)
    rule = routing_rule_get(user=actor, rule_id=rule_id) if rule_id is not None else None
    if request.method == "POST":
        form = RuleForm(request.POST)
        if form.is_valid():
            try:
                if rule is None:
                    routing_setup.routing_rule_create(actor=actor, **form.changes())
                else:
                    routing_setup.routing_rule_update(
                        actor=actor, rule_id=rule.pk, **form.changes()
                    )
            except ApiError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(request, f"Saved the rule “{form.cleaned_data['name']}”.")
                return redirect("handoff:team")
    else:
        form = RuleForm(initial=RuleForm.initial_for(rule) if rule else {"is_active": True})
    return render(request, "handoff/team/rule.html", {"form": form, "rule": rule})


@login_required
@require_POST
def rule_move(request: HttpRequest, rule_id: int) -> HttpResponse:
    """One place earlier or later: the first matching rule wins, so order matters here."""
    actor = sales_manager_user(request, refusal=REFUSAL)
    rule = routing_rule_get(user=actor, rule_id=rule_id)
    step = -1 if request.POST.get("direction") == "up" else 1
    position = max(1, rule.position + step)
    routing_setup.routing_rule_update(actor=actor, rule_id=rule.pk, position=position)
    return redirect("handoff:team")


@login_required
@require_POST
def rule_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    actor = sales_manager_user(request, refusal=REFUSAL)
    rule = routing_rule_get(user=actor, rule_id=rule_id)
    routing_setup.routing_rule_delete(actor=actor, rule_id=rule.pk)
    messages.success(request, f"Deleted the rule “{rule.name}”.")
    return redirect("handoff:team")


@login_required
@require_http_methods(["GET", "POST"])
def settings_edit(request: HttpRequest) -> HttpResponse:
    actor = sales_manager_user(request, refusal=REFUSAL)
    row = selectors.handoff_settings()
    if request.method == "POST":
        form = SettingsForm(request.POST)
        if form.is_valid():
            try:
                routing_setup.handoff_settings_update(actor=actor, **form.cleaned_data)
            except ApiError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(request, "Saved the hand-off settings.")
                return redirect("handoff:team")
    else:
        form = SettingsForm(initial=SettingsForm.initial_for(row))
    return render(request, "handoff/team/settings.html", {"form": form})
