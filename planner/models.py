"""SQLModel tables (the first cut of the data model) and their API variants.

Times are UTC-aware in Python and naive UTC in the database (see ``UTCDateTime``). A post's
chosen local wall time and zone are kept beside its UTC instant, so what the user picked can be
shown back exactly and recomputed if the zone rules change.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ColumnElement, Index, String, Text, UniqueConstraint, false
from sqlalchemy import true as sa_true
from sqlmodel import Field, SQLModel, col, select

from planner.db import utcnow
from planner.dbtypes import UTCDateTime


def _ts(*, index: bool = False, nullable: bool = True) -> datetime | None:
    return Field(default=None, sa_type=UTCDateTime, index=index, nullable=nullable)


def _created() -> datetime:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Role(StrEnum):
    admin = "admin"
    brand_lead = "brand_lead"
    manager = "manager"
    viewer = "viewer"


ROLE_RANK = {Role.viewer: 0, Role.manager: 1, Role.brand_lead: 2, Role.admin: 3}


class AccountStatus(StrEnum):
    ok = "ok"
    needs_reconnect = "needs_reconnect"
    paused = "paused"
    # Issue 11: publishing waits for an operator (a setting, the platform plan, a permission);
    # the credentials themselves are fine. A green connection test puts it back to ok.
    held = "held"


class PostStatus(StrEnum):
    draft = "draft"
    in_review = "in_review"
    changes_requested = "changes_requested"
    approved = "approved"
    cancelled = "cancelled"


class PublicationStatus(StrEnum):
    pending = "pending"
    claimed = "claimed"
    sending = "sending"
    published = "published"
    retry_wait = "retry_wait"
    unknown = "unknown"
    needs_review = "needs_review"
    failed = "failed"
    missed = "missed"
    cancelled = "cancelled"


FINAL_PUBLICATION_STATES = frozenset({
    PublicationStatus.published, PublicationStatus.failed, PublicationStatus.needs_review,
    PublicationStatus.missed, PublicationStatus.cancelled,
})


# --- workspaces and people -------------------------------------------------------------------

class WorkspaceBase(SQLModel):
    name: str = Field(min_length=1, max_length=120)
    timezone: str = Field(default="Europe/Warsaw", max_length=64)


class Workspace(WorkspaceBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, index=True, max_length=80)
    # Target value mix in percent per quadrant ("try", "share", "care", "learn").
    target_try: float = 25.0
    target_share: float = 25.0
    target_care: float = 25.0
    target_learn: float = 25.0
    balance_window: int = 20
    balance_min_sample: int = 8
    daily_cap_per_account: int = 3
    utm_campaign: str = Field(default="poise", max_length=80)
    feed_secret: str = Field(default="", max_length=64)
    # JSON of the other balance settings (alpha, missing_after, half-lives, scheduled or not).
    balance_overrides: str = Field(default="", sa_column=Column(Text, nullable=False,
                                                                server_default=""))
    created_at: datetime = _created()


class WorkspacePublic(WorkspaceBase):
    id: int
    slug: str


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, index=True, max_length=254)
    name: str = Field(default="", max_length=120)
    password_hash: str = Field(max_length=255)
    is_active: bool = True
    created_at: datetime = _created()
    # Issue 14: the person asked for their notifications by e-mail too (off until they opt in).
    email_notifications: bool = False


class Membership(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("workspace_id", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    role: Role = Field(default=Role.viewer, sa_type=String(20))
    # Issue 14: this person hid the first-run checklist of this workspace.
    checklist_dismissed: bool = Field(default=False,
                                      sa_column_kwargs={"server_default": false()})


class ApiToken(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    name: str = Field(max_length=120)
    prefix: str = Field(max_length=16)  # shown to the user to recognise the token
    token_hash: str = Field(unique=True, index=True, max_length=64)  # sha256 hex
    created_at: datetime = _created()
    last_used_at: datetime | None = _ts()
    revoked_at: datetime | None = _ts()


# --- accounts ----------------------------------------------------------------------------------

class AccountBase(SQLModel):
    platform: str = Field(max_length=20)
    handle: str = Field(max_length=120)
    display_name: str = Field(default="", max_length=120)
    api_base: str = Field(default="", max_length=300)


class Account(AccountBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    external_id: str = Field(default="", max_length=120)
    credentials_enc: str = Field(default="", sa_column=Column(Text, nullable=False,
                                                              server_default=""))
    status: AccountStatus = Field(default=AccountStatus.ok, sa_type=String(20))
    status_reason: str = Field(default="", max_length=500)
    owner_id: int | None = Field(default=None, foreign_key="user.id")
    # Rate limits live here so every worker process respects them.
    next_allowed_at: datetime | None = _ts()
    token_expires_at: datetime | None = _ts()
    # Held by the one process refreshing this account's single-use refresh token.
    token_refresh_lease: datetime | None = _ts()
    # When DMs were last fetched (X has no DM webhook): one poller per account and interval.
    dm_polled_at: datetime | None = _ts()
    # Issue 11: X bills every DM event read. Polling can be turned off per account, and
    # each poll reads only the events newer than the last one it saw.
    dm_polling: bool = Field(default=True, sa_column_kwargs={"server_default": sa_true()})
    dm_last_event_id: str = Field(default="", max_length=40)
    text_limit: int | None = None  # per-instance limit (Mastodon), read when connecting
    # JSON of balance settings that differ from the workspace's (window, min_sample ...).
    balance_overrides: str = Field(default="", sa_column=Column(Text, nullable=False,
                                                                server_default=""))
    created_at: datetime = _created()


class AccountPublic(AccountBase):
    id: int
    workspace_id: int
    status: AccountStatus
    status_reason: str


class QueueSlot(SQLModel, table=True):
    """A weekly posting time of an account, in the workspace's local time."""

    __table_args__ = (UniqueConstraint("account_id", "weekday", "local_time"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    weekday: int = Field(ge=0, le=6)  # Monday = 0
    local_time: str = Field(max_length=5)  # "HH:MM"


# --- posts and publications --------------------------------------------------------------------

class PostBase(SQLModel):
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    link: str = Field(default="", max_length=2000)
    tags: str = Field(default="", max_length=40)  # quadrant keys, comma separated, at most two
    dm_keyword: str = Field(default="", max_length=40)
    dm_product_url: str = Field(default="", max_length=2000)
    dm_prefill: str = Field(default="", max_length=500)
    # Replaces the generated "DM us KEYWORD for the link" when set.
    dm_call_to_action: str = Field(default="", max_length=200,
                                   sa_column_kwargs={"server_default": ""})


class Post(PostBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    author_id: int | None = Field(default=None, foreign_key="user.id")
    tag_source: str = Field(default="manual", max_length=20)  # manual, suggested, confirmed
    media_path: str = Field(default="", max_length=300)
    media_mime: str = Field(default="", max_length=60)
    status: PostStatus = Field(default=PostStatus.draft, sa_type=String(20), index=True)
    scheduled_at: datetime | None = _ts()
    scheduled_local: str = Field(default="", max_length=19)  # "YYYY-MM-DDTHH:MM" as chosen
    scheduled_tz: str = Field(default="", max_length=64)
    # issue 14: "Publish now": goes out as soon as it is approved, whatever time it shows.
    publish_asap: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    version: int = 1
    created_at: datetime = _created()
    updated_at: datetime = _created()
    submitted_at: datetime | None = _ts()
    # Issue 13: the CSV import that wrote this post, while that import runs (cleared when it
    # finishes; the import removes its posts when it fails).
    import_id: int | None = Field(default=None, foreign_key="importjob.id", index=True)


class Publication(SQLModel, table=True):
    """One post on one account: the unit the worker claims, sends and records."""

    __table_args__ = (
        UniqueConstraint("post_id", "account_id"),
        Index("ix_publication_due", "status", "due_at"),
        Index("ix_publication_ws_time", "workspace_id", "scheduled_at"),
        Index("ix_publication_account_time", "account_id", "scheduled_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="post.id", index=True)
    account_id: int = Field(foreign_key="account.id")
    workspace_id: int = Field(foreign_key="workspace.id")
    text_variant: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    status: PublicationStatus = Field(default=PublicationStatus.pending, sa_type=String(20))
    scheduled_at: datetime | None = _ts()  # copied from the post; the calendar reads this
    due_at: datetime | None = _ts()  # when the worker may next act (scheduled or retry time)
    attempt_id: str = Field(default="", max_length=36)
    lease_until: datetime | None = _ts()
    attempts: int = 0
    idempotency_key: str = Field(default="", max_length=64)
    fingerprint: str = Field(default="", max_length=64)
    remote_state: str = Field(default="{}", sa_column=Column(Text, nullable=False,
                                                             server_default="{}"))
    remote_id: str = Field(default="", max_length=200)
    remote_url: str = Field(default="", max_length=500)
    last_error: str = Field(default="", max_length=1000)
    published_at: datetime | None = _ts()
    updated_at: datetime = _created()


# The posts of a CSV import that has not finished (or failed, and are not yet removed) carry
# its id; the import's last transaction clears it. Until then nothing shows them: not the
# calendar, lists, review, balance, exports or the API, and the worker never claims them.
POST_SHOWN_SQL = "post.import_id IS NULL"


def post_shown() -> ColumnElement[bool]:
    """Posts anyone may see (for a query that has ``Post`` in it)."""
    return col(Post.import_id).is_(None)


def publication_shown() -> ColumnElement[bool]:
    """Publications anyone may see, for a query without ``Post`` in it: a small anti-join on
    ``ix_post_import_id`` (only the running import's rows have an import id)."""
    return col(Publication.post_id).not_in(
        select(col(Post.id)).where(col(Post.import_id).is_not(None)))


class Attempt(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    publication_id: int = Field(foreign_key="publication.id", index=True)
    attempt_id: str = Field(max_length=36)
    worker: str = Field(default="", max_length=120)
    started_at: datetime = _created()
    finished_at: datetime | None = _ts()
    outcome: str = Field(default="", max_length=30)
    error_class: str = Field(default="", max_length=40)
    http_status: int | None = None
    detail: str = Field(default="", max_length=2000)


class Review(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="post.id", index=True)
    reviewer_id: int = Field(foreign_key="user.id")
    decision: str = Field(max_length=30)  # approved, changes_requested
    comment: str = Field(default="", max_length=2000)
    created_at: datetime = _created()


class AuditEvent(SQLModel, table=True):
    __table_args__ = (Index("ix_audit_ws_at", "workspace_id", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int | None = Field(default=None, foreign_key="workspace.id")
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    action: str = Field(max_length=60)
    entity: str = Field(max_length=40)
    entity_id: int | None = None
    before: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    after: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    at: datetime = _created()


class Notification(SQLModel, table=True):
    """Something a person must know (an account that needs reconnecting ...)."""

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="user.id")
    text: str = Field(max_length=1000)
    created_at: datetime = _created()
    read_at: datetime | None = _ts()
    # Issue 14: what happened (post.submitted, publication.failed, ...), where to look, and a
    # key that makes a notification written by a periodic scan once per person ("" = none).
    kind: str = Field(default="notice", max_length=40)
    link: str = Field(default="", max_length=500)
    ref: str = Field(default="", max_length=80, index=True)
    # E-mail copy: "" (not wanted), pending, sending, sent, failed; attempts are bounded.
    email_status: str = Field(default="", max_length=10)
    email_attempts: int = 0


class PromptTemplate(SQLModel, table=True):
    """A reusable DM prompt of a workspace, picked in the composer to fill a post's prompt."""

    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    name: str = Field(max_length=80)
    keyword: str = Field(max_length=40)
    product_url: str = Field(max_length=2000)
    prefill: str = Field(default="", max_length=500)
    call_to_action: str = Field(default="", max_length=200)
    created_at: datetime = _created()
    updated_at: datetime = _created()


# --- issue 13: sessions that can be ended, and login throttling ------------------------------

class LoginSession(SQLModel, table=True):
    """One signed-in browser. The cookie holds a random token; only its SHA-256 is kept, so
    the table cannot be replayed. Ended by logout, a password change, 'sign out everywhere',
    deactivation, or by its idle and absolute lifetimes."""

    id: str = Field(primary_key=True, max_length=64)  # sha256 hex of the cookie's token
    user_id: int = Field(foreign_key="user.id", index=True)
    created_at: datetime = _created()
    last_seen_at: datetime = _created()
    ended_at: datetime | None = _ts()
    user_agent: str = Field(default="", max_length=200)


class LoginFailure(SQLModel, table=True):
    """A failed login, per account (the e-mail typed, existing or not) and per client
    address; shared by every web process, so the throttle holds across them."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=300, index=True)  # "account:<email>" or "address:<ip>"
    at: datetime = _created()


# --- issue 13: imports that never hold the write lock for long --------------------------------

class ImportJob(SQLModel, table=True):
    """One CSV import: checked with no lock, written in short batches, finished (or removed)
    in one short transaction. ``status``: checking, writing, done, failed."""

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="user.id")
    status: str = Field(default="checking", max_length=10)
    total: int = 0  # rows in the file (0 until read)
    done: int = 0  # rows checked (checking) or written (writing)
    created: int = 0
    submitted: int = 0
    message: str = Field(default="", max_length=1000)
    problems_json: str = Field(default="", sa_column=Column(Text, nullable=False,
                                                             server_default=""))
    created_at: datetime = _created()
    heartbeat_at: datetime = _created()  # a running import's last sign of life
    finished_at: datetime | None = _ts()


class NotificationRead(SQLModel, table=True):
    """Who has read a notification addressed to nobody (``user_id`` NULL, workspace-wide):
    each member reads it for themselves."""

    notification_id: int = Field(foreign_key="notification.id", primary_key=True)
    user_id: int = Field(foreign_key="user.id", primary_key=True)
    read_at: datetime = _created()


class Invitation(SQLModel, table=True):
    """An admin's invitation to join a workspace with a role. The link carries a random token;
    only its SHA-256 is kept. Used once (``accepted_at``), until ``expires_at``, unless revoked.
    A workspace has at most one pending invitation per e-mail: re-inviting replaces it."""

    __table_args__ = (Index("ix_invitation_ws_email", "workspace_id", "email"),)
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    email: str = Field(max_length=254)  # normalised (users.normalise_email)
    role: Role = Field(default=Role.viewer, sa_type=String(20))
    token_hash: str = Field(unique=True, index=True, max_length=64)  # sha256 hex
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = _created()
    expires_at: datetime = _created()
    accepted_at: datetime | None = _ts()
    accepted_by: int | None = Field(default=None, foreign_key="user.id")
    revoked_at: datetime | None = _ts()
