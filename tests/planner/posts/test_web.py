"""Calendar, composer and review pages through real HTTP forms."""

import re
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select
from webhelpers import csrf_from, page_csrf

from planner.db import session_scope
from planner.models import Post, PostStatus, Role

# The calendar tests fill December 2026; posts are written "before" it, as a person would
# (a time that has passed is refused at save).
BEFORE_DECEMBER = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


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
                posts.create_post(session=s, actor=actor, now=BEFORE_DECEMBER,
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
            posts.create_post(session=s, actor=actor, now=BEFORE_DECEMBER,
                              data=posts.PostInput(text="tz", account_ids=[world.account_id],
                                                   scheduled_local="2026-12-03T09:00"))
        c = make_client("viewer@acme.test")
        c.cookies.set("viewer_tz", "America/New_York")
        r = c.get(f"/w/{world.slug}/calendar?date=2026-12-01")
        assert "your time, America/New_York" in r.text and "03:00" in r.text


def test_import_form_all_or_nothing(world, make_client):
    c = make_client("manager@acme.test")
    token = page_csrf(c, f"/w/{world.slug}/import")
    bad = b"local_time,accounts,text\n2027-12-01 09:00,@nobody,x\n"
    r = c.post(f"/w/{world.slug}/import", data={"csrf_token": token},
               files={"file": ("cal.csv", bad, "text/csv")})
    assert r.status_code == 422 and "Line 2" in r.text and "@nobody" in r.text
    good = b"local_time,accounts,text\n2027-12-01 09:00,@acme@bikes.social,Imported\n"
    r = c.post(f"/w/{world.slug}/import", data={"csrf_token": token},
               files={"file": ("cal.csv", good, "text/csv")})
    assert r.status_code == 200 and 'id="import-job"' in r.text  # the progress page
    for _ in range(300):  # written by the import's own thread; the page polls it
        if "Imported 1 posts" in r.text:
            break
        time.sleep(0.1)
        r = c.get(str(r.url), headers={"HX-Request": "true"})
    assert "Imported 1 posts" in r.text


def test_quadrant_colours_have_one_source():
    """The stylesheet, calendar cards and compass charts use the compass model's colours."""
    from pathlib import Path

    from compass import QUADRANTS_ORDER

    css = (Path(__file__).resolve().parents[3] / "static/css/app.css").read_text()
    for quadrant in QUADRANTS_ORDER:
        assert f"--q-{quadrant.value}: {quadrant.colour}" in css


def test_a_leaked_feed_address_can_be_replaced(world, make_client, engine):
    from planner.models import Workspace

    with session_scope(engine) as s:
        old = s.get(Workspace, world.workspace_id).feed_secret
    c = make_client("manager@acme.test")
    r = c.post(f"/w/{world.slug}/calendar/feed/rotate",
               data={"csrf_token": page_csrf(c, f"/w/{world.slug}/calendar")},
               follow_redirects=False)
    assert r.status_code == 303
    with session_scope(engine) as s:
        new = s.get(Workspace, world.workspace_id).feed_secret
    assert new != old
    assert c.get(f"/feeds/{old}.ics").status_code == 404
    assert c.get(f"/feeds/{new}.ics").status_code == 200
    viewer = make_client("viewer@acme.test")
    r = viewer.post(f"/w/{world.slug}/calendar/feed/rotate",
                    data={"csrf_token": page_csrf(viewer, f"/w/{world.slug}/calendar")})
    assert r.status_code == 403


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
            posts.create_post(session=s, actor=actor, now=BEFORE_DECEMBER,
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


# --- helpers for the tests below --------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _actor(s, world, role="admin"):
    from planner import posts
    from planner.models import Role, Workspace

    return posts.Actor(user_id=world.admin_id, role=Role(role),
                       workspace=s.get(Workspace, world.workspace_id))


def _second_account(world, engine, platform="bluesky", handle="acme.bsky.social"):
    from planner import accounts

    with session_scope(engine) as s:
        return accounts.create_account(session=s, workspace_id=world.workspace_id,
                                       platform=platform, handle=handle).id


def _media_files():
    from planner.settings import get_settings

    root = get_settings().media_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _pending_files():
    from planner.settings import get_settings

    root = get_settings().var_dir / "media-pending"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _form(c, world, **fields):
    token = page_csrf(c, f"/w/{world.slug}/posts/new")
    return {"csrf_token": token, "text": "Pic of the day", "account_ids": [str(world.account_id)],
            "when": "time", "scheduled_local": _future_local(), "action": "draft", **fields}


class TestComposerImage:
    def test_too_large_is_refused_and_nothing_is_stored(self, world, make_client, monkeypatch):
        from planner.settings import get_settings

        monkeypatch.setenv("POISE_MEDIA_MAX_BYTES", "1048576")
        get_settings.cache_clear()
        c = make_client("manager@acme.test")
        big = PNG + b"\x00" * (2 * 1024 * 1024)
        r = c.post(f"/w/{world.slug}/posts", data=_form(c, world),
                   files={"media": ("big.png", big, "image/png")})
        assert r.status_code == 422 and "the limit is 1 MB" in r.text
        assert 'aria-invalid="true"' in r.text
        assert _media_files() == [] and _pending_files() == []
        with session_scope() as s:
            assert s.exec(select(Post)).first() is None

    def test_a_failed_form_keeps_the_image_without_a_stray_file(self, world, make_client):
        c = make_client("manager@acme.test")
        r = c.post(f"/w/{world.slug}/posts",
                   data=_form(c, world, scheduled_local="2027-03-28T02:30"),
                   files={"media": ("ok.png", PNG, "image/png")})
        assert r.status_code == 422 and "does not exist" in r.text
        assert _media_files() == []  # nothing in the media directory for an unsaved form
        pending = re.search(r'name="pending_media" value="([0-9a-f]{32}\.png)"', r.text)
        assert pending, "the re-rendered form keeps the uploaded image"
        assert f"/w/{world.slug}/media/pending/{pending.group(1)}" in r.text  # shown
        assert c.get(f"/w/{world.slug}/media/pending/{pending.group(1)}").content == PNG
        r = c.post(f"/w/{world.slug}/posts", data=_form(c, world, pending_media=pending.group(1)),
                   follow_redirects=False)
        assert r.status_code == 303
        with session_scope() as s:
            post = s.exec(select(Post)).one()
            assert post.media_mime == "image/png"
            assert post.media_path == f"{world.workspace_id}/{pending.group(1)}"
        assert len(_media_files()) == 1 and _pending_files() == []

    def test_saved_image_shows_in_previews_and_stays_private(self, world, make_client):
        c = make_client("manager@acme.test")
        c.post(f"/w/{world.slug}/posts", data=_form(c, world),
               files={"media": ("ok.png", PNG, "image/png")})
        with session_scope() as s:
            post = s.exec(select(Post)).one()
        name = post.media_path.split("/")[-1]
        page = c.get(f"/w/{world.slug}/posts/{post.id}")
        assert page.text.count(f'src="/w/{world.slug}/media/{name}"') >= 2  # thumb + preview
        image = c.get(f"/w/{world.slug}/media/{name}")
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
        assert image.content == PNG
        stranger = make_client("admin@other.test")
        assert stranger.get(f"/w/{world.slug}/media/{name}").status_code == 404
        assert stranger.get(f"/w/{world.other_slug}/media/{name}").status_code == 404
        assert c.get(f"/w/{world.slug}/media/..%2Fsecret_key").status_code == 404
        # The live preview (htmx, while typing) shows it too.
        token = page_csrf(c, f"/w/{world.slug}/posts/{post.id}")
        r = c.post(f"/w/{world.slug}/compose/preview", headers={"X-CSRF-Token": token},
                   data={"text": "x", "account_ids": [str(world.account_id)],
                         "post_id": str(post.id)})
        assert f'class="preview-image" src="/w/{world.slug}/media/{name}"' in r.text

    def test_an_edit_that_fails_keeps_the_attached_image(self, world, make_client):
        c = make_client("manager@acme.test")
        c.post(f"/w/{world.slug}/posts", data=_form(c, world),
               files={"media": ("ok.png", PNG, "image/png")})
        with session_scope() as s:
            post = s.exec(select(Post)).one()
        r = c.post(f"/w/{world.slug}/posts/{post.id}",
                   data=_form(c, world, version=str(post.version), link="ftp://nope"))
        assert r.status_code == 422 and "Links must start" in r.text
        assert f'/w/{world.slug}/media/{post.media_path.split("/")[-1]}' in r.text
        with session_scope() as s:
            assert s.get(Post, post.id).media_path == post.media_path


def test_an_image_can_be_removed_from_a_post(world, make_client):
    c = make_client("manager@acme.test")
    c.post(f"/w/{world.slug}/posts", data=_form(c, world),
           files={"media": ("ok.png", PNG, "image/png")})
    with session_scope() as s:
        post = s.exec(select(Post)).one()
    assert 'name="remove_media"' in c.get(f"/w/{world.slug}/posts/{post.id}").text
    r = c.post(f"/w/{world.slug}/posts/{post.id}", follow_redirects=False,
               data=_form(c, world, version=str(post.version), remove_media="1"))
    assert r.status_code == 303
    with session_scope() as s:
        assert (s.get(Post, post.id).media_path, s.get(Post, post.id).media_mime) == ("", "")


class TestComposerVariantsAndPrompts:
    def test_per_account_variant_is_saved_and_previewed(self, world, make_client, engine):
        bsky = _second_account(world, engine)
        c = make_client("manager@acme.test")
        data = _form(c, world, account_ids=[str(world.account_id), str(bsky)],
                     **{f"variant_{bsky}": "Short for Bluesky"})
        r = c.post(f"/w/{world.slug}/posts", data=data, follow_redirects=False)
        assert r.status_code == 303
        with session_scope() as s:
            from planner.models import Publication

            variants = {p.account_id: p.text_variant for p in s.exec(select(Publication))}
            post = s.exec(select(Post)).one()
        assert variants == {world.account_id: None, bsky: "Short for Bluesky"}
        page = c.get(f"/w/{world.slug}/posts/{post.id}")
        previews = page.text.split('id="previews"', 1)[1]
        assert "Short for Bluesky" in previews and "Pic of the day" in previews
        assert "own text" in previews

    def test_template_fills_the_prompt_and_previews_the_call_to_action(self, world,
                                                                        make_client, engine):
        from planner.team import workspaces

        with session_scope(engine) as s:
            template = workspaces.create_prompt_template(
                session=s, workspace_id=world.workspace_id, role=Role.manager,
                actor_id=world.admin_id, now=BEFORE_DECEMBER,
                data=workspaces.PromptTemplateInput(
                    name="Test ride", keyword="RIDE", product_url="https://shop.test/ride",
                    prefill="RIDE please", call_to_action="DM us RIDE to book a test ride"))
            theirs = workspaces.create_prompt_template(
                session=s, workspace_id=world.other_workspace_id, role=Role.admin,
                actor_id=world.admin_id, now=BEFORE_DECEMBER,
                data=workspaces.PromptTemplateInput(name="Theirs", keyword="X",
                                                    product_url="https://x.test"))
        c = make_client("manager@acme.test")
        page = c.get(f"/w/{world.slug}/posts/new")
        assert f'<option value="{template.id}">Test ride (RIDE)</option>' in page.text
        r = c.get(f"/w/{world.slug}/compose/prompt?prompt_template={template.id}",
                  headers={"HX-Request": "true"})
        assert r.status_code == 200 and 'id="dm-prompt-fields"' in r.text
        assert 'value="RIDE"' in r.text and 'value="https://shop.test/ride"' in r.text
        assert 'value="DM us RIDE to book a test ride"' in r.text and "<html" not in r.text
        assert c.get(f"/w/{world.slug}/compose/prompt?prompt_template={theirs.id}"
                     ).status_code == 404
        assert c.get(f"/w/{world.slug}/compose/prompt?prompt_template=").status_code == 204
        token = page_csrf(c, f"/w/{world.slug}/posts/new")
        r = c.post(f"/w/{world.slug}/compose/preview", headers={"X-CSRF-Token": token},
                   data={"text": "New bikes are in", "account_ids": [str(world.account_id)],
                         "dm_keyword": "RIDE", "dm_product_url": "https://shop.test/ride",
                         "dm_call_to_action": "DM us RIDE to book a test ride"})
        assert "DM us RIDE to book a test ride" in r.text
        # The product link goes out as the tracked short link; before its code exists, a
        # placeholder of the same length stands in, so the count does not move later.
        assert "/r/xxxxxxxxx" in r.text and "utm_campaign" not in r.text
        r = c.post(f"/w/{world.slug}/posts", data=_form(
            c, world, dm_keyword="RIDE", dm_product_url="https://shop.test/ride",
            dm_call_to_action="DM us RIDE to book a test ride"), follow_redirects=False)
        assert r.status_code == 303
        with session_scope() as s:
            assert s.exec(select(Post)).one().dm_call_to_action == \
                "DM us RIDE to book a test ride"

    def test_add_to_queue_from_the_form_uses_a_slot_free_on_every_account(
            self, world, make_client, engine):
        from planner.models import Account
        from planner.posts import schedule

        bsky = _second_account(world, engine)
        with session_scope(engine) as s:
            for account_id in (world.account_id, bsky):
                schedule.set_slots(session=s, account=s.get(Account, account_id),
                                   slots=[(d, "07:45") for d in range(7)], actor_id=None)
        c = make_client("manager@acme.test")
        first = c.post(f"/w/{world.slug}/posts", data=_form(
            c, world, when="queue", account_ids=[str(bsky)]), follow_redirects=False)
        second = c.post(f"/w/{world.slug}/posts", data=_form(
            c, world, when="queue", account_ids=[str(world.account_id), str(bsky)]),
            follow_redirects=False)
        assert first.status_code == second.status_code == 303
        with session_scope() as s:
            solo, both = s.exec(select(Post).order_by(Post.id)).all()
        assert both.scheduled_at - solo.scheduled_at == timedelta(days=1)
        assert both.scheduled_local.endswith("T07:45")


class TestSettingsPage:
    def test_admin_changes_cap_zone_and_campaign(self, world, make_client, engine):
        from planner.models import Workspace

        c = make_client("admin@acme.test")
        token = page_csrf(c, f"/w/{world.slug}/settings")
        r = c.post(f"/w/{world.slug}/settings/workspace", headers={"HX-Request": "true"},
                   data={"csrf_token": token, "name": "Acme Bikes", "timezone": "Europe/Lisbon",
                         "daily_cap_per_account": "5", "utm_campaign": "winter-26"})
        assert r.status_code == 200 and "Settings saved" in r.text and "<html" not in r.text
        with session_scope(engine) as s:
            ws = s.get(Workspace, world.workspace_id)
            assert (ws.timezone, ws.daily_cap_per_account, ws.utm_campaign) == (
                "Europe/Lisbon", 5, "winter-26")

    def test_each_bad_value_is_shown_at_its_field(self, world, make_client, engine):
        from planner.models import Workspace

        c = make_client("admin@acme.test")
        token = page_csrf(c, f"/w/{world.slug}/settings")
        r = c.post(f"/w/{world.slug}/settings/workspace",
                   data={"csrf_token": token, "name": "Acme Bikes", "timezone": "Mars/Base",
                         "daily_cap_per_account": "99", "utm_campaign": "two words"})
        assert r.status_code == 422
        assert 'id="err-timezone"' in r.text and "Unknown time zone" in r.text
        assert 'id="err-cap"' in r.text and 'id="err-utm"' in r.text
        assert 'value="Mars/Base"' in r.text  # what was typed stays in the form
        with session_scope(engine) as s:
            assert s.get(Workspace, world.workspace_id).timezone == "Europe/Warsaw"

    def test_only_admins_change_settings(self, world, make_client):
        manager = make_client("manager@acme.test")
        page = manager.get(f"/w/{world.slug}/settings")
        assert "Only admins change these" in page.text
        assert 'action="/w/' + world.slug + '/settings/workspace"' not in page.text
        r = manager.post(f"/w/{world.slug}/settings/workspace",
                         data={"csrf_token": csrf_from(page.text), "name": "x",
                               "timezone": "UTC", "daily_cap_per_account": "1",
                               "utm_campaign": "x"})
        assert r.status_code == 403

    def test_the_cap_setting_drives_the_calendar_warning(self, world, make_client, engine):
        from planner import posts
        from planner.models import Workspace
        from planner.team import workspaces

        with session_scope(engine) as s:
            for hour in (8, 12):
                posts.create_post(session=s, actor=_actor(s, world), now=BEFORE_DECEMBER,
                                  data=posts.PostInput(text="x", account_ids=[world.account_id],
                                                       scheduled_local=f"2026-12-09T{hour:02d}:00"))
        c = make_client("viewer@acme.test")
        assert "over daily cap" not in c.get(f"/w/{world.slug}/calendar?date=2026-12-01").text
        with session_scope(engine) as s:
            workspaces.update_settings(session=s, workspace=s.get(Workspace, world.workspace_id),
                                       role=Role.admin, actor_id=world.admin_id,
                                       data=workspaces.WorkspaceSettingsInput(
                                           daily_cap_per_account=1))
        assert "over daily cap" in c.get(f"/w/{world.slug}/calendar?date=2026-12-01").text


class TestPromptTemplatesPage:
    FIELDS = {"name": "Glow serum", "keyword": "GLOW", "product_url": "https://shop.test/glow",
              "prefill": "", "call_to_action": ""}

    def test_manager_creates_edits_and_deletes(self, world, make_client, engine):
        from planner.models import PromptTemplate

        c = make_client("manager@acme.test")
        token = page_csrf(c, f"/w/{world.slug}/settings")
        r = c.post(f"/w/{world.slug}/settings/prompts", headers={"HX-Request": "true"},
                   data={"csrf_token": token, **self.FIELDS})
        assert r.status_code == 200 and "Saved “Glow serum”" in r.text
        assert 'id="prompt-templates"' in r.text and "<html" not in r.text
        with session_scope(engine) as s:
            template = s.exec(select(PromptTemplate)).one()
        r = c.post(f"/w/{world.slug}/settings/prompts/{template.id}",
                   data={"csrf_token": token, **self.FIELDS, "call_to_action": "DM us GLOW"})
        assert r.status_code == 200 and "DM us GLOW" in r.text
        r = c.post(f"/w/{world.slug}/settings/prompts/{template.id}/delete",
                   data={"csrf_token": token})
        assert r.status_code == 200 and "Template deleted" in r.text
        with session_scope(engine) as s:
            assert s.exec(select(PromptTemplate)).first() is None

    def test_errors_at_the_field_and_nothing_saved(self, world, make_client, engine):
        from planner.models import PromptTemplate

        c = make_client("manager@acme.test")
        token = page_csrf(c, f"/w/{world.slug}/settings")
        r = c.post(f"/w/{world.slug}/settings/prompts",
                   data={"csrf_token": token, **self.FIELDS, "keyword": "",
                         "product_url": "shop.test"})
        assert r.status_code == 422
        assert 'id="new-err-keyword"' in r.text and 'id="new-err-url"' in r.text
        assert 'value="Glow serum"' in r.text  # the typed name stays
        with session_scope(engine) as s:
            assert s.exec(select(PromptTemplate)).first() is None

    def test_csrf_and_roles(self, world, make_client):
        manager = make_client("manager@acme.test")
        manager.get(f"/w/{world.slug}/settings")
        assert manager.post(f"/w/{world.slug}/settings/prompts",
                            data=self.FIELDS).status_code == 403  # no CSRF token
        viewer = make_client("viewer@acme.test")
        page = viewer.get(f"/w/{world.slug}/settings")
        assert "No templates yet" in page.text and "New template" not in page.text
        r = viewer.post(f"/w/{world.slug}/settings/prompts",
                        data={"csrf_token": csrf_from(page.text), **self.FIELDS})
        assert r.status_code == 403


class TestCalendarCounts:
    def _post(self, s, world, when, account_ids=None, tags=("learn",), author=None):
        from planner import posts

        actor = _actor(s, world)
        if author is not None:
            actor = posts.Actor(user_id=author, role=actor.role, workspace=actor.workspace)
        return posts.create_post(session=s, actor=actor, now=BEFORE_DECEMBER,
                                 data=posts.PostInput(text=f"at {when}",
                                                      account_ids=account_ids or
                                                      [world.account_id], tags=list(tags),
                                                      scheduled_local=when))

    def test_cancelled_do_not_count_for_the_cap_or_more(self, world, engine):
        from planner import posts
        from planner.posts import calendar

        with session_scope(engine) as s:
            made = [self._post(s, world, f"2026-12-09T{h:02d}:00") for h in range(8, 14)]
            for post in made[:3]:
                posts.cancel(session=s, actor=_actor(s, world), post_id=post.id,
                             expected_version=1, now=BEFORE_DECEMBER)
            day = calendar.load_days(session=s, workspace_id=world.workspace_id,
                                     zone="Europe/Warsaw", start=date(2026, 12, 9), days=1)[0]
            assert day.total == 3 and day.more == 0 and len(day.cards) == 3
            assert day.per_account == {world.account_id: 3}
            assert calendar.over_cap([day], 3) == {}
            assert calendar.posts_on_local_day(session=s, account_id=world.account_id,
                                               zone="Europe/Warsaw", day=date(2026, 12, 9)) == 3
            cancelled = calendar.load_days(
                session=s, workspace_id=world.workspace_id, zone="Europe/Warsaw",
                start=date(2026, 12, 9), days=1,
                filters=calendar.Filters(status="cancelled"))[0]
            assert cancelled.total == 3 and {c.status for c in cancelled.cards} == {"cancelled"}

    def test_cap_counts_do_not_depend_on_filters(self, world, engine):
        from planner.posts import calendar

        with session_scope(engine) as s:
            for h in range(8, 12):
                self._post(s, world, f"2026-12-09T{h:02d}:00",
                           tags=("try",) if h == 8 else ("care",))
            day = calendar.load_days(session=s, workspace_id=world.workspace_id,
                                     zone="Europe/Warsaw", start=date(2026, 12, 9), days=1,
                                     filters=calendar.Filters(quadrant="try"))[0]
        assert day.total == 1 and len(day.cards) == 1
        assert day.per_account == {world.account_id: 4}
        assert calendar.over_cap([day], 3) == {date(2026, 12, 9): [world.account_id]}

    def test_calendar_page_warns_on_a_filtered_view(self, world, engine, make_client):
        with session_scope(engine) as s:
            for h in range(8, 12):
                self._post(s, world, f"2026-12-09T{h:02d}:00", tags=("care",))
        c = make_client("viewer@acme.test")
        r = c.get(f"/w/{world.slug}/calendar?date=2026-12-01&quadrant=try")
        assert "over daily cap" in r.text and 'class="card-pub' not in r.text

    def test_account_status_and_author_filters(self, world, engine, make_client):
        from planner import posts
        from planner.models import User

        bsky = _second_account(world, engine)
        with session_scope(engine) as s:
            manager_id = s.exec(select(User.id).where(User.email == "manager@acme.test")).one()
            self._post(s, world, "2026-12-03T09:00")
            self._post(s, world, "2026-12-04T09:00", account_ids=[bsky], author=manager_id)
            submitted = self._post(s, world, "2026-12-05T09:00")
            posts.submit_for_review(session=s, actor=_actor(s, world), post_id=submitted.id,
                                    expected_version=1, now=BEFORE_DECEMBER)
        c = make_client("viewer@acme.test")
        base = f"/w/{world.slug}/calendar?view=list&date=2026-12-01"

        def shown(query):
            return sorted(re.findall(r"at 2026-12-0(\d)T", c.get(f"{base}&{query}").text))

        assert shown("") == ["3", "4", "5"]
        assert shown(f"account={bsky}") == ["4"]
        assert shown(f"author={manager_id}") == ["4"]
        assert shown("status=in_review") == ["5"]
        assert shown("status=draft") == ["3", "4"]
        assert shown("status=bogus") == ["3", "4", "5"]  # an unknown status is ignored

    def test_month_view_issues_the_same_queries_for_30_or_300(self, world, engine,
                                                             make_client):
        from sqlalchemy import event

        from planner.models import Publication
        from planner.posts import calendar

        def fill(n):
            with session_scope(engine) as s:
                for i in range(n):
                    at = datetime(2026, 12, 1 + i % 28, 6 + i % 12, i % 60, tzinfo=UTC)
                    post = Post(workspace_id=world.workspace_id, text=f"bulk {i}", tags="care",
                                author_id=world.admin_id, scheduled_at=at)
                    s.add(post)
                    s.flush()
                    s.add(Publication(post_id=post.id, account_id=world.account_id,
                                      workspace_id=world.workspace_id, scheduled_at=at))

        def statements():
            seen = []
            listener = lambda *args: seen.append(args[2])  # noqa: E731
            event.listen(engine, "before_cursor_execute", listener)
            try:
                with session_scope(engine) as s:
                    view = calendar.month_view(session=s, workspace_id=world.workspace_id,
                                               zone="Europe/Warsaw", year=2026, month=12)
                    cards = sum(len(d.cards) for d in view.days)
                    _ = [(c.first_line, c.handle, c.tags) for d in view.days for c in d.cards]
                service = len(seen)
                page = viewer.get(f"/w/{world.slug}/calendar?date=2026-12-01")
                assert page.status_code == 200
            finally:
                event.remove(engine, "before_cursor_execute", listener)
            return service, len(seen) - service, cards, page.text.count('class="card-pub')

        viewer = make_client("viewer@acme.test")
        fill(30)
        few, few_page, few_cards, few_shown = statements()
        fill(270)
        many, many_page, many_cards, many_shown = statements()
        assert many_cards > few_cards and many_shown > few_shown  # more cards shown ...
        assert many == few <= 3  # ... and not one statement more in the service
        assert many_page == few_page  # nor for the whole page (auth, badges, filters)


class TestCalendarListAndCards:
    def test_list_view_pages_past_the_first_hundred(self, world, engine, make_client):
        from planner import posts

        with session_scope(engine) as s:
            actor = _actor(s, world)
            for i in range(130):
                posts.create_post(session=s, actor=actor, now=BEFORE_DECEMBER,
                                  data=posts.PostInput(
                                      text=f"Numbered {i:03d}", account_ids=[world.account_id],
                                      scheduled_local=f"2026-12-{1 + i // 10:02d}T"
                                                      f"{8 + i % 10:02d}:00"))
        c = make_client("viewer@acme.test")
        first = c.get(f"/w/{world.slug}/calendar?view=list&date=2026-12-01")
        assert first.text.count("Numbered ") == 100 and "1–100 of 130" in first.text
        assert "page=2" in first.text and "Numbered 099" in first.text
        second = c.get(f"/w/{world.slug}/calendar?view=list&date=2026-12-01&page=2")
        assert second.text.count("Numbered ") == 30 and "101–130 of 130" in second.text
        assert "Numbered 129" in second.text and "Numbered 099" not in second.text
        assert 'rel="prev"' in second.text and 'rel="next"' not in second.text
        beyond = c.get(f"/w/{world.slug}/calendar?view=list&date=2026-12-01&page=9")
        assert "101–130 of 130" in beyond.text

    def test_list_view_shows_the_viewers_time_when_it_differs(self, world, engine,
                                                              make_client):
        from planner import posts

        with session_scope(engine) as s:
            posts.create_post(session=s, actor=_actor(s, world), now=BEFORE_DECEMBER,
                              data=posts.PostInput(text="tz", account_ids=[world.account_id],
                                                   scheduled_local="2026-12-03T09:00"))
        c = make_client("viewer@acme.test")
        plain = c.get(f"/w/{world.slug}/calendar?view=list&date=2026-12-01")
        assert "Your time" not in plain.text
        c.cookies.set("viewer_tz", "America/New_York")
        r = c.get(f"/w/{world.slug}/calendar?view=list&date=2026-12-01")
        assert "Your time (America/New_York)" in r.text and "Thu 03 Dec 03:00" in r.text

    def test_every_day_invites_a_new_post_and_cards_have_move(self, world, engine,
                                                              make_client):
        from planner import posts

        with session_scope(engine) as s:
            post = posts.create_post(session=s, actor=_actor(s, world), now=BEFORE_DECEMBER,
                                     data=posts.PostInput(text="busy day",
                                                          account_ids=[world.account_id],
                                                          scheduled_local="2026-12-03T09:00"))
        c = make_client("manager@acme.test")
        month = c.get(f"/w/{world.slug}/calendar?date=2026-12-01")
        cell = month.text.split('data-date="2026-12-03"', 1)[1].split('role="gridcell"', 1)[0]
        assert "busy day" in cell and "?date=2026-12-03" in cell and "+ new post here" in cell
        assert month.text.count("+ new post here") == 35  # every cell of the 5-week grid
        assert f"/w/{world.slug}/posts/{post.id}/move?return_to=calendar" in cell
        viewer = make_client("viewer@acme.test").get(f"/w/{world.slug}/calendar?date=2026-12-01")
        assert "/move?" not in viewer.text and "+ new post here" not in viewer.text

    def test_move_without_dragging_to_another_day_and_time(self, world, engine, make_client):
        from planner import posts

        with session_scope(engine) as s:
            post = posts.create_post(session=s, actor=_actor(s, world), now=BEFORE_DECEMBER,
                                     data=posts.PostInput(text="move me",
                                                          account_ids=[world.account_id],
                                                          scheduled_local="2026-12-03T09:00"))
        c = make_client("manager@acme.test")
        form = c.get(f"/w/{world.slug}/posts/{post.id}/move?return_to=calendar",
                     headers={"HX-Request": "true"})
        assert form.status_code == 200 and "<html" not in form.text
        assert 'name="date" value="2026-12-03"' in form.text and 'value="09:00"' in form.text
        r = c.post(f"/w/{world.slug}/posts/{post.id}/move", follow_redirects=False,
                   data={"csrf_token": csrf_from(form.text), "version": "1",
                         "date": "2026-12-07", "time": "17:45", "return_to": "calendar"})
        assert r.status_code == 303 and r.headers["location"].endswith("?date=2026-12-07")
        with session_scope(engine) as s:
            assert s.get(Post, post.id).scheduled_local == "2026-12-07T17:45"

    def test_a_move_onto_a_repeated_hour_asks_which(self, world, engine, make_client):
        from planner import posts

        with session_scope(engine) as s:
            post = posts.create_post(session=s, actor=_actor(s, world), now=BEFORE_DECEMBER,
                                     data=posts.PostInput(text="night owl",
                                                          account_ids=[world.account_id],
                                                          scheduled_local="2027-10-30T02:30"))
        c = make_client("manager@acme.test")
        token = page_csrf(c, f"/w/{world.slug}/calendar")
        # A drop on Sunday 31 Oct 2027, when Warsaw's clocks go back from 03:00 to 02:00.
        r = c.post(f"/w/{world.slug}/posts/{post.id}/move",
                   headers={"HX-Request": "true", "X-CSRF-Token": token},
                   data={"date": "2027-10-31", "version": "1", "return_to": "calendar"})
        assert r.status_code == 422 and r.headers["HX-Retarget"] == "#flash"
        assert "happens twice" in r.text
        assert 'name="fold" value="0"' in r.text and 'name="fold" value="1"' in r.text
        assert "02:30 CEST" in r.text and "02:30 CET" in r.text
        r = c.post(f"/w/{world.slug}/posts/{post.id}/move",
                   headers={"HX-Request": "true", "X-CSRF-Token": token,
                            "HX-Current-URL": f"http://testserver/w/{world.slug}/calendar?"
                                              "view=week&date=2027-10-25&account=7"},
                   data={"date": "2027-10-31", "time": "02:30", "fold": "1", "version": "1",
                         "return_to": "calendar"})
        # Back to the same view and filters, around the new day.
        assert r.status_code == 204 and r.headers["HX-Redirect"] == (
            f"/w/{world.slug}/calendar?view=week&account=7&date=2027-10-31")
        with session_scope(engine) as s:
            assert s.get(Post, post.id).scheduled_at == datetime(2027, 10, 31, 1, 30,
                                                                 tzinfo=UTC)
        # Without htmx the same question is a page of its own.
        r = c.post(f"/w/{world.slug}/posts/{post.id}/move",
                   data={"csrf_token": token, "date": "2027-10-31", "time": "02:45",
                         "version": "2"})
        assert r.status_code == 422 and "<html" in r.text and 'name="fold"' in r.text

    def test_a_draft_is_deleted_from_its_page(self, world, engine, make_client):
        from planner import posts

        with session_scope(engine) as s:
            post = posts.create_post(session=s, actor=_actor(s, world), now=BEFORE_DECEMBER,
                                     data=posts.PostInput(text="oops",
                                                          account_ids=[world.account_id]))
        c = make_client("manager@acme.test")
        page = c.get(f"/w/{world.slug}/posts/{post.id}")
        assert "Delete post" in page.text
        r = c.post(f"/w/{world.slug}/posts/{post.id}/delete",
                   data={"csrf_token": csrf_from(page.text)}, follow_redirects=False)
        assert r.status_code == 303
        with session_scope(engine) as s:
            assert s.get(Post, post.id) is None


def test_review_page_lists_oldest_submission_first(world, engine, make_client):
    from planner import posts

    with session_scope(engine) as s:
        actor = _actor(s, world)
        made = [posts.create_post(session=s, actor=actor, now=BEFORE_DECEMBER,
                                  data=posts.PostInput(text=f"Review item {name}",
                                                       account_ids=[world.account_id],
                                                       scheduled_local=_future_local()))
                for name in ("A", "B", "C")]
        base = datetime.now(UTC)
        for post, minutes in zip(made, (20, 5, 10), strict=True):
            posts.submit_for_review(session=s, actor=actor, post_id=post.id, expected_version=1,
                                    now=base - timedelta(minutes=minutes))
    page = make_client("lead@acme.test").get(f"/w/{world.slug}/review").text
    order = sorted("ABC", key=lambda name: page.index(f"Review item {name}"))
    assert order == ["A", "C", "B"]


def test_import_form_refuses_a_non_utf8_file_clearly(world, make_client):
    c = make_client("manager@acme.test")
    token = page_csrf(c, f"/w/{world.slug}/import")
    raw = "local_time,accounts,text\n2026-12-01 09:00,@acme@bikes.social,Zażółć\n".encode(
        "cp1250")
    r = c.post(f"/w/{world.slug}/import", data={"csrf_token": token},
               files={"file": ("cal.csv", raw, "text/csv")})
    assert r.status_code == 422 and "not UTF-8" in r.text and "CSV UTF-8" in r.text
    assert "Traceback" not in r.text


GIF = b"GIF89a" + b"\x01\x00\x01\x00\x00\x00\x00;" + b"\x00" * 32


def test_a_gif_for_x_is_refused_before_review_with_the_rule(world, make_client):
    """Issue 11 "bad input": X takes only still images from Poise; the composer says so
    before the post can go to review, instead of the send failing later."""
    from planner import accounts as accounts_area

    with session_scope() as s:
        x_account = accounts_area.create_account(session=s, workspace_id=world.workspace_id,
                                                 platform="x", handle="@acme")
        x_id = x_account.id
    c = make_client("manager@acme.test")
    r = c.post(f"/w/{world.slug}/posts",
               data=_form(c, world, action="submit", account_ids=[str(x_id)], tags=["learn"]),
               files={"media": ("dance.gif", GIF, "image/gif")})
    assert r.status_code == 422
    assert "4 still images (JPEG, PNG or WEBP)" in r.text and "GIF" in r.text
    with session_scope() as s:
        assert s.exec(select(Post)).first() is None
    # The same GIF is fine for the Mastodon account.
    r = c.post(f"/w/{world.slug}/posts",
               data=_form(c, world, action="submit", tags=["learn"]),
               files={"media": ("dance.gif", GIF, "image/gif")}, follow_redirects=False)
    assert r.status_code == 303
