"""Invitations (issue 13): an admin invites, the person accepts with a new or existing account;
links work once, expire, can be revoked; and everyone changes their own password."""

from __future__ import annotations

import hashlib
import re
import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, select
from webhelpers import PASSWORD, csrf_from, login, page_csrf

from planner.db import session_scope, utcnow
from planner.errors import Forbidden, Invalid
from planner.models import AuditEvent, Invitation, LoginSession, Membership, Role, User, Workspace
from planner.team import invitations, sessions, users


def _ws(s: Session, world) -> Workspace:
    return s.get(Workspace, world.workspace_id)


def _invite(world, email: str = "Dana@Brand.Example ", role: str = "brand_lead",
            now=None) -> invitations.Issued:
    with session_scope() as s:
        return invitations.invite(session=s, workspace=_ws(s, world), email=email, role=role,
                                  actor_id=world.admin_id, now=now or utcnow())


def _role(email: str, workspace_id: int) -> Role | None:
    with session_scope() as s:
        user = s.exec(select(User).where(User.email == email)).first()
        return users.role_in(session=s, user_id=user.id, workspace_id=workspace_id) if user \
            else None


def _actions() -> list[str]:
    with session_scope() as s:
        return [e.action for e in s.exec(select(AuditEvent).order_by(AuditEvent.id))]


