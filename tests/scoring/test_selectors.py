"""scoring.selectors: who may run a simulation."""

import pytest

from core.errors import Forbidden
from scoring import selectors

pytestmark = pytest.mark.django_db


def test_rep_may_not_simulate(rep):
    with pytest.raises(Forbidden) as caught:
        selectors.scoring_simulate_authorize(user=rep)

    assert (caught.value.status_code, caught.value.detail.code) == (403, "permission_denied")
    assert str(caught.value.detail) == "A sales rep may not simulate scoring over every lead."


@pytest.mark.parametrize("who", ["marketer", "admin_user"])
def test_marketers_and_admins_may_simulate(request, who):
    assert selectors.scoring_simulate_authorize(user=request.getfixturevalue(who)) is None
