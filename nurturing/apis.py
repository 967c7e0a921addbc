"""REST API for nurturing under /api/v1/nurturing/: thin views over services and selectors.

Marketers and admins write; sales reps read sequences, and enrollments and emails only of the
leads they may see.
"""

from typing import Any

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.auth import request_user
from core.errors import validated
from core.fields import IdField
from leads.models import Lead, Stage
from leads.selectors import lead_get
from nurturing import selectors, services
from nurturing.filters import EnrollmentFilter, MessageFilter, StepFilter
from nurturing.models import Enrollment, Message, Sequence, Step


class StepOutput(serializers.ModelSerializer):
    class Meta:
        model = Step
        fields = [
            "id",
            "sequence",
            "position",
            "delay_minutes",
            "subject",
            "body_text",
            "body_html",
            "send_if_score_below",
            "send_unless_event",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class StepInput(serializers.ModelSerializer):
    position = serializers.IntegerField(min_value=1, required=False)

    class Meta:
        model = Step
        fields = [
            "sequence",
            "position",
            "delay_minutes",
            "subject",
            "body_text",
            "body_html",
            "send_if_score_below",
            "send_unless_event",
        ]
        validators: list[object] = []  # the (sequence, position) clash is the service's 409


class SequenceOutput(serializers.ModelSerializer):
    steps = StepOutput(many=True, read_only=True)
    # Blank unless the trigger is a stage (a read-only model field's schema would not say so).
    trigger_stage = serializers.ChoiceField(choices=Stage.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Sequence
        fields = [
            "id",
            "key",
            "name",
            "description",
            "is_active",
            "trigger_kind",
            "trigger_stage",
            "trigger_stage_entry",
            "trigger_score",
            "trigger_filter",
            "exit_stages",
            "exit_on_sales_accept",
            "activated_at",
            "created_at",
            "updated_at",
            "steps",
        ]
        read_only_fields = fields


class SequenceInput(serializers.ModelSerializer):
    exit_stages = serializers.ListField(
        child=serializers.ChoiceField(choices=Stage.choices), required=False
    )
    trigger_filter = serializers.DictField(required=False)

    class Meta:
        model = Sequence
        fields = [
            "key",
            "name",
            "description",
            "is_active",
            "trigger_kind",
            "trigger_stage",
            "trigger_stage_entry",
            "trigger_score",
            "trigger_filter",
            "exit_stages",
            "exit_on_sales_accept",
        ]
        # Uniqueness is the service's 409.
        extra_kwargs: dict[str, dict[str, Any]] = {"key": {"validators": []}}


class SequenceViewSet(viewsets.ModelViewSet):
    """Nurture sequences with their steps."""

    serializer_class = SequenceOutput
    filterset_fields = ["is_active", "trigger_kind"]
    search_fields = ["name", "key"]
    ordering_fields = ["name", "created_at"]
    ordering = ["name", "id"]

    def get_queryset(self):
        steps = Prefetch("steps", queryset=Step.objects.order_by("position"))
        return selectors.sequence_list().prefetch_related(steps)

    def get_serializer_class(self):
        writing = self.action in ("create", "update", "partial_update")
        return SequenceInput if writing else SequenceOutput

    @extend_schema(request=SequenceInput, responses={201: SequenceOutput})
    def create(self, request, *args, **kwargs):
        services.require_marketing(request.user)
        data = validated(SequenceInput(data=request.data))
        sequence = services.sequence_create(actor=request.user, **data)
        return Response(SequenceOutput(sequence).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=SequenceInput, responses=SequenceOutput)
    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        services.require_marketing(request.user)
        sequence = self.get_object()
        data = validated(SequenceInput(sequence, data=request.data, partial=partial))
        sequence = services.sequence_update(sequence=sequence, actor=request.user, **data)
        return Response(SequenceOutput(self.get_queryset().get(pk=sequence.pk)).data)

    def destroy(self, request, *args, **kwargs):
        services.sequence_delete(sequence=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class StepViewSet(viewsets.ModelViewSet):
    """Steps of sequences; `?sequence=<id>` lists one sequence's steps."""

    serializer_class = StepOutput
    filterset_class = StepFilter
    ordering_fields = ["position"]
    ordering = ["sequence", "position"]

    def get_queryset(self):
        return selectors.step_list()

    def get_serializer_class(self):
        return StepInput if self.action in ("create", "update", "partial_update") else StepOutput

    @extend_schema(request=StepInput, responses={201: StepOutput})
    def create(self, request, *args, **kwargs):
        services.require_marketing(request.user)
        data = validated(StepInput(data=request.data))
        step = services.step_create(actor=request.user, **data)
        return Response(StepOutput(step).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=StepInput, responses=StepOutput)
    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        services.require_marketing(request.user)
        step = self.get_object()
        data = validated(StepInput(step, data=request.data, partial=partial))
        data.pop("sequence", None)  # a step stays in its sequence
        step = services.step_update(step=step, actor=request.user, **data)
        return Response(StepOutput(step).data)

    def destroy(self, request, *args, **kwargs):
        services.step_delete(step=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EnrollmentOutput(serializers.ModelSerializer):
    lead_email = serializers.CharField(source="lead.email", read_only=True)
    sequence_name = serializers.CharField(source="sequence.name", read_only=True)
    paused = serializers.SerializerMethodField()

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "lead",
            "lead_email",
            "sequence",
            "sequence_name",
            "status",
            "paused",
            "trigger",
            "last_position",
            "next_due_at",
            "enrolled_at",
            "enrolled_by",
            "ended_at",
            "exit_reason",
        ]
        read_only_fields = fields

    def get_paused(self, enrollment: Enrollment) -> bool:
        return enrollment.status == "active" and bool(getattr(enrollment, "lead_paused", False))


class EnrollmentInput(serializers.Serializer):
    lead = IdField()
    sequence = serializers.PrimaryKeyRelatedField(queryset=Sequence.objects.all())


class ExitInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class EnrollmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Who is in which sequence. POST enrolls a lead by hand; POST {id}/exit/ stops it."""

    serializer_class = EnrollmentOutput
    filterset_class = EnrollmentFilter
    ordering_fields = ["enrolled_at", "next_due_at"]
    ordering = ["-enrolled_at", "-id"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no real user
            return Enrollment.objects.none()
        return selectors.enrollment_list(user=request_user(self.request))

    @extend_schema(request=EnrollmentInput, responses={201: EnrollmentOutput})
    def create(self, request):
        services.require_marketing(request.user)
        data = validated(EnrollmentInput(data=request.data))
        lead: Lead = lead_get(user=request.user, lead_id=data["lead"])
        enrollment = services.enrollment_create(
            lead_id=lead.pk, sequence_id=data["sequence"].pk, actor=request.user
        )
        enrollment = self.get_queryset().get(pk=enrollment.pk)
        return Response(EnrollmentOutput(enrollment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ExitInput, responses=EnrollmentOutput)
    @action(detail=True, methods=["post"])
    def exit(self, request, pk=None):
        enrollment = self.get_object()
        data = validated(ExitInput(data=request.data))
        services.enrollment_exit(enrollment=enrollment, actor=request.user, reason=data["reason"])
        return Response(EnrollmentOutput(self.get_queryset().get(pk=enrollment.pk)).data)


class MessageOutput(serializers.ModelSerializer):
    sequence = serializers.IntegerField(source="enrollment.sequence_id", read_only=True)
    step_position = serializers.IntegerField(source="step.position", read_only=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "lead",
            "enrollment",
            "sequence",
            "step",
            "step_position",
            "status",
            "to_email",
            "subject",
            "due_at",
            "created_at",
            "claimed_at",
            "attempts",
            "sent_at",
            "opened_at",
            "clicked_at",
            "detail",
        ]
        read_only_fields = fields


class ResolveInput(serializers.Serializer):
    delivered = serializers.BooleanField()


class MessageViewSet(viewsets.ReadOnlyModelViewSet):
    """Nurture emails. GET review/ lists the ones whose outcome is unknown; an admin or
    marketer settles each with POST {id}/resolve/ {"delivered": true|false}."""

    serializer_class = MessageOutput
    filterset_class = MessageFilter
    ordering_fields = ["created_at", "sent_at"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no real user
            return Message.objects.none()
        return selectors.message_list(user=request_user(self.request))

    @extend_schema(responses=MessageOutput(many=True))
    @action(detail=False, methods=["get"])
    def review(self, request):
        rows = selectors.message_review_list(user=request.user)
        page = self.paginate_queryset(self.filter_queryset(rows))
        return self.get_paginated_response(MessageOutput(page, many=True).data)

    @extend_schema(request=ResolveInput, responses=MessageOutput)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        # Asked before the message is looked up, so a rep hears 403 whichever one they name.
        selectors.message_review_authorize(user=request.user)
        message = self.get_object()
        data = validated(ResolveInput(data=request.data))
        message = services.message_review_resolve(
            message_id=message.pk, delivered=data["delivered"], actor=request.user
        )
        return Response(MessageOutput(self.get_queryset().get(pk=message.pk)).data)
