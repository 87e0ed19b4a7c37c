"""The REST API: Bearer tokens, each endpoint, and problem details with field paths."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from planner import users
from planner.db import session_scope
from planner.models import User


def token_for(email):
    with session_scope() as s:
        user = s.exec(select(User).where(User.email == email)).one()
        return users.issue_api_token(session=s, user=user, name="test").secret


@pytest.fixture
def api(world, client):
    def call(method, path, email="manager@acme.test", **kw):
        headers = {"Authorization": f"Bearer {token_for(email)}", **kw.pop("headers", {})}
        return client.request(method, f"/api/v1{path}", headers=headers, **kw)
    return call


def future_local(days=10):
    local = (datetime.now(UTC) + timedelta(days=days)).astimezone(ZoneInfo("Europe/Warsaw"))
    return local.strftime("%Y-%m-%dT09:15")


class TestTokens:
    def test_missing_and_bad_token(self, world, client):
        r = client.get("/api/v1/me")
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
        r = client.get("/api/v1/me", headers={"Authorization": "Bearer poise_nope"})
        assert r.status_code == 401 and "unknown or revoked" in r.json()["detail"]

    def test_token_works_until_revoked_and_is_hashed_at_rest(self, world, client):
        secret = token_for("admin@acme.test")
        headers = {"Authorization": f"Bearer {secret}"}
        assert client.get("/api/v1/me", headers=headers).json()["email"] == "admin@acme.test"
        with session_scope() as s:
            from planner.models import ApiToken

            token = s.exec(select(ApiToken)).one()
            assert secret not in (token.token_hash, token.prefix) and token.last_used_at
            users.revoke_api_token(session=s, user=s.get(User, token.user_id),
                                   token_id=token.id)
        assert client.get("/api/v1/me", headers=headers).status_code == 401

    def test_workspaces_lists_memberships(self, api, world):
        r = api("GET", "/workspaces")
        assert [(m["workspace"]["slug"], m["role"]) for m in r.json()] == [
            (world.slug, "manager")]


class TestPosts:
    def test_create_submit_approve_and_read(self, api, world):
        r = api("POST", f"/workspaces/{world.workspace_id}/posts", json={
            "text": "Tip: check tyre pressure weekly", "account_ids": [world.account_id],
            "tags": ["learn"], "scheduled_local": future_local()})
        assert r.status_code == 201, r.text
        post = r.json()
        assert post["status"] == "draft" and post["timezone"] == "Europe/Warsaw"
        assert post["publications"][0]["account_id"] == world.account_id
        base = f"/workspaces/{world.workspace_id}/posts/{post['id']}"
        r = api("POST", f"{base}/submit", json={"version": 1})
        assert r.json()["status"] == "in_review"
        r = api("POST", f"{base}/approve", json={"version": 2})
        assert r.status_code == 403  # a manager cannot approve
        r = api("POST", f"{base}/approve", email="lead@acme.test", json={"version": 2})
        assert r.json()["status"] == "approved"
        assert api("GET", base).json()["version"] == 3
        listed = api("GET", f"/workspaces/{world.workspace_id}/posts?status=approved").json()
        assert [p["id"] for p in listed] == [post["id"]]

    def test_update_conflict_and_request_changes(self, api, world):
        post = api("POST", f"/workspaces/{world.workspace_id}/posts", json={
            "text": "a", "account_ids": [world.account_id]}).json()
        base = f"/workspaces/{world.workspace_id}/posts/{post['id']}"
        body = {"text": "b", "account_ids": [world.account_id], "version": 1}
        assert api("PUT", base, json=body).status_code == 200
        r = api("PUT", base, json=body)
        assert r.status_code == 409 and r.json()["title"] == "Conflict"
        api("POST", f"{base}/submit", json={"version": 2})
        r = api("POST", f"{base}/request-changes", email="lead@acme.test",
                json={"version": 3, "comment": "More detail"})
        assert r.json()["status"] == "changes_requested"
        r = api("POST", f"{base}/cancel", json={"version": 4})
        assert r.json()["status"] == "cancelled"

    def test_invalid_input_has_field_paths(self, api, world):
        r = api("POST", f"/workspaces/{world.workspace_id}/posts",
                json={"text": "x", "account_ids": [world.account_id, 999999]})
        assert r.status_code == 422
        assert r.json()["errors"][0]["loc"] == ["account_ids", 1]
        r = api("POST", f"/workspaces/{world.workspace_id}/posts", json={"account_ids": "x"})
        assert r.status_code == 422
        fields = {e["field"] for e in r.json()["errors"]}
        assert "text" in fields and "account_ids" in fields
        r = api("POST", f"/workspaces/{world.workspace_id}/posts", content=b"{oops",
                headers={"content-type": "application/json"})
        assert r.status_code == 422 and r.headers["content-type"].startswith(
            "application/problem+json")

    def test_other_workspace_is_404(self, api, world):
        r = api("POST", f"/workspaces/{world.other_workspace_id}/posts",
                json={"text": "x", "account_ids": []})
        assert r.status_code == 404

    def test_viewer_cannot_write(self, api, world):
        r = api("POST", f"/workspaces/{world.workspace_id}/posts", email="viewer@acme.test",
                json={"text": "x", "account_ids": [world.account_id]})
        assert r.status_code == 403


class TestCalendarSlotsImport:
    def test_calendar_range(self, api, world):
        api("POST", f"/workspaces/{world.workspace_id}/posts", json={
            "text": "in range", "account_ids": [world.account_id],
            "scheduled_local": "2026-12-05T10:00"})
        r = api("GET", f"/workspaces/{world.workspace_id}/calendar?start=2026-12-01&days=7")
        assert r.json()["total"] == 1
        item = r.json()["items"][0]
        assert item["local"] == "2026-12-05T10:00" and item["status"] == "draft"
        r = api("GET", f"/workspaces/{world.workspace_id}/calendar?start=2026-12-01&days=999")
        assert r.status_code == 422

    def test_slots_roundtrip(self, api, world):
        path = f"/workspaces/{world.workspace_id}/accounts/{world.account_id}/slots"
        r = api("PUT", path, json=[{"weekday": 0, "local_time": "09:00"},
                                    {"weekday": 4, "local_time": "18:30"}])
        assert r.status_code == 200
        assert api("GET", path).json() == [{"weekday": 0, "local_time": "09:00"},
                                           {"weekday": 4, "local_time": "18:30"}]
        r = api("PUT", path, json=[{"weekday": 9, "local_time": "09:00"}])
        assert r.status_code == 422

    def test_import_all_or_nothing(self, api, world):
        good = ("local_time,accounts,text,tags\n2026-12-01 09:00,@acme@bikes.social,One,learn\n"
                "2026-12-02 09:00,@acme@bikes.social,Two,try;share\n")
        r = api("POST", f"/workspaces/{world.workspace_id}/import", content=good.encode(),
                headers={"content-type": "text/csv"})
        assert r.json() == {"created": 2, "submitted": 0}
        bad = good + "2026-12-03 09:00,@nobody,Three,fun\n"
        r = api("POST", f"/workspaces/{world.workspace_id}/import", content=bad.encode(),
                headers={"content-type": "text/csv"})
        assert r.status_code == 422
        locs = [e["loc"] for e in r.json()["errors"]]
        assert ["line", 4, "accounts"] in locs and ["line", 4, "tags"] in locs
        assert len(api("GET", f"/workspaces/{world.workspace_id}/posts").json()) == 2


def test_openapi_documents_the_api(client):
    spec = client.get("/openapi.json").json()
    assert "/api/v1/workspaces/{workspace_id}/posts" in spec["paths"]
    op = spec["paths"]["/api/v1/workspaces/{workspace_id}/posts/{post_id}/approve"]["post"]
    assert "409" in op["responses"] and "422" in op["responses"]
