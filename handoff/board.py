"""The pipeline board's pages (/board/): the board, a column's next page of cards, and a move.

A move is one endpoint for every way of making it: static/js/board.js sends a dropped card there
(asking `Accept: application/json`, answered with JSON: the moved card and both columns' totals,
or the refusal's `code` and `message`), and each card's "Move to…" form posts there without
JavaScript (answered with a redirect back to the board and a message). A move that needs input
(a reason, a reject reason, the discovery checklist) has its form at the same address (GET
?to=STAGE): in the board's dialog, or as a page of its own. What is allowed is the services'
decision (handoff.services.board picks which one).
"""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from accounts.auth import request_user
from handoff import forms as handoff_forms
from handoff.models import RejectReason
from handoff.selectors import board as selectors
from handoff.services import board as services
from handoff.services.decisions import DISCOVERY_ITEMS
from handoff.views import REFUSALS, _refusal
from leads.models import Lead, Stage


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _with_urls(cards: list[Lead], filters: selectors.Filters) -> list[Lead]:
    """What each card shows, worked out once here rather than in the template (a board shows a
    hundred cards): its links (its lead's page, its move) reversed once for all, its name, and
    its moves as board.js reads them ("STAGE:needs ...")."""
    detail = reverse("leads:detail", args=[0])
    move = reverse("handoff:board_move", args=[0])
    query = f"?{filters.query()}" if filters.query() else ""
    for lead in cards:
        card: Any = lead
        card.detail_url = detail.replace("/0/", f"/{lead.pk}/")
        card.move_url = move.replace("/0/", f"/{lead.pk}/") + query
        card.card_name = lead.full_name or lead.email
        card.moves_attr = " ".join(f"{m.to}:{m.needs}" for m in card.board_moves)
    return cards


def _board_url(filters: selectors.Filters) -> str:
    query = filters.query()
    return reverse("handoff:board") + (f"?{query}" if query else "")


@login_required
@require_GET
@vary_on_headers("HX-Request")
def board(request: HttpRequest) -> HttpResponse:
    filters = selectors.Filters.parse(request.GET)
    data = selectors.board_get(user=request_user(request), filters=filters)
    for column in data.columns:
        _with_urls(column.cards, filters)
    return render(request, "handoff/board.html", {"board": data, "stages": selectors.STAGES})


@login_required
@require_GET
def board_column(request: HttpRequest, stage: str) -> HttpResponse:
    """A column's next page of cards (htmx appends them); without htmx, the lead list."""
    if stage not in selectors.STAGES:
        raise Http404("No such column.")
    filters = selectors.Filters.parse(request.GET)
    if not getattr(request, "htmx", False):
        return redirect(f"{reverse('leads:list')}?stage={stage}")
    page = request.GET.get("page", "1")
    page_number = int(page) if page.isdigit() else 1
    cards, more = selectors.board_column_page(
        user=request_user(request), filters=filters, stage=stage, page=page_number
    )
    context = {
        "stage": stage,
        "cards": _with_urls(cards, filters),
        "more": more,
        "next_page": page_number + 1,
        "filters": filters,
    }
    return render(request, "handoff/_board_cards.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def board_move(request: HttpRequest, lead_id: int) -> HttpResponse:
    user = request_user(request)
    filters = selectors.Filters.parse(request.GET)
    to = request.POST.get("to", request.GET.get("to", ""))
    if request.method == "GET":
        return _move_form(request, lead_id, to, filters)
    data = _move_input(request)
    before = Lead.objects.filter(pk=lead_id).values_list("stage", flat=True).first()
    try:
        lead = services.board_move(lead_id=lead_id, to=to, actor=user, data=data)
    except services.MoveIncomplete as exc:
        if _wants_json(request) or request.POST.get("form") == "page":
            return _refused(request, exc, lead_id, to, filters)
        return redirect(f"{reverse('handoff:board_move', args=[lead_id])}?to={to}")
    except REFUSALS as exc:
        return _refused(request, exc, lead_id, to, filters)
    done = f"Moved {lead.full_name or lead.email} to {lead.stage}."
    if not _wants_json(request):
        messages.success(request, done)
        return redirect(_board_url(filters))
    return JsonResponse(_moved(request, lead_id, before or "", lead.stage, filters, done))


def _moved(
    request: HttpRequest, lead_id: int, before: str, after: str, filters, done: str
) -> dict[str, Any]:
    user = request_user(request)
    try:
        card = selectors.board_card(user=user, lead_id=lead_id)
    except Http404:  # a rep who handed the lead back no longer sees it
        card_html = ""
    else:
        card_html = render_to_string(
            "handoff/_board_card.html",
            {"lead": _with_urls([card], filters)[0], "filters": filters},
            request=request,
        )
    stages = [stage for stage in selectors.STAGES if stage in (before, after)]
    return {
        "message": done,
        "lead": lead_id,
        "stage": after,
        "card": card_html,
        "totals": selectors.board_totals(user=user, filters=filters, stages=stages),
    }


def _move_input(request: HttpRequest) -> services.MoveInput:
    post = request.POST
    answers: dict[str, Any] = {}
    if any(name in post for name in DISCOVERY_ITEMS):
        answers = {name: post.get(name, "") for name in DISCOVERY_ITEMS}
        answers["product_fit"] = True if post.get("product_fit") in ("on", "true") else None
    return services.MoveInput(
        reason=post.get("reason", ""),
        reject_reason=post.get("reject_reason", ""),
        note=post.get("note", ""),
        answers=answers,
    )


def _refused(request: HttpRequest, exc: Exception, lead_id: int, to: str, filters) -> HttpResponse:
    message, fields = _refusal(exc)
    status = getattr(exc, "status_code", 404 if isinstance(exc, Http404) else 400)
    if _wants_json(request):
        code = getattr(getattr(exc, "detail", None), "code", None) or (
            "not_found" if status == 404 else "refused"
        )
        return JsonResponse({"code": code, "message": message, "fields": fields}, status=status)
    if request.POST.get("form") == "page" and status != 404:
        return _move_form(request, lead_id, to, filters, error=message)
    messages.error(request, message)
    return redirect(_board_url(filters))


def _move_form(
    request: HttpRequest, lead_id: int, to: str, filters, error: str = ""
) -> HttpResponse:
    """The form a move asks for (in the dialog, or as a page); a refusal before it is shown."""
    try:
        lead, move = services.board_move_plan(lead_id=lead_id, to=to, actor=request_user(request))
    except REFUSALS as exc:
        if request.method == "POST":  # the form page sent again, and the lead has moved on
            messages.error(request, _refusal(exc)[0])
            return redirect(_board_url(filters))
        return _refused(request, exc, lead_id, to, filters)
    reasons = [(code, RejectReason(code).label) for code in services.REJECT_REASONS.get(to, ())]
    context = {
        "lead": lead,
        "move": move,
        "stage_label": Stage(to).label,
        "reject_reasons": reasons,
        "checklist": handoff_forms.QualifyForm(request.POST or None)
        if move.needs == selectors.NEEDS_CHECKLIST
        else None,
        "error": error,
        "post": request.POST,
        "filters": filters,
        "board_url": _board_url(filters),
        "in_dialog": _wants_json(request) or request.headers.get("X-Board-Dialog") == "1",
    }
    template = (
        "handoff/_board_move_form.html" if context["in_dialog"] else "handoff/board_move.html"
    )
    return render(request, template, context, status=400 if error else 200)
