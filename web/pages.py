"""The marketer's pages for capture forms: the list with each form's submissions and
conversion, the builder, and a form's page with its hosted address, embed snippet and latest
submissions. Marketers and admins only (web.selectors.forms_authorize)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts.auth import marketing_user
from core.errors import ApiError, errors_to_form
from web import rendering, selectors, services
from web.builder import FormBuilder
from web.models import Form

# Who may use these pages, as the 403 says it.
REFUSAL = "Only marketers and admins manage forms."

LATEST_SUBMISSIONS = 50


@login_required
@require_GET
def form_list(request: HttpRequest) -> HttpResponse:
    user = marketing_user(request, refusal=REFUSAL)
    forms = list(selectors.form_list(user=user).order_by("name", "id"))
    figures = selectors.form_figures(form_ids=[f.pk for f in forms])
    rows = [{"form": f, "url": rendering.hosted_url(f), **figures[f.pk]} for f in forms]
    return render(request, "web/manage/forms.html", {"rows": rows})


@login_required
@require_GET
def form_detail(request: HttpRequest, form_id: int) -> HttpResponse:
    user = marketing_user(request, refusal=REFUSAL)
    form = selectors.form_get(user=user, form_id=form_id)
    context = {
        "form": form,
        "url": rendering.hosted_url(form),
        "snippet": rendering.form_snippet(form),
        "figures": selectors.form_figures(form_ids=[form.pk])[form.pk],
        "submissions": selectors.submission_list(user=user, form_id=form.pk).order_by(
            "-submitted_at", "-id"
        )[:LATEST_SUBMISSIONS],
    }
    return render(request, "web/manage/form.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def form_edit(request: HttpRequest, form_id: int | None = None) -> HttpResponse:
    user = marketing_user(request, refusal=REFUSAL)
    form: Form | None = selectors.form_get(user=user, form_id=form_id) if form_id else None
    if request.method == "POST":
        builder = FormBuilder(request.POST)
        if builder.is_valid():
            try:
                if form is None:
                    form = services.form_create(actor=user, **builder.values())
                else:
                    form = services.form_update(form=form, actor=user, **builder.values())
            except ApiError as exc:
                errors_to_form(builder, exc, word=_row_words)
            else:
                messages.success(request, f"Saved “{form.name}”.")
                return redirect("forms:detail", form_id=form.pk)
    elif form is not None:
        builder = FormBuilder(initial=FormBuilder.initial_for(form))
    else:
        builder = FormBuilder(initial={"f0_name": "email", "f0_label": "Work email"})
    return render(request, "web/manage/form_edit.html", {"builder": builder, "form": form})


def _row_words(field: str, problem: str) -> str:
    """'fields[2].label: ...' as the page names it: 'Field 3, label: ...'."""
    if field != "fields":
        return problem
    if problem.startswith("fields[") and "]" in problem:
        index, rest = problem[len("fields[") :].split("]", 1)
        if index.isdigit():
            return f"Field {int(index) + 1}{rest.replace('.', ', ', 1)}"
    return problem.removeprefix("fields: ")
