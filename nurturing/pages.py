"""The marketer's nurture pages: sequences with their figures, the step editor with the
personalisation variables beside it, a preview for a real lead, and a test send.

Everyone logged in reads sequences; marketers and admins change them (the services check it
again). The email links (unsubscribe, open, click) live in views.py.
"""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.csp import CSP
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csp import csp_override
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.auth import marketing_user, request_user
from core.errors import ApiError, errors_to_form
from leads.models import Lead
from nurturing import forms, selectors
from nurturing.models import Sequence, Step
from nurturing.services import sequences as services
from nurturing.template_policy import FILTERS, MAX_PADDING, PADDING

# Who may use these pages, as the 403 says it.
REFUSAL = "Only marketers and admins change nurture sequences."

# What the editor lists beside the template: each variable and what it falls back to.
VARIABLES = [
    ("first_name", "the lead's first name", "“there”"),
    ("last_name", "the last name", "empty"),
    ("full_name", "first and last name", "the first name, or “there”"),
    ("company", "the company's name", "“your company”"),
    ("title", "the job title", "empty"),
    ("owner_name", "the lead's owner (a rep)", "“the team”"),
    ("email", "the lead's address", "—"),
]


def _sequence(sequence_id: int) -> Sequence:
    found = selectors.sequence_list().filter(pk=sequence_id).first()
    if found is None:
        raise Http404("No such sequence.")
    return found


def _step(sequence: Sequence, step_id: int) -> Step:
    found = sequence.steps.filter(pk=step_id).first()
    if found is None:
        raise Http404("No such step.")
    return found


@login_required
@require_GET
def sequence_list(request: HttpRequest) -> HttpResponse:
    context = {
        "rows": selectors.sequences_overview(),
        "can_change": request_user(request).does_marketing,
    }
    return render(request, "nurturing/sequences.html", context)


