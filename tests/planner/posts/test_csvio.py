"""CSV import is all or nothing with every problem by line and column; export and iCal."""

import csv
import io
from datetime import UTC, date, datetime

import pytest
from icalendar import Calendar
from sqlmodel import select

from planner import posts
from planner.db import session_scope
from planner.errors import Invalid
from planner.models import Post, PublicationStatus, Role, Workspace
from planner.posts import calendar, csvio

NOW = datetime(2026, 11, 2, tzinfo=UTC)


def actor(s, world):
    return posts.Actor(user_id=world.admin_id, role=Role.manager, workspace=s.get(Workspace,
                                                                     world.workspace_id))


def test_import_creates_and_submits(world, engine):
    raw = ("Local_Time,Accounts,Text,Tags,Link,Submit\n"
           "2026-12-01 09:00,@acme@bikes.social,\"Multi\nline\",learn,https://acme.test,yes\n"
           ",@acme@bikes.social,Unscheduled draft,,,\n")
    with session_scope(engine) as s:
        result = csvio.import_file(workspace_id=world.workspace_id, user_id=world.admin_id,
              raw=raw.encode(), now=NOW)
    assert (result.created, result.submitted) == (2, 1)
    with session_scope(engine) as s:
        texts = sorted(p.text for p in s.exec(select(Post)))
        assert texts == ["Multi\nline", "Unscheduled draft"]


def test_every_problem_listed_and_nothing_imported(world, engine):
    raw = ("local_time,accounts,text,tags,fold\n"
           "2026-12-01 09:00,@acme@bikes.social,fine,learn,\n"
           "2027-03-28 02:30,@acme@bikes.social,in the gap,,\n"
           "2026-10-25 02:30,@acme@bikes.social,twice,,\n"
           "not a date,@ghost,,fun,7\n")
    with pytest.raises(Invalid) as err:
        csvio.import_file(workspace_id=world.workspace_id, user_id=world.admin_id,
              raw=raw, now=NOW)
    messages = {p.loc: p.message for p in err.value.problems}
    assert ("line", 5, "accounts") in messages and ("line", 5, "text") in messages
    assert ("line", 5, "fold") in messages and ("line", 5, "tags") in messages
    assert "not a date" in messages[("line", 5, "local_time")]
    # One pass: the time-zone problems come with the format problems, not after a fix.
    assert "does not exist" in messages[("line", 3, "local_time")]
    assert "happens twice" in messages[("line", 4, "local_time")]
    assert "fold column" in messages[("line", 4, "local_time")]
    assert len(err.value.problems) == 7
    # Refused as a whole even though this caller's transaction went on to commit.
    with session_scope(engine) as s:
        assert s.exec(select(Post)).first() is None


def test_service_level_problems_reported_per_line(world, engine):
    raw = ("local_time,accounts,text\n2026-12-01 09:00,@acme@bikes.social,fine\n"
           "2027-03-28 02:30,@acme@bikes.social,in the gap\n"
           "2026-10-25 02:30,@acme@bikes.social,twice\n")
    with pytest.raises(Invalid) as err:
        csvio.import_file(workspace_id=world.workspace_id, user_id=world.admin_id,
              raw=raw, now=NOW)
    messages = {p.loc: p.message for p in err.value.problems}
    assert "does not exist" in messages[("line", 3, "local_time")]
    assert "happens twice" in messages[("line", 4, "local_time")]


@pytest.mark.parametrize("raw,message", [
    ("", "empty"), ("text\nx\n", "Missing column"),
    ("local_time,accounts,text,colour\n", "Unknown"),
    ("local_time,accounts,text\n", "no posts")])
def test_file_level_problems(world, engine, raw, message):
    with pytest.raises(Invalid, match=message):
        csvio.import_file(workspace_id=world.workspace_id, user_id=world.admin_id,
              raw=raw, now=NOW)


def test_export_round_trips_through_import(world, engine):
    raw = "local_time,accounts,text,tags\n2026-12-01 09:00,@acme@bikes.social,Round trip,care\n"
    with session_scope(engine) as s:
        csvio.import_file(workspace_id=world.workspace_id, user_id=world.admin_id,
              raw=raw, now=NOW)
        ws = s.get(Workspace, world.workspace_id)
        exported = csvio.export_csv(session=s, workspace=ws, start=date(2026, 12, 1), days=31)
    # A handle starts with @, a formula to a spreadsheet: exported behind an apostrophe.
    assert "2026-12-01 09:00,'@acme@bikes.social,Round trip,care" in exported
    with session_scope(engine) as s:
        again = csvio.import_file(workspace_id=world.workspace_id, user_id=world.admin_id,
              raw=exported, now=NOW)
    assert again.created == 1


