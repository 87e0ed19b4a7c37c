"""How long the attribution report takes on a large history.

Seeds a fresh database (PostgreSQL via COPY, or SQLite via executemany) with one workspace,
six channels, 40 tagged posts, ``--contacts`` contacts (each with a contact event, 20 %
qualified, 5 % with a sale) and ``--touchpoints`` touchpoints over 90 days (70 % belong to a
contact, the rest are anonymous sessions). The rows are bulk-loaded, so the events' stored
first/last touch is then backfilled with ``credits.refresh`` (what the migration does; in the
app each event gets it when recorded) and the tables are vacuumed and analysed (autovacuum's
job in production). Then it times ``attribution.report`` (both models, by channel and
quadrant) and the channel-health query; ``--compare`` also times the previous from-scratch
window query and checks that both credit the same counts.

    python bench/attribution_bench.py --url postgresql+psycopg://postgres@127.0.0.1:5432/test
    python bench/attribution_bench.py --sqlite --touchpoints 200000 --contacts 20000
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from planner.conversions import attribution, credits  # noqa: E402
from planner.db import make_engine, session_scope  # noqa: E402
from planner.migrate import upgrade  # noqa: E402

END = datetime(2026, 11, 1, tzinfo=UTC)
START = END - timedelta(days=90)
QUADS = ["try", "share", "care", "learn", "try,learn", "share,care"]


def _naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None)


def seed(engine, *, touchpoints: int, contacts: int, rng: random.Random) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO workspace (name, slug, timezone, target_try, target_share,"
                          " target_care, target_learn, balance_window, balance_min_sample,"
                          " daily_cap_per_account, utm_campaign, feed_secret, balance_overrides,"
                          " created_at) VALUES ('Bench', 'bench', 'UTC', 25, 25, 25, 25, 20, 8,"
                          " 3, 'bench', '', '', :now)"), {"now": _naive(END)})
        for i, platform in enumerate(["x", "instagram", "facebook", "mastodon", "linkedin",
                                      "bluesky"]):
            conn.execute(text(
                "INSERT INTO account (workspace_id, platform, handle, display_name, api_base,"
                " external_id, credentials_enc, status, status_reason, balance_overrides,"
                " created_at) VALUES (1, :p, :h, :h, '', '', '', 'ok', '', '', :now)"),
                {"p": platform, "h": f"@bench{i}", "now": _naive(END)})
        for i in range(40):
            conn.execute(text(
                "INSERT INTO post (workspace_id, text, link, tags, dm_keyword, dm_product_url,"
                " dm_prefill, tag_source, media_path, media_mime, status, scheduled_local,"
                " scheduled_tz, version, created_at, updated_at) VALUES (1, 'p', '', :t, '', '',"
                " '', 'manual', '', '', 'approved', '', '', 1, :now, :now)"),
                {"t": QUADS[i % len(QUADS)], "now": _naive(END)})
            conn.execute(text(
                "INSERT INTO publication (post_id, account_id, workspace_id, status, attempt_id,"
                " attempts, idempotency_key, fingerprint, remote_state, remote_id, remote_url,"
                " last_error, updated_at) VALUES (:p, :a, 1, 'published', '', 0, '', '', '{}',"
                " '', '', '', :now)"), {"p": i + 1, "a": i % 6 + 1, "now": _naive(END)})
    span = (END - START).total_seconds()
    contact_rows, event_rows, touch_rows = [], [], []
    for c in range(1, contacts + 1):
        created = START + timedelta(seconds=rng.random() * span)
        contact_rows.append((1, "", "", "", "new", "bench", _naive(created)))
        event_rows.append((1, c, "contact", _naive(created), "bench", None, 0, ""))
        if rng.random() < 0.2:
            event_rows.append((1, c, "qualified", _naive(created + timedelta(days=1)), "bench",
                               None, 0, ""))
        if rng.random() < 0.05:
            event_rows.append((1, c, "sale", _naive(created + timedelta(days=2)), "bench",
                               f"o{c}", rng.randint(1000, 20000), "EUR"))
    for _ in range(touchpoints):
        pub = rng.randint(1, 40)
        contact = rng.randint(1, contacts) if rng.random() < 0.7 else None
        at = START + timedelta(seconds=rng.random() * span)
        touch_rows.append((1, "session" if rng.random() < 0.9 else "dm", _naive(at), contact,
                           None if contact else uuid.uuid4().hex[:22], (pub - 1) % 6 + 1, pub,
                           pub, ""))
    _bulk(engine, "contact", "workspace_id, name, email, phone, status, source, created_at",
          contact_rows)
    _bulk(engine, "conversionevent", "workspace_id, contact_id, kind, at, source, external_id,"
          " amount_cents, currency", event_rows)
    _bulk(engine, "touchpoint", "workspace_id, kind, at, contact_id, visitor_id, account_id,"
          " publication_id, post_id, referrer", touch_rows)


def backfill(engine) -> int:
    with engine.begin() as conn:
        return credits.refresh(conn, workspace_id=1)


def vacuum(engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE" if engine.dialect.name == "postgresql"
                             else "ANALYZE")


# The previous approach, for --compare: rank every touchpoint of each event's contact.
WINDOW_SQL = """
WITH ev AS (
    SELECT id, contact_id, kind, at FROM conversionevent
    WHERE workspace_id = :ws AND at >= :start AND at < :end
),
ranked AS (
    SELECT ev.id, ev.kind, t.account_id,
           ROW_NUMBER() OVER (PARTITION BY ev.id ORDER BY t.at, t.id) AS rn,
           COUNT(*) OVER (PARTITION BY ev.id) AS cnt
    FROM ev LEFT JOIN touchpoint t ON t.contact_id = ev.contact_id AND t.at <= ev.at
)
SELECT m.model, r.kind, r.account_id, COUNT(*) AS n
FROM ranked r
JOIN (SELECT 'first' AS model UNION ALL SELECT 'last') m
  ON (m.model = 'first' AND r.rn = 1) OR (m.model = 'last' AND r.rn = r.cnt)
