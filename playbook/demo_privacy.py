"""Demo data for the audit trail and privacy: edits in the audit log (a marketer correcting a
lead, an admin changing a rep's capacity), one lead erased at its owner's request (it stays in
the funnel, anonymous), and an API token for the marketer's CRM sync.

Idempotent: a second call adds nothing. Call it after the demo users and leads exist.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts import services as account_services
from accounts import tokens
from accounts.models import ApiToken, User
from audit.models import AuditEntry
from leads import privacy
from leads import services as lead_services
from leads.models import Lead, SourceChannel

ERASED_EMAIL = "erin.forgetful@privacy.example"
TOKEN_NAME = "CRM sync (demo)"


@transaction.atomic
def demo_privacy_ensure() -> int:
    """Returns how many rows it added (audit entries, the erased lead, the token)."""
    admin = User.objects.get(username="admin")
    marketer = User.objects.get(username="marketer")
    before = AuditEntry.objects.count() + ApiToken.objects.count()
    _edits(admin, marketer)
    _erased(admin, marketer)
    if not ApiToken.objects.filter(user=marketer, name=TOKEN_NAME).exists():
        tokens.token_create(
            user=marketer, name=TOKEN_NAME, expires_at=timezone.now() + timedelta(days=90)
        )
    return AuditEntry.objects.count() + ApiToken.objects.count() - before


def _edits(admin: User, marketer: User) -> None:
    lead = Lead.objects.filter(email__endswith=".example", erased_at__isnull=True).first()
    if lead is None or AuditEntry.objects.filter(action="lead.update").exists():
        return
    lead_services.lead_update(
        lead=lead, actor=marketer, phone="+44 20 7946 0018", country="United Kingdom"
    )
    rep = User.objects.filter(username="rep2").first()
    if rep is not None:
        account_services.user_update(actor=admin, user_id=rep.pk, capacity=rep.capacity + 5)


def _erased(admin: User, marketer: User) -> None:
    if privacy.email_erased(ERASED_EMAIL):
        return
    lead = lead_services.lead_create(
        actor=marketer,
        email=ERASED_EMAIL,
        first_name="Erin",
        last_name="Forgetful",
        company_name="Oblivion Ltd",
        source=SourceChannel.EVENT,
    )
    privacy.lead_erase(
        actor=admin, lead_id=lead.pk, reason="Art. 17 request by email on the demo day"
    )
