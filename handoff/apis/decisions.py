"""The hand-off API: decisions."""

urlpatterns: list = []
