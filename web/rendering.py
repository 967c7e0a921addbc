"""A form's HTML, one template for both places it appears: the hosted page (/f/<slug>/) and
the embed snippet a marketer pastes into any website (`form_snippet`)."""

from dataclasses import dataclass

from django.conf import settings
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse

from web import validation
from web.models import Form

_INPUT_TYPES = {"email": "email", "tel": "tel"}


@dataclass(frozen=True)
class FieldRow:
    """One field as the template draws it (with the visitor's value and errors, if any)."""

    name: str
    id: str
    label: str
    required: bool
    kind: str
    input_type: str
    autocomplete: str
    max_length: int
    options: tuple[str, ...]
    value: str = ""
    errors: tuple[str, ...] = ()


def _id(form: Form, name: str) -> str:
    # Prefixed: the embed lands on pages whose own ids we do not know.
    return f"lcf-{form.slug}-{name}"


def form_rows(
    form: Form, *, values: dict | None = None, errors: dict | None = None
) -> list[FieldRow]:
    values, errors = values or {}, errors or {}
    return [
        FieldRow(
            name=spec.name,
            id=_id(form, spec.name),
            label=spec.label,
            required=spec.required,
            kind=spec.kind,
            input_type=_INPUT_TYPES.get(spec.kind, "text"),
            autocomplete=spec.autocomplete,
            max_length=spec.max_length,
            options=spec.options,
            value=str(values.get(spec.name, "")),
            errors=tuple(errors.get(spec.name, ())),
        )
        for spec in validation.fields_parse(form.fields)
    ]


def form_context(
    form: Form,
    *,
    action: str,
    token: str = "",
    context: dict | None = None,
    values: dict | None = None,
    errors: dict | None = None,
    consent: bool = False,
    message: str = "",
) -> dict:
    """What templates/web/_form.html needs. `context`: the hidden UTM, referrer and anonymous
    id values the page already knows (the script fills in the rest)."""
    errors = errors or {}
    return {
        "form": form,
        "action": action,
        "rows": form_rows(form, values=values, errors=errors),
        "token": token,
        "hidden": {
            key: (context or {}).get(key, "")
            for key in (*validation.UTM_KEYS, validation.REFERRER, validation.ANONYMOUS_ID)
        },
        "consent": consent,
        "consent_id": _id(form, validation.CONSENT),
        "consent_errors": errors.get(validation.CONSENT, ()),
        "honeypot_id": _id(form, "hp"),
        "message": message,
    }


def hosted_url(form: Form) -> str:
    return f"{settings.SITE_URL}{reverse('web:form', args=[form.slug])}"


def form_snippet(form: Form) -> str:
    """The embed snippet: the plain HTML form (posting to leadcrm, works without JavaScript),
    the stylesheet (optional: drop it to style the form yourself) and the script that sends it
    in the page."""
    context = form_context(form, action=hosted_url(form))
    context |= {
        "script_url": f"{settings.SITE_URL}{static('js/leadcrm-form.js')}",
        "css_url": f"{settings.SITE_URL}{static('css/leadcrm-form.css')}",
    }
    return render_to_string("web/snippet.html", context).strip() + "\n"
