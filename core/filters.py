"""django-filter FilterSets that answer bad input with a form error, never a database error.

Every FilterSet in the project derives from `FilterSet` here (DRF views' `filterset_fields`
too, through `FilterBackend`). They add two guards to what django-filter checks:

- text PostgreSQL cannot store (a NUL character) is an `invalid_text` error on its filter, also
  when the filter's values do not come from a request (a nurture sequence's saved trigger);
- a number filter on an integer column takes only the column's range (a huge `?owner=`
  is a 400 saying the largest value, not a query PostgreSQL refuses).
"""

from typing import Any

import django_filters
from django import forms
from django.core.exceptions import FieldDoesNotExist
from django.db import connection, models
from django_filters import rest_framework as drf_filters
from django_filters.utils import get_model_field

from core import text


def integer_range(model_field: Any) -> tuple[int, int] | None:
    """(lowest, highest) value the database column of an integer model field holds."""
    if isinstance(model_field, models.ForeignKey):
        model_field = model_field.target_field
    if not isinstance(model_field, models.IntegerField | models.AutoField):
        return None
    return connection.ops.integer_field_range(model_field.get_internal_type())


def _guard_text(field: forms.Field) -> None:
    clean = field.clean

    def clean_checked(value):
        values = value if isinstance(value, list | tuple) else [value]
        problem = text.strings_problem(v for v in values if isinstance(v, str))
        if problem:
            raise forms.ValidationError(f"The value contains {problem}.", code="invalid_text")
        return clean(value)

    field.clean = clean_checked  # type: ignore[method-assign]


class _Guarded:
    """Mixed into django-filter's FilterSets (which provide `filters`, `_meta` and `form`)."""

    def _bound_numbers(self) -> None:
        this: Any = self
        model = getattr(this._meta, "model", None)
        if model is None:
            return
        for filter_ in this.filters.values():
            if not isinstance(filter_, django_filters.NumberFilter) or not filter_.field_name:
                continue
            try:
                model_field = get_model_field(model, filter_.field_name)
            except FieldDoesNotExist:
                continue
            bounds = integer_range(model_field) if model_field is not None else None
            if bounds:
                filter_.extra.setdefault("min_value", bounds[0])
                filter_.extra.setdefault("max_value", bounds[1])
                filter_.__dict__.pop("_field", None)  # built before the bounds: build again

    @property
    def form(self) -> Any:
        this: Any = self
        if not hasattr(this, "_form"):
            self._bound_numbers()
            form = super().form  # type: ignore[misc]
            for field in form.fields.values():
                _guard_text(field)
        return this._form


class IdFilter(django_filters.NumberFilter):
    """A row id: a whole number (the column's range is added by the FilterSets below)."""

    field_class = forms.IntegerField  # type: ignore[assignment]


class FilterSet(_Guarded, django_filters.FilterSet):
    pass


class RestFilterSet(_Guarded, drf_filters.FilterSet):
    pass


class FilterBackend(drf_filters.DjangoFilterBackend):
    """DRF's django-filter backend, building `filterset_fields` FilterSets on RestFilterSet."""

    filterset_base = RestFilterSet
