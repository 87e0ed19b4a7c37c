"""Local time <-> UTC across DST, and queue slots."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.errors import Invalid
from planner.posts import schedule

ZONES = ["Europe/Warsaw", "America/New_York", "Australia/Sydney", "Asia/Kolkata",
         "America/Sao_Paulo", "Pacific/Auckland", "UTC"]


class TestToUtc:
    def test_plain_time(self):
        at = schedule.to_utc(datetime(2026, 7, 1, 9, 0), "Europe/Warsaw")
        assert at == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)

    def test_spring_forward_gap_is_refused_with_a_clear_message(self):
        with pytest.raises(Invalid) as err:
            schedule.to_utc(datetime(2026, 3, 29, 2, 30), "Europe/Warsaw")
        assert "does not exist" in err.value.message
        assert err.value.problems[0].field == "scheduled_local"

    def test_fall_back_overlap_asks_which(self):
        with pytest.raises(schedule.AmbiguousLocalTime) as err:
            schedule.to_utc(datetime(2026, 10, 25, 2, 30), "Europe/Warsaw")
        first, second = err.value.choices
        assert first.utcoffset() == timedelta(hours=2)
        assert second.utcoffset() == timedelta(hours=1)
        assert "happens twice" in err.value.message

    def test_fall_back_overlap_with_choice(self):
        first = schedule.to_utc(datetime(2026, 10, 25, 2, 30), "Europe/Warsaw", fold=0)
        second = schedule.to_utc(datetime(2026, 10, 25, 2, 30), "Europe/Warsaw", fold=1)
        assert second - first == timedelta(hours=1)
        assert first == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)

    def test_parse_local_rejects_garbage_and_offsets(self):
        with pytest.raises(Invalid):
            schedule.parse_local("next tuesday")
        with pytest.raises(Invalid):
            schedule.parse_local("2026-01-01T09:00+02:00")


@settings(max_examples=300, deadline=None)
@given(zone=st.sampled_from(ZONES),
       local=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 31)),
       fold=st.sampled_from([0, 1]))
def test_local_utc_local_round_trip(zone, local, fold):
    local = local.replace(second=0, microsecond=0)
    try:
        instant = schedule.to_utc(local, zone, fold=fold)
    except schedule.AmbiguousLocalTime:
        raise AssertionError("fold was given") from None
    except Invalid:
        # Only a wall time inside a gap may be refused: it must not round-trip to itself.
        aware = local.replace(tzinfo=ZoneInfo(zone))
        assert aware.astimezone(UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None) != local
        return
    assert instant.tzinfo is UTC
    assert schedule.to_local(instant, zone).replace(tzinfo=None) == local


@settings(max_examples=200, deadline=None)
@given(zone=st.sampled_from(ZONES),
       instant=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 31),
                            timezones=st.just(UTC)))
def test_utc_local_utc_round_trip(zone, instant):
    instant = instant.replace(second=0, microsecond=0)
    local = schedule.to_local(instant, zone)
    assert schedule.to_utc(local.replace(tzinfo=None), zone, fold=local.fold) == instant


class TestQueueSlots:
    def test_slot_keeps_local_time_across_dst(self):
        slots = [schedule.Slot(d, time(9, 0)) for d in range(7)]
        after = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)  # Friday before Warsaw's change
        instants = list(schedule.upcoming_slot_instants(slots, "Europe/Warsaw", after,
                                                        days=4))[:3]
        locals_ = [schedule.to_local(i, "Europe/Warsaw") for i in instants]
        assert [loc.hour for loc in locals_] == [9, 9, 9]
        assert [i.hour for i in instants] == [8, 7, 7]  # UTC shifts by the DST hour

    def test_slot_inside_gap_moves_past_it(self):
        slots = [schedule.Slot(6, time(2, 30))]  # Sunday 02:30, the gap on 29 Mar 2026
        after = datetime(2026, 3, 28, 0, 0, tzinfo=UTC)
        first = next(iter(schedule.upcoming_slot_instants(slots, "Europe/Warsaw", after)))
        assert schedule.to_local(first, "Europe/Warsaw").hour == 3

    def test_empty_schedule_yields_nothing(self):
        assert list(schedule.upcoming_slot_instants([], "UTC", datetime.now(UTC))) == []


def test_weekday_of_slots_matches_local_day():
    slots = [schedule.Slot(0, time(23, 30))]  # Monday 23:30 in Sydney is Monday there
    after = datetime(2026, 6, 1, tzinfo=UTC)
    instant = next(iter(schedule.upcoming_slot_instants(slots, "Australia/Sydney", after)))
    local = schedule.to_local(instant, "Australia/Sydney")
    assert local.weekday() == 0 and local.time() == time(23, 30)
    assert local.date() >= date(2026, 6, 1)


class TestFoldOf:
    def test_only_repeated_wall_times_have_a_fold(self):
        assert schedule.fold_of(datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "Europe/Warsaw") == 0
        assert schedule.fold_of(datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "Europe/Warsaw") == 1
        assert schedule.fold_of(datetime(2026, 10, 25, 2, 30, tzinfo=UTC),
                                "Europe/Warsaw") is None
        assert schedule.fold_of(datetime(2026, 7, 1, 9, 0, tzinfo=UTC), "UTC") is None


@settings(max_examples=200, deadline=None)
@given(zone=st.sampled_from(ZONES),
       instant=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 31),
                            timezones=st.just(UTC)))
def test_wall_time_and_fold_identify_the_instant(zone, instant):
    """What export writes (local time + fold when needed) imports as the same instant."""
    instant = instant.replace(second=0, microsecond=0)
    wall = schedule.to_local(instant, zone).replace(tzinfo=None)
    assert schedule.to_utc(wall, zone, fold=schedule.fold_of(instant, zone)) == instant
