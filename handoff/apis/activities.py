"""The hand-off API: activities."""

urlpatterns: list = []
