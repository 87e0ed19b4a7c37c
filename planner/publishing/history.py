"""What already happened to one publication, read from its Attempt rows: the budget that
bounds every path through the state machine.

The rules that use it (see docs/dispatch.md, "Bounds"):

- after an outcome that may have created the post (``unknown``, ``lease_expired``,
  ``duplicate``) at most ONE more send is ever made, and only after a lookup said "not there";
- a ``duplicate`` refusal is evidence the post is live: it is looked up thoroughly and, if
  still not found, handed to a person, never sent again;
- a publication that ever had such an outcome is never recorded as ``failed`` (the post may
  be live): it goes to ``needs_review`` instead;
- sends are bounded by ``DispatchConfig.max_attempts``, lookups by ``max_lookups``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Engine

# Attempt outcomes of a call that may have created the post.
MAYBE_CREATED = frozenset({"unknown", "lease_expired", "duplicate"})
# Attempt outcomes of a send that reached the platform (or may have). ``sending`` is an
# Attempt still open: its worker died before anything closed it.
SENT = frozenset({"sending", "published", "transient", "rejected"}) | MAYBE_CREATED
# A person's decision (send again, or a new schedule after re-approval): the budget starts over.
RESET = "manual_retry"


@dataclass(frozen=True)
class History:
    maybe_created: int = 0  # outcomes after which the post may exist
    sends_after_unknown: int = 0  # sends after the first of those
    duplicate: bool = False  # the platform said "duplicate": evidence the post is live
    lookups: int = 0  # every reconciliation lookup
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
            if outcome.startswith("reconcile_"):
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


def load_history(engine: Engine, publication_id: int) -> History:
    with engine.connect() as conn:  # a read: no write lock needed
        return History.of(str(o) for o in conn.execute(text(
            "SELECT outcome FROM attempt WHERE publication_id = :pid ORDER BY id"),
            {"pid": publication_id}).scalars())
