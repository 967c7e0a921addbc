"""The tests' database sessions carry a statement timeout (tests/conftest.py), so that a test
blocked inside one SQL statement fails instead of outliving the per-test timeout."""

import pytest
from django.db import connection

from tests.conftest import STATEMENT_TIMEOUT

pytestmark = pytest.mark.django_db


def test_every_test_session_has_the_statement_timeout():
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == STATEMENT_TIMEOUT
