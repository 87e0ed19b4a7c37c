"""Reconciling publications whose outcome is unknown: found -> published, surely absent ->
safe to send again, the platform cannot tell -> a person decides (needs_review).

A reconciling worker holds a lease on the row but leaves its status ``unknown``, so an expired
reconciliation can never turn into a blind send.
"""

from __future__ import annotations

import logging
from typing import Protocol

from sqlalchemy import bindparam
from sqlalchemy.engine import Engine

from planner.dbtypes import UTCDateTime
from planner.publishing.claiming import RECONCILE, Job
from planner.publishing.config import DispatchConfig, backoff_seconds
from planner.publishing.history import History, load_history, rate_limit_overrun
from planner.publishing.recording import Recorder
from publishers import (
    AccountHeld,
    AuthExpired,
    OutcomeUnknown,
    PublishContext,
    Publisher,
    PublishResult,
    RateLimited,
    Transient,
)
from publishers.registry import UnknownPlatform

log = logging.getLogger(__name__)

_UNKNOWN = "unknown"
# The record of a reconciliation that asked the platform nothing (not a lookup: see
# ``history.LOOKUP``); the same outcome as a send budget that is spent.
_NO_LOOKUP = "gave_up"


class DispatchContext(Protocol):
    """What a reconciliation uses of the dispatcher that runs it (so this module never imports
    ``planner.publishing.dispatch``, which imports it)."""

    config: DispatchConfig
    engine: Engine
    recorder: Recorder

    def publisher_for(self, platform: str) -> Publisher: ...


