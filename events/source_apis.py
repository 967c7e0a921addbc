"""REST API for sources and their write keys (/api/v1/sources/): marketers and admins.

Thin views over events.services and events.selectors. A key is shown once, in the answer that
made it (create, rotate); the app's internal sources are neither listed nor editable (404).
The ingestion endpoints themselves are in events/apis.py.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import request_user
from core.errors import validated
from events import selectors, services
from events.models import ConsentPolicy, Source, SourceKind


class SourceOutput(serializers.ModelSerializer):
    class Meta:
        model = Source
        fields = [
            "id",
            "name",
            "kind",
            "allowed_origins",
            "is_active",
            "rate_limit_per_minute",
            "consent_policy",
            "write_key_prefix",
            "created_at",
            "disabled_at",
        ]
        read_only_fields = fields


class SourceWithKeyOutput(SourceOutput):
    write_key = serializers.CharField(
        read_only=True, help_text="Shown this once: only its digest is stored."
    )

    class Meta(SourceOutput.Meta):
        fields = [*SourceOutput.Meta.fields, "write_key"]
        read_only_fields = fields


def _with_key(source: Source, key: str) -> dict:
    return {**SourceOutput(source).data, "write_key": key}


class SourceInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(
        choices=SourceKind.choices,
        required=False,
        help_text="server (secret key; the default) or browser (public key). Set on create; "
        "it may be sent back unchanged, never changed.",
    )
    allowed_origins = serializers.ListField(
        child=serializers.CharField(max_length=2000),
        required=False,
        max_length=services.MAX_ORIGINS,
        help_text='A browser source\'s origins, "scheme://host[:port]" (at least one); stored '
        "lower-case, without a default port.",
    )
    is_active = serializers.BooleanField(required=False)
    rate_limit_per_minute = serializers.IntegerField(
        min_value=1,
        max_value=services.RATE_LIMIT_MAX,
        allow_null=True,
        required=False,
        help_text="Requests a minute; null: the default of its kind.",
    )
    consent_policy = serializers.ChoiceField(
        choices=ConsentPolicy.choices,
        required=False,
        help_text="Default: collected for a server source, needed for a browser source.",
    )


class SourceListApi(GenericAPIView):
    """Sources with a write key, by name; POST creates one and answers with its key, once."""

    serializer_class = SourceOutput
    queryset = Source.objects.none()  # for the schema; rows come from the selectors

    @extend_schema(operation_id="sources_list", responses=SourceOutput(many=True))
    def get(self, request):
        page = self.paginate_queryset(selectors.source_list(actor=request_user(request)))
        return self.get_paginated_response(SourceOutput(page, many=True).data)

    @extend_schema(request=SourceInput, responses={201: SourceWithKeyOutput})
    def post(self, request):
        actor = request_user(request)
        # Asked before the body is read, so a rep hears 403 whatever they send.
        selectors.source_manage_authorize(actor=actor)
        data = validated(SourceInput(data=request.data))
        source, key = services.source_create(actor=actor, **data)
        return Response(_with_key(source, key), status=status.HTTP_201_CREATED)


class SourceDetailApi(GenericAPIView):
    serializer_class = SourceOutput
    queryset = Source.objects.none()

    def get(self, request, source_id: int):
        source = selectors.source_get(actor=request_user(request), source_id=source_id)
        return Response(SourceOutput(source).data)

    @extend_schema(request=SourceInput, responses=SourceOutput)
    def patch(self, request, source_id: int):
        actor = request_user(request)
        source = selectors.source_get(actor=actor, source_id=source_id)
        data = validated(SourceInput(data=request.data, partial=True))
        source = services.source_update(source=source, actor=actor, **data)
        return Response(SourceOutput(source).data)


class SourceRotateApi(APIView):
    """A new write key for the source, shown this once; the old key stops working at once and
    the source is enabled."""

    @extend_schema(request=None, responses=SourceWithKeyOutput)
    def post(self, request, source_id: int):
        actor = request_user(request)
        source = selectors.source_get(actor=actor, source_id=source_id)
        key = services.source_rotate_key(source=source, actor=actor)
        source.refresh_from_db()
        return Response(_with_key(source, key))
