"""Who may own leads, for the reports' owner filter."""

from django.db.models import Q, QuerySet

from accounts.models import Role, User


def report_owner_choices() -> QuerySet[User]:
    """Sales reps, managers and admins (the users a lead can be assigned to), by username."""
    sales = Q(role__in=[Role.REP, Role.MANAGER, Role.ADMIN]) | Q(is_superuser=True)
    return User.objects.filter(sales, is_active=True).order_by("username", "id")
