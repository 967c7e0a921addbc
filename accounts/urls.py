from django.urls import path

from accounts import apis, two_factor_views, views

api_urlpatterns = [
    path("users/", apis.UserListApi.as_view(), name="user-list"),
    path("users/<int:user_id>/", apis.UserDetailApi.as_view(), name="user-detail"),
]

app_name = "accounts"
urlpatterns = [
    path("tokens/", views.token_list, name="tokens"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
    path("tokens/legacy/revoke/", views.legacy_token_revoke, name="legacy_token_revoke"),
    path("two-factor/", two_factor_views.two_factor_page, name="two_factor"),
]

# The log-in with its two-factor step, before django.contrib.auth's own (same names).
login_urlpatterns = [
    path("login/", two_factor_views.TwoStepLoginView.as_view(), name="login"),
    path("login/verify/", two_factor_views.login_verify, name="login_verify"),
]

# The admin site's own log-in would skip the two-factor step: it sends to ours.
admin_login_urlpatterns = [
    path("admin/login/", two_factor_views.admin_login, name="admin_login"),
]
