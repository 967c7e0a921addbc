"""The hand-off API: a lead's activities, and tasks. Thin over handoff.services.activities
and handoff.selectors.activities."""

from django.http import Http404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from core.errors import ApiError, validated
from core.fields import IdField
from handoff.models import Activity, ActivityKind, Task
from handoff.selectors.activities import DUE_FILTERS, lead_activities, task_list
from handoff.services import activities
from leads.selectors import lead_get


class ActivityInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ActivityKind.choices)
    body = serializers.CharField(required=False, allow_blank=True, default="", max_length=20000)
    occurred_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="Default: now; not in the future."
    )


class ActivityOutput(serializers.ModelSerializer):
    user_name = serializers.SerializerMethodField()

    class Meta:
        model = Activity
        fields = ["id", "lead", "kind", "body", "occurred_at", "user", "user_name", "created_at"]
        read_only_fields = fields

    def get_user_name(self, activity: Activity) -> str | None:
        return activity.user.get_username() if activity.user else None


class TaskCreateInput(serializers.Serializer):
    lead = IdField()
    title = serializers.CharField(max_length=200)
    due_at = serializers.DateTimeField()


class TaskUpdateInput(serializers.Serializer):
    title = serializers.CharField(required=False, max_length=200)
    due_at = serializers.DateTimeField(required=False)
    done = serializers.BooleanField(required=False)


class TaskOutput(serializers.ModelSerializer):
    done = serializers.SerializerMethodField()
    lead_email = serializers.CharField(source="lead.email", read_only=True)

    class Meta:
        model = Task
        fields = [
            "id",
            "lead",
            "lead_email",
            "assignee",
            "title",
            "due_at",
            "done",
            "done_at",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields

    def get_done(self, task: Task) -> bool:
        return task.done_at is not None


class LeadActivitiesApi(GenericAPIView):
    queryset = Activity.objects.none()  # for the schema: the lead's activities come from below
    serializer_class = ActivityOutput

    @extend_schema(responses=ActivityOutput(many=True))
    def get(self, request, pk: int):
        lead = lead_get(user=request.user, lead_id=pk)
        page = self.paginate_queryset(lead_activities(lead=lead))
        return self.get_paginated_response(ActivityOutput(page, many=True).data)

    @extend_schema(request=ActivityInput, responses={201: ActivityOutput})
    def post(self, request, pk: int):
        data = validated(ActivityInput(data=request.data))
        activity = activities.activity_log(lead_id=pk, actor=request.user, **data)
        return Response(ActivityOutput(activity).data, status=status.HTTP_201_CREATED)


def _param(request, name: str, parse):
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        return parse(raw)
    except ValueError:
        message = f"Not a valid value: {raw!r}."
        raise ApiError(f"{name}: {message}", code="invalid", fields={name: [message]}) from None


def _bool(raw: str) -> bool:
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise ValueError(raw)


class TasksApi(GenericAPIView):
    """Tasks: a rep's own; sales managers and admins see everyone's (`?assignee=`)."""

    queryset = Task.objects.none()  # for the schema: tasks come from the selector
    serializer_class = TaskOutput

    @extend_schema(
        parameters=[
            OpenApiParameter("due", str, enum=list(DUE_FILTERS)),
            OpenApiParameter("done", bool),
            OpenApiParameter("assignee", int),
            OpenApiParameter("lead", int),
        ],
        responses=TaskOutput(many=True),
    )
    def get(self, request):
        tasks = task_list(
            user=request.user,
            assignee_id=_param(request, "assignee", int),
            due=request.query_params.get("due") or None,
            done=_param(request, "done", _bool),
            lead_id=_param(request, "lead", int),
        )
        page = self.paginate_queryset(tasks)
        return self.get_paginated_response(TaskOutput(page, many=True).data)

    @extend_schema(request=TaskCreateInput, responses={201: TaskOutput})
    def post(self, request):
        data = validated(TaskCreateInput(data=request.data))
        task = activities.task_create(
            lead_id=data["lead"], actor=request.user, title=data["title"], due_at=data["due_at"]
        )
        return Response(TaskOutput(task).data, status=status.HTTP_201_CREATED)


class TaskApi(GenericAPIView):
    queryset = Task.objects.none()  # for the schema: the task comes from the selector
    serializer_class = TaskOutput

    @extend_schema(responses=TaskOutput)
    def get(self, request, pk: int):
        task = task_list(user=request.user).filter(pk=pk).first()
        if task is None:
            raise Http404("No such task.")
        return Response(TaskOutput(task).data)

    @extend_schema(request=TaskUpdateInput, responses=TaskOutput)
    def patch(self, request, pk: int):
        data = validated(TaskUpdateInput(data=request.data))
        task = activities.task_update(task_id=pk, actor=request.user, **data)
        return Response(TaskOutput(task).data)


urlpatterns: list = [
    path("leads/<int:pk>/activities/", LeadActivitiesApi.as_view(), name="lead-activities"),
    path("tasks/", TasksApi.as_view(), name="tasks"),
    path("tasks/<int:pk>/", TaskApi.as_view(), name="task"),
]
