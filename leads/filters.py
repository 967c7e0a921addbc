"""The lead list's filters: one vocabulary for the list page, the API, the CSV export, bulk
actions, nurture filter triggers and the funnel's click-through links.

Dates (`*_after` inclusive, `*_before` exclusive) take an ISO date or datetime; a date is its
midnight in the site's time zone. "Reached stage S" means the lead has a history row
(`StageChange`) into S, which is what the funnel counts.
"""

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet

from core.filters import FilterSet
from leads.models import Lead, SourceChannel, Stage, StageChange, Temperature

# Free-text search: at most this many characters are searched for.
SEARCH_MAX = 200
# A selection names at most this many leads (a page holds far fewer).
IDS_MAX = 1000


class _IdsField(forms.Field):
    widget = forms.MultipleHiddenInput  # reads every `id=` of the query, not just the last

    def to_python(self, value):
        try:
            ids = sorted({int(v) for v in value or []})
        except (TypeError, ValueError):
            raise ValidationError("Lead ids are whole numbers.", code="invalid") from None
        if len(ids) > IDS_MAX:
            raise ValidationError(f"At most {IDS_MAX} leads at once.", code="too_many")
        return ids


class IdsFilter(django_filters.Filter):
    field_class = _IdsField

    def filter(self, qs, value):
        return qs.filter(pk__in=value) if value else qs


def _reached(stage: str):
    return Exists(StageChange.objects.filter(lead_id=OuterRef("pk"), to_stage=stage))


class LeadFilter(FilterSet):
    # No DISTINCT (django-filter's default for these): they filter the lead's own columns, and
    # a DISTINCT over every column turns a 51-row page into a sort of every match.
    stage = django_filters.MultipleChoiceFilter(choices=Stage.choices, distinct=False)
    source = django_filters.MultipleChoiceFilter(choices=SourceChannel.choices, distinct=False)
    owner = django_filters.NumberFilter(field_name="owner_id")
    unowned = django_filters.BooleanFilter(field_name="owner", lookup_expr="isnull")
    email = django_filters.CharFilter(field_name="email", lookup_expr="iexact")
    score_min = django_filters.NumberFilter(field_name="score", lookup_expr="gte")
    score_max = django_filters.NumberFilter(field_name="score", lookup_expr="lte")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    temperature = django_filters.MultipleChoiceFilter(choices=Temperature.choices, distinct=False)
    do_not_contact = django_filters.BooleanFilter()
    stage_entered_after = django_filters.IsoDateTimeFilter(
        field_name="stage_entered_at", lookup_expr="gte"
    )
    stage_entered_before = django_filters.IsoDateTimeFilter(
        field_name="stage_entered_at", lookup_expr="lt"
    )
    utm_campaign = django_filters.CharFilter(field_name="utm_campaign", lookup_expr="exact")
    # Repeatable, as the funnel's links use them: every `reached` stage and none of the
    # `not_reached` ones (MQL's drop-off: reached=MQL&not_reached=SAL).
    reached = django_filters.MultipleChoiceFilter(
        choices=Stage.choices, method="filter_reached", distinct=False
    )
    not_reached = django_filters.MultipleChoiceFilter(
        choices=Stage.choices, method="filter_not_reached", distinct=False
    )
    q = django_filters.CharFilter(method="filter_search", max_length=SEARCH_MAX)
    # A selection of leads (bulk actions, the export of checked rows); repeatable.
    id = IdsFilter()

    class Meta:
        model = Lead
        fields: list[str] = []

    def filter_reached(self, queryset: QuerySet[Lead], name: str, value: list) -> QuerySet[Lead]:
        for stage in value:
            queryset = queryset.filter(_reached(stage))
        return queryset

    def filter_not_reached(
        self, queryset: QuerySet[Lead], name: str, value: list
    ) -> QuerySet[Lead]:
        for stage in value:
            queryset = queryset.filter(~_reached(stage))
        return queryset

    def filter_search(self, queryset: QuerySet[Lead], name: str, value: str) -> QuerySet[Lead]:
        words = value.split()
        for word in words:
            queryset = queryset.filter(
                Q(email__icontains=word)
                | Q(first_name__icontains=word)
                | Q(last_name__icontains=word)
                | Q(company_name__icontains=word)
            )
        return queryset
