"""CSV import is all or nothing with every problem by line and column; export and iCal."""

from datetime import UTC, date, datetime

import pytest
from icalendar import Calendar
from sqlmodel import select

from planner import csvio, posts
from planner.db import session_scope
from planner.errors import Invalid
from planner.models import Post, Role, Workspace

NOW = datetime(2026, 11, 2, tzinfo=UTC)


def actor(s, world):
    return posts.Actor(user_id=world.admin_id, role=Role.manager, workspace=s.get(Workspace,
                                                                     world.workspace_id))


def test_import_creates_and_submits(world, engine):
    raw = ("Local_Time,Accounts,Text,Tags,Link,Submit\n"
           "2026-12-01 09:00,@acme@bikes.social,\"Multi\nline\",learn,https://acme.test,yes\n"
           ",@acme@bikes.social,Unscheduled draft,,,\n")
    with session_scope(engine) as s:
        result = csvio.import_csv(session=s, actor=actor(s, world), raw=raw.encode(), now=NOW)
    assert result == csvio.ImportResult(created=2, submitted=1)
    with session_scope(engine) as s:
        texts = sorted(p.text for p in s.exec(select(Post)))
        assert texts == ["Multi\nline", "Unscheduled draft"]


def test_every_problem_listed_and_nothing_imported(world, engine):
    raw = ("local_time,accounts,text,tags,fold\n"
           "2026-12-01 09:00,@acme@bikes.social,fine,learn,\n"
           "2027-03-28 02:30,@acme@bikes.social,in the gap,,\n"
           "2026-10-25 02:30,@acme@bikes.social,twice,,\n"
           "not a date,@ghost,,fun,7\n")
    with session_scope(engine) as s, pytest.raises(Invalid) as err:
        csvio.import_csv(session=s, actor=actor(s, world), raw=raw, now=NOW)
    locs = {p.loc for p in err.value.problems}
    assert ("line", 5, "accounts") in locs and ("line", 5, "text") in locs
    assert ("line", 5, "fold") in locs
    # Row-level service problems are reported after the shape checks pass for the file;
    # here the shape problems on line 5 already refuse the file.
    with session_scope(engine) as s:
        assert s.exec(select(Post)).first() is None


def test_service_level_problems_reported_per_line(world, engine):
    raw = ("local_time,accounts,text\n2026-12-01 09:00,@acme@bikes.social,fine\n"
           "2027-03-28 02:30,@acme@bikes.social,in the gap\n"
           "2026-10-25 02:30,@acme@bikes.social,twice\n")
    with session_scope(engine) as s, pytest.raises(Invalid) as err:
        csvio.import_csv(session=s, actor=actor(s, world), raw=raw, now=NOW)
    messages = {p.loc: p.message for p in err.value.problems}
    assert "does not exist" in messages[("line", 3, "local_time")]
    assert "happens twice" in messages[("line", 4, "local_time")]


@pytest.mark.parametrize("raw,message", [
    ("", "empty"), ("text\nx\n", "Missing column"),
    ("local_time,accounts,text,colour\n", "Unknown"),
    ("local_time,accounts,text\n", "no posts")])
def test_file_level_problems(world, engine, raw, message):
    with session_scope(engine) as s, pytest.raises(Invalid, match=message):
        csvio.import_csv(session=s, actor=actor(s, world), raw=raw, now=NOW)


def test_export_round_trips_through_import(world, engine):
    raw = "local_time,accounts,text,tags\n2026-12-01 09:00,@acme@bikes.social,Round trip,care\n"
    with session_scope(engine) as s:
        csvio.import_csv(session=s, actor=actor(s, world), raw=raw, now=NOW)
        ws = s.get(Workspace, world.workspace_id)
        exported = csvio.export_csv(session=s, workspace=ws, start=date(2026, 12, 1), days=31)
    assert "2026-12-01 09:00,@acme@bikes.social,Round trip,care" in exported
    with session_scope(engine) as s:
        again = csvio.import_csv(session=s, actor=actor(s, world), raw=exported, now=NOW)
    assert again.created == 1


def test_ical_feed(world, engine):
    raw = "local_time,accounts,text\n2026-12-01 09:00,@acme@bikes.social,Feed me\n"
    with session_scope(engine) as s:
        csvio.import_csv(session=s, actor=actor(s, world), raw=raw, now=NOW)
        ws = s.get(Workspace, world.workspace_id)
        ics = csvio.ical_feed(session=s, workspace=ws, today=date(2026, 11, 25))
    cal = Calendar.from_ical(ics)
    events = [c for c in cal.walk("VEVENT")]
    assert len(events) == 1 and "Feed me" in str(events[0]["summary"])
    assert events[0].decoded("dtstart") == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
