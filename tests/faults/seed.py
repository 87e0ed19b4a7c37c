"""Bulk seeding of due publications for the fault tests and the benchmark."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert, select, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from planner.db import utcnow
from planner.models import (
    Account,
    Membership,
    Post,
    PostStatus,
    Publication,
    PublicationStatus,
    Role,
    User,
    Workspace,
)

FINAL = ("published", "failed", "needs_review", "missed", "cancelled")


def seed_publications(engine: Engine, *, n: int, api_base: str, accounts: int = 1,
                      platforms: tuple[str, ...] = ("fake-noidem",),
                      scheduled_at: datetime | list[datetime] | None = None,
                      text_prefix: str = "post") -> list[int]:
    """``n`` approved posts, one publication each, spread over ``accounts`` accounts."""
    when = scheduled_at or utcnow() - timedelta(seconds=1)
    with Session(engine) as session:
        user = User(email=f"owner-{text_prefix}@example.com", password_hash="x")
        workspace = Workspace(name="Fault tests", slug=f"faults-{text_prefix}")
        session.add_all([user, workspace])
        session.flush()
        assert workspace.id is not None and user.id is not None
        session.add(Membership(workspace_id=workspace.id, user_id=user.id, role=Role.admin))
        rows = [Account(workspace_id=workspace.id, platform=platforms[i % len(platforms)],
                        handle=f"{text_prefix}-acct{i}", api_base=api_base, owner_id=user.id)
                for i in range(accounts)]
        session.add_all(rows)
        session.commit()
        ws_id = workspace.id
        account_rows = [(a.id, a.platform) for a in rows]
    times = when if isinstance(when, list) else [when] * n
    with engine.begin() as conn:
        conn.execute(insert(Post), [
            {"workspace_id": ws_id, "text": f"{text_prefix} {i} hello", "status":
             PostStatus.approved, "scheduled_at": times[i], "link": "", "tags": "",
             "dm_keyword": "", "dm_product_url": "", "dm_prefill": "", "tag_source": "manual",
             "media_path": "", "media_mime": "", "scheduled_local": "", "scheduled_tz": "",
             "version": 1, "created_at": utcnow(), "updated_at": utcnow()}
            for i in range(n)])
        post_ids = list(conn.execute(select(Post.id).where(Post.workspace_id == ws_id)
                                     .order_by(Post.id)).scalars())
        conn.execute(insert(Publication), [
            {"post_id": post_id, "account_id": account_rows[i % len(account_rows)][0],
             "workspace_id": ws_id, "status": PublicationStatus.pending,
             "scheduled_at": times[i], "due_at": times[i], "attempt_id": "", "attempts": 0,
             "idempotency_key": "", "fingerprint": "", "remote_state": "{}", "remote_id": "",
             "remote_url": "", "last_error": "", "updated_at": utcnow()}
            for i, post_id in enumerate(post_ids)])
        return list(conn.execute(select(Publication.id).where(
            Publication.workspace_id == ws_id).order_by(Publication.id)).scalars())


def status_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {str(s): int(c) for s, c in conn.execute(text(
            "SELECT status, count(*) FROM publication GROUP BY status"))}


def publications(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT p.id, p.status, p.remote_id, p.attempt_id, p.last_error, post.text, "
            "a.handle, a.platform, p.published_at, p.scheduled_at FROM publication p "
            "JOIN post ON post.id = p.post_id JOIN account a ON a.id = p.account_id "
            "ORDER BY p.id")).mappings().all()
    return [dict(r) for r in rows]
