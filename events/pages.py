"""The marketer's sources page: every write key with its kind, allowed origins, last event and
events a day for 30 days; create one (the key shown once, with the snippet to paste), rotate
its key, disable or enable it. Marketers and admins only (events.selectors); every write goes
through events.services, as the API's does."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.auth import marketing_user
from core.errors import ApiError, errors_to_form
from events import refusals, selectors, services
from events.models import Source, SourceKind

# Who may use these pages, as the 403 says it.
REFUSAL = "Only marketers and admins see and manage sources."

# A bar chart of 30 days in a small SVG: geometry for the template.
CHART_WIDTH, CHART_HEIGHT = 150, 28


class SourceForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Where its events come from: “Website”.")
    kind = forms.ChoiceField(
        choices=[
            (SourceKind.BROWSER, "Browser: a public key in web pages, from the origins below"),
            (SourceKind.SERVER, "Server: a secret key for a backend or imports"),
        ],
        initial=SourceKind.BROWSER,
    )
    allowed_origins = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Browser keys: the sites whose pages may send, one a line, "
        "scheme://host[:port] (https://www.example.com).",
    )

    def values(self) -> dict:
        data = self.cleaned_data
        origins = [line.strip() for line in data["allowed_origins"].splitlines() if line.strip()]
        return {"name": data["name"], "kind": data["kind"], "allowed_origins": origins}


def _bars(days: list) -> list[dict]:
    peak = max([1, *(n for _, n in days)])
    width = CHART_WIDTH / len(days)
    return [
        {
            "x": round(i * width, 2),
            "width": round(width * 0.8, 2),
            "height": round(n / peak * CHART_HEIGHT, 2),
            "y": round(CHART_HEIGHT - n / peak * CHART_HEIGHT, 2),
            "day": day,
            "n": n,
        }
        for i, (day, n) in enumerate(days)
    ]


@login_required
@require_GET
def source_list(request: HttpRequest) -> HttpResponse:
    user = marketing_user(request, refusal=REFUSAL)
    sources = list(selectors.source_list(actor=user))
    ids = [s.pk for s in sources]
    activity = selectors.source_activity(source_ids=ids)
    first = activity[ids[0]]["days"][0][0] if ids else None
    refused = (
        refusals.refusals_per_day(source_ids=ids, first=first, days=selectors.SOURCE_DAYS)
        if first
        else {}
    )
    rows = []
    for s in sources:
        per_day = refused.get(s.pk, [0] * selectors.SOURCE_DAYS)
        days = [(day, n, per_day[i]) for i, (day, n) in enumerate(activity[s.pk]["days"])]
        rows.append(
            {
                "source": s,
                **activity[s.pk],
                "days": days,
                "refused": sum(per_day),
                "bars": _bars(activity[s.pk]["days"]),
            }
        )
    context = {
        "rows": rows,
        "refusals_counted": bool(refused),
        "days": selectors.SOURCE_DAYS,
        "chart": {"width": CHART_WIDTH, "height": CHART_HEIGHT},
        "form": SourceForm(),
    }
    return render(request, "events/sources.html", context)


@login_required
@require_http_methods(["GET", "POST"])
@never_cache  # the answer carries a write key, shown this once
def source_new(request: HttpRequest) -> HttpResponse:
    user = marketing_user(request, refusal=REFUSAL)
    form = SourceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            source, key = services.source_create(actor=user, **form.values())
        except ApiError as exc:
            errors_to_form(form, exc)
        else:
            return _key_page(request, source, key, created=True)
    return render(request, "events/source_form.html", {"form": form})


@login_required
@require_POST
@never_cache
def source_rotate(request: HttpRequest, source_id: int) -> HttpResponse:
    user = marketing_user(request, refusal=REFUSAL)
    source = selectors.source_get(actor=user, source_id=source_id)
    key = services.source_rotate_key(source=source, actor=user)
    source.refresh_from_db()
    return _key_page(request, source, key, created=False)


@login_required
@require_POST
def source_toggle(request: HttpRequest, source_id: int) -> HttpResponse:
    user = marketing_user(request, refusal=REFUSAL)
    source = selectors.source_get(actor=user, source_id=source_id)
    services.source_set_active(source=source, active=not source.is_active, actor=user)
    state = "enabled" if not source.is_active else "disabled: its key gets 401 from now on"
    messages.success(request, f"“{source.name}” is {state}.")
    return redirect("sources:list")


def _key_page(request: HttpRequest, source: Source, key: str, *, created: bool) -> HttpResponse:
    context = {"source": source, "key": key, "created": created, "site_url": settings.SITE_URL}
    return render(request, "events/source_key.html", context)
