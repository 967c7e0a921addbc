from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MARKETER = "marketer", "Marketer"
    MANAGER = "manager", "Sales manager"
    REP = "rep", "Sales rep"


class User(AbstractUser):
    """A person who logs in. `role` decides what they see; a superuser is always an admin.

    A sales rep also has a capacity (the most open leads they hold: assigned, SAL or SQL), an
    away status with an optional end, and optionally a territory (countries, a company-size
    range) that routing rules may use.
    """

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MARKETER)
    capacity = models.PositiveIntegerField(
        default=25, help_text="Most open leads (assigned, SAL or SQL) routing gives this rep."
    )
    is_away = models.BooleanField(default=False)
    away_until = models.DateTimeField(
        null=True, blank=True, help_text="Away ends by itself at this time (empty: until unset)."
    )
    territory_countries = ArrayField(
        models.CharField(max_length=100),
        default=list,
        blank=True,
        help_text="Countries (as leads spell them, any case); empty: any country.",
    )
    territory_size_min = models.PositiveIntegerField(null=True, blank=True)
    territory_size_max = models.PositiveIntegerField(null=True, blank=True)

    class Meta(AbstractUser.Meta):
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=[r.value for r in Role]), name="user_role_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(territory_size_min__isnull=True)
                | models.Q(territory_size_max__isnull=True)
                | models.Q(territory_size_min__lte=models.F("territory_size_max")),
                name="user_territory_size_range",
            ),
        ]

    @property
    def is_admin(self) -> bool:
        return self.is_superuser or self.role == Role.ADMIN

    @property
    def is_marketer(self) -> bool:
        return self.role == Role.MARKETER and not self.is_superuser

    @property
    def is_manager(self) -> bool:
        return self.role == Role.MANAGER and not self.is_superuser

    @property
    def is_rep(self) -> bool:
        return self.role == Role.REP and not self.is_superuser

    @property
    def sees_all_leads(self) -> bool:
        """Admins, marketers and sales managers see every lead; a rep sees their own."""
        return self.is_admin or self.role in (Role.MARKETER, Role.MANAGER)

    @property
    def does_marketing(self) -> bool:
        """Marketing's powers: rules, sequences, pushing events, reviewing emails."""
        return self.is_admin or self.role == Role.MARKETER

    @property
    def manages_sales(self) -> bool:
        """Sales management: reassigning leads, managing reps, the SLA and rejection reports."""
        return self.is_admin or self.role == Role.MANAGER

    def away_now(self, now=None) -> bool:
        now = now or timezone.now()
        return self.is_away and (self.away_until is None or self.away_until > now)


class ApiToken(models.Model):
    """A personal API token (`Authorization: Token <key>`): named, optionally expiring, kept
    only as a SHA-256 digest (the key is shown once, at creation). Revoking deletes it."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    key_digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12, help_text="The key's first characters.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def expired(self, now=None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())
