"""What already happened to one publication, read from its Attempt rows: the budget that
bounds every path through the state machine.

The rules that use it (see docs/dispatch.md, "Bounds"):

- after an outcome that may have created the post (``unknown``, ``lease_expired``,
  ``duplicate``) at most ONE more send is ever made, and only after a lookup said "not there";
- a ``duplicate`` refusal is evidence the post is live: it is looked up thoroughly and, if
  still not found, handed to a person, never sent again;
- a publication that ever had such an outcome is never recorded as ``failed`` (the post may
  be live): it goes to ``needs_review`` instead;
- sends are bounded by ``DispatchConfig.max_attempts``, lookups by ``max_lookups``;
- waiting on rate limits is bounded in time by ``rate_limit_max_wait_seconds``, counted from
  the publication's first 429 (``rate_limit_overrun``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.engine import Engine

# Attempt outcomes of a call that may have created the post.
MAYBE_CREATED = frozenset({"unknown", "lease_expired", "duplicate"})
# Attempt outcomes of a send that reached the platform (or may have). ``sending`` is an
# Attempt still open: its worker died before anything closed it.
SENT = frozenset({"sending", "published", "transient", "rejected"}) | MAYBE_CREATED
# A rate limit on a send or on a lookup: nothing was created, the publication waits.
RATE_LIMITED = ("rate_limited", "reconcile_rate_limited")
# A person's decision (send again, or a new schedule after re-approval): the budget starts over.
RESET = "manual_retry"
# Every Attempt outcome starting with this stands for one lookup the platform received
# (found, not found, rate limited, failed, cannot tell). A reconciliation that asks the
# platform nothing (the lookup budget is spent, no publisher, unreadable credentials) records
# an outcome without it, so the story shows exactly the lookups that were made.
LOOKUP = "reconcile_"


@dataclass(frozen=True)
class History:
    maybe_created: int = 0  # outcomes after which the post may exist
    sends_after_unknown: int = 0  # sends after the first of those
    duplicate: bool = False  # the platform said "duplicate": evidence the post is live
    lookups: int = 0  # every lookup the platform received
    lookup_errors: int = 0  # lookups that failed
    story: tuple[str, ...] = ()  # the outcomes, oldest first

    @classmethod
    def of(cls, outcomes: Iterable[str]) -> History:
        maybe = after = lookups = errors = 0
        duplicate = False
        story = tuple(outcomes)
        for outcome in story:
            if outcome == RESET:
                maybe = after = lookups = errors = 0
                duplicate = False
                continue
            if outcome.startswith(LOOKUP):
                lookups += 1
                errors += outcome == "reconcile_error"
                continue
            if outcome in SENT and maybe:
                after += 1
            if outcome in MAYBE_CREATED:
                maybe += 1
                duplicate = duplicate or outcome == "duplicate"
        return cls(maybe, after, duplicate, lookups, errors, story)

    @property
    def ever_unknown(self) -> bool:
        return self.maybe_created > 0

    @property
    def may_send_again(self) -> bool:
        """After an unknown outcome: one more send, never a second, never after a duplicate."""
        return not self.duplicate and self.sends_after_unknown == 0

    def summary(self) -> str:
        """The whole story in a line, for ``last_error`` and the notification."""
        sends = sum(1 for o in self.story if o in SENT)
        steps = ", ".join(self.story[-12:])
        more = "..., " if len(self.story) > 12 else ""
        return f"{sends} send(s), {self.lookups} lookup(s): {more}{steps}"


def load_history(engine: Engine, publication_id: int, *, but: str = "") -> History:
    """The publication's history; ``but``: leave out the Attempt of that attempt id (the one
    being closed now)."""
    with engine.connect() as conn:  # a read: no write lock needed
        return History.of(str(o) for o in conn.execute(text(
            "SELECT outcome FROM attempt WHERE publication_id = :pid AND attempt_id != :but "
            "ORDER BY id"), {"pid": publication_id, "but": but}).scalars())


def rate_limit_overrun(engine: Engine, publication_id: int, reset_at: datetime,
                       max_wait_seconds: float, now_sql: str) -> str:
    """Why waiting until ``reset_at`` would break the time budget for rate limits, or ''.

    The budget counts from the publication's first rate limit (on a send or a lookup) since
    a person last sent it again; ``now_sql`` is the database clock (the first 429 may be
    this one). A reset inside the budget is waited for exactly; one past it is not waited
    for at all: the publication goes to a person at once.

    The reset is the platform's own: X's ``x-rate-limit-reset`` (a Unix time; most X limits
    are 15-minute windows, https://docs.x.com/fundamentals/rate-limits), else ``Retry-After``
    (seconds or an HTTP date, https://www.rfc-editor.org/rfc/rfc9110#field.retry-after), as
    the adapters parse it (``publishers.http.reset_at``). The default hour therefore waits
    out several 15-minute windows but not a daily cap."""
    with engine.connect() as conn:
        since, now = conn.execute(text(
            "SELECT (SELECT min(started_at) FROM attempt WHERE publication_id = :pid "
            "AND outcome IN ('rate_limited', 'reconcile_rate_limited') AND id > "
            "coalesce((SELECT max(id) FROM attempt WHERE publication_id = :pid "
            f"AND outcome = '{RESET}'), 0)), {now_sql}"), {"pid": publication_id}).one()
    start = _utc(since) if since is not None else _utc(now)
    reset = reset_at if reset_at.tzinfo else reset_at.replace(tzinfo=UTC)
    waited = (reset - start).total_seconds()
    if waited <= max_wait_seconds:
        return ""
    minutes = max_wait_seconds / 60
    return (f"rate limited by the platform since {start:%Y-%m-%d %H:%M:%S} UTC and its limit "
            f"resets at {reset.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC, past the "
            f"{minutes:g}-minute budget for waiting on rate limits "
            "(POISE_PUBLISH_RATE_LIMIT_MAX_WAIT_MINUTES)")


def _utc(value: object) -> datetime:
    """A time read back through ``text()`` (naive UTC; text on SQLite) as aware UTC."""
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(parsed, datetime)
    return parsed.replace(tzinfo=UTC)