def reconcile(dispatcher: DispatchContext, job: Job) -> None:
    assert job.mode == RECONCILE
    rec = dispatcher.recorder
    now = rec.clock.now
    try:
        publisher = dispatcher.publisher_for(job.platform)
    except UnknownPlatform as exc:
        _needs_review(dispatcher, job, f"no publisher for {job.platform!r}", exc,
                      outcome=_NO_LOOKUP)
        return
    if job.load_error is not None:
        # No lookup was made: recorded like the same failure before a send, not as a lookup.
        error = job.load_error
        rec.finish(job, _UNKNOWN, "lease_until = NULL, last_error = :err",
                   "auth_expired", error,
                   {"err": f"cannot check the platform, account needs reconnecting: "
                           f"{error.reason}"[:1000]},
                   also=lambda conn: rec.auth_expired(conn, job, error.reason))
        return
    assert job.content is not None and job.account is not None
    history = load_history(dispatcher.engine, job.publication_id)
    if history.lookups >= dispatcher.config.max_lookups:
        spent = f"{history.lookups} lookups made, the budget is {dispatcher.config.max_lookups}"
        _needs_review(dispatcher, job, f"{spent}; {history.summary()}", None,
                      outcome=_NO_LOOKUP, detail=f"no lookup made: {spent}")
        return
    # A clue that the post is live, or a second round: page through everything since the
    # first send instead of one page of recent posts.
    thorough = history.duplicate or history.sends_after_unknown > 0
    ctx = PublishContext(idempotency_key=job.idempotency_key, fingerprint=job.fingerprint,
                         state=dict(job.state), thorough=thorough,
                         # An adapter may resend under its idempotency key while reconciling
                         # (Mastodon within its key window); what it saves stays fenced.
                         checkpoint=lambda state: rec.checkpoint(job, state, _UNKNOWN),
                         timeout_seconds=dispatcher.config.effective_timeout)
    found: PublishResult | None
    try:
        try:
            found = publisher.find_existing(job.content, job.account, ctx)
        except OutcomeUnknown as exc:
            # An adapter that wraps a rate limit or a passing failure of its lookup into
            # "cannot tell" still gets the wait or the retry, not a person at once.
            if isinstance(exc.__cause__, RateLimited | AuthExpired | Transient):
                raise exc.__cause__ from exc
            raise
    except OutcomeUnknown as exc:
        if exc.not_before is not None and (
                history.lookup_errors + 1 < dispatcher.config.reconcile_max_tries):
            # A request may still be running on the platform (Mastodon): look again once it
            # must have finished; the tries stay bounded like any failed check.
            rec.finish(job, _UNKNOWN, "lease_until = :nb, last_error = :err",
                       "reconcile_error", exc,
                       {"nb": exc.not_before, "err": f"outcome unknown; waiting before "
                                                     f"checking: {exc.reason}"[:1000]},
                       (bindparam("nb", type_=UTCDateTime),))
            return
        _needs_review(dispatcher, job, exc.reason, exc)
        return
    except RateLimited as exc:
        reset_at = exc.reset_at
        overrun = rate_limit_overrun(dispatcher.engine, job.publication_id, reset_at,
                                     dispatcher.config.rate_limit_max_wait_seconds, now())
        if overrun:
            rec.needs_review(
                job, _UNKNOWN, f"Could not tell whether this was published: {overrun}. Check "
                "the account, then mark it published or retry it. History: "
                f"{History.of((*history.story, 'reconcile_rate_limited')).summary()}",
                "reconcile_rate_limited", exc,
                also=lambda conn: rec.rate_limited(conn, job, reset_at))
            return
        rec.finish(job, _UNKNOWN, "lease_until = :reset, last_error = :err",
                   "reconcile_rate_limited", exc,
                   {"reset": reset_at, "err": f"reconciling after the rate limit resets: "
                                              f"{exc.reason}"[:1000]},
                   (bindparam("reset", type_=UTCDateTime),),
                   also=lambda conn: rec.rate_limited(conn, job, reset_at))
        return
    except AccountHeld as exc:
        held = exc.reason
        rec.finish(job, _UNKNOWN, "lease_until = NULL, last_error = :err",
                   "reconcile_account_held", exc,
                   {"err": f"cannot check the platform until an admin acts: {held}"[:1000]},
                   also=lambda conn: rec.account_held(conn, job, held))
        return
    except AuthExpired as exc:
        reason = exc.reason
        rec.finish(job, _UNKNOWN, "lease_until = NULL, last_error = :err",
                   "reconcile_auth_expired", exc,
                   {"err": f"cannot check the platform, account needs reconnecting: "
                           f"{reason}"[:1000]},
                   also=lambda conn: rec.auth_expired(conn, job, reason))
        return
    except Exception as exc:  # noqa: BLE001 - Transient or unexpected: try again later
        tries = history.lookup_errors
        if tries + 1 >= dispatcher.config.reconcile_max_tries:
            _needs_review(dispatcher, job, f"the platform could not be checked after "
                                           f"{tries + 1} tries: {exc}", exc)
            return
        delay = backoff_seconds(tries + 1, dispatcher.config)
        rec.finish(job, _UNKNOWN, f"lease_until = {now(delay)}, last_error = :err",
                   "reconcile_error", exc,
                   {"err": f"outcome unknown; checking the platform failed, will retry: "
                           f"{exc}"[:1000]})
        return
    if found is not None:
        if not rec.published(job, found, _UNKNOWN, outcome="reconcile_found"):
            log.info("publication %s: lease lost while reconciling", job.publication_id)
        return
    looked = ("paged through the account's posts since the first send" if thorough
              else "read the account's recent posts")
    stop = _why_not_again(dispatcher, job, history)
    if stop:
        rec.needs_review(job, _UNKNOWN, f"Not found on the platform ({looked}), but {stop}. "
                         "Check the account, then mark it published or retry it. History: "
                         f"{history.summary()}, reconcile_not_found", "reconcile_not_found",
                         detail=f"{looked}: not there")
        return
    rec.finish(job, _UNKNOWN,
               f"status = 'retry_wait', due_at = {now()}, lease_until = NULL, "
               "last_error = :err", "reconcile_not_found", None,
               {"err": "not found on the platform after an unknown outcome; sending again "
                       "(once)"}, detail=f"{looked}: not there")


def _why_not_again(dispatcher: DispatchContext, job: Job, history: History) -> str:
    """Why a publication not found after an unknown outcome must not be sent again ('' if it
    may be, once)."""
    if history.duplicate:
        return ("the platform refused a send as a duplicate of an existing post, which "
                "means the post is most likely live; it is never sent again")
    if history.sends_after_unknown:
        return "it was already sent once more after an unknown outcome"
    if job.attempts >= dispatcher.config.max_attempts:
        return f"the send budget ({dispatcher.config.max_attempts}) is spent"
    return ""


def _needs_review(dispatcher: DispatchContext, job: Job, evidence: str,
                  error: BaseException | None, *, outcome: str = "reconcile_unknown",
                  detail: str = "") -> None:
    """A person decides. ``outcome``: ``reconcile_unknown`` after a lookup that could not
    tell, ``gave_up`` when none was made (it is then not counted as one)."""
    message = (f"Could not tell whether this was published ({evidence}). Check the account, "
               "then mark it published or retry it.")
    dispatcher.recorder.needs_review(job, _UNKNOWN, message, outcome, error, detail)

