"""Ending access from the command line: a new password, deactivation, removing a member."""

from __future__ import annotations

import pytest
from sqlmodel import select
from typer.testing import CliRunner

import main
from planner.db import session_scope, utcnow
from planner.models import Membership, Role, User
from planner.team import sessions, users, workspaces

runner = CliRunner()
ENV = {"COLUMNS": "240", "NO_COLOR": "1", "TERM": "dumb"}


@pytest.fixture
def logged_in(engine) -> str:
    """A manager of Acme with two live logins and an API token; the workspace slug."""
    with session_scope(engine) as s:
        ws = workspaces.create_workspace(session=s, name="Acme Bikes", timezone="Europe/Warsaw")
        admin = users.create_user(session=s, email="admin@acme.test", password="a" * 12)
        users.add_member(session=s, workspace=ws, user=admin, role=Role.admin)
        user = users.create_user(session=s, email="manager@acme.test", password="x" * 12)
        users.add_member(session=s, workspace=ws, user=user, role=Role.manager)
        for _ in range(2):
            sessions.start(session=s, user_id=user.id, now=utcnow())
        return ws.slug


def _user(s) -> User:
    return s.exec(select(User).where(User.email == "manager@acme.test")).one()


def test_createuser_existing_with_password_changes_it_and_ends_logins(logged_in):
    r = runner.invoke(main.app, ["createuser", "manager@acme.test", "--workspace", logged_in,
                                 "--role", "manager", "--password", "new-password-1"], env=ENV)
    assert r.exit_code == 0, r.output
    assert "Password changed" in r.output
    with session_scope() as s:
        assert users.authenticate(session=s, email="manager@acme.test",
                                  password="new-password-1") is not None
        assert users.authenticate(session=s, email="manager@acme.test",
                                  password="x" * 12) is None
        assert sessions.live_count(session=s, user_id=_user(s).id) == 0


def test_deactivate_ends_logins_and_tokens_then_reactivate(logged_in):
    with session_scope() as s:
        secret = users.issue_api_token(session=s, user=_user(s), name="t").secret
    r = runner.invoke(main.app, ["deactivate", "manager@acme.test"], env=ENV)
    assert r.exit_code == 0, r.output
    with session_scope() as s:
        assert sessions.live_count(session=s, user_id=_user(s).id) == 0
        assert users.user_for_token(session=s, secret=secret) is None
        assert users.authenticate(session=s, email="manager@acme.test",
                                  password="x" * 12) is None
    r = runner.invoke(main.app, ["deactivate", "manager@acme.test", "--reactivate"], env=ENV)
    assert r.exit_code == 0
    with session_scope() as s:
        assert users.authenticate(session=s, email="manager@acme.test",
                                  password="x" * 12) is not None


def test_remove_member_but_never_the_last_admin(logged_in):
    r = runner.invoke(main.app, ["remove-member", "manager@acme.test", "--workspace",
                                 logged_in], env=ENV)
    assert r.exit_code == 0, r.output
    r = runner.invoke(main.app, ["remove-member", "admin@acme.test", "--workspace",
                                 logged_in], env=ENV)
    assert r.exit_code == 2 and "last admin" in r.output
    with session_scope() as s:
        assert len(s.exec(select(Membership)).all()) == 1
