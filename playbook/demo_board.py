"""Demo data for the board and the lead page: a duplicate to merge.

The board shows the demo leads as they are (every stage has some); the lead page's "Possible
duplicates" needs a pair: Sam Allen (rep1's accepted lead) signed up again at an event with a
+tag address. Idempotent: a second call adds nothing.
"""

from django.db import transaction

from accounts.models import User
from leads import services
from leads.models import SourceChannel
from leads.selectors import leads_with_email

DUPLICATE_EMAIL = "sam.allen+events@stark.example"


@transaction.atomic
def demo_board_ensure() -> int:
    """Returns how many leads it added (0 or 1)."""
    original = leads_with_email("sam.allen@stark.example").first()
    if original is None or leads_with_email(DUPLICATE_EMAIL).exists():
        return 0
    services.lead_create(
        actor=User.objects.get(username="marketer"),
        email=DUPLICATE_EMAIL,
        first_name="Sam",
        last_name="Allen",
        company_name=original.company_name,
        title=original.title,
        source=SourceChannel.EVENT,
    )
    return 1
