"""The lead list's demo: saved views a marketer and a sales manager would keep (idempotent:
saving a view of the same name replaces it)."""

from django.http import QueryDict

from accounts.models import User
from leads.saved_views import saved_view_save

DEMO_VIEWS = {
    "marketer": [
        ("Hot MQLs", "stage=MQL&temperature=hot&sort=-score"),
        ("Back in nurture after SAL", "stage=MQL&reached=SAL"),
        ("Never reached MQL", "not_reached=MQL&sort=-score"),
        ("Events, score 50+", "source=event&score_min=50"),
    ],
    "manager": [
        ("Waiting for a rep", "stage=MQL&stage=PQL&unowned=true&sort=created"),
        ("SQL by score", "stage=SQL&sort=-score"),
    ],
}


def demo_leadlist_ensure() -> int:
    """Save the demo users' views; returns how many views they have."""
    saved = 0
    for username, views in DEMO_VIEWS.items():
        user = User.objects.filter(username=username).first()
        if user is None:
            continue
        for name, query in views:
            saved_view_save(user=user, name=name, params=QueryDict(query))
            saved += 1
    return saved
