import django_filters

from core.filters import FilterSet
from leads.models import Lead, SourceChannel, Stage, Temperature


class LeadFilter(FilterSet):
    stage = django_filters.MultipleChoiceFilter(choices=Stage.choices)
    source = django_filters.MultipleChoiceFilter(choices=SourceChannel.choices)
    owner = django_filters.NumberFilter(field_name="owner_id")
    unowned = django_filters.BooleanFilter(field_name="owner", lookup_expr="isnull")
    email = django_filters.CharFilter(field_name="email", lookup_expr="iexact")
    score_min = django_filters.NumberFilter(field_name="score", lookup_expr="gte")
    score_max = django_filters.NumberFilter(field_name="score", lookup_expr="lte")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    temperature = django_filters.MultipleChoiceFilter(choices=Temperature.choices)
    do_not_contact = django_filters.BooleanFilter()

    class Meta:
        model = Lead
        fields: list[str] = []
