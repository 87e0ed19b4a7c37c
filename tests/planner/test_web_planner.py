"""Calendar, composer and review pages through real HTTP forms."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select
from webhelpers import page_csrf

from planner.db import session_scope
from planner.models import Post, PostStatus


def _future_local(days=10, hour=9):
    local = (datetime.now(UTC) + timedelta(days=days)).astimezone(ZoneInfo("Europe/Warsaw"))
    return local.replace(hour=hour, minute=30).strftime("%Y-%m-%dT%H:%M")


def compose(c, world, **extra):
    token = page_csrf(c, f"/w/{world.slug}/posts/new")
    data = {"csrf_token": token, "text": "How to fix a flat tyre in five steps",
            "account_ids": [str(world.account_id)], "tags": ["learn"], "when": "time",
            "scheduled_local": _future_local(), "action": "submit", **extra}
    return c.post(f"/w/{world.slug}/posts", data=data, follow_redirects=False)


class TestComposer:
    def test_submit_creates_a_post_in_review(self, world, make_client):
        c = make_client("manager@acme.test")
        r = compose(c, world)
        assert r.status_code == 303
        with session_scope() as s:
            post = s.exec(select(Post)).one()
            assert post.status == PostStatus.in_review and post.tags == "learn"

    def test_bad_input_rerenders_with_error_at_field_and_keeps_text(self, world, make_client):
        c = make_client("manager@acme.test")
        r = compose(c, world, scheduled_local="2027-03-28T02:30",
                    text="Keep <b>this</b> text")
        assert r.status_code == 422
        assert "does not exist" in r.text and 'aria-invalid="true"' in r.text
        assert "Keep &lt;b&gt;this&lt;/b&gt; text" in r.text  # kept, and escaped
        with session_scope() as s:
            assert s.exec(select(Post)).first() is None  # nothing half-written

    def test_ambiguous_time_offers_the_two_choices(self, world, make_client):
        c = make_client("manager@acme.test")
        r = compose(c, world, scheduled_local="2026-10-25T02:30")
        assert r.status_code == 422 and 'name="fold"' in r.text and "happens twice" in r.text

    def test_image_upload_is_type_checked(self, world, make_client):
        c = make_client("manager@acme.test")
        token = page_csrf(c, f"/w/{world.slug}/posts/new")
        r = c.post(f"/w/{world.slug}/posts", data={
            "csrf_token": token, "text": "pic", "account_ids": [str(world.account_id)],
            "when": "time", "action": "draft"},
            files={"media": ("evil.png", b"#!/bin/sh\necho hi", "image/png")})
        assert r.status_code == 422 and "is not a PNG, JPEG, GIF or WebP" in r.text
        png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
        r = c.post(f"/w/{world.slug}/posts", data={
            "csrf_token": token, "text": "pic", "account_ids": [str(world.account_id)],
            "when": "time", "action": "draft"}, files={"media": ("ok.png", png, "image/png")},
                   follow_redirects=False)
        assert r.status_code == 303
        with session_scope() as s:
            assert s.exec(select(Post)).one().media_mime == "image/png"

    def test_live_counters_follow_platform_rules(self, world, make_client):
        c = make_client("manager@acme.test")
        token = page_csrf(c, f"/w/{world.slug}/posts/new")
        r = c.post(f"/w/{world.slug}/compose/preview", headers={"HX-Request": "true",
                                                                 "X-CSRF-Token": token},
                   data={"text": "x" * 510, "account_ids": [str(world.account_id)]})
        assert r.status_code == 200 and "510 / 500" in r.text and "over" in r.text

    def test_viewer_cannot_open_composer(self, world, make_client):
        c = make_client("viewer@acme.test")
        assert c.get(f"/w/{world.slug}/posts/new").status_code == 403


class TestReviewAndCalendar:
    def test_lead_approves_inline_and_calendar_shows_it(self, world, make_client):
        compose(make_client("manager@acme.test"), world)
        lead = make_client("lead@acme.test")
        page = lead.get(f"/w/{world.slug}/review")
        assert "How to fix a flat tyre" in page.text and "Approve" in page.text
        with session_scope() as s:
            post = s.exec(select(Post)).one()
        r = lead.post(f"/w/{world.slug}/posts/{post.id}/approve",
                      data={"version": post.version, "return_to": "review"},
                      headers={"HX-Request": "true", "X-CSRF-Token": page_csrf(
                          lead, f"/w/{world.slug}/review")})
        assert r.status_code == 200 and "Approved" in r.text and "<html" not in r.text
        local = post.scheduled_at.astimezone(ZoneInfo("Europe/Warsaw"))
        cal = lead.get(f"/w/{world.slug}/calendar?date={local.date()}")
        assert "pub-" in cal.text and local.strftime("%H:%M") in cal.text
        assert "scheduled" in cal.text

    def test_conflicting_approve_is_a_clear_409(self, world, make_client):
        compose(make_client("manager@acme.test"), world)
        lead = make_client("lead@acme.test")
        token = page_csrf(lead, f"/w/{world.slug}/review")
        with session_scope() as s:
            post = s.exec(select(Post)).one()
        r = lead.post(f"/w/{world.slug}/posts/{post.id}/approve",
                      data={"version": post.version - 1, "csrf_token": token})
        assert r.status_code == 409 and "Someone else changed this post" in r.text

    def test_move_to_another_day_goes_back_to_review(self, world, make_client):
        manager = make_client("manager@acme.test")
        compose(manager, world)
        with session_scope() as s:
            post = s.exec(select(Post)).one()
        lead = make_client("lead@acme.test")
        lead.post(f"/w/{world.slug}/posts/{post.id}/approve",
                  data={"version": post.version,
                        "csrf_token": page_csrf(lead, f"/w/{world.slug}/review")})
        new_day = (post.scheduled_at + timedelta(days=2)).astimezone(
            ZoneInfo("Europe/Warsaw")).date()
        r = manager.post(f"/w/{world.slug}/posts/{post.id}/move",
                         data={"version": post.version + 1, "date": str(new_day),
                               "csrf_token": page_csrf(manager, f"/w/{world.slug}/calendar")},
                         follow_redirects=False)
        assert r.status_code == 303
        with session_scope() as s:
            moved = s.get(Post, post.id)
            assert moved.status == PostStatus.in_review
            assert moved.scheduled_local == f"{new_day}T{post.scheduled_local[11:]}"

    def test_calendar_views_filters_and_more_link(self, world, make_client, engine):
        from planner import posts
        from planner.models import Role, Workspace

        with session_scope(engine) as s:
            actor = posts.Actor(user_id=world.admin_id, role=Role.admin,
                                workspace=s.get(Workspace, world.workspace_id))
            for i in range(7):
                posts.create_post(session=s, actor=actor, now=datetime.now(UTC),
                                  data=posts.PostInput(
                                      text=f"Post number {i}", account_ids=[world.account_id],
                                      tags=["try" if i % 2 else "care"],
                                      scheduled_local=f"2026-12-03T{9 + i:02d}:00"))
        c = make_client("viewer@acme.test")
        month = c.get(f"/w/{world.slug}/calendar?date=2026-12-01")
        assert "December 2026" in month.text and "+3 more" in month.text
        week = c.get(f"/w/{world.slug}/calendar?view=week&date=2026-12-03")
        assert week.text.count('class="card-pub') == 7
        only_try = c.get(f"/w/{world.slug}/calendar?view=list&date=2026-12-01&quadrant=try")
        assert "Post number 1" in only_try.text and "Post number 0" not in only_try.text
        partial = c.get(f"/w/{world.slug}/calendar?date=2026-12-01",
                        headers={"HX-Request": "true"})
        assert "<html" not in partial.text and 'id="calendar"' in partial.text
        csv = c.get(f"/w/{world.slug}/calendar.csv?date=2026-12-01")
        assert csv.headers["content-type"].startswith("text/csv")
        assert csv.text.count("Post number") == 7
        assert "+ new post here" not in month.text  # viewers cannot create
        over = make_client("manager@acme.test").get(f"/w/{world.slug}/calendar?date=2026-12-01")
        assert "over daily cap" in over.text and "+ new post here" in over.text

    def test_viewer_zone_is_labelled(self, world, make_client, engine):
        from planner import posts
        from planner.models import Role, Workspace

        with session_scope(engine) as s:
            actor = posts.Actor(user_id=world.admin_id, role=Role.admin,
                                workspace=s.get(Workspace, world.workspace_id))
            posts.create_post(session=s, actor=actor, now=datetime.now(UTC),
                              data=posts.PostInput(text="tz", account_ids=[world.account_id],
                                                   scheduled_local="2026-12-03T09:00"))
        c = make_client("viewer@acme.test")
        c.cookies.set("viewer_tz", "America/New_York")
        r = c.get(f"/w/{world.slug}/calendar?date=2026-12-01")
        assert "your time, America/New_York" in r.text and "03:00" in r.text


def test_import_form_all_or_nothing(world, make_client):
    c = make_client("manager@acme.test")
    token = page_csrf(c, f"/w/{world.slug}/import")
    bad = b"local_time,accounts,text\n2026-12-01 09:00,@nobody,x\n"
    r = c.post(f"/w/{world.slug}/import", data={"csrf_token": token},
               files={"file": ("cal.csv", bad, "text/csv")})
    assert r.status_code == 422 and "Line 2" in r.text and "@nobody" in r.text
    good = b"local_time,accounts,text\n2026-12-01 09:00,@acme@bikes.social,Imported\n"
    r = c.post(f"/w/{world.slug}/import", data={"csrf_token": token},
               files={"file": ("cal.csv", good, "text/csv")})
    assert r.status_code == 200 and "Imported 1 posts" in r.text


def test_quadrant_colours_have_one_source():
    """The stylesheet, calendar cards and compass charts use the compass model's colours."""
    from pathlib import Path

    from compass import QUADRANTS_ORDER

    css = (Path(__file__).resolve().parents[2] / "static/css/app.css").read_text()
    for quadrant in QUADRANTS_ORDER:
        assert f"--q-{quadrant.value}: {quadrant.colour}" in css


