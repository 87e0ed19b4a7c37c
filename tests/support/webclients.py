"""Web-client fixtures shared by the planner and conversions tests (imported by their
conftest files): an app on the test database, a client, and a factory of logged-in clients."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from webhelpers import login

from planner.web.app import create_app


@pytest.fixture
def app(engine: Engine):
    return create_app()


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def make_client(app):
    clients: list[TestClient] = []

    def factory(email: str | None = None) -> TestClient:
        c = TestClient(app, raise_server_exceptions=False)
        c.__enter__()
        clients.append(c)
        if email:
            login(c, email)
        return c

    yield factory
    for c in clients:
        c.__exit__(None, None, None)
