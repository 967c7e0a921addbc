"""The hand-off API: reports."""

urlpatterns: list = []
