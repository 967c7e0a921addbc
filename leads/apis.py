"""REST API for leads: thin views over leads.services and leads.selectors."""

import csv
import io
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from django.contrib.auth import get_user_model
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from accounts.auth import request_user
from core.errors import validated
from core.fields import IntField
from leads import listing, privacy, selectors, services
from leads.filters import LeadFilter
from leads.models import ConsentState, Lead, Stage

User = get_user_model()


class LeadOutput(serializers.ModelSerializer):
    owner_name = serializers.SerializerMethodField()

    class Meta:
        model = Lead
        fields = [
            "id",
            "email",
            "first_name",
            "last_name",
            "title",
            "phone",
            "country",
            "company_name",
            "company_domain",
            "company_size",
            "source",
            "direction",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "utm_term",
            "utm_content",
            "external_id",
            "traits",
            "owner",
            "owner_name",
            "stage",
            "stage_entered_at",
            "recycle_count",
            "score",
            "temperature",
            "do_not_contact",
            "do_not_contact_reason",
            "consent",
            "consent_required",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_owner_name(self, lead: Lead) -> str | None:
        if lead.owner is None:
            return None
        return lead.owner.get_full_name() or lead.owner.get_username()


class LeadInput(serializers.ModelSerializer):
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), allow_null=True, required=False
    )
    company_size = IntField(min_value=0, allow_null=True, required=False)
    traits = serializers.DictField(required=False)

    class Meta:
        model = Lead
        fields = [
            "email",
            "first_name",
            "last_name",
            "title",
            "phone",
            "country",
            "company_name",
            "company_domain",
            "company_size",
            "source",
            "direction",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "utm_term",
            "utm_content",
            "external_id",
            "traits",
            "owner",
            "do_not_contact",
            "do_not_contact_reason",
            "consent_required",
        ]
        # Uniqueness (case-insensitive) is the service's job, which answers 409.
        extra_kwargs: dict[str, dict[str, Any]] = {
            "email": {"validators": []},
            "external_id": {"validators": []},
        }

    # Read-only on this endpoint; sending a different value is an error, not silently dropped.
    # Echoing the current value back (GET, edit, PUT) is fine.
    READ_ONLY = {
        "stage": "Stage changes go through POST /api/v1/leads/{id}/transition/.",
        "score": "The score is computed by the scoring rules.",
        "temperature": "The temperature follows the score.",
        "recycle_count": "The recycle count is kept by stage changes.",
        "consent": "Consent changes only with its evidence (a form, an unsubscribe).",
    }

    def validate(self, attrs):
        defaults = {
            "stage": "IQL",
            "score": 0,
            "temperature": "cold",
            "recycle_count": 0,
            "consent": "unknown",
        }
        errors = {}
        for name, message in self.READ_ONLY.items():
            if name not in self.initial_data:
                continue
            current = getattr(self.instance, name) if self.instance else defaults[name]
            if str(self.initial_data[name]) != str(current):
                errors[name] = [message]
        if (
            self.instance
            and self.instance.consent_required
            and attrs.get("consent_required") is False
        ):
            errors["consent_required"] = [
                "A lead that needs consent keeps needing it; it is mailed once it gives it."
            ]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class TransitionInput(serializers.Serializer):
    to = serializers.ChoiceField(choices=Stage.choices)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ConsentInput(serializers.Serializer):
    state = serializers.ChoiceField(choices=[ConsentState.GIVEN, ConsentState.WITHDRAWN])
    wording = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    # (A Field has a `source` attribute too; the serializer's metaclass takes this one away.)
    source = serializers.CharField(max_length=150)  # type: ignore[assignment]
    at = serializers.DateTimeField(required=False, default=None)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors = {}
        if attrs["state"] == ConsentState.GIVEN and not attrs["wording"].strip():
            errors["wording"] = ["The exact text the person agreed to: consent needs it."]
        if attrs["at"] is not None and attrs["at"] > timezone.now():
            errors["at"] = ["Consent cannot be recorded for a time still to come."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class ConsentOutput(serializers.Serializer):
    lead = serializers.IntegerField(source="lead_id")
    state = serializers.CharField()
    wording = serializers.CharField()
    source = serializers.CharField()  # type: ignore[assignment]
    at = serializers.DateTimeField()


class ConsentRecordedOutput(serializers.Serializer):
    consent = serializers.CharField()
    changed = serializers.BooleanField()
    evidence = ConsentOutput()


class EraseInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class EraseOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.CharField()
    erased_at = serializers.DateTimeField()


class StageVisitOutput(serializers.Serializer):
    stage = serializers.CharField()
    entered_at = serializers.DateTimeField()
    left_at = serializers.DateTimeField(allow_null=True)
    seconds = serializers.IntegerField()


class TimelineItemOutput(serializers.Serializer):
    kind = serializers.CharField()
    at = serializers.DateTimeField()
    title = serializers.CharField()
    detail = serializers.DictField()


# Rows per chunk of the streamed CSV: one write to the socket each, not one a row.
_CSV_ROWS_PER_CHUNK = 500


def csv_chunks(header: list[str], rows: Iterable[tuple]) -> Iterator[str]:
    """The CSV text of `rows` (cells as the export formats them) under `header`, a few hundred
    rows a chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    rows = iter(rows)
    while batch := list(islice(rows, _CSV_ROWS_PER_CHUNK)):
        writer.writerows(batch)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


class LeadViewSet(viewsets.ModelViewSet):
    """Leads. Marketers and admins see all; a rep sees their own and the hand-off queue."""

    filterset_class = LeadFilter
    search_fields = ["first_name", "last_name", "email", "company_name"]
    ordering_fields = [
        "created_at",
        "updated_at",
        "score",
        "stage_entered_at",
        "email",
        "last_name",
        "company_name",
    ]
    ordering = ["-created_at", "-id"]
    serializer_class = LeadOutput

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no real user
            return Lead.objects.none()
        return selectors.lead_list(user=request_user(self.request))

    def get_object(self):
        return selectors.lead_get(user=request_user(self.request), lead_id=self.kwargs["pk"])

    def perform_content_negotiation(self, request, force=False):
        # The export answers CSV whatever the Accept header says, and its errors JSON.
        if self.action == "export":
            return (JSONRenderer(), JSONRenderer.media_type)
        return super().perform_content_negotiation(request, force)

    def get_serializer_class(self):
        return LeadInput if self.action in ("create", "update", "partial_update") else LeadOutput

    @extend_schema(request=LeadInput, responses={201: LeadOutput})
    def create(self, request, *args, **kwargs):
        # Asked before the body is read, so a rep hears 403 whatever they send.
        services.lead_create_authorize(actor=request.user)
        data = validated(LeadInput(data=request.data))
        lead = services.lead_create(actor=request.user, **data)
        return Response(LeadOutput(lead).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=LeadInput, responses=LeadOutput)
    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        lead = self.get_object()
        data = validated(LeadInput(lead, data=request.data, partial=partial))
        lead = services.lead_update(lead=lead, actor=request.user, **data)
        return Response(LeadOutput(lead).data)

    def destroy(self, request, *args, **kwargs):
        services.lead_delete(lead=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=TransitionInput, responses=LeadOutput)
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):
        lead = self.get_object()
        data = validated(TransitionInput(data=request.data))
        lead = services.lead_transition_requested(
            lead_id=lead.pk, to=data["to"], reason=data["reason"], actor=request_user(request)
        )
        return Response(LeadOutput(lead).data)

    @extend_schema(request=ConsentInput, responses={201: ConsentRecordedOutput})
    @action(detail=True, methods=["post"])
    def consent(self, request, pk=None):
        """POST /api/v1/leads/{id}/consent/: consent given or withdrawn, recorded by hand with
        its evidence (marketers and admins)."""
        # Asked before the body is read, so a rep hears 403 whatever they send.
        services.lead_consent_record_authorize(actor=request.user)
        lead = self.get_object()
        data = validated(ConsentInput(data=request.data))
        changed, evidence = services.lead_consent_record(
            lead_id=lead.pk, actor=request.user, **data
        )
        body = {"consent": data["state"], "changed": changed, "evidence": evidence}
        return Response(ConsentRecordedOutput(body).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=TimelineItemOutput(many=True))
    @action(detail=True, methods=["get"])
    def timeline(self, request, pk=None):
        lead = self.get_object()
        return Response(TimelineItemOutput(selectors.lead_timeline(lead=lead), many=True).data)

    @extend_schema(responses=StageVisitOutput(many=True))
    @action(detail=True, methods=["get"], url_path="stage-durations")
    def stage_durations(self, request, pk=None):
        lead = self.get_object()
        visits = selectors.lead_stage_durations(lead=lead)
        return Response(StageVisitOutput(visits, many=True).data)

    @extend_schema(
        filters=True,
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV")},
        description="The leads the list's filters match (and `id`s, `search`, `ordering`), "
        "as CSV streamed in constant memory. A rep gets only the leads they may see.",
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def export(self, request):
        leads = self.filter_queryset(self.get_queryset())
        # OrderingFilter leaves field names (the default or `ordering`): ties go by id.
        ordering = [str(name) for name in leads.query.order_by]
        if not {"id", "-id", "pk", "-pk"} & set(ordering):
            ordering.append("-id" if ordering and ordering[0].startswith("-") else "id")
        rows = listing.lead_export_rows(leads.order_by(*ordering))
        header = [name for name, _, _ in listing.EXPORT_COLUMNS]
        response = StreamingHttpResponse(csv_chunks(header, rows), content_type="text/csv")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="leads-{stamp}.csv"'
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(
        operation_id="leads_personal_data",
        responses={200: {"type": "object", "additionalProperties": True}},
        description="Everything held about the lead, as one JSON document (admins; audited).",
    )
    @action(detail=True, methods=["get"], url_path="export", url_name="personal-data")
    def personal_data(self, request, pk=None):
        # Asked before the lead is looked up: a non-admin learns nothing about which ids exist.
        privacy.erase_authorize(actor=request_user(request))
        lead = self.get_object()
        document = privacy.lead_export(actor=request_user(request), lead_id=lead.pk)
        response = Response(document)
        response["Content-Disposition"] = f'attachment; filename="lead-{lead.pk}.json"'
        return response

    @extend_schema(request=EraseInput, responses=EraseOutput)
    @action(detail=True, methods=["post"])
    def erase(self, request, pk=None):
        privacy.erase_authorize(actor=request_user(request))
        lead = self.get_object()
        data = validated(EraseInput(data=request.data))
        result = privacy.lead_erase(
            actor=request_user(request), lead_id=lead.pk, reason=data["reason"]
        )
        return Response(EraseOutput(result).data)