def test_export_neutralises_formulas_and_import_takes_them_back(world, engine):
    hostile = ['=HYPERLINK("https://evil.example","click")', "+1+1", "-2+3", "@SUM(A1)"]
    with session_scope(engine) as s:
        for text in hostile:
            posts.create_post(session=s, actor=actor(s, world), now=NOW, data=posts.PostInput(
                text=text, account_ids=[world.account_id], scheduled_local="2026-12-02T10:00"))
        ws = s.get(Workspace, world.workspace_id)
        exported = csvio.export_csv(session=s, workspace=ws, start=date(2026, 12, 1), days=31)
    cells = [row[2] for row in csv.reader(io.StringIO(exported))][1:]
    assert cells and all(c.startswith("'") for c in cells), cells
    with session_scope(engine) as s:
        csvio.import_file(workspace_id=world.workspace_id, user_id=world.admin_id,
              raw=exported, now=NOW)
    with session_scope(engine) as s:  # the originals and their imported copies, alike
        assert sorted(p.text for p in s.exec(select(Post))) == sorted(hostile * 2)


@pytest.mark.parametrize(("cell", "shown"), [
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("-3", "-3"), ("-0.25", "-0.25"), ("plain", "plain")])
def test_neutralise(cell, shown):
    from planner.csvcells import neutralise, restore
    assert neutralise(cell) == shown and restore(shown) == cell


def test_ical_feed(world, engine):
    raw = "local_time,accounts,text\n2026-12-01 09:00,@acme@bikes.social,Feed me\n"
    with session_scope(engine) as s:
        csvio.import_file(workspace_id=world.workspace_id, user_id=world.admin_id,
              raw=raw, now=NOW)
        ws = s.get(Workspace, world.workspace_id)
        ics = csvio.ical_feed(session=s, workspace=ws, today=date(2026, 11, 25))
    cal = Calendar.from_ical(ics)
    events = [c for c in cal.walk("VEVENT")]
    assert len(events) == 1 and "Feed me" in str(events[0]["summary"])
    assert events[0].decoded("dtstart") == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def test_one_pass_also_reports_links_and_dm_prompts(world, engine):
    raw = ("local_time,accounts,text,link,dm_keyword,dm_product_url,dm_call_to_action\n"
           "2026-12-01 09:00,@nobody,x,ftp://a.test,,,\n"
           "2026-12-02 09:00,@acme@bikes.social,y,,GLOW,,\n"
           "2026-12-03 09:00,@acme@bikes.social,z,,,,Write to us\n")
    with pytest.raises(Invalid) as err:
        csvio.import_file(workspace_id=world.workspace_id, user_id=world.admin_id,
              raw=raw, now=NOW)
    locs = {p.loc for p in err.value.problems}
    assert locs == {("line", 2, "accounts"), ("line", 2, "link"),
                    ("line", 3, "dm_product_url"), ("line", 4, "dm_keyword")}


class TestEncoding:
    def test_a_windows_1252_file_is_refused_at_file_level(self, world, engine):
        raw = ("local_time,accounts,text\n2026-12-01 09:00,@acme@bikes.social,Zażółć gęślą\n"
               ).encode("cp1250")
        with pytest.raises(Invalid) as err:
            csvio.import_file(workspace_id=world.workspace_id, user_id=world.admin_id,
              raw=raw, now=NOW)
        assert [p.loc for p in err.value.problems] == [("file",)]
        assert "not UTF-8" in err.value.message and "line 2" in err.value.message
        assert "CSV UTF-8" in err.value.message

    def test_utf8_with_bom_and_utf16_are_read(self, world, engine):
        text = "local_time,accounts,text\n2026-12-01 09:00,@acme@bikes.social,Zażółć\n"
        with session_scope(engine) as s:
            a = csvio.import_file(workspace_id=world.workspace_id, user_id=world.admin_id,
                                 raw=text.encode("utf-8-sig"), now=NOW)
            b = csvio.import_file(workspace_id=world.workspace_id, user_id=world.admin_id,
              raw=text.encode("utf-16"),
                                 now=NOW)
            assert a.created == b.created == 1
            assert {p.text for p in s.exec(select(Post))} == {"Zażółć"}

    def test_a_binary_file_is_a_clear_problem(self, world, engine):
        raw = b"local_time,accounts,text\n2026-12-01 09:00,@acme@bikes.social,a\x00b\n"
        with pytest.raises(Invalid) as err:
            csvio.import_file(workspace_id=world.workspace_id, user_id=world.admin_id,
              raw=raw, now=NOW)
        assert err.value.problems[0].loc == ("file",)
        assert "cannot be read as CSV" in err.value.message


