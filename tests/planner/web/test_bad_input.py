"""Bad input is a 4xx with words, never a 5xx (each case was a 500 once)."""

from __future__ import annotations

import pytest
from sqlmodel import select
from webhelpers import login

from planner.db import session_scope
from planner.models import User
from planner.team import users


@pytest.fixture
def api(world, client):
    with session_scope() as s:
        user = s.exec(select(User).where(User.email == "admin@acme.test")).one()
        secret = users.issue_api_token(session=s, user=user, name="t").secret

    def call(method, path, **kw):
        return client.request(method, f"/api/v1{path}",
                              headers={"Authorization": f"Bearer {secret}"}, **kw)
    return call


HUGE = 2**63 + 5


def test_ids_above_2_63(api, world):
    for path in (f"/workspaces/{HUGE}", f"/workspaces/{world.workspace_id}/posts/{HUGE}",
                 f"/workspaces/{world.workspace_id}/accounts/{HUGE}/balance"):
        r = api("GET", path)
        assert 400 <= r.status_code < 500, (path, r.status_code)


def test_negative_limit_does_not_lift_the_cap(api, world):
    r = api("GET", f"/workspaces/{world.workspace_id}/posts", params={"limit": -1})
    assert r.status_code == 422


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_calendar_at_the_ends_of_time(api, world, day):
    r = api("GET", f"/workspaces/{world.workspace_id}/calendar", params={"start": day})
    assert r.status_code < 500


def test_a_5000_character_time_zone(api, world, client):
    r = api("PATCH", f"/workspaces/{world.workspace_id}", json={"timezone": "A" * 5000})
    assert r.status_code == 422 and "A" * 100 not in r.text
    login(client, "admin@acme.test")
    client.cookies.set("viewer_tz", "B" * 5000)
    assert client.get(f"/w/{world.slug}/calendar").status_code == 200


def test_a_workspace_name_with_a_newline_keeps_the_feed_valid(api, world, client):
    r = api("PATCH", f"/workspaces/{world.workspace_id}", json={"name": "Acme\nX-INJECT:1"})
    assert r.status_code == 200 and r.json()["name"] == "Acme X-INJECT:1"