def test_ical_feed_behind_secret_url(world, make_client, engine):
    from planner.models import Workspace

    with session_scope(engine) as s:
        secret = s.get(Workspace, world.workspace_id).feed_secret
    c = make_client()
    r = c.get(f"/feeds/{secret}.ics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    assert "BEGIN:VCALENDAR" in r.text
    assert c.get("/feeds/wrong-secret-but-long-enough-xx.ics").status_code == 404
    page = make_client("manager@acme.test").get(f"/w/{world.slug}/calendar")
    assert f"/feeds/{secret}.ics" in page.text
    assert f"/feeds/{secret}.ics" not in make_client("viewer@acme.test").get(
        f"/w/{world.slug}/calendar").text


def test_composer_warns_over_daily_cap(world, make_client, engine):
    from planner import posts
    from planner.models import Role, Workspace

    with session_scope(engine) as s:
        actor = posts.Actor(user_id=world.admin_id, role=Role.admin,
                            workspace=s.get(Workspace, world.workspace_id))
        for hour in (8, 12, 16):  # the default cap is 3 a day
            posts.create_post(session=s, actor=actor, now=datetime.now(UTC),
                              data=posts.PostInput(text="x", account_ids=[world.account_id],
                                                   scheduled_local=f"2026-12-09T{hour:02d}:00"))
    c = make_client("manager@acme.test")
    token = page_csrf(c, f"/w/{world.slug}/posts/new")
    r = c.post(f"/w/{world.slug}/compose/preview", headers={"X-CSRF-Token": token},
               data={"text": "one more", "account_ids": [str(world.account_id)],
                     "when": "time", "scheduled_local": "2026-12-09T19:00"})
    assert "already has 3 post(s) on Wed 09 Dec; the daily cap is 3" in r.text
    r = c.post(f"/w/{world.slug}/compose/preview", headers={"X-CSRF-Token": token},
               data={"text": "other day", "account_ids": [str(world.account_id)],
                     "when": "time", "scheduled_local": "2026-12-10T19:00"})
    assert "daily cap" not in r.text
