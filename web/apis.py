"""REST API of the forms under /api/v1/forms/: thin views over web.services and web.selectors.

Marketers and admins only. A form's JSON carries its hosted page's address and its embed
snippet; `GET /api/v1/forms/{id}/submissions/` lists what visitors sent through it.
"""

from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from accounts.auth import request_user
from core.errors import validated
from nurturing.models import Sequence
from web import rendering, selectors, services
from web.models import Form, Submission
from web.services import SLUG_MESSAGE

FORM_FIELDS = [
    "slug",
    "name",
    "title",
    "intro",
    "fields",
    "offer_title",
    "offer_url",
    "source_channel",
    "consent_text",
    "double_opt_in",
    "thank_you_message",
    "redirect_url",
    "sequence",
    "is_active",
]


class FormOutput(serializers.ModelSerializer):
    hosted_url = serializers.SerializerMethodField()
    embed_snippet = serializers.SerializerMethodField()
    submission_count = serializers.IntegerField(read_only=True, default=0)
    # Blank when not set: plain strings (a URI format would not take "").
    offer_url = serializers.CharField(read_only=True, help_text="Where the content offer is.")
    redirect_url = serializers.CharField(read_only=True)

    class Meta:
        model = Form
        fields = [
            "id",
            *FORM_FIELDS,
            "hosted_url",
            "embed_snippet",
            "submission_count",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_hosted_url(self, form: Form) -> str:
        return rendering.hosted_url(form)

    def get_embed_snippet(self, form: Form) -> str:
        return rendering.form_snippet(form)


class FormInput(serializers.ModelSerializer):
    # The service checks it (with its reserved names); the pattern here tells the schema.
    slug = serializers.CharField(
        validators=[RegexValidator(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", message=SLUG_MESSAGE)]
    )
    # Checked by the service (http and https only), with the other problems of the form.
    offer_url = serializers.CharField(required=False, allow_blank=True, max_length=500)
    redirect_url = serializers.CharField(required=False, allow_blank=True, max_length=500)
    sequence = serializers.PrimaryKeyRelatedField(
        queryset=Sequence.objects.all(), allow_null=True, required=False
    )

    class Meta:
        model = Form
        fields = FORM_FIELDS
        # Uniqueness, and what a valid form is, are the service's (400 / 409).
        extra_kwargs: dict[str, dict[str, Any]] = {"slug": {"validators": []}}


class SubmissionOutput(serializers.ModelSerializer):
    class Meta:
        model = Submission
        fields = [
            "id",
            "form",
            "lead",
            "email",
            "data",
            "utm",
            "referrer",
            "anonymous_id",
            "ip",
            "user_agent",
            "status",
            "submitted_at",
            "confirmation_sent_at",
            "confirmed_at",
            "offer_sent_at",
        ]
        read_only_fields = fields


class FormViewSet(viewsets.ModelViewSet):
    """Lead-capture forms (marketers and admins)."""

    serializer_class = FormOutput
    lookup_value_regex = r"\d+"
    filterset_fields = ["is_active", "source_channel"]
    search_fields = ["name", "slug", "title"]
    ordering_fields = ["name", "created_at"]
    ordering = ["name", "id"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no real user
            return Form.objects.none()
        return selectors.form_list(user=request_user(self.request))

    @extend_schema(request=FormInput, responses={201: FormOutput})
    def create(self, request, *args, **kwargs):
        selectors.forms_authorize(actor=request_user(request))
        data = validated(FormInput(data=request.data))
        form = services.form_create(actor=request_user(request), **data)
        return Response(FormOutput(self._fresh(form)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=FormInput, responses=FormOutput)
    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        form = self.get_object()
        data = validated(FormInput(form, data=request.data, partial=partial))
        form = services.form_update(form=form, actor=request_user(request), **data)
        return Response(FormOutput(self._fresh(form)).data)

    def destroy(self, request, *args, **kwargs):
        services.form_delete(form=self.get_object(), actor=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=SubmissionOutput(many=True))
    @action(detail=True, methods=["get"])
    def submissions(self, request, pk=None):
        """What visitors sent through this form, newest first (paginated)."""
        rows = selectors.submission_list(user=request_user(request), form_id=int(pk or 0))
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(SubmissionOutput(page, many=True).data)

    def _fresh(self, form: Form) -> Form:
        return self.get_queryset().get(pk=form.pk)


router = SimpleRouter(trailing_slash=True)
router.register("forms", FormViewSet, basename="form")
urlpatterns = router.urls
