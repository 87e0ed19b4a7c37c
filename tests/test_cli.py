"""The command line through typer's CliRunner: import (progress, problems, exit codes),
export, and what an unreachable database looks like."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

import main
from planner import accounts
from planner.db import session_scope
from planner.models import Post, Role
from planner.team import users, workspaces

runner = CliRunner()
WIDE = {"COLUMNS": "240", "NO_COLOR": "1", "TERM": "dumb"}


@pytest.fixture
def brand(engine):
    with session_scope(engine) as s:
        ws = workspaces.create_workspace(session=s, name="Acme Bikes", timezone="Europe/Warsaw")
        user = users.create_user(session=s, email="manager@acme.test", password="x" * 12)
        users.add_member(session=s, workspace=ws, user=user, role=Role.manager)
        accounts.create_account(session=s, workspace_id=ws.id, platform="mastodon",
                                handle="@acme@bikes.social")
        accounts.create_account(session=s, workspace_id=ws.id, platform="bluesky",
                                handle="acme.bsky.social")
        return ws.slug


def _import(path: Path, slug: str, user: str = "manager@acme.test"):
    return runner.invoke(main.app, ["import", str(path), "--workspace", slug, "--user", user],
                         env=WIDE)


def _posts(engine) -> list[Post]:
    with session_scope(engine) as s:
        return list(s.exec(select(Post).order_by(Post.id)).all())


class TestImport:
    def test_imports_with_progress_and_a_summary(self, brand, engine, tmp_path):
        path = tmp_path / "cal.csv"
        path.write_text("local_time,accounts,text,submit\n"
                        "2027-12-01 09:00,@acme@bikes.social;acme.bsky.social,First,\n"
                        "2027-12-02 09:00,acme.bsky.social,Second,\n"
                        "2027-12-03 09:00,@acme@bikes.social,Third,\n")
        result = _import(path, brand)
        assert result.exit_code == 0, result.output
        assert "Writing posts" in result.output  # checked first, then written in batches
        assert "3/3" in result.output  # the progress bar's final count
        assert "Imported 3 posts (0 submitted for review)." in result.output
        assert [p.text for p in _posts(engine)] == ["First", "Second", "Third"]

    def test_lists_every_problem_and_imports_nothing(self, brand, engine, tmp_path):
        path = tmp_path / "bad.csv"
        path.write_text("local_time,accounts,text,tags\n"
                        "2027-12-01 09:00,@acme@bikes.social,Fine,learn\n"
                        "2027-12-02 09:00,@nobody,Who?,\n"
                        "2027-03-28 02:30,@acme@bikes.social,In the gap,fun\n")
        result = _import(path, brand)
        assert result.exit_code == 1
        assert "Nothing was imported: 3 problem(s) in the file." in result.output
        assert "line 3, column accounts: No account '@nobody' in this workspace." in \
            result.output
        assert "line 4, column local_time: 28 Mar 2027 02:30 does not exist" in result.output
        assert "line 4, column tags: Unknown value tag 'fun'" in result.output
        assert _posts(engine) == []

    def test_a_non_utf8_file_gets_one_clear_message(self, brand, engine, tmp_path):
        path = tmp_path / "excel.csv"
        path.write_bytes("local_time,accounts,text\n2027-12-01 09:00,@acme@bikes.social,"
                         "Zażółć\n".encode("cp1250"))
        result = _import(path, brand)
        assert result.exit_code == 1
        assert "The file is not UTF-8 text: line 2" in result.output
        assert "file: The file is not UTF-8" in result.output
        assert "Traceback" not in result.output and _posts(engine) == []

    def test_unknown_workspace_or_member_exits_2(self, brand, tmp_path):
        path = tmp_path / "cal.csv"
        path.write_text("local_time,accounts,text\n,@acme@bikes.social,x\n")
        result = _import(path, "no-such-brand")
        assert result.exit_code == 2 and "No workspace 'no-such-brand'" in result.output
        result = _import(path, brand, user="stranger@acme.test")
        assert result.exit_code == 2 and "member 'stranger@acme.test'" in result.output


def test_export_writes_the_import_format(brand, engine, tmp_path):
    source = tmp_path / "cal.csv"
    source.write_text("local_time,accounts,text,fold\n"
                      "2027-12-01 09:00,@acme@bikes.social;acme.bsky.social,Both,\n")
    assert _import(source, brand).exit_code == 0
    out = tmp_path / "out.csv"
    result = runner.invoke(main.app, ["export", "--workspace", brand, "--start", "2027-12-01",
                                      "--days", "31", "--output", str(out)], env=WIDE)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [(r["local_time"], r["accounts"], r["text"]) for r in rows] == [
        ("2027-12-01 09:00", "'@acme@bikes.social;acme.bsky.social", "Both")]  # no formula
    stdout = runner.invoke(main.app, ["export", "--workspace", brand, "--start",
                                      "2027-12-01"], env=WIDE)
    assert stdout.exit_code == 0 and "Both" in stdout.output
    bad = runner.invoke(main.app, ["export", "--workspace", brand, "--start", "December"],
                        env=WIDE)
    assert bad.exit_code == 2 and "not a date" in bad.output


@pytest.mark.parametrize("command", [
    ["import", "{file}", "--workspace", "acme", "--user", "a@b.test"],
    ["export", "--workspace", "acme"],
])
def test_an_unreachable_database_is_a_message_not_a_traceback(command, tmp_path, monkeypatch):
    from planner import settings

    # Port 1 on loopback refuses at once; the password must never be printed.
    monkeypatch.setenv("POISE_DATABASE_URL",
                       "postgresql+psycopg://poise:s3cret-pw@127.0.0.1:1/poise")
    settings.get_settings.cache_clear()
    path = tmp_path / "cal.csv"
    path.write_text("local_time,accounts,text\n")
    args = [part.replace("{file}", str(path)) for part in command]
    result = runner.invoke(main.app, args, env=WIDE)
    assert result.exit_code == 2
    assert "Cannot reach the database at postgresql+psycopg://poise:***@127.0.0.1:1/poise" \
        in result.output
    assert "Check POISE_DATABASE_URL and that the server is running." in result.output
    assert "s3cret-pw" not in result.output and "Traceback" not in result.output