GROUP BY m.model, r.kind, r.account_id
"""


def window_counts(engine, start: datetime, end: datetime) -> dict[tuple, int]:
    from sqlalchemy import bindparam

    from planner.dbtypes import UTCDateTime

    stmt = text(WINDOW_SQL).bindparams(bindparam("start", type_=UTCDateTime),
                                       bindparam("end", type_=UTCDateTime))
    with engine.connect() as conn:
        return {(r.model, r.kind, r.account_id): r.n
                for r in conn.execute(stmt, {"ws": 1, "start": start, "end": end})}


def stored_counts(engine, start: datetime, end: datetime) -> dict[tuple, int]:
    with engine.connect() as conn:
        out: dict[tuple, int] = {}
        for r in attribution.credit_rows(conn, workspace_id=1, start=start, end=end):
            key = (r.model, r.kind, r.account_id)
            out[key] = out.get(key, 0) + r.n
        return out


def _bulk(engine, table: str, columns: str, rows: list[tuple]) -> None:
    if engine.dialect.name == "postgresql":
        raw = engine.raw_connection()
        try:
            with raw.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            raw.commit()
        finally:
            raw.close()
        return
    marks = ", ".join("?" for _ in columns.split(","))
    with engine.begin() as conn:
        conn.exec_driver_sql(f"INSERT INTO {table} ({columns}) VALUES ({marks})",
                             [tuple(str(v) if isinstance(v, datetime) else v for v in row)
                              for row in rows])


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def run(url: str, *, touchpoints: int, contacts: int, repeat: int, compare: bool) -> None:
    engine = make_engine(url)
    started = time.perf_counter()
    seed(engine, touchpoints=touchpoints, contacts=contacts, rng=random.Random(7))
    print(f"seeded {touchpoints:,} touchpoints, {contacts:,} contacts on "
          f"{engine.dialect.name} in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    events = backfill(engine)
    print(f"backfilled the first/last touch of {events:,} events in "
          f"{time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    vacuum(engine)
    print(f"vacuum/analyse in {time.perf_counter() - started:.1f} s")

    def report(days: int):
        with session_scope(engine) as s:
            return attribution.report(session=s, workspace_id=1,
                                      start=END - timedelta(days=days), end=END)

    def health():
        rule = attribution.DudRule.of(threshold_per_100=2, min_sessions=10, window_weeks=4,
                                      weeks_below=3)
        with session_scope(engine) as s:
            return attribution.health(session=s, workspace_id=1, end=END, rule=rule)

    cases = [("report, last 30 days", lambda: report(30)),
             ("report, all 90 days", lambda: report(90)),
             ("channel health, 4 weeks", health)]
    if compare:
        cases += [(f"old window query, {days} days",
                   lambda days=days: window_counts(engine, END - timedelta(days=days), END))
                  for days in (30, 90)]
    for label, fn in cases:
        times = timed(fn, repeat)
        print(f"{label:28s} median {statistics.median(times) * 1000:8.1f} ms  "
              f"min {min(times) * 1000:8.1f} ms  (n={repeat})")
    total = report(90).total("last")
    print(f"check: sales credited (last touch, 90 days) = {total.sales:.0f}, "
          f"sessions = {total.sessions:.0f}")
    if compare:
        for days in (30, 90):
            start = END - timedelta(days=days)
            same = window_counts(engine, start, END) == stored_counts(engine, start, END)
            print(f"check: stored credits equal the window query over {days} days: {same}")
            if not same:
                raise SystemExit("stored credits differ from the window query")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get(
        "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
        help="PostgreSQL server URL; a fresh database is created on it and dropped after")
    parser.add_argument("--sqlite", action="store_true", help="use a temporary SQLite file")
    parser.add_argument("--touchpoints", type=int, default=1_000_000)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument("--compare", action="store_true",
                        help="also time the previous window query and check both agree")
    args = parser.parse_args()
    if args.sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.db"
            upgrade(url)
            run(url, touchpoints=args.touchpoints, contacts=args.contacts, repeat=args.repeat,
                compare=args.compare)
        return
    server = make_url(args.url)
    name = f"poise_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(server.render_as_string(hide_password=False),
                        isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = server.set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        run(url, touchpoints=args.touchpoints, contacts=args.contacts, repeat=args.repeat,
                compare=args.compare)
    finally:
        if args.keep:
            print(f"kept database {name}")
        else:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
