"""Publishing: claim -> send -> record, exactly once and on time.

The database holds the schedule and is the only coordinator between worker processes:

1. ``claim_due`` (``claiming``) takes due publications in one short transaction
   (PostgreSQL ``FOR UPDATE SKIP LOCKED``; SQLite the same statements under ``BEGIN
   IMMEDIATE``), giving each a fresh attempt id and a lease measured on the database's clock.
2. A thread commits ``sending`` with the fingerprint and idempotency key *before* the network
   call, then records the outcome (``recording``). Every write after the claim is fenced by
   the attempt id (``WHERE id = ? AND attempt_id = ? AND status = ?``): zero rows means the
   lease was lost and the worker stops without writing anything.
3. Unknown outcomes are reconciled (``reconcile``), expired leases are reaped
   (``reaper``); nothing that may have been created is ever sent again blindly.

This module holds the failure policy and the ``Dispatcher``, which claims into a bounded thread
pool and sends; its configuration lives in ``planner.publishing.config`` so that the
modules the dispatcher uses never import it back.

Test-only fault hook: ``POISE_FAULT_KILL_AT`` = ``after_claim`` | ``after_send`` |
``before_record`` makes the worker SIGKILL itself at that phase (``after_send`` fires
``POISE_FAULT_KILL_DELAY_MS`` (default 100) ms after the request was handed to the adapter, i.e.
while the platform is answering). It is read once when a Dispatcher is created; never set it in
production.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import bindparam
from sqlalchemy.engine import Engine

from planner.dbtypes import UTCDateTime
from planner.publishing.claiming import (
    RECONCILE,
    AccountCap,
    Job,
    claim_due,
    seconds_until_next_due,
)
from planner.publishing.config import DispatchConfig, backoff_seconds
from planner.publishing.history import History, load_history, rate_limit_overrun
from planner.publishing.liveness import Liveness
from planner.publishing.reaper import sweep_missed
from planner.publishing.recording import LeaseLost, Recorder, worker_id
from planner.settings import get_settings
from publishers import (
    AccountHeld,
    AuthExpired,
    ContentRejected,
    OutcomeUnknown,
    PublishContext,
    Publisher,
    RateLimited,
    Transient,
    get_publisher,
)
from publishers.registry import UnknownPlatform

log = logging.getLogger(__name__)

class Dispatcher:
    """Claims due publications into a bounded thread pool and records what happened."""

    def __init__(self, engine: Engine, config: DispatchConfig | None = None, *,
                 publisher_for: Callable[[str], Publisher] = get_publisher,
                 media_dir: Path | None = None) -> None:
        self.engine = engine
        self.config = config or DispatchConfig.from_settings()
        self.publisher_for = publisher_for
        self.media_dir = media_dir or get_settings().media_dir
        self.recorder = Recorder(engine, self.config)
        # PostgreSQL: an advisory lock held while this process lives; its claims carry the
        # lock's key, so the reaper returns them the moment the process dies.
        self.liveness = Liveness(engine)
        self._executor = ThreadPoolExecutor(self.config.threads, thread_name_prefix="poise-send")
        self._inflight = 0
        self._finished = 0  # sends and reconciliations done, for waiters to notice one
        self._by_account: Counter[int] = Counter()  # in flight per account (the cap)
        self._capped = False  # the last claim left an account at its cap
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._fault = os.environ.get("POISE_FAULT_KILL_AT", "")
        self._fault_delay = float(os.environ.get("POISE_FAULT_KILL_DELAY_MS", "100")) / 1000

    # -- capacity
    @property
    def inflight(self) -> int:
        with self._cond:
            return self._inflight

    @property
    def capacity(self) -> int:
        """Jobs held at once: one per send thread plus a few claimed ahead."""
        return self.config.threads + self.config.claim_ahead

    def free_slots(self) -> int:
        return max(0, self.capacity - self.inflight)

    def wait_idle(self, timeout: float | None = None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._inflight == 0, timeout=timeout)

    def stop_claiming(self) -> None:
        """No new claims from now on; sends already started go on and are recorded."""
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()

    def shutdown(self, wait: bool = True) -> None:
        self.stop_claiming()
        self._executor.shutdown(wait=wait, cancel_futures=False)
        self.liveness.close()

    # -- ticking
    def tick(self, budget_seconds: float = 0.0) -> int:
        """Claim into free slots and keep refilling them while work remains; end once
        ``budget_seconds`` pass without a claim. A backlog therefore drains in one tick,
        with no pause between ticks (APScheduler skips the runs that fall inside it)."""
        deadline = time.monotonic() + budget_seconds
        sweep_missed(self.engine, self.config)  # late ones become missed, never sent
        started = 0
        batch = max(1, self.config.threads // 4)
        while not self._stopping.is_set():
            free = self.free_slots()
            if free:
                finished = self._finished
                claimed = self.claim_and_submit(free)
                started += claimed
                if claimed:
                    deadline = time.monotonic() + budget_seconds
                if 0 < claimed < free:
                    continue  # the per-account cap may have hidden due rows: look again
                if claimed == 0:
                    if not self._wait_for_work(deadline, finished):
                        break
                    continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            with self._cond:
                self._cond.wait_for(lambda: self.capacity - self._inflight >= batch
                                    or self._stopping.is_set(), timeout=remaining)
        return started

    def _wait_for_work(self, deadline: float, finished: int) -> bool:
        """Nothing could be claimed. If something falls due before this tick's budget ends,
        wait for exactly that instant rather than the next tick; if an account is held at
        its cap, also wake when one of its sends finishes. False: end the tick."""
        wait = seconds_until_next_due(self.engine, self.config)
        remaining = deadline - time.monotonic()
        capped = self._capped
        if remaining <= 0 or ((wait is None or wait >= remaining) and not capped):
            return False
        timeout = remaining if wait is None else min(remaining, wait + 0.01)
        with self._cond:
            self._cond.wait_for(lambda: self._stopping.is_set()
                                or (capped and self._finished != finished), timeout=timeout)
        return True

    def claim_and_submit(self, free: int) -> int:
        with self._cond:
            cap = AccountCap(self.config.account_cap, dict(self._by_account))
        jobs = claim_due(self.engine, self.config, limit=free, media_dir=self.media_dir,
                         cap=cap, owner=self.liveness.owner)
        self._capped = bool(cap.busy())
        if jobs and self._fault == "after_claim":
            _kill_self()
        for job in jobs:
            with self._cond:
                self._inflight += 1
                self._by_account[job.account_id] += 1
            self._executor.submit(self._run, job)
        return len(jobs)

    def _run(self, job: Job) -> None:
        try:
            if self._stopping.is_set():
                # Claimed ahead but not started when the worker was told to stop: given
                # back now, for another worker, rather than sent during the shutdown.
                self.recorder.release(job)
            elif job.mode == RECONCILE:
                from planner.publishing.reconcile import reconcile

                reconcile(self, job)
            else:
                self.send(job)
        except LeaseLost as exc:
            log.warning("%s", exc)
        except Exception:
            log.exception("publication %s: dispatcher error", job.publication_id)
        finally:
            with self._cond:
                self._inflight -= 1
                self._finished += 1
                self._by_account[job.account_id] -= 1
                if self._by_account[job.account_id] <= 0:
                    del self._by_account[job.account_id]
                self._cond.notify_all()

    # -- sending
    def send(self, job: Job) -> None:
        rec = self.recorder
        try:
            publisher = self.publisher_for(job.platform)
        except UnknownPlatform as exc:
            rec.finish(job, "claimed", "status = 'failed', last_error = :err", "failed", exc,
                       {"err": str(exc)[:1000]})
            return
        if job.load_error is not None:
            self.record_failure(job, job.load_error, from_status="claimed")
            return
        assert job.content is not None and job.account is not None
        history = load_history(self.engine, job.publication_id) if job.attempts else History()
        if job.attempts >= self.config.max_attempts:
            self.give_up(job, history, "claimed", f"not sent again: {job.attempts} sends "
                         f"made, the budget is {self.config.max_attempts}")
            return
        if history.ever_unknown and not history.may_send_again:
            self.give_up(job, history, "claimed", "not sent again: an earlier send may have "
                         "created the post and it was already sent once more after that")
            return
        try:
            problems = publisher.validate(job.content, job.account)
        except Exception as exc:  # noqa: BLE001 - an adapter bug must not loop the claim
            log.exception("publication %s: validate() failed", job.publication_id)
            self.record_failure(job, ContentRejected(f"could not be checked: {exc!r}"),
                                from_status="claimed", history=history)
            return
        if problems:
            reason = "; ".join(f"{p.field}: {p.message}" for p in problems)
            self.record_failure(job, ContentRejected(reason), from_status="claimed",
                                history=history)
            return
        if not rec.to_sending(job):
            log.info("publication %s: not sent (lease lost, or its account is held)",
                     job.publication_id)
            return
        ctx = PublishContext(idempotency_key=job.idempotency_key, fingerprint=job.fingerprint,
                             state=dict(job.state),
                             checkpoint=lambda state: rec.checkpoint(job, state),
                             timeout_seconds=self.config.effective_timeout)
        if self._fault == "after_send":
            threading.Timer(self._fault_delay, _kill_self).start()
        try:
            result = publisher.publish(job.content, job.account, ctx)
        except LeaseLost:
            raise
        except Exception as exc:  # noqa: BLE001 - anything unexpected is an unknown outcome
            if self._fault == "before_record":
                _kill_self()
            self.record_failure(job, exc, from_status="sending", history=history)
            return
        if self._fault == "before_record":
            _kill_self()
        if not rec.published(job, result, "sending"):
            log.warning("publication %s: lease lost; result %s not recorded by this worker",
                        job.publication_id, result.remote_id)

    def give_up(self, job: Job, history: History, from_status: str, reason: str,
                error: BaseException | None = None, outcome: str = "gave_up") -> bool:
        """The end of the budget: ``failed`` if nothing can have been created, otherwise
        ``needs_review`` (a live post is never recorded as failed), with the story."""
        if history.ever_unknown:
            return self.recorder.needs_review(
                job, from_status, f"{reason}. An earlier send may have created the post; "
                f"check the account, then mark it published or retry it. History: "
                f"{history.summary()}", outcome, error)
        return self.recorder.finish(job, from_status, "status = 'failed', lease_until = NULL, "
                                    "last_error = :err", outcome, error,
                                    {"err": reason[:1000]})

    def _rate_limit_spent(self, job: Job, from_status: str, error: RateLimited,
                          overrun: str) -> bool:
        """A rate limit whose reset lies past the time budget: a person decides now. The
        account still waits for the reset (every other send of it would get the same 429)."""
        rec = self.recorder
        history = load_history(self.engine, job.publication_id, but=job.attempt_id)
        created = ("An earlier send may have created the post; check the account, then mark "
                   "it published or retry it." if history.ever_unknown else
                   "Nothing was created; retry it or reschedule it.")
        story = History.of((*history.story, "rate_limited")).summary()
        return rec.needs_review(
            job, from_status, f"Not sent: {overrun}. {created} History: {story}",
            "rate_limited", error, assignments=f"attempts = {_uncount(from_status)}",
            also=lambda conn: rec.rate_limited(conn, job, error.reset_at))

    def record_failure(self, job: Job, error: BaseException, *, from_status: str,
                       history: History | None = None) -> bool:
        """Apply the failure policy for ``error``; see docs/dispatch.md."""
        rec, now = self.recorder, self.recorder.clock.now
        if history is None:
            history = load_history(self.engine, job.publication_id) if job.attempts \
                else History()
        if isinstance(error, RateLimited):
            overrun = rate_limit_overrun(self.engine, job.publication_id, error.reset_at,
                                         self.config.rate_limit_max_wait_seconds, now())
            if overrun:
                return self._rate_limit_spent(job, from_status, error, overrun)
            return rec.finish(
                job, from_status,
                "status = 'retry_wait', due_at = :reset, lease_until = NULL, "
                f"attempts = {_uncount(from_status)}, last_error = :err", "rate_limited", error,
                {"reset": error.reset_at,
                 "err": f"rate limited until {error.reset_at.isoformat()}: {error.reason}"[:1000]},
                (bindparam("reset", type_=UTCDateTime),),
                also=lambda conn: rec.rate_limited(conn, job, error.reset_at))
        if isinstance(error, AuthExpired):
            return rec.finish(
                job, from_status,
                f"status = CASE WHEN {_uncount(from_status)} = 0 THEN 'pending' "
                f"ELSE 'retry_wait' END, due_at = {now()}, lease_until = NULL, "
                f"attempts = {_uncount(from_status)}, last_error = :err", "auth_expired", error,
                {"err": f"account needs reconnecting: {error.reason}"[:1000]},
                also=lambda conn: rec.auth_expired(conn, job, error.reason))
        if isinstance(error, AccountHeld):
            return rec.finish(
                job, from_status,
                f"status = CASE WHEN {_uncount(from_status)} = 0 THEN 'pending' "
                f"ELSE 'retry_wait' END, due_at = {now()}, lease_until = NULL, "
                f"attempts = {_uncount(from_status)}, last_error = :err", "account_held", error,
                {"err": f"waiting for an admin: {error.reason}"[:1000]},
                also=lambda conn: rec.account_held(conn, job, error.reason))
        if isinstance(error, ContentRejected):
            return self.give_up(job, history, from_status,
                                f"rejected by the platform: {error.reason}", error, "rejected")
        if isinstance(error, Transient):
            if job.attempts >= self.config.max_attempts or history.ever_unknown:
                # After an unknown outcome this was the one send allowed: no third one.
                return self.give_up(job, history, from_status,
                                    f"gave up after {job.attempts} attempts: {error.reason}",
                                    error, "transient")
            delay = backoff_seconds(job.attempts, self.config)
            return rec.finish(job, from_status,
                              f"status = 'retry_wait', due_at = {now(delay)}, "
                              "lease_until = NULL, last_error = :err", "transient", error,
                              {"err": f"will retry: {error.reason}"[:1000]})
        # OutcomeUnknown, or anything an adapter did not classify: the post may exist.
        reason = error.reason if isinstance(error, OutcomeUnknown) else repr(error)
        outcome = ("duplicate" if isinstance(error, OutcomeUnknown) and error.duplicate
                   else "unknown")
        if isinstance(error, OutcomeUnknown) and error.not_before is not None:
            # The platform may still be working on the request: an unknown row is claimed
            # for reconciling only once its lease is over, so the lease is the wait.
            return rec.finish(job, from_status, "status = 'unknown', lease_until = :nb, "
                              "last_error = :err", outcome, error,
                              {"nb": error.not_before,
                               "err": f"outcome unknown, reconciling: {reason}"[:1000]},
                              (bindparam("nb", type_=UTCDateTime),))
        return rec.finish(job, from_status, "status = 'unknown', lease_until = NULL, "
                          "last_error = :err", outcome, error,
                          {"err": f"outcome unknown, reconciling: {reason}"[:1000]})


def _uncount(from_status: str) -> str:
    # Rate limits and expired tokens created nothing: they do not use up an attempt.
    return "attempts - 1" if from_status == "sending" else "attempts"


def _kill_self() -> None:
    log.warning("POISE_FAULT_KILL_AT: killing worker %s", worker_id())
    os.kill(os.getpid(), signal.SIGKILL)
