"""The admin's side of "every write goes through a service".

A `ServiceModelAdmin` saves and deletes through the app's services (its subclasses override
`save_model`, `save_formset`, `delete_model` and `delete_queryset`), so a save in the admin runs
the same checks as the API: who may do it, and what is valid. Django's model permissions only
open the pages. When a service refuses (an `ApiError` such as Forbidden or Conflict, or a
ValidationError), everything the save did is rolled back and the page says why, in the
service's words: a form is shown again with the refusal as its error; a delete or an action
goes back with the refusal as an error message. A refusal is never a 500.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.core.exceptions import ValidationError
from django.db import models, router, transaction
from django.http import HttpResponseRedirect
from django.urls import reverse

from core.errors import ApiError

REFUSALS = (ApiError, ValidationError)

# Set on the request for the second pass of a refused save (see changeform_view).
_REFUSAL = "_leadcrm_service_refusal"


def refusal_message(exc: ApiError | ValidationError) -> str:
    if isinstance(exc, ApiError):
        return str(exc.detail)
    return " ".join(exc.messages)


def refusal_fields(exc: ApiError | ValidationError) -> dict[str, list[str]]:
    if isinstance(exc, ApiError):
        problems = exc.fields.items()
    elif hasattr(exc, "error_dict"):
        problems = exc.message_dict.items()
    else:
        return {}
    return {
        name: [str(p) for p in value] if isinstance(value, list) else [str(value)]
        for name, value in problems
    }


class _ServiceChecked:
    """Mixed into the admin's forms: uniqueness and the model's constraints are the service's to
    check, in its own words as the API answers them (the database still enforces them)."""

    def validate_unique(self):
        pass

    def validate_constraints(self):
        pass


def _refused(form_class: type[forms.BaseForm], exc: ApiError | ValidationError):
    """`form_class` that always fails validation with the service's refusal: its message on
    top (unless a field already says the same), its field errors on the fields the form has."""
    message, fields = refusal_message(exc), refusal_fields(exc)

    class Refused(form_class):  # type: ignore[valid-type, misc]
        def clean(self):
            cleaned = super().clean()
            shown = set()
            for name, problems in fields.items():
                if name in self.fields:
                    self.add_error(name, problems)
                    shown.update(problems)
            if message not in shown:
                self.add_error(None, message)
            return cleaned

    Refused.__name__ = form_class.__name__
    return Refused


def form_values(form: forms.ModelForm) -> dict[str, Any]:
    """Every model field the form edits, for a service that creates."""
    return {name: form.cleaned_data[name] for name in form.fields if name in form.cleaned_data}


def form_changes(form: forms.ModelForm) -> dict[str, Any]:
    """Only the fields the user changed, for a service that updates (like a PATCH)."""
    return {
        name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data
    }


def adopt(obj: models.Model, saved: models.Model) -> None:
    """Make the admin's object the row the service saved (its pk, and every value the service
    set), so the admin's log and redirect name it."""
    obj.pk = saved.pk
    obj.refresh_from_db()
    obj._state.adding = False


class ServiceModelAdmin(admin.ModelAdmin):
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except REFUSALS as exc:
            if request.method != "POST" or hasattr(request, _REFUSAL):
                raise
            setattr(request, _REFUSAL, exc)
        # The save was rolled back (Django's changeform_view is atomic). The same POST again:
        # the form now carries the refusal, so it is shown with what was typed and not saved.
        return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form = type(form.__name__, (_ServiceChecked, form), {})
        refusal = getattr(request, _REFUSAL, None)
        return form if refusal is None else _refused(form, refusal)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except REFUSALS as exc:
            self.message_user(request, refusal_message(exc), messages.ERROR)
        opts = self.opts
        change = f"admin:{opts.app_label}_{opts.model_name}_change"
        url = reverse(change, args=[quote(object_id)], current_app=self.admin_site.name)
        return HttpResponseRedirect(url)

    def response_action(self, request, queryset, *args, **kwargs):
        try:
            # All of an action or none of it: a refusal half-way undoes the rows done before.
            with transaction.atomic(using=router.db_for_write(self.model)):
                return super().response_action(request, queryset, *args, **kwargs)
        except REFUSALS as exc:
            self.message_user(request, refusal_message(exc), messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())
