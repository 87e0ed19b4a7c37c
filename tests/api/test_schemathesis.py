"""Property-based fuzzing of every /api/v1 operation (schemathesis over /openapi.json).

Each operation gets a bounded number of generated requests, with a valid token of a workspace
admin; any 5xx or any answer that does not match its documented schema fails the test. The
database is the test database with two workspaces, so ids in paths often exist.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.engine import Engine

from planner.db import session_scope
from planner.models import Role
from planner.team import users, workspaces
from planner.web.app import create_app

MAX_EXAMPLES = 12


@pytest.fixture
def token(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> str:
    from planner.settings import get_settings
    monkeypatch.setenv("POISE_SUGGESTER", "lexicon")  # the embedding model has its own tests
    get_settings.cache_clear()
    with session_scope(engine) as s:
        ws = workspaces.create_workspace(session=s, name="Fuzz", timezone="Europe/Warsaw")
        user = users.create_user(session=s, email="fuzz@acme.test", password="f" * 12)
        users.add_member(session=s, workspace=ws, user=user, role=Role.admin)
        return users.issue_api_token(session=s, user=user, name="fuzz").secret


def _fuzz(operation, token: str) -> list[str]:
    """Run one operation's examples; the failures in words."""
    failures: list[str] = []

    @given(case=operation.as_strategy())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case) -> None:
        try:
            response = case.call(headers={"Authorization": f"Bearer {token}"})
        except Exception as exc:  # noqa: BLE001 - the app raised: a 500 in production
            failures.append(f"{operation.label}: 500 {exc.__class__.__name__}: "
                            f"{str(exc)[:200]} ({case.method} {case.formatted_path} "
                            f"{case.query or ''})")
            return
        try:
            case.validate_response(response, checks=[not_a_server_error, status_code_conformance,
                                                     response_schema_conformance])
        except AssertionError as exc:  # schemathesis failures are AssertionErrors
            failures.append(f"{operation.label}: {str(exc).splitlines()[0]} "
                            f"({case.method} {case.formatted_path} {case.query or ''} "
                            f"{str(case.body)[:200] if case.body is not None else ''})")

    run()
    return failures


def test_no_server_error_and_every_answer_as_documented(token):
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        failures += _fuzz(operation, token)
    assert operations >= 20  # every operation of the API was tried
    assert not failures, "\n".join(sorted(set(failures)))
