"""`python main.py balance SLUG` on DOMAIN.md's worked examples (Try/Share/Care/Learn of 20)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

import main
from planner import accounts
from planner.db import session_scope
from planner.models import Post, PostStatus, Publication, PublicationStatus
from planner.team import workspaces

WORKED = {"@try.heavy": (10, 4, 3, 3), "@well.rounded": (6, 5, 5, 4), "@no.learning": (8, 6, 6, 0)}
START = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)


def seed(engine, *, scheduled_extra: bool = False) -> str:
    with session_scope(engine) as s:
        ws = workspaces.create_workspace(session=s, name="Worked Examples", timezone="UTC")
        for handle, counts in WORKED.items():
            account = accounts.create_account(session=s, workspace_id=ws.id, platform="mastodon",
                                              handle=handle)
            tags = [q for q, n in zip(("try", "share", "care", "learn"), counts, strict=True)
                    for _ in range(n)]
            for i, tag in enumerate(tags[::2] + tags[1::2]):
                at = START + timedelta(days=i)
                post = Post(workspace_id=ws.id, text=f"{handle} {i}", tags=tag,
                            status=PostStatus.approved, scheduled_at=at)
                s.add(post)
                s.flush()
                s.add(Publication(post_id=post.id, account_id=account.id, workspace_id=ws.id,
                                  scheduled_at=at, status=PublicationStatus.published,
                                  published_at=at))
            if scheduled_extra and handle == "@well.rounded":
                for i in range(6):  # planned Try posts: overweight once scheduled posts count
                    at = START + timedelta(days=40 + i)
                    post = Post(workspace_id=ws.id, text=f"planned {i}", tags="try",
                                status=PostStatus.approved, scheduled_at=at)
                    s.add(post)
                    s.flush()
                    s.add(Publication(post_id=post.id, account_id=account.id,
                                      workspace_id=ws.id, scheduled_at=at,
                                      status=PublicationStatus.pending))
        return ws.slug


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main.app, ["balance", *args])
    return result.exit_code, " ".join(result.output.split())  # rich wraps at 80 columns


def section(output: str, handle: str) -> str:
    start = output.index(f"{handle} (mastodon)")
    ends = [output.index(f"{h} (mastodon)") for h in WORKED if output.index(
        f"{h} (mastodon)") > start]
    return output[start:min(ends, default=len(output))]


def test_worked_examples(sqlite_engine) -> None:
    code, output = run(seed(sqlite_engine))
    assert code == 0, output
    heavy = section(output, "@try.heavy")
    assert "Try new things is overweight: 10 of the last 20 posts (50%, 2.0x the fair share)" \
        in heavy
    assert "Try new things │ 10 │ 50% │ 2.0 │ overweight" in heavy
    rounded = section(output, "@well.rounded")
    assert "Well rounded: posts spread evenly over all four values" in rounded
    assert "overweight" not in rounded and "missing" not in rounded
    missing = section(output, "@no.learning")
    assert "Learn new things is missing from the last 20 posts" in missing
    assert "Learn new things │ 0 │ 0% │ 0.0 │ missing" in missing
    assert "What next: Learn new things is missing" in missing


def test_published_only_and_window(sqlite_engine) -> None:
    slug = seed(sqlite_engine, scheduled_extra=True)
    _, output = run(slug)
    assert "Try new things is overweight" in section(output, "@well.rounded")
    _, output = run(slug, "--published-only")
    assert "Well rounded: posts spread evenly" in section(output, "@well.rounded")
    _, output = run(slug, "--window", "5", "--published-only")
    assert "Not enough posts yet (5 of 8 needed)" in section(output, "@try.heavy")


def test_unknown_workspace(sqlite_engine) -> None:
    code, output = run("no-such-brand")
    assert code == 2 and "No workspace 'no-such-brand'" in output
