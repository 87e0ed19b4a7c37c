"""One error hierarchy, rendered as a page, an htmx partial, or a JSON problem detail."""

import pytest
from fastapi.testclient import TestClient

from planner.errors import Conflict, FieldProblem, Invalid


@pytest.fixture
def boom_app(app):
    @app.get("/w/{slug}/_conflict")
    def conflict():
        raise Conflict("Someone else changed this.")

    @app.get("/api/v1/_invalid")
    def invalid():
        raise Invalid("Bad", problems=[FieldProblem(("body", "accounts", 0), "No such account")])

    @app.get("/_crash")
    def crash():
        raise RuntimeError("secret internals: password=hunter2")

    return app


def test_page_form(world, boom_app):
    with TestClient(boom_app, raise_server_exceptions=False) as c:
        r = c.get(f"/w/{world.slug}/_conflict")
        assert r.status_code == 409 and "<html" in r.text and "Someone else changed" in r.text


def test_partial_form_goes_to_flash(world, boom_app):
    with TestClient(boom_app, raise_server_exceptions=False) as c:
        r = c.get(f"/w/{world.slug}/_conflict", headers={"HX-Request": "true"})
        assert r.status_code == 409 and "<html" not in r.text
        assert r.headers["HX-Retarget"] == "#flash" and "Someone else changed" in r.text


def test_json_problem_with_field_path(world, boom_app):
    with TestClient(boom_app, raise_server_exceptions=False) as c:
        r = c.get("/api/v1/_invalid")
        assert r.status_code == 422
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body["errors"] == [{"loc": ["body", "accounts", 0], "field": "accounts.0",
                                   "msg": "No such account"}]


def test_server_error_never_shows_traceback(world, boom_app):
    with TestClient(boom_app, raise_server_exceptions=False) as c:
        r = c.get("/_crash")
        assert r.status_code == 500
        assert "hunter2" not in r.text and "Traceback" not in r.text
        assert "Something went wrong" in r.text


def test_unknown_route_page_and_json(world, client):
    r = client.get("/no/such/page")
    assert r.status_code == 404 and "There is nothing at this address" in r.text
    r = client.get("/api/v1/nothing")
    assert r.status_code == 404 and r.json()["title"] == "Not found"


def test_malformed_api_json_is_a_problem_detail(world, client):
    r = client.post("/api/v1/workspaces/1/posts", content=b"{not json",
                    headers={"Authorization": "Bearer x", "content-type": "application/json"})
    # Authentication is checked first; a bad token must not leak parsing details either.
    assert r.status_code in (401, 422)
    assert r.headers["content-type"].startswith("application/problem+json")


def test_unreachable_database_is_503_not_a_traceback(world, monkeypatch):
    from planner import db as db_module
    from planner.settings import get_settings
    from planner.web.app import create_app

    monkeypatch.setenv("POISE_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    get_settings.cache_clear()
    db_module.dispose_engines()
    with TestClient(create_app(), raise_server_exceptions=False) as c:
        r = c.get("/healthz", headers={"accept": "application/json"})
        assert r.status_code == 503
        assert "cannot be reached" in r.json()["detail"]


def test_healthz(world, client):
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
