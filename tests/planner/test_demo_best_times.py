"""The demo's best times (issue 15): its quarter of history plants when each audience
responds (X: weekday evenings, best Tuesday to Thursday; Mastodon: mornings, best at
weekends), and Insight's unchanged statistics find it, so the slot grid outlines those cells
and offers them in one click, whatever weekday the demo starts on."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select
from webhelpers import login

from compass.resonance import BLOCKS
from planner.db import make_engine, session_scope
from planner.demo import DEMO_PASSWORD, DEMO_SLOT_EFFECTS, seed_demo
from planner.migrate import upgrade
from planner.models import Account, Workspace
from planner.posts import slotgrid

EVENING, MORNING = 3, 1  # indexes into compass.resonance.BLOCKS


def _planted_better(platform: str) -> set[tuple[int, int]]:
    return {(day, block) for (where, day, block), factor in DEMO_SLOT_EFFECTS.items()
            if where == platform and factor > 1}


def _best(session, workspace_id: int, now: datetime | None = None
          ) -> dict[str, slotgrid.BestTimes]:
    workspace = session.get(Workspace, workspace_id)
    return {a.platform: slotgrid.best_times_for(session=session, workspace=workspace,
                                                account=a, now=now)
            for a in session.exec(select(Account).where(Account.workspace_id == workspace_id))}


def test_the_demo_names_blocks_that_do_better_on_x_and_mastodon(engine):
    with session_scope(engine) as s:
        workspace_id = seed_demo(session=s).workspace.id or 0
    with session_scope(engine) as s:
        best = _best(s, workspace_id)
    for platform in ("x", "mastodon"):
        good = best[platform].good()
        assert best[platform].status == "found" and good, (platform, best[platform].message)
        # Only blocks the demo planted as better are called better; the interval is honest.
        assert {(m.weekday, m.block) for m in good} <= _planted_better(platform), platform
        assert all(m.low > 1 and m.posts >= 3 for m in good)
    assert {m.block for m in best["x"].good()} == {EVENING}
    assert {m.block for m in best["mastodon"].good()} == {MORNING}
    # Where nothing was planted, nothing is said to do better.
    assert not best["bluesky"].good() and not best["linkedin"].good()


def test_the_demo_slot_grid_outlines_the_best_cells_with_a_one_click_add(engine, make_client):
    with session_scope(engine) as s:
        summary = seed_demo(session=s)
        slug = summary.workspace.slug
        x = s.exec(select(Account).where(Account.workspace_id == summary.workspace.id,
                                         Account.platform == "x")).one()
    c = login(make_client(), "manager@poise.local", DEMO_PASSWORD)
    page = c.get(f"/w/{slug}/accounts/{x.id}/slots")
    assert page.status_code == 200 and 'data-best-status="found"' in page.text
    # An evening cell (18:00-23:00) is outlined as a good best time ...
    outlined = re.findall(r'<td class="[^"]*\bbest good" data-cell="(\d) (\d\d):00" '
                          r'title="[^"]+: often does well: \+\d+%, \d+ posts"', page.text)
    assert outlined and all(18 <= int(hour) <= 23 for _, hour in outlined)
    # ... and offered as one click at the middle of its block.
    offer = re.search(r'<button type="submit" name="add" value="(\d) 21:00">Add (\w{3}) 21:00',
                      page.text)
    assert offer and offer.group(1) in {day for day, _ in outlined}
    assert f"{BLOCKS[EVENING][0] + 3:02d}:00" == "21:00"


@pytest.mark.parametrize("offset", range(7))
def test_the_planted_times_are_found_whatever_weekday_the_demo_starts(tmp_path: Path,
                                                                      offset: int):
    """The seeded history lies on calendar days before today, so which of its posts land on
    which weekday turns with the day the demo starts: all seven turns find both effects.
    (SQLite files of their own: the demo is seeded once per database.)"""
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    upgrade(url)
    engine = make_engine(url)
    now = datetime(2026, 12, 7, 10, 15, tzinfo=UTC) + timedelta(days=offset, hours=5 * offset)
    try:
        with session_scope(engine) as s:
            workspace_id = seed_demo(session=s, now=now).workspace.id or 0
        with session_scope(engine) as s:
            best = _best(s, workspace_id, now=now)
    finally:
        engine.dispose()
    for platform in ("x", "mastodon"):
        good = best[platform].good()
        assert good and {(m.weekday, m.block) for m in good} <= _planted_better(platform)
    assert not best["bluesky"].good() and not best["linkedin"].good()