class TestExportRoundTrip:
    def _second_account(self, s, world):
        from planner import accounts

        return accounts.create_account(session=s, workspace_id=world.workspace_id,
                                       platform="bluesky", handle="acme.bsky.social")

    def _reimport(self, engine, world, exported):
        """Import the export again and return the new posts' essentials by text."""
        with session_scope(engine) as s:
            before = {p.id for p in s.exec(select(Post))}
        csvio.import_file(workspace_id=world.workspace_id, user_id=world.admin_id,
              raw=exported.encode(), now=NOW)
        with session_scope(engine) as s:
            return {p.text: _essentials(s, p) for p in s.exec(select(Post))
                    if p.id not in before}

    def test_two_accounts_and_a_fall_back_time_survive(self, world, engine):
        raw = ("local_time,accounts,text,tags,link,dm_keyword,dm_product_url,"
               "dm_call_to_action,fold\n"
               "2026-12-01 09:00,@acme@bikes.social;acme.bsky.social,Both accounts,care;learn,"
               "https://acme.test/a,RIDE,https://shop.test/ride,DM us RIDE for a test ride,\n"
               "2027-10-31 02:30,@acme@bikes.social,Second 02:30,,,,,,1\n"
               "2027-10-31 02:15,acme.bsky.social,First 02:15,,,,,,0\n")
        with session_scope(engine) as s:
            self._second_account(s, world)
        csvio.import_file(workspace_id=world.workspace_id, user_id=world.admin_id, raw=raw,
                          now=NOW)
        with session_scope(engine) as s:
            originals = {p.text: _essentials(s, p) for p in s.exec(select(Post))}
            ws = s.get(Workspace, world.workspace_id)
            december = csvio.export_csv(session=s, workspace=ws, start=date(2026, 12, 1),
                                        days=31)
            october = csvio.export_csv(session=s, workspace=ws, start=date(2027, 10, 1),
                                       days=31)
        rows = list(csv.DictReader(io.StringIO(december)))
        assert len(rows) == 1  # one row per post, not one per account
        assert rows[0]["accounts"] == "'@acme@bikes.social;acme.bsky.social"  # no formula
        assert rows[0]["platform"] == "mastodon;bluesky" and rows[0]["status"] == "draft"
        folds = {r["text"]: r["fold"] for r in csv.DictReader(io.StringIO(october))}
        assert folds == {"Second 02:30": "1", "First 02:15": "0"}
        again = self._reimport(engine, world, december + october.split("\n", 1)[1])
        assert again == originals
        assert originals["Second 02:30"]["scheduled_at"] == datetime(2027, 10, 31, 1, 30,
                                                                     tzinfo=UTC)

    def test_filters_pick_posts_but_rows_keep_every_account(self, world, engine):
        raw = ("local_time,accounts,text\n"
               "2026-12-01 09:00,@acme@bikes.social;acme.bsky.social,Both\n"
               "2026-12-02 09:00,@acme@bikes.social,Mastodon only\n")
        with session_scope(engine) as s:
            bsky = self._second_account(s, world)
        csvio.import_file(workspace_id=world.workspace_id, user_id=world.admin_id, raw=raw,
                          now=NOW)
        with session_scope(engine) as s:
            ws = s.get(Workspace, world.workspace_id)
            exported = csvio.export_csv(session=s, workspace=ws, start=date(2026, 12, 1),
                                        days=31, filters=calendar.Filters(account_id=bsky.id))
        rows = list(csv.DictReader(io.StringIO(exported)))
        assert [(r["text"], r["accounts"]) for r in rows] == [
            ("Both", "'@acme@bikes.social;acme.bsky.social")]

    def test_cancelled_posts_and_removed_accounts_are_left_out(self, world, engine):
        raw = ("local_time,accounts,text\n"
               "2026-12-01 09:00,@acme@bikes.social;acme.bsky.social,Keep\n"
               "2026-12-02 09:00,@acme@bikes.social,Drop\n")
        with session_scope(engine) as s:
            self._second_account(s, world)
        csvio.import_file(workspace_id=world.workspace_id, user_id=world.admin_id, raw=raw,
                          now=NOW)
        with session_scope(engine) as s:
            keep = s.exec(select(Post).where(Post.text == "Keep")).one()
            drop = s.exec(select(Post).where(Post.text == "Drop")).one()
            data = posts.input_from_post(session=s, post=keep)
            data.account_ids = data.account_ids[:1]
            posts.update_post(session=s, actor=actor(s, world), post_id=keep.id,
                              expected_version=1, data=data, now=NOW)
            posts.cancel(session=s, actor=actor(s, world), post_id=drop.id, expected_version=1,
                         now=NOW)
            ws = s.get(Workspace, world.workspace_id)
            exported = csvio.export_csv(session=s, workspace=ws, start=date(2026, 12, 1),
                                        days=31)
        rows = list(csv.DictReader(io.StringIO(exported)))
        assert [(r["text"], r["accounts"]) for r in rows] == [("Keep", "'@acme@bikes.social")]


def _essentials(s, post):
    pubs = posts.publications_of(session=s, post_id=post.id)
    return {"accounts": sorted(p.account_id for p in pubs
                               if p.status != PublicationStatus.cancelled),
            "scheduled_at": post.scheduled_at, "tags": post.tags, "link": post.link,
            "dm": (post.dm_keyword, post.dm_product_url, post.dm_prefill,
                   post.dm_call_to_action)}
