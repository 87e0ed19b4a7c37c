"""The weekly queue-slot grid: one-slot add/remove (service, form, htmx, API), who may edit,
the best times Insight found marked in the grid, and slots added there driving the queue."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time

import pytest
from sqlmodel import select
from webhelpers import page_csrf

from planner.db import session_scope
from planner.insight import history
from planner.models import Account, AuditEvent, QueueSlot, User, Workspace
from planner.posts import schedule, slotgrid
from planner.team import users


def _slots(account_id: int) -> list[str]:
    with session_scope() as s:
        return [s_.label for s_ in schedule.slots_of(session=s, account_id=account_id)]


def _grid(world) -> str:
    return f"/w/{world.slug}/accounts/{world.account_id}/slots"


class TestService:
    def test_add_and_remove_one_slot_keeps_the_others_and_is_idempotent(self, world):
        with session_scope() as s:
            account = s.get(Account, world.account_id)
            schedule.set_slots(session=s, account=account, slots=[(0, "09:00")], actor_id=None)
            schedule.add_slot(session=s, account=account, weekday=2, at="18:30",
                              actor_id=world.admin_id)
            again = schedule.add_slot(session=s, account=account, weekday=2, at="18:30",
                                      actor_id=world.admin_id)
            assert [x.label for x in again] == ["Mon 09:00", "Wed 18:30"]
            schedule.remove_slot(session=s, account=account, weekday=0, at="09:00",
                                 actor_id=world.admin_id)
            left = schedule.remove_slot(session=s, account=account, weekday=0, at="09:00",
                                        actor_id=world.admin_id)
            assert [x.label for x in left] == ["Wed 18:30"]
            actions = [e.action for e in s.exec(select(AuditEvent).where(
                AuditEvent.entity == "account")).all()]
            # Each change is audited; a no-op (already there / already gone) is not.
            assert actions.count("queue.slots_set") == 3

    @pytest.mark.parametrize(("weekday", "at", "field"), [
        (7, "09:00", "weekday"), (-1, "09:00", "weekday"), (1, "25:00", "local_time"),
        (1, "nine", "local_time")])
    def test_bad_slot_is_refused_at_its_field(self, world, weekday, at, field):
        from planner.errors import Invalid

        with session_scope() as s:
            account = s.get(Account, world.account_id)
            with pytest.raises(Invalid) as caught:
                schedule.add_slot(session=s, account=account, weekday=weekday, at=at,
                                  actor_id=None)
        assert caught.value.problems[0].field == field

    def test_grid_places_on_the_hour_and_other_minutes(self):
        slots = [schedule.Slot(1, time(9, 0)), schedule.Slot(1, time(9, 45)),
                 schedule.Slot(6, time(23, 0))]
        rows = slotgrid.week_grid(slots)
        assert len(rows) == 24 and all(len(r.cells) == 7 for r in rows)
        tue_nine = rows[9].cells[1]
        assert tue_nine.on and tue_nine.others == ("09:45",)
        assert rows[23].cells[6].on and not rows[23].cells[5].on
        assert sum(c.on for r in rows for c in r.cells) == 2

    def test_no_metrics_says_not_enough_data(self, world):
        with session_scope() as s:
            best = slotgrid.best_times_for(session=s, workspace=s.get(
                Workspace, world.workspace_id), account=s.get(Account, world.account_id))
        assert best.status == "not_enough_data" and not best.marks
        assert best.message.startswith("Best times: not enough data yet (0 posts")


@pytest.fixture
def saturdays(world):
    """A quarter of history on the account in which Saturday posts do three times as well."""
    with session_scope() as s:
        account = s.get(Account, world.account_id)
        history.seed_history(session=s, workspace_id=world.workspace_id, accounts=[account],
                             end=datetime.now(UTC), days=91, posts_per_day=3,
                             weekday_effects={("mastodon", 5): 3.0}, readings=False, seed=5)
    return world


class TestBestTimes:
    def test_the_planted_weekday_is_marked_in_the_grid(self, saturdays):
        with session_scope() as s:
            best = slotgrid.best_times_for(session=s, workspace=s.get(
                Workspace, saturdays.workspace_id), account=s.get(Account, saturdays.account_id))
        good = best.good()
        assert good and all(m.weekday == 5 for m in good)  # Saturday and only Saturday
        assert all(m.low > 1 for m in good)
        assert good[0].text.startswith("often does well: +") and good[0].text.endswith(" posts")
        rows = slotgrid.week_grid([], best)
        marked = {(c.weekday, r.hour) for r in rows for c in r.cells if c.best and c.best.good}
        assert marked and {d for d, _ in marked} == {5}

    def test_page_shows_marks_and_one_click_add(self, saturdays, make_client):
        c = make_client("manager@acme.test")
        page = c.get(_grid(saturdays))
        assert page.status_code == 200 and 'data-best-status="found"' in page.text
        assert "often does well: +" in page.text
        button = re.search(r'<button type="submit" name="add" value="(5 \d\d:00)">Add Sat',
                           page.text)
        assert button
        r = c.post(_grid(saturdays) + "/grid", data={
            "csrf_token": page_csrf(c, _grid(saturdays)), "add": button.group(1)},
            headers={"HX-Request": "true"})
        assert r.status_code == 200 and 'id="slot-grid"' in r.text
        assert _slots(saturdays.account_id) == [f"Sat {button.group(1)[2:]}"]


    def test_the_grid_matches_the_report_and_reads_only_its_account(self, saturdays,
                                                                    make_client):
        """The grid computes one account's best times, not the workspace's whole report (it
        asks on every click), with the report's numbers."""
        from sqlalchemy import event

        from planner import accounts, insight
        from planner.db import get_engine

        with session_scope() as s:
            workspace = s.get(Workspace, saturdays.workspace_id)
            other = accounts.create_account(session=s, workspace_id=saturdays.workspace_id,
                                            platform="bluesky", handle="acme.bsky.social")
            history.seed_history(session=s, workspace_id=saturdays.workspace_id,
                                 accounts=[other], end=datetime.now(UTC), days=91,
                                 posts_per_day=2, readings=False, seed=6)
        with session_scope() as s:
            workspace = s.get(Workspace, saturdays.workspace_id)
            whole = insight.report(session=s, workspace=workspace, with_sales=False)
            for row in whole.accounts:
                one = insight.account_best_times(session=s, workspace=workspace,
                                                 account_id=int(row.key), end=whole.end)
                # The same cells; the database may add the sums up in another order.
                assert [(c.weekday, c.block, c.n) for c in one.cells] == [
                    (c.weekday, c.block, c.n) for c in whole.best[row.key]]
                assert [x for c in one.cells for x in (c.ratio, c.low, c.high)] == \
                    pytest.approx([x for c in whole.best[row.key]
                                   for x in (c.ratio, c.low, c.high)])
                assert one.posts == row.posts
                assert one.unavailable == row.unavailable
        c = make_client("manager@acme.test")
        token = page_csrf(c, _grid(saturdays))
        statements: list[str] = []

        def seen(conn, cursor, statement, *rest) -> None:  # noqa: ANN001
            statements.append(statement)

        engine = get_engine()
        event.listen(engine, "before_cursor_execute", seen)
        try:
            r = c.post(_grid(saturdays) + "/grid", data={"csrf_token": token, "add": "5 09:00"},
                       headers={"HX-Request": "true"})
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        assert r.status_code == 200 and 'data-best-status="found"' in r.text
        metrics = [q for q in statements if "metriccollection" in q]
        assert metrics and all("mc.account_id = " in q for q in metrics), metrics
        assert not any("touchpoint" in q.lower() for q in statements)  # no sales either


