"""playbook.demo_board: the duplicate the lead page offers to merge, added once."""

import pytest

from accounts.models import User
from handoff.selectors.duplicates import lead_duplicates
from leads.models import Lead
from playbook import demo
from playbook.demo_board import DUPLICATE_EMAIL, demo_board_ensure

pytestmark = pytest.mark.django_db


def test_demo_adds_one_duplicate_of_sam_allen_once():
    demo.demo_users_ensure()
    demo.demo_leads_ensure()

    assert demo_board_ensure() == 1
    assert demo_board_ensure() == 0

    sam = Lead.objects.get(email="sam.allen@stark.example")
    marketer = User.objects.get(username="marketer")
    found = [c.lead.email for c in lead_duplicates(user=marketer, lead=sam)]
    assert found == [DUPLICATE_EMAIL]