@login_required
@require_GET
def sequence_detail(request: HttpRequest, sequence_id: int) -> HttpResponse:
    sequence = _sequence(sequence_id)
    figures = selectors.sequence_figures(sequence=sequence)
    context = {
        "sequence": sequence,
        "figures": figures,
        "chart": _step_chart(figures["steps"]),
        "can_change": request_user(request).does_marketing,
        "days": selectors.FIGURE_DAYS,
    }
    return render(request, "nurturing/sequence.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def sequence_edit(request: HttpRequest, sequence_id: int | None = None) -> HttpResponse:
    user = marketing_user(request, refusal=REFUSAL)
    sequence = _sequence(sequence_id) if sequence_id is not None else None
    form = forms.SequenceForm(request.POST or None, instance=sequence)
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
        try:
            if sequence is None:
                sequence = services.sequence_create(actor=user, **fields)
            else:
                sequence = services.sequence_update(sequence=sequence, actor=user, **fields)
        except ApiError as exc:
            errors_to_form(form, exc)
        else:
            messages.success(request, f"Saved “{sequence.name}”.")
            return redirect("sequences:detail", sequence_id=sequence.pk)
    return render(request, "nurturing/sequence_form.html", {"form": form, "sequence": sequence})


@login_required
@require_POST
def sequence_toggle(request: HttpRequest, sequence_id: int) -> HttpResponse:
    user = marketing_user(request, refusal=REFUSAL)
    sequence = _sequence(sequence_id)
    services.sequence_update(sequence=sequence, actor=user, is_active=not sequence.is_active)
    state = "paused" if sequence.is_active else "active again"
    messages.success(request, f"“{sequence.name}” is {state}.")
    return redirect("sequences:detail", sequence_id=sequence.pk)


@login_required
@require_http_methods(["GET", "POST"])
def step_edit(request: HttpRequest, sequence_id: int, step_id: int | None = None) -> HttpResponse:
    user = marketing_user(request, refusal=REFUSAL)
    sequence = _sequence(sequence_id)
    step = _step(sequence, step_id) if step_id is not None else None
    form = forms.StepForm(request.POST or None, instance=step)
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
        try:
            if step is None:
                step = services.step_create(sequence=sequence, actor=user, **fields)
            else:
                step = services.step_update(step=step, actor=user, **fields)
        except ApiError as exc:
            errors_to_form(form, exc)
        else:
            messages.success(request, f"Saved step {step.position}.")
            return redirect("sequences:step", sequence_id=sequence.pk, step_id=step.pk)
    context = {
        "form": form,
        "sequence": sequence,
        "step": step,
        "variables": VARIABLES,
        "filters": sorted(FILTERS),
        "padding": sorted(PADDING),
        "max_padding": MAX_PADDING,
    }
    if step is not None:
        context.update(_preview_context(request, step))
    return render(request, "nurturing/step_form.html", context)


@login_required
@require_POST
def step_move(request: HttpRequest, sequence_id: int, step_id: int) -> HttpResponse:
    user = marketing_user(request, refusal=REFUSAL)
    step = _step(_sequence(sequence_id), step_id)
    direction = -1 if request.POST.get("direction") == "up" else 1
    services.step_move(step=step, actor=user, direction=direction)
    return redirect("sequences:detail", sequence_id=sequence_id)


@login_required
@require_GET
def step_preview(request: HttpRequest, sequence_id: int, step_id: int) -> HttpResponse:
    """The preview panel for another lead (htmx swaps it in; a full page without JS)."""
    marketing_user(request, refusal=REFUSAL)
    step = _step(_sequence(sequence_id), step_id)
    context = {"sequence": step.sequence, "step": step, **_preview_context(request, step)}
    if request.headers.get("HX-Request"):
        return render(request, "nurturing/_step_preview.html", context)
    return redirect(
        f"/nurturing/sequences/{sequence_id}/steps/{step_id}/?lead={request.GET.get('lead', '')}"
    )


# The rendered email is the marketer's HTML: shown in a sandboxed frame of this site only,
# where nothing runs and only images load from elsewhere.
_PREVIEW_FRAME_CSP: dict[str, list[str] | str] = {
    "default-src": [CSP.NONE],
    "img-src": ["*", "data:"],
    "style-src": [CSP.UNSAFE_INLINE],
    "frame-ancestors": [CSP.SELF],
    "sandbox": "",
}


@login_required
@require_GET
@xframe_options_sameorigin
@csp_override(_PREVIEW_FRAME_CSP)
def step_preview_html(request: HttpRequest, sequence_id: int, step_id: int) -> HttpResponse:
    """The HTML body rendered for a lead, for the preview's sandboxed frame: no scripts, no
    forms, nothing from elsewhere but images."""
    marketing_user(request, refusal=REFUSAL)
    step = _step(_sequence(sequence_id), step_id)
    lead = _preview_lead(request)
    if lead is None:
        raise Http404("No lead to preview with.")
    html = selectors.step_preview(step=step, lead=lead)["rendered"].html
    return HttpResponse(html or "<p>(This step has no HTML body.)</p>")


@login_required
@require_POST
def step_test(request: HttpRequest, sequence_id: int, step_id: int) -> HttpResponse:
    user = marketing_user(request, refusal=REFUSAL)
    step = _step(_sequence(sequence_id), step_id)
    lead = _preview_lead(request)
    back = f"/nurturing/sequences/{sequence_id}/steps/{step_id}/?lead={lead.pk if lead else ''}"
    if lead is None:
        messages.error(request, "Pick a lead to render the test with.")
        return redirect(back)
    try:
        address = services.step_test_send(step=step, lead=lead, actor=user)
    except ApiError as exc:
        messages.error(request, str(exc.detail))
    except OSError as exc:  # the mail server refused or is unreachable: outside our control
        messages.error(request, f"The mail server did not take the test: {exc.__class__.__name__}.")
    else:
        messages.success(request, f"Test sent to {address}, rendered for {lead.email}.")
    return redirect(back)


def _preview_lead(request: HttpRequest) -> Lead | None:
    """The lead named by ?lead= (an id or an email), else the newest lead."""
    wanted = (request.GET.get("lead") or request.POST.get("lead") or "").strip()
    leads = Lead.objects.all()
    if not wanted:
        return leads.order_by("-created_at", "-id").first()
    match = Q(email__iexact=wanted)
    if wanted.isdigit() and len(wanted) < 19:
        match |= Q(pk=int(wanted))
    return leads.filter(match).first()


def _preview_context(request: HttpRequest, step: Step) -> dict[str, Any]:
    lead = _preview_lead(request)
    if lead is None:
        return {"preview": None, "preview_lead": None, "lead_query": request.GET.get("lead", "")}
    return {
        "preview": selectors.step_preview(step=step, lead=lead),
        "preview_lead": lead,
        "lead_query": request.GET.get("lead", "") or lead.email,
    }


def _step_chart(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """A step-by-step funnel: sent, opened and clicked per step as bars on one scale."""
    peak = max([1, *(s["sent"] for s in steps)])
    row_height, label_width, width = 54, 150, 640
    rows = []
    for i, figures in enumerate(steps):
        y = 8 + i * row_height
        bars = []
        for j, key in enumerate(("sent", "opened", "clicked")):
            value = figures[key]
            bars.append(
                {
                    "key": key,
                    "value": value,
                    "y": y + j * 14,
                    "width": round(value / peak * (width - label_width - 60), 1),
                }
            )
        rows.append({"label": f"Step {figures['step'].position}", "y": y + 20, "bars": bars})
    return {
        "width": width,
        "height": 16 + len(steps) * row_height,
        "x0": label_width,
        "rows": rows,
    }
