"""Roles are enforced in one dependency; workspaces are invisible to non-members."""

import pytest
from fastapi.testclient import TestClient

from planner.models import Role
from planner.web.deps import Member, require  # noqa: F401


class TestWorkspaceIsolation:
    def test_other_workspace_pages_are_404(self, world, make_client):
        c = make_client("admin@other.test")
        for path in ("calendar", "accounts", "settings"):
            r = c.get(f"/w/{world.slug}/{path}")
            assert r.status_code == 404, path

    def test_other_workspace_accounts_invisible_in_api(self, world, make_client):
        from sqlmodel import select

        from planner.db import session_scope
        from planner.models import User
        from planner.team import users

        with session_scope() as s:
            u = s.exec(select(User).where(User.email == "admin@other.test")).one()
            secret = users.issue_api_token(session=s, user=u, name="t").secret
        c = make_client()
        headers = {"Authorization": f"Bearer {secret}"}
        r = c.get(f"/api/v1/workspaces/{world.workspace_id}/accounts", headers=headers)
        assert r.status_code == 404
        r = c.get(f"/api/v1/workspaces/{world.other_workspace_id}/accounts", headers=headers)
        assert r.status_code == 200 and [a["handle"] for a in r.json()] == ["@other"]

    def test_account_lookup_is_scoped(self, world, engine):
        from planner import accounts
        from planner.db import session_scope
        from planner.errors import NotFound

        with session_scope(engine) as s, pytest.raises(NotFound):
            accounts.get_account(session=s, workspace_id=world.workspace_id,
                                 account_id=world.other_account_id)


class TestRoles:
    @pytest.fixture
    def guarded_app(self, app):
        @app.post("/w/{slug}/_approve-probe")
        def probe(member: Member = require(Role.brand_lead)):
            return {"ok": True, "role": member.role}

        return app

    @pytest.mark.parametrize("email,allowed", [
        ("admin@acme.test", True), ("lead@acme.test", True),
        ("manager@acme.test", False), ("viewer@acme.test", False)])
    def test_minimum_role(self, world, guarded_app, email, allowed):
        from webhelpers import login, page_csrf

        with TestClient(guarded_app, raise_server_exceptions=False) as c:
            login(c, email)
            token = page_csrf(c, f"/w/{world.slug}/settings")
            r = c.post(f"/w/{world.slug}/_approve-probe", headers={"X-CSRF-Token": token,
                                                                     "accept": "application/json"})
            assert (r.status_code == 200) is allowed
            if not allowed:
                assert r.status_code == 403
                assert "Only brand leads and admins can do this" in r.json()["detail"]
