"""The audit log over the API: admins read and filter it."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView

from accounts.auth import request_user
from audit import selectors
from audit.models import AuditEntry


class AuditEntryOutput(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "at",
            "actor",
            "actor_name",
            "action",
            "object_type",
            "object_id",
            "object_label",
            "changes",
            "reason",
            "ip",
        ]
        read_only_fields = fields


_PARAMETERS = [
    OpenApiParameter("actor", int, description="The acting user's id."),
    OpenApiParameter("action", str, description="E.g. `lead.update`, `lead.erase`."),
    OpenApiParameter("object_type", str, description="E.g. `lead`, `scoring_rule`."),
    OpenApiParameter("object_id", str),
    OpenApiParameter("from", str, description="ISO date or datetime, inclusive."),
    OpenApiParameter("to", str, description="ISO date or datetime, exclusive."),
]


class AuditListApi(GenericAPIView):
    """Who changed what, newest first (admins only)."""

    serializer_class = AuditEntryOutput
    queryset = AuditEntry.objects.none()  # for the schema; rows come from the selector
    filter_backends: list = []

    @extend_schema(
        operation_id="audit_list", parameters=_PARAMETERS, responses=AuditEntryOutput(many=True)
    )
    def get(self, request):
        actor = request_user(request)
        selectors.audit_read_authorize(actor=actor)
        rows = selectors.audit_list(actor=actor, filters=selectors.audit_filters(request.GET))
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(AuditEntryOutput(page, many=True).data)
