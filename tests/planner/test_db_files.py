"""The SQLite file and its WAL are the owner's only."""

from __future__ import annotations

import stat

from sqlalchemy import text

from planner.db import make_engine


def test_database_and_wal_are_mode_600(tmp_path):
    path = tmp_path / "var" / "poise.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
        wal = path.with_name("poise.db-wal")
        assert wal.exists()
        for file in (path, wal, path.with_name("poise.db-shm")):
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    engine.dispose()
