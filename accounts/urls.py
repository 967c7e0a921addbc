from django.urls import path

from accounts import apis

api_urlpatterns = [
    path("users/", apis.UserListApi.as_view(), name="user-list"),
    path("users/<int:user_id>/", apis.UserDetailApi.as_view(), name="user-detail"),
]
