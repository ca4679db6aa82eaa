"""Schemathesis over every operation of the served OpenAPI document (/api/v1/openapi.json), bounded: each
operation gets a few generated requests (valid and invalid), sent with a write token of both stations (results
with a verification body's token). Checked:
no 500, every status code and content type is documented, every body matches its documented schema.

SQLite only (`runs_on_postgresql`): what is fuzzed is the document against the code, which no database changes;
PostgreSQL runs the same endpoints in tests/test_api.py and the access matrix. Kept small for CI (a few seconds).
"""
from __future__ import annotations

import datetime as dt

import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from app import create_app
from app.api.models import TokenScope
from app.api.services import issue_token
from app.db import utcnow
from config import TestConfig

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 20


def runs_on_postgresql(test: str, params: dict) -> bool:
    """SQLite only: see the module's docstring."""
    return False


def _served_document():
    """The document as an app serves it (made without a database: the document comes from the code alone)."""
    doc_app = create_app(TestConfig, DATABASE_URL="sqlite://")
    try:
        return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", doc_app)
    finally:
        doc_app.extensions["database"].dispose()


schema = _served_document()
# Schemathesis's coverage phase alone sends about 80 requests an operation (every boundary of every parameter);
# within CI's budget the fuzzing phase's bounded examples (valid and invalid) and the document's own examples run.
schema.config.phases.update(phases=["examples", "fuzzing"])


@pytest.fixture()
def secrets(app, session, world) -> dict[str, str]:
    """A write token of both stations, and a body's token for posting results; the calls go to the test's app."""
    from app.bodies.services import create_body

    body, _ = create_body(session, None, {"name": "模糊测试检定所"})
    made = {}
    for scope, stations, body_id in ((TokenScope.WRITE, [world.station_a.id, world.station_b.id], None),
                                     (TokenScope.INSTITUTION, [], body.id)):
        _token, made[scope] = issue_token(session, None, name=f"模糊测试{scope.value}", scope=scope,
                                          station_ids=stations, body_id=body_id, merchant_id=None,
                                          expires_at=utcnow() + dt.timedelta(days=1), rate_per_minute=10_000,
                                          now=utcnow())
    session.commit()
    return made


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_every_operation_keeps_to_its_document(case, app, secrets):
    # Sent to the test's app (its database), not the one the document was read from. Results are posted by a
    # body's token (a station token would only ever be refused before the body is read).
    posts_results = case.method == "POST" and case.path.endswith("/verifications")
    secret = secrets[TokenScope.INSTITUTION if posts_results else TokenScope.WRITE]
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {secret}"}, checks=CHECKS)


def test_the_served_document_is_valid_openapi_3():
    """The document validates against the OpenAPI 3.0 meta-schema (and the check itself notices a broken one)."""
    schema.validate()
    broken = schemathesis.openapi.from_dict({"openapi": "3.0.3", "info": {"title": "x"}, "paths": {}})
    with pytest.raises(jsonschema_rs.ValidationError):  # info without its version
        broken.validate()
