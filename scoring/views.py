"""The marketer's scoring pages: the rules, the settings, and the preview of a draft change
(a simulation over the real history) before it is published.

Everyone logged in reads the rules; marketers and admins change them. A change never applies
straight away: the form opens a draft, whose preview runs as a Celery job (the page polls it),
and only Publish applies it (and starts the re-score, whose progress shows on the rules page).
"""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.auth import marketing_user, request_user
from core.errors import ApiError
from leads.models import Stage
from scoring import charts, forms, rules, selectors, services, simulations
from scoring.models import ScoringRule, SimulationJob

# Who may use these pages, as the 403 says it.
REFUSAL = "Only marketers and admins change scoring."


@login_required
@require_GET
def rule_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    context = {
        "rules": selectors.rule_overview(),
        "thresholds": selectors.scoring_settings_get().thresholds(),
        "rescore": selectors.rescore_job_list().first(),
        "can_change": user.does_marketing,
    }
    return render(request, "scoring/rules.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, rule_id: int | None = None) -> HttpResponse:
    user = marketing_user(request, refusal=REFUSAL)
    rule = _rule(rule_id) if rule_id is not None else None
    if request.method == "POST":
        form = forms.RuleForm(request.POST)
        if form.is_valid():
            draft = simulations.draft_for_rule(
                rule=rule,
                name=form.cleaned_data["name"],
                definition=form.cleaned_data["definition"],
            )
            job = simulations.simulation_start(actor=user, draft=draft)
            return redirect("scoring:preview", job_id=job.pk)
    elif rule is not None:
        definition = rule.version.as_def().definition()
        form = forms.RuleForm(
            initial=forms.RuleForm.initial_for(name=rule.name, definition=definition)
        )
    else:
        form = forms.RuleForm(initial={"kind": "event", "event_type": "page", "points": 10})
    return render(request, "scoring/rule_form.html", {"form": form, "rule": rule})


@login_required
@require_POST
def rule_switch(request: HttpRequest, rule_id: int) -> HttpResponse:
    """Switch a rule off (or back on): its points go (or come back) with the re-score."""
    user = marketing_user(request, refusal=REFUSAL)
    rule = _rule(rule_id)
    on = not rule.is_active
    services.rule_update(actor=user, rule_id=rule.pk, is_active=on)
    state = "on" if on else "off"
    messages.success(request, f"“{rule.name}” is {state}; the re-score is under way.")
    return redirect("scoring:rules")


@login_required
@require_http_methods(["GET", "POST"])
def settings_edit(request: HttpRequest) -> HttpResponse:
    user = marketing_user(request, refusal=REFUSAL)
    thresholds = selectors.scoring_settings_get().thresholds()
    if request.method == "POST":
        form = forms.SettingsForm(request.POST)
        if form.is_valid():
            draft = simulations.draft_for_settings(overrides=form.cleaned_data["overrides"])
            job = simulations.simulation_start(actor=user, draft=draft)
            return redirect("scoring:preview", job_id=job.pk)
    else:
        form = forms.SettingsForm(initial=forms.SettingsForm.initial_for(thresholds))
    return render(request, "scoring/settings.html", {"form": form, "thresholds": thresholds})


@login_required
@require_GET
def preview(request: HttpRequest, job_id: int) -> HttpResponse:
    """The draft's effect; while the simulation runs, htmx polls the body (every second)."""
    marketing_user(request, refusal=REFUSAL)
    job = _job(job_id)
    context = _preview_context(job)
    if request.headers.get("HX-Request"):
        return render(request, "scoring/_preview_body.html", context)
    return render(request, "scoring/preview.html", context)


@login_required
@require_POST
def preview_publish(request: HttpRequest, job_id: int) -> HttpResponse:
    user = marketing_user(request, refusal=REFUSAL)
    job = _job(job_id)
    try:
        simulations.simulation_publish(job=job, actor=user)
    except ApiError as exc:
        messages.error(request, str(exc.detail))
        return redirect("scoring:preview", job_id=job.pk)
    messages.success(request, f"{forms.draft_summary(job.draft)}: published; re-scoring now.")
    return redirect("scoring:rules")


@login_required
@require_POST
def preview_discard(request: HttpRequest, job_id: int) -> HttpResponse:
    user = marketing_user(request, refusal=REFUSAL)
    job = _job(job_id)
    try:
        simulations.simulation_discard(job=job, actor=user)
    except ApiError as exc:
        messages.error(request, str(exc.detail))
        return redirect("scoring:preview", job_id=job.pk)
    messages.success(request, "Draft discarded: nothing changed.")
    if request.headers.get("HX-Request"):
        return HttpResponseClientRedirect("/scoring/rules/")
    return redirect("scoring:rules")


@login_required
@require_GET
def rescore_progress(request: HttpRequest, job_id: int) -> HttpResponse:
    """The re-score's progress bar (htmx polls it until the re-score is finished)."""
    job = selectors.rescore_job_list().filter(pk=job_id).first()
    if job is None:
        raise Http404("No such re-score.")
    return render(request, "scoring/_rescore.html", {"rescore": job})


def _rule(rule_id: int) -> ScoringRule:
    try:
        return selectors.rule_get(rule_id=rule_id)
    except ScoringRule.DoesNotExist:
        raise Http404("No such rule.") from None


def _job(job_id: int) -> SimulationJob:
    job = selectors.simulation_job_list().filter(pk=job_id).first()
    if job is None or not (job.draft or {}).get("change"):
        raise Http404("No such draft.")
    return job


def _preview_context(job: SimulationJob) -> dict[str, Any]:
    result = job.result or {}
    changed = result.get("changed_leads", [])
    groups = {
        "MQL": [c for c in changed if c["would_be"] == Stage.MQL],
        "PQL": [c for c in changed if c["would_be"] == Stage.PQL],
        "back": result.get("dropped_leads", []),
    }
    draft_rules = (job.draft or {}).get("rules")
    if draft_rules is None:  # a settings draft runs the active rules
        draft_rules = [{**r.definition(), "name": r.name} for r in selectors.rules_active()]
    per_rule = [
        {**row, "sentence": _sentence(draft_rules, row["index"])} for row in result.get("rules", [])
    ]
    return {
        "job": job,
        "summary": forms.draft_summary(job.draft),
        "result": result,
        "groups": groups,
        "per_rule": per_rule,
        "histogram": charts.histogram(result.get("histogram", [])) if result else None,
    }


def _sentence(draft_rules: list[dict[str, Any]], index: int) -> str:
    if index >= len(draft_rules):
        return ""
    try:
        return rules.describe(rules.rule_parse(draft_rules[index]))
    except rules.RuleError:
        return ""