class TestRoutes:
    def test_click_adds_then_removes_without_js(self, world, make_client):
        c = make_client("manager@acme.test")
        token = page_csrf(c, _grid(world))
        r = c.post(_grid(world) + "/grid", data={"csrf_token": token, "add": "0 09:00"},
                   follow_redirects=False)
        assert r.status_code == 303 and "notice=Added+Mon+09%3A00" in r.headers["location"]
        page = c.get(r.headers["location"]).text
        assert 'name="remove" value="0 09:00" aria-pressed="true"' in page
        assert _slots(world.account_id) == ["Mon 09:00"]
        r = c.post(_grid(world) + "/grid", data={"csrf_token": token, "remove": "0 09:00"},
                   follow_redirects=False)
        assert r.status_code == 303 and _slots(world.account_id) == []

    def test_exact_time_and_its_error_at_the_field(self, world, make_client):
        c = make_client("manager@acme.test")
        token = page_csrf(c, _grid(world))
        r = c.post(_grid(world) + "/grid", headers={"HX-Request": "true"}, data={
            "csrf_token": token, "weekday": "4", "local_time": "17:45"})
        assert r.status_code == 200 and "Added Fri 17:45." in r.text
        assert 'value="4 17:45" aria-label="Remove Fri 17:45"' in r.text  # inside 17:00 cell
        bad = c.post(_grid(world) + "/grid", headers={"HX-Request": "true"}, data={
            "csrf_token": token, "weekday": "4", "local_time": "<b>7pm</b>"})
        assert bad.status_code == 422
        assert 'id="local-time-error"' in bad.text and 'aria-invalid="true"' in bad.text
        assert "<b>7pm</b>" not in bad.text  # escaped
        assert _slots(world.account_id) == ["Fri 17:45"]

    def test_csrf_is_required(self, world, make_client):
        c = make_client("manager@acme.test")
        c.get(_grid(world))
        r = c.post(_grid(world) + "/grid", data={"add": "0 09:00"})
        assert r.status_code == 403 and _slots(world.account_id) == []

    def test_viewer_sees_the_grid_but_cannot_edit(self, world, make_client):
        with session_scope() as s:
            schedule.set_slots(session=s, account=s.get(Account, world.account_id),
                               slots=[(2, "12:00")], actor_id=None)
        c = make_client("viewer@acme.test")
        page = c.get(_grid(world))
        assert page.status_code == 200 and "Managers and above can change them" in page.text
        assert 'name="add"' not in page.text and "\u2713 12:00" in page.text
        r = c.post(_grid(world) + "/grid", data={"csrf_token": page_csrf(c, _grid(world)),
                                                "remove": "2 12:00"})
        assert r.status_code == 403 and _slots(world.account_id) == ["Wed 12:00"]

    def test_other_workspace_account_is_not_found(self, world, make_client):
        c = make_client("manager@acme.test")
        assert c.get(f"/w/{world.slug}/accounts/{world.other_account_id}/slots"
                     ).status_code == 404

    def test_slot_added_in_grid_drives_add_to_queue(self, world, make_client):
        c = make_client("manager@acme.test")
        c.post(_grid(world) + "/grid", data={"csrf_token": page_csrf(c, _grid(world)),
                                             "add": "3 10:00"})
        token = page_csrf(c, f"/w/{world.slug}/posts/new")
        r = c.post(f"/w/{world.slug}/posts", data={
            "csrf_token": token, "text": "Queue me", "account_ids": [str(world.account_id)],
            "tags": ["learn"], "when": "queue", "action": "draft"}, follow_redirects=False)
        assert r.status_code == 303
        from planner.models import Post

        with session_scope() as s:
            post = s.exec(select(Post)).one()
            local = schedule.to_local(post.scheduled_at, "Europe/Warsaw")
        assert local.weekday() == 3 and (local.hour, local.minute) == (10, 0)


