"""Admins remove members and deactivate users, on the web and through the API."""

from __future__ import annotations

from sqlmodel import select
from webhelpers import page_csrf

from planner.db import session_scope
from planner.models import Membership, Role, User, Workspace
from planner.team import users


def _id(email: str) -> int:
    with session_scope() as s:
        return s.exec(select(User).where(User.email == email)).one().id


def _token(email: str) -> str:
    with session_scope() as s:
        user = s.exec(select(User).where(User.email == email)).one()
        return users.issue_api_token(session=s, user=user, name="t").secret


class TestWeb:
    def test_an_admin_removes_a_member_who_is_then_out(self, world, make_client):
        manager = make_client("manager@acme.test")
        assert manager.get(f"/w/{world.slug}/calendar").status_code == 200
        admin = make_client("admin@acme.test")
        token = page_csrf(admin, f"/w/{world.slug}/settings")
        r = admin.post(f"/w/{world.slug}/settings/members/{_id('manager@acme.test')}/remove",
                       data={"csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303
        assert "Removed" in admin.get(r.headers["location"]).text
        assert manager.get(f"/w/{world.slug}/calendar").status_code == 404

    def test_an_admin_deactivates_a_member_and_their_login_ends(self, world, make_client):
        manager = make_client("manager@acme.test")
        admin = make_client("admin@acme.test")
        token = page_csrf(admin, f"/w/{world.slug}/settings")
        r = admin.post(f"/w/{world.slug}/settings/members/{_id('manager@acme.test')}/"
                       "deactivate", data={"csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303
        r = manager.get(f"/w/{world.slug}/calendar", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")

    def test_a_manager_cannot(self, world, make_client):
        manager = make_client("manager@acme.test")
        token = page_csrf(manager, f"/w/{world.slug}/settings")
        r = manager.post(f"/w/{world.slug}/settings/members/{_id('viewer@acme.test')}/remove",
                         data={"csrf_token": token})
        assert r.status_code == 403


class TestApi:
    def test_remove_and_deactivate(self, world, client):
        headers = {"Authorization": f"Bearer {_token('admin@acme.test')}"}
        viewer_token = _token("viewer@acme.test")
        base = f"/api/v1/workspaces/{world.workspace_id}/members"
        r = client.post(f"{base}/{_id('viewer@acme.test')}/deactivate", headers=headers)
        assert r.status_code == 204
        r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {viewer_token}"})
        assert r.status_code == 401
        r = client.delete(f"{base}/{_id('manager@acme.test')}", headers=headers)
        assert r.status_code == 204
        with session_scope() as s:
            assert s.exec(select(Membership).where(
                Membership.user_id == _id("manager@acme.test"))).first() is None

    def test_the_last_admin_and_people_of_other_workspaces_stay(self, world, client):
        headers = {"Authorization": f"Bearer {_token('admin@acme.test')}"}
        base = f"/api/v1/workspaces/{world.workspace_id}/members"
        r = client.delete(f"{base}/{world.admin_id}", headers=headers)
        assert r.status_code == 409 and "last admin" in r.json()["detail"]
        with session_scope() as s:  # the lead also works at Other Brand
            other = s.exec(select(Workspace).where(Workspace.slug == world.other_slug)).one()
            lead = s.exec(select(User).where(User.email == "lead@acme.test")).one()
            users.add_member(session=s, workspace=other, user=lead, role=Role.viewer)
        r = client.post(f"{base}/{_id('lead@acme.test')}/deactivate", headers=headers)
        assert r.status_code == 403
        r = client.post(f"{base}/{world.admin_id}/deactivate", headers=headers)
        assert r.status_code == 409
