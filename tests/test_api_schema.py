"""Schemathesis against the API's served OpenAPI document, with a token
holding every scope and a fixed example budget per operation: no server
error, and every answer (status, content type, body, headers) as the
document says."""

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis import checks

from api import tokens
from tests.builders import make_issue, make_newsletter

EXAMPLES_PER_OPERATION = 15
# What the API promises: no server error, and every answer as documented. (Not
# schemathesis's checks on requests: a well-formed request may still be refused
# for what it says, a newsletter that does not exist or a cursor the API never
# gave, and unknown query parameters are ignored, as by most APIs.)
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


@pytest.fixture
def connection_kept():
    """Requests go through the WSGI application in this thread, in the test's
    transaction: as with Django's test client, the end of a request must not
    close the connection that holds it."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def secret(db, settings, connection_kept):
    settings.API_RATE_PER_MINUTE = 100_000
    newsletter = make_newsletter()
    make_issue(newsletter)
    user = User.objects.create_superuser("robot", password="x")
    return tokens.token_create(user=user, scopes=["read", "subscribers", "authoring"])[1]


@schema.parametrize()
@hypothesis_settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_answer_is_as_the_schema_says(case, secret):
    case.call_and_validate(headers={"Authorization": f"Bearer {secret}"}, checks=CHECKS)