def _token(email: str) -> str:
    with session_scope() as s:
        user = s.exec(select(User).where(User.email == email)).one()
        return users.issue_api_token(session=s, user=user, name="t").secret


class TestApi:
    def test_add_and_delete_one_slot(self, world, client):
        base = f"/api/v1/workspaces/{world.workspace_id}/accounts/{world.account_id}/slots"
        auth = {"Authorization": f"Bearer {_token('manager@acme.test')}"}
        r = client.post(base, json={"weekday": 1, "local_time": "08:15"}, headers=auth)
        assert r.status_code == 200 and r.json() == [{"weekday": 1, "local_time": "08:15"}]
        r = client.post(base, json={"weekday": 1, "local_time": "8:99"}, headers=auth)
        assert r.status_code == 422 and r.json()["errors"][0]["field"].endswith("local_time")
        assert client.get(base, headers=auth).json() == [{"weekday": 1, "local_time": "08:15"}]
        r = client.delete(f"{base}/1/08:15", headers=auth)
        assert r.status_code == 200 and r.json() == []
        with session_scope() as s:
            assert s.exec(select(QueueSlot)).first() is None

    def test_viewer_token_cannot_change_slots(self, world, client):
        base = f"/api/v1/workspaces/{world.workspace_id}/accounts/{world.account_id}/slots"
        auth = {"Authorization": f"Bearer {_token('viewer@acme.test')}"}
        assert client.post(base, json={"weekday": 1, "local_time": "08:15"},
                           headers=auth).status_code == 403
        assert client.delete(f"{base}/1/08:15", headers=auth).status_code == 403
