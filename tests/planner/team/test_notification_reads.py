"""A notification addressed to the whole workspace is read by each person for themselves
(issue 13): one member marking it read used to mark it read for everybody."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlmodel import select
from webhelpers import csrf_from

from planner.db import session_scope
from planner.models import Notification, NotificationRead, User
from planner.team import notifications

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)


def _uid(s, email):
    return s.exec(select(User).where(User.email == email)).one().id


def _shared(engine, world) -> int:
    with session_scope(engine) as s:
        n = Notification(workspace_id=world.workspace_id, user_id=None,
                         text="Acme's X account needs reconnecting")
        s.add(n)
        s.flush()
        return n.id


def test_two_people_read_a_workspace_wide_notification_each_for_themselves(world, engine):
    nid = _shared(engine, world)
    with session_scope(engine) as s:
        viewer, manager = _uid(s, "viewer@acme.test"), _uid(s, "manager@acme.test")
        notifications.mark_read(session=s, workspace_id=world.workspace_id, user_id=viewer,
                                notification_id=nid, now=NOW)
        notifications.mark_read(session=s, workspace_id=world.workspace_id, user_id=viewer,
                                notification_id=nid, now=NOW)  # again: nothing new
    with session_scope(engine) as s:
        assert notifications.unread_count(session=s, workspace_id=world.workspace_id,
                                          user_id=viewer) == 0
        assert notifications.unread_count(session=s, workspace_id=world.workspace_id,
                                          user_id=manager) == 1
        [seen_by_viewer] = notifications.notifications_for(
            session=s, workspace_id=world.workspace_id, user_id=viewer)
        [seen_by_manager] = notifications.notifications_for(
            session=s, workspace_id=world.workspace_id, user_id=manager, unread_only=True)
        assert seen_by_viewer.read_at is not None and seen_by_manager.read_at is None
        assert s.get(Notification, nid).read_at is None  # the shared row is untouched
        assert len(s.exec(select(NotificationRead)).all()) == 1
        assert notifications.mark_all_read(session=s, workspace_id=world.workspace_id,
                                           user_id=manager, now=NOW) == 1
    with session_scope(engine) as s:
        assert notifications.unread_count(session=s, workspace_id=world.workspace_id,
                                          user_id=manager) == 0
        assert notifications.mark_all_read(session=s, workspace_id=world.workspace_id,
                                           user_id=manager, now=NOW) == 0


def test_on_the_page_one_reading_leaves_it_unread_for_the_other(world, engine, make_client):
    nid = _shared(engine, world)
    viewer, manager = make_client("viewer@acme.test"), make_client("manager@acme.test")
    page = viewer.get(f"/w/{world.slug}/notifications").text
    assert f'id="notification-{nid}"' in page
    r = viewer.post(f"/w/{world.slug}/notifications/{nid}/read",
                    data={"csrf_token": csrf_from(page)}, follow_redirects=False)
    assert r.status_code == 303
    mine = viewer.get(f"/w/{world.slug}/notifications").text
    assert "(read)" in mine
    theirs = manager.get(f"/w/{world.slug}/notifications").text
    item = re.search(rf'<li id="notification-{nid}" class="notification (\w+)', theirs)
    assert item and item.group(1) == "unread" and "(read)" not in theirs
