"""The hand-off API: routing."""

urlpatterns: list = []