class TestService:
    def test_invite_stores_only_the_digest_and_normalises_the_email(self, world):
        issued = _invite(world)
        with session_scope() as s:
            row = s.get(Invitation, issued.invitation.id)
            assert row.email == "dana@brand.example" and row.role == Role.brand_lead
            assert row.token_hash == hashlib.sha256(issued.token.encode()).hexdigest()
            assert issued.token not in row.token_hash and len(issued.token) >= 43
            assert row.expires_at - row.created_at == timedelta(days=7)
        assert "invitation.created" in _actions()

    def test_reinviting_replaces_the_pending_one(self, world):
        first = _invite(world, role="viewer")
        second = _invite(world, email="dana@brand.example", role="manager")
        with session_scope() as s:
            pending = invitations.pending(session=s, workspace_id=world.workspace_id,
                                          now=utcnow())
            assert [(p.id, p.role) for p in pending] == [(second.invitation.id, Role.manager)]
            with pytest.raises(invitations.NoLongerValid) as gone:
                invitations.look_up(session=s, token=first.token, now=utcnow())
            assert gone.value.status_code == 410
        assert "invitation.replaced" in _actions()

    def test_a_member_cannot_be_invited(self, world):
        with pytest.raises(Invalid) as exc:
            _invite(world, email="MANAGER@acme.test")
        assert exc.value.problems[0].field == "email"

    def test_bad_email_and_role_are_field_errors(self, world):
        with pytest.raises(Invalid) as exc:
            _invite(world, email="not an email")
        assert exc.value.problems[0].field == "email"
        with pytest.raises(Invalid) as exc:
            _invite(world, role="owner")
        assert exc.value.problems[0].field == "role"
        with pytest.raises(Invalid) as exc:  # no database stores a NUL in text
            _invite(world, email="a\x00@brand.example")
        assert exc.value.problems[0].field == "email"

    def test_accept_with_a_new_account(self, world):
        issued = _invite(world)
        with session_scope() as s:
            user, found = invitations.accept_new(session=s, token=issued.token, name="Dana",
                                                 password=PASSWORD, repeat=PASSWORD,
                                                 now=utcnow())
            assert user.email == "dana@brand.example" and found.workspace.id == world.workspace_id
        assert _role("dana@brand.example", world.workspace_id) == Role.brand_lead
        with session_scope() as s:
            row = s.get(Invitation, issued.invitation.id)
            assert row.accepted_at is not None and row.accepted_by == user.id
            assert users.authenticate(session=s, email="dana@brand.example",
                                      password=PASSWORD) is not None
        assert "invitation.accepted" in _actions()

    def test_password_rules_when_accepting(self, world):
        issued = _invite(world)
        with session_scope() as s, pytest.raises(Invalid) as exc:
            invitations.accept_new(session=s, token=issued.token, name="", password="short",
                                   repeat="short", now=utcnow())
        assert exc.value.problems[0].field == "password"
        with session_scope() as s, pytest.raises(Invalid) as exc:
            invitations.accept_new(session=s, token=issued.token, name="", password=PASSWORD,
                                   repeat=PASSWORD + "x", now=utcnow())
        assert exc.value.problems[0].field == "repeat"
        with session_scope() as s, pytest.raises(Invalid) as exc:
            invitations.accept_new(session=s, token=issued.token, name="Da\x00na",
                                   password=PASSWORD, repeat=PASSWORD, now=utcnow())
        assert exc.value.problems[0].field == "name"
        assert _role("dana@brand.example", world.workspace_id) is None

    def test_accept_with_an_existing_account(self, world):
        issued = _invite(world, email="admin@other.test", role="manager")
        with session_scope() as s:
            found = invitations.look_up(session=s, token=issued.token, now=utcnow())
            assert found.account_exists
            with pytest.raises(Forbidden):  # no second account for the same address
                invitations.accept_new(session=s, token=issued.token, name="x",
                                       password=PASSWORD, repeat=PASSWORD, now=utcnow())
        with session_scope() as s:
            person = s.exec(select(User).where(User.email == "admin@other.test")).one()
            invitations.accept_existing(session=s, token=issued.token, user=person,
                                        now=utcnow())
        assert _role("admin@other.test", world.workspace_id) == Role.manager

    def test_a_different_email_cannot_accept(self, world):
        issued = _invite(world, email="admin@other.test")
        with session_scope() as s, pytest.raises(Forbidden, match="another e-mail"):
            viewer = s.exec(select(User).where(User.email == "viewer@acme.test")).one()
            invitations.accept_existing(session=s, token=issued.token, user=viewer,
                                        now=utcnow())
        assert _role("admin@other.test", world.workspace_id) is None

    def test_expired(self, world):
        issued = _invite(world, now=utcnow() - timedelta(days=7, seconds=1))
        with session_scope() as s, pytest.raises(invitations.NoLongerValid) as exc:
            invitations.accept_new(session=s, token=issued.token, name="", password=PASSWORD,
                                   repeat=PASSWORD, now=utcnow())
        assert exc.value.status_code == 410

    def test_revoked(self, world):
        issued = _invite(world)
        with session_scope() as s:
            invitations.revoke(session=s, workspace=_ws(s, world),
                               invitation_id=issued.invitation.id, actor_id=world.admin_id,
                               now=utcnow())
        with session_scope() as s, pytest.raises(invitations.NoLongerValid) as exc:
            invitations.look_up(session=s, token=issued.token, now=utcnow())
        assert exc.value.status_code == 410
        assert "invitation.revoked" in _actions()

    def test_double_accept_fails_and_unknown_looks_the_same(self, world):
        issued = _invite(world)
        with session_scope() as s:
            invitations.accept_new(session=s, token=issued.token, name="", password=PASSWORD,
                                   repeat=PASSWORD, now=utcnow())
        messages = []
        for token in (issued.token, "no-such-token"):
            with session_scope() as s, pytest.raises(invitations.NoLongerValid) as exc:
                invitations.look_up(session=s, token=token, now=utcnow())
            messages.append((exc.value.status_code, exc.value.message))
        assert messages[0] == messages[1] and messages[0][0] == 404

    def test_a_stale_look_up_cannot_claim(self, world, engine):
        """The conditional UPDATE decides, not the look-up before it: an accept that saw the
        invitation pending, while another accept committed, claims nothing."""
        issued = _invite(world)
        with Session(engine, expire_on_commit=False) as slow:
            found = invitations.look_up(session=slow, token=issued.token, now=utcnow())
            slow.commit()
            with session_scope(engine) as fast:
                invitations.accept_new(session=fast, token=issued.token, name="",
                                       password=PASSWORD, repeat=PASSWORD, now=utcnow())
            with pytest.raises(invitations.NoLongerValid):
                invitations._claim(slow, found.invitation, utcnow())

    def test_two_racing_accepts_one_wins(self, world, engine):
        issued = _invite(world)
        barrier = threading.Barrier(2, timeout=30)
        outcomes: list[str] = []

        def accept(password: str) -> None:
            barrier.wait()
            try:
                with session_scope(engine, immediate=True) as s:
                    invitations.accept_new(session=s, token=issued.token, name="",
                                           password=password, repeat=password, now=utcnow())
                outcomes.append("won")
            except invitations.NoLongerValid:
                outcomes.append("refused")

        threads = [threading.Thread(target=accept, args=(PASSWORD + str(i),)) for i in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(outcomes) == ["refused", "won"]
        with session_scope() as s:
            assert len(s.exec(select(User).where(User.email == "dana@brand.example")).all()) == 1


# --- the browser routes --------------------------------------------------------------------------

def _link_from(html: str) -> str:
    match = re.search(r'id="invite-link" value="([^"]+)"', html)
    assert match, "no invitation link on the page"
    return match.group(1)


def _web_invite(admin: TestClient, world, email: str, role: str = "brand_lead"):
    token = page_csrf(admin, f"/w/{world.slug}/settings")
    return admin.post(f"/w/{world.slug}/settings/invitations",
                      data={"email": email, "role": role, "csrf_token": token})


class TestRoutes:
    def test_admin_invites_and_sees_the_link_once(self, world, make_client):
        admin = make_client("admin@acme.test")
        r = _web_invite(admin, world, "dana@brand.example")
        assert r.status_code == 200
        link = _link_from(r.text)
        assert link.startswith("http://127.0.0.1:8000/invite/")  # the public base URL
        assert "works once, for 7 days" in r.text
        page = admin.get(f"/w/{world.slug}/settings").text
        assert "dana@brand.example" in page and link not in page  # listed, link not shown

    @pytest.mark.parametrize("email", ["manager@acme.test", "lead@acme.test"])
    def test_managers_and_brand_leads_cannot_invite(self, world, make_client, email):
        person = make_client(email)
        assert _web_invite(person, world, "x@brand.example").status_code == 403
        with session_scope() as s:
            assert s.exec(select(Invitation)).first() is None

    def test_csrf_is_required(self, world, make_client):
        admin = make_client("admin@acme.test")
        r = admin.post(f"/w/{world.slug}/settings/invitations",
                       data={"email": "x@brand.example", "role": "viewer"})
        assert r.status_code == 403
        invitation = _invite(world)
        fresh = make_client()
        fresh.get(f"/invite/{invitation.token}")
        r = fresh.post(f"/invite/{invitation.token}", data={"password": PASSWORD,
                                                              "repeat": PASSWORD})
        assert r.status_code == 403 and _role("dana@brand.example", world.workspace_id) is None

    def test_already_a_member_is_an_error_at_the_field(self, world, make_client):
        admin = make_client("admin@acme.test")
        r = _web_invite(admin, world, "viewer@acme.test")
        assert r.status_code == 422
        assert 'id="err-invite-email"' in r.text and "already a member" in r.text
        assert 'value="viewer@acme.test"' in r.text

    def test_revoke_from_the_list(self, world, make_client):
        admin = make_client("admin@acme.test")
        issued = _invite(world)
        token = page_csrf(admin, f"/w/{world.slug}/settings")
        r = admin.post(f"/w/{world.slug}/settings/invitations/{issued.invitation.id}/revoke",
                       data={"csrf_token": token})
        assert r.status_code == 200 and "revoked" in r.text
        assert make_client().get(f"/invite/{issued.token}").status_code == 410

    def test_unknown_token_gets_one_plain_page(self, world, client):
        r = client.get("/invite/nope")
        assert r.status_code == 404
        assert "no longer valid; ask your admin for a new one" in r.text
        assert "Traceback" not in r.text
        r = client.get("/invite/" + "x" * 5000)
        assert r.status_code == 404

    def test_new_person_accepts_is_logged_in_and_lands_in_the_workspace(self, world,
                                                                       make_client):
        issued = _invite(world)
        fresh = make_client()
        page = fresh.get(f"/invite/{issued.token}")
        assert page.status_code == 200
        assert "Acme Bikes" in page.text and "brand lead" in page.text
        token = csrf_from(page.text)
        r = fresh.post(f"/invite/{issued.token}", data={
            "csrf_token": token, "name": "Dana", "password": PASSWORD, "repeat": "different!"})
        assert r.status_code == 422 and 'id="err-repeat"' in r.text
        r = fresh.post(f"/invite/{issued.token}", data={
            "csrf_token": token, "name": "Dana", "password": PASSWORD, "repeat": PASSWORD},
            follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/w/{world.slug}/calendar"
        assert fresh.get(f"/w/{world.slug}/calendar").status_code == 200
        # used: the same plain page as an unknown link
        again = make_client().get(f"/invite/{issued.token}")
        assert again.status_code == 404 and "no longer valid" in again.text

    def test_existing_account_logs_in_then_joins(self, world, make_client):
        issued = _invite(world, email="admin@other.test", role="viewer")
        anonymous = make_client()
        page = anonymous.get(f"/invite/{issued.token}").text
        assert f"/login?next=/invite/{issued.token}" in page and "password" not in page.lower()
        other = make_client("admin@other.test")
        page = other.get(f"/invite/{issued.token}").text
        assert "Join Acme Bikes" in page
        r = other.post(f"/invite/{issued.token}", data={"csrf_token": csrf_from(page)},
                       follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/w/{world.slug}/calendar"
        assert _role("admin@other.test", world.workspace_id) == Role.viewer

    def test_logged_in_with_another_address(self, world, make_client):
        issued = _invite(world)
        viewer = make_client("viewer@acme.test")
        page = viewer.get(f"/invite/{issued.token}").text
        assert "for another e-mail address" in page
        r = viewer.post(f"/invite/{issued.token}", data={"csrf_token": csrf_from(page)})
        assert r.status_code == 403 and "another e-mail address" in r.text
        assert _role("dana@brand.example", world.workspace_id) is None

    def test_guessing_links_is_throttled(self, world, client):
        for i in range(sessions.MAX_FAILURES_PER_ACCOUNT):
            assert client.get(f"/invite/guess-{i}").status_code == 404
        issued = _invite(world)
        r = client.get(f"/invite/{issued.token}")  # even a real link now waits
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0

    def test_email_sent_after_commit(self, world, make_client, smtp_server, monkeypatch):
        from planner.settings import get_settings

        url, received = smtp_server
        monkeypatch.setenv("POISE_SMTP_URL", url)
        get_settings.cache_clear()
        admin = make_client("admin@acme.test")
        r = _web_invite(admin, world, "dana@brand.example")
        assert r.status_code == 200 and "We e-mailed the link too" in r.text
        link = _link_from(r.text)
        assert len(received) == 1 and received[0]["To"] == "dana@brand.example"
        assert link in received[0].get_payload(decode=True).decode()

    def test_email_failure_says_so_and_shows_the_link(self, world, make_client, monkeypatch):
        from planner.settings import get_settings

        monkeypatch.setenv("POISE_SMTP_URL", "smtp://127.0.0.1:1")
        get_settings.cache_clear()
        admin = make_client("admin@acme.test")
        r = _web_invite(admin, world, "dana@brand.example")
        assert r.status_code == 200 and "could not be sent" in r.text
        _link_from(r.text)
        with session_scope() as s:  # committed before the e-mail was tried
            assert len(invitations.pending(session=s, workspace_id=world.workspace_id,
                                           now=utcnow())) == 1


# --- your own password ---------------------------------------------------------------------------

def _change(c: TestClient, world, current: str, new: str, repeat: str | None = None):
    token = page_csrf(c, f"/w/{world.slug}/settings")
    return c.post(f"/w/{world.slug}/settings/password", data={
        "csrf_token": token, "current_password": current, "new_password": new,
        "repeat_password": new if repeat is None else repeat})


class TestOwnPassword:
    def test_wrong_current_password_is_a_field_error_and_counted(self, world, make_client):
        c = make_client("viewer@acme.test")
        r = _change(c, world, "wrong-password", "brand new password")
        assert r.status_code == 422 and 'id="err-current-password"' in r.text
        with session_scope() as s:
            assert sessions.retry_after(session=s, email="viewer@acme.test", address="x",
                                        now=utcnow()) == 0
            for _ in range(sessions.MAX_FAILURES_PER_ACCOUNT - 1):
                sessions.record_failure(session=s, email="viewer@acme.test", address="y",
                                        now=utcnow())
        r = _change(c, world, PASSWORD, "brand new password")
        assert r.status_code == 429 and "Too many failed attempts" in r.text

    def test_mismatch_and_short_are_field_errors(self, world, make_client):
        c = make_client("viewer@acme.test")
        assert 'id="err-repeat-password"' in _change(c, world, PASSWORD, "brand new password",
                                                      "other new password").text
        assert 'id="err-new-password"' in _change(c, world, PASSWORD, "short").text

    def test_success_ends_every_other_login(self, world, make_client, client):
        laptop, phone = make_client("viewer@acme.test"), make_client("viewer@acme.test")
        r = _change(laptop, world, PASSWORD, "brand new password")
        assert r.status_code == 200 and "1 other login ended" in r.text
        assert laptop.get(f"/w/{world.slug}/calendar").status_code == 200
        r = phone.get(f"/w/{world.slug}/calendar", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        login(client, "viewer@acme.test", "brand new password")
        with session_scope() as s:
            assert s.exec(select(AuditEvent).where(
                AuditEvent.action == "user.password_changed")).first() is not None


# --- the API ------------------------------------------------------------------------------------

def _bearer(email: str) -> dict[str, str]:
    with session_scope() as s:
        user = s.exec(select(User).where(User.email == email)).one()
        secret = users.issue_api_token(session=s, user=user, name="t").secret
        return {"Authorization": f"Bearer {secret}"}


class TestApi:
    def test_invite_list_revoke(self, world, client, make_client):
        headers = _bearer("admin@acme.test")
        base = f"/api/v1/workspaces/{world.workspace_id}/invitations"
        r = client.post(base, json={"email": "Dana@brand.example", "role": "brand_lead"},
                        headers=headers)
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["email"] == "dana@brand.example" and body["link"].startswith("http")
        assert body["emailed"] is False
        listed = client.get(base, headers=headers).json()
        assert [i["id"] for i in listed] == [body["id"]] and "link" not in listed[0]
        assert client.delete(f"{base}/{body['id']}", headers=headers).status_code == 204
        assert client.get(base, headers=headers).json() == []
        token = body["link"].rsplit("/", 1)[1]
        assert make_client().get(f"/invite/{token}").status_code == 410
        assert client.delete(f"{base}/{body['id']}", headers=headers).status_code == 404

    def test_problem_details_and_roles(self, world, client):
        base = f"/api/v1/workspaces/{world.workspace_id}/invitations"
        r = client.post(base, json={"email": "viewer@acme.test", "role": "viewer"},
                        headers=_bearer("admin@acme.test"))
        assert r.status_code == 422
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["errors"][0]["field"] == "email"
        r = client.post(base, json={"email": "x@brand.example", "role": "owner"},
                        headers=_bearer("admin@acme.test"))
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "role"]
        lead = _bearer("lead@acme.test")
        assert client.post(base, json={"email": "x@brand.example"}, headers=lead
                           ).status_code == 403
        assert client.get(base, headers=lead).status_code == 403

    def test_change_password(self, world, client, make_client):
        browser = make_client("viewer@acme.test")
        headers = _bearer("viewer@acme.test")
        r = client.post("/api/v1/me/password", headers=headers,
                        json={"current_password": "nope", "new_password": "brand new password"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "current_password"
        r = client.post("/api/v1/me/password", headers=headers,
                        json={"current_password": PASSWORD, "new_password": "brand new pw"})
        assert r.status_code == 204
        assert browser.get(f"/w/{world.slug}/calendar",
                           follow_redirects=False).status_code == 303
        assert client.get("/api/v1/me", headers=headers).status_code == 200
        with session_scope() as s:
            assert s.exec(select(LoginSession).where(
                LoginSession.ended_at.is_(None))).first() is None


def test_expired_link_in_the_browser(world, client):
    issued = _invite(world)
    with session_scope() as s:
        s.execute(update(Invitation).values(expires_at=utcnow() - timedelta(seconds=1)))
    r = client.get(f"/invite/{issued.token}")
    assert r.status_code == 410 and "no longer valid" in r.text
    with session_scope() as s:
        assert s.exec(select(Membership).join(User).where(
            User.email == "dana@brand.example")).first() is None
