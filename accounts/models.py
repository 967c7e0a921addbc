from django.contrib.auth.models import AbstractUser
from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MARKETER = "marketer", "Marketer"
    REP = "rep", "Sales rep"


class User(AbstractUser):
    """A person who logs in. `role` decides what they see; a superuser is always an admin."""

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MARKETER)

    @property
    def is_admin(self) -> bool:
        return self.is_superuser or self.role == Role.ADMIN

    @property
    def is_marketer(self) -> bool:
        return self.role == Role.MARKETER and not self.is_superuser

    @property
    def is_rep(self) -> bool:
        return self.role == Role.REP and not self.is_superuser

    @property
    def sees_all_leads(self) -> bool:
        return self.is_admin or self.role == Role.MARKETER
