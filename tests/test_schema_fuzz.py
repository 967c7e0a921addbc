"""schemathesis over the whole OpenAPI schema (/api/schema/), in process against the WSGI app,
as an admin with a token: no operation answers 5xx, and every answer matches the schema.

Bounded for CI: a few examples an operation, a fixed seed (the same cases every run, so a
failure reproduces), no shrinking. A failure prints the failing request as a curl command.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import LeadFactory

EXAMPLES = 3
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


# Loaded when the module is collected (schemathesis's from_fixture does not work with this
# pytest); building the schema reads no table.
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    # As Django's test client does: a request's end must not close the test's connection
    # (its transaction holds the test's data).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def admin_token(admin_user):
    """The token of an admin (who may call every operation), with a lead of theirs."""
    LeadFactory(owner=admin_user)  # something to find, fetch and change
    return Token.objects.create(user=admin_user).key


@pytest.mark.fuzz
@schema.parametrize()
@hypothesis_settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_within_its_schema(case, admin_token):
    case.call_and_validate(headers={"Authorization": f"Token {admin_token}"}, checks=CHECKS)
