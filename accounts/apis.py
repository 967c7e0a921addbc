"""REST API for users: thin views over accounts.services and accounts.selectors.

Admins manage everyone; sales managers list, create and change sales reps; anybody else sees
only themselves and may change only their own away status (the services say 403).
"""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from accounts import selectors, services
from accounts.models import User
from core.errors import validated
from core.fields import IntField

PUBLIC_FIELDS = [
    "id",
    "username",
    "first_name",
    "last_name",
    "email",
    "role",
    "is_active",
    "capacity",
    "is_away",
    "away_until",
    "territory_countries",
    "territory_size_min",
    "territory_size_max",
]


class UserOutput(serializers.ModelSerializer):
    away_now = serializers.SerializerMethodField(help_text="Away at this moment.")
    # May be blank: a plain string (an email format would not take "").
    email = serializers.CharField(read_only=True, help_text="Email address; may be empty.")

    class Meta:
        model = User
        fields = [*PUBLIC_FIELDS, "away_now"]
        read_only_fields = fields

    def get_away_now(self, user: User) -> bool:
        return user.away_now()


class UserInput(serializers.ModelSerializer):
    password = serializers.CharField(
        write_only=True,
        required=False,
        trim_whitespace=False,
        max_length=128,
        help_text="Checked by the password validators; never returned.",
    )
    capacity = serializers.IntegerField(min_value=0, max_value=100_000, required=False)
    territory_countries = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, max_length=300
    )
    territory_size_min = IntField(min_value=0, allow_null=True, required=False)
    territory_size_max = IntField(min_value=0, allow_null=True, required=False)

    class Meta:
        model = User
        fields = [name for name in PUBLIC_FIELDS if name != "id"] + ["password"]
        # Uniqueness is the service's to answer (409 duplicate_username).
        extra_kwargs: dict[str, dict] = {"username": {"validators": []}}


class UserListApi(GenericAPIView):
    """Users the asker may see; POST creates one (admins: any role; managers: reps)."""

    serializer_class = UserOutput
    queryset = User.objects.none()  # for the schema; rows come from the selectors

    @extend_schema(operation_id="users_list", responses=UserOutput(many=True))
    def get(self, request):
        page = self.paginate_queryset(selectors.user_list(actor=request.user))
        return self.get_paginated_response(UserOutput(page, many=True).data)

    @extend_schema(request=UserInput, responses={201: UserOutput})
    def post(self, request):
        # Asked before the body is read, so a rep hears 403 whatever they send.
        services.user_create_authorize(actor=request.user)
        data = validated(UserInput(data=request.data))
        user = services.user_create(actor=request.user, **data)
        return Response(UserOutput(user).data, status=status.HTTP_201_CREATED)


class UserDetailApi(GenericAPIView):
    serializer_class = UserOutput
    queryset = User.objects.none()

    def get(self, request, user_id: int):
        return Response(UserOutput(selectors.user_get(actor=request.user, user_id=user_id)).data)

    @extend_schema(request=UserInput, responses=UserOutput)
    def patch(self, request, user_id: int):
        user = selectors.user_get(actor=request.user, user_id=user_id)
        data = validated(UserInput(user, data=request.data, partial=True))
        user = services.user_update(actor=request.user, user_id=user.pk, **data)
        return Response(UserOutput(user).data)
