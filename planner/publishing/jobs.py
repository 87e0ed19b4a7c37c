"""APScheduler wiring only: interval jobs that call the publishing services.

Nothing starts on import. ``start_worker`` is the one explicit way to run the publishing worker
(``serve`` calls it in-process unless ``--no-worker``; ``python main.py worker`` calls
``run_worker_forever``), so a web process never ticks by accident.

``python -m planner.jobs --database-url URL [--exit-when-idle]`` runs a worker directly (the
fault tests and the benchmark start real worker processes this way).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import Engine

from planner.accounts import notify_sunsets, refresh_expiring
from planner.conversions import dm_poll
from planner.db import get_engine, make_engine, session_scope
from planner.publishing.alerts import notify_problems_job
from planner.publishing.claiming import ensure_statistics
from planner.publishing.dispatch import DispatchConfig, Dispatcher
from planner.publishing.reaper import outstanding, reap_expired_leases, sweep_missed
from planner.settings import Settings, get_settings
from planner.team import mail

log = logging.getLogger(__name__)

LATENESS_SWEEP_SECONDS = 30.0
ALERT_SECONDS = 3.0  # how soon a failed publication or a notification e-mail goes out


@dataclass
class WorkerHandle:
    scheduler: BackgroundScheduler
    dispatcher: Dispatcher
    engine: Engine

    def stop(self, wait: bool = True) -> None:
        """Stop claiming, then let in-flight sends finish and record (``wait=True``)."""
        self.dispatcher.stop_claiming()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)
        self.dispatcher.shutdown(wait=wait)

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running)


def worker_engine(url: str, threads: int, pool_size: int | None = None) -> Engine:
    """The worker's own engine: on PostgreSQL a small pool (``POISE_WORKER_DB_CONNECTIONS``,
    6) whatever the number of send threads: a thread holds a connection only for one short
    write, never while it waits on a platform. No ping per checkout (a dead connection fails
    one unit of work, which the lease recovers)."""
    if url.startswith("sqlite"):
        return get_engine(url)
    size = pool_size or min(threads + 4, get_settings().worker_db_connections)
    return make_engine(url, pool_size=size, max_overflow=0, pool_timeout=60,
                       pool_pre_ping=False, pool_recycle=600)


def _skip_overlap_notices(record: logging.LogRecord) -> bool:
    # A tick still draining a backlog when the next one is due is normal, not a warning.
    return "maximum number of running instances reached" not in record.getMessage()


TOKEN_REFRESH_SECONDS = 60.0
LIVENESS_SECONDS = 3.0


def _refresh_tokens(engine: Engine) -> None:
    try:
        refreshed = refresh_expiring(engine)
    except Exception:  # a failed round is retried next minute; it must not stop the worker
        log.exception("token refresh round failed")
        return
    if refreshed:
        log.info("refreshed OAuth tokens of %d account(s)", refreshed)


SUNSET_CHECK_SECONDS = 3600.0


def _notify_sunsets(engine: Engine) -> None:
    """Tell admins about API versions near or past their sunset (once per version and
    stage; publishing/versions.py holds the dates)."""
    try:
        with session_scope(engine) as session:
            written = notify_sunsets(session=session)
    except Exception:  # a failed round is retried next hour; it must not stop the worker
        log.exception("API version sunset check failed")
        return
    if written:
        log.warning("API version sunset: %d notification(s) for admins", written)


def _poll_dms(engine: Engine, interval_seconds: float) -> None:
    try:
        fetched = dm_poll.poll_due(engine, interval_seconds=interval_seconds)
    except Exception:  # a failed round is retried next interval; it must not stop the worker
        log.exception("DM poll round failed")
        return
    if fetched:
        log.info("fetched %d new direct message(s) into the Inbox", fetched)


def _alert_and_mail(engine: Engine, settings: Settings) -> None:
    try:
        notify_problems_job(engine)
        mail.send_pending(engine=engine, smtp_url=settings.smtp_url, sender=settings.smtp_from,
                          base_url=settings.public_base_url)
    except Exception:  # retried next round; it must not stop the worker
        log.exception("notification round failed")


def _collect_metrics(engine: Engine, schedule: str, batch: int) -> None:
    from planner import insight

    try:
        insight.collect_due(engine, schedule=schedule, batch=batch)
    except Exception:  # a failed round is retried next interval; it must not stop the worker
        log.exception("metrics round failed")


def _tick(dispatcher: Dispatcher, budget_seconds: float) -> None:
    dispatcher.tick(budget_seconds=budget_seconds)


def start_worker(settings: Settings | None = None, *, engine: Engine | None = None,
                 config: DispatchConfig | None = None) -> WorkerHandle:
    """Start the publishing worker in background threads and return its handle."""
    settings = settings or get_settings()
    config = config or DispatchConfig.from_settings(settings)
    engine = engine or worker_engine(settings.effective_database_url, config.threads)
    try:
        ensure_statistics(engine)
    except Exception:  # noqa: BLE001 - an optimisation only; never stop the worker for it
        log.warning("could not ANALYZE the publishing tables", exc_info=True)
    dispatcher = Dispatcher(engine, config, media_dir=settings.media_dir)
    # APScheduler narrates every job it adds and runs at INFO; the worker logs what matters.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("apscheduler.scheduler").addFilter(_skip_overlap_notices)
    scheduler = BackgroundScheduler(timezone=UTC, job_defaults={
        "coalesce": True, "max_instances": 1, "misfire_grace_time": None})
    now = datetime.now(UTC)
    tick = settings.tick_seconds
    # A tick keeps refilling free send slots for as long as it finds work (and waits up to
    # most of its interval for the next due post), so a large backlog drains at full
    # concurrency in one tick instead of one batch per tick; the runs due meanwhile are
    # skipped (max_instances=1).
    scheduler.add_job(_tick, "interval", seconds=tick, args=[dispatcher, tick * 0.8],
                      id="publishing-tick", next_run_time=now)
    scheduler.add_job(reap_expired_leases, "interval",
                      seconds=max(0.5, min(LIVENESS_SECONDS if dispatcher.liveness.owner
                                           else 5.0, config.lease_seconds / 3)),
                      args=[engine, config], id="publishing-reaper", next_run_time=now)
    # PostgreSQL: check the liveness lock's connection every few seconds and take the lock
    # again if it was lost (a database restart); other workers' reapers see a dead worker
    # the moment its lock goes.
    if dispatcher.liveness.owner:
        scheduler.add_job(dispatcher.liveness.renew, "interval", seconds=LIVENESS_SECONDS,
                          id="worker-liveness", next_run_time=now + timedelta(
                              seconds=LIVENESS_SECONDS))
    scheduler.add_job(sweep_missed, "interval", seconds=LATENESS_SWEEP_SECONDS,
                      args=[engine, config], id="publishing-lateness", next_run_time=now)
    # OAuth tokens are renewed ahead of expiry; a lease per account keeps several workers
    # from spending one single-use refresh token twice.
    scheduler.add_job(_refresh_tokens, "interval", seconds=TOKEN_REFRESH_SECONDS,
                      args=[engine], id="token-refresh", next_run_time=now)
    scheduler.add_job(_notify_sunsets, "interval", seconds=SUNSET_CHECK_SECONDS,
                      args=[engine], id="api-version-sunsets", next_run_time=now)
    scheduler.add_job(_alert_and_mail, "interval", seconds=ALERT_SECONDS,
                      args=[engine, settings], id="notifications", next_run_time=now)
    if settings.dm_poll_seconds > 0:
        scheduler.add_job(_poll_dms, "interval", seconds=settings.dm_poll_seconds,
                          args=[engine, settings.dm_poll_seconds], id="dm-poll",
                          next_run_time=now)
    if settings.metrics_poll_seconds > 0:
        scheduler.add_job(_collect_metrics, "interval", seconds=settings.metrics_poll_seconds,
                          args=[engine, settings.metrics_schedule, settings.metrics_batch],
                          id="metrics", next_run_time=now)
    scheduler.start()
    log.info("publishing worker started: %d threads, tick %.1fs, lease %.0fs",
             config.threads, tick, config.lease_seconds)
    return WorkerHandle(scheduler=scheduler, dispatcher=dispatcher, engine=engine)


def run_worker_forever(settings: Settings | None = None, *,
                       config: DispatchConfig | None = None,
                       engine: Engine | None = None) -> None:
    """Run the worker until SIGINT or SIGTERM, then stop gracefully."""
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping the publishing worker", signum)
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    handle = start_worker(settings, config=config, engine=engine)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        handle.stop(wait=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_until_idle(settings: Settings, *, config: DispatchConfig | None = None,
                   engine: Engine | None = None, max_seconds: float = 600.0) -> bool:
    """Run until no publication needs the worker (or ``max_seconds``); True when idle."""
    handle = start_worker(settings, config=config, engine=engine)
    deadline = time.monotonic() + max_seconds
    idle = False
    try:
        while time.monotonic() < deadline:
            time.sleep(min(0.5, settings.tick_seconds))
            if handle.dispatcher.inflight == 0 and outstanding(handle.engine) == 0:
                idle = True
                break
    finally:
        handle.stop(wait=True)
    return idle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m planner.jobs",
                                     description="Run the publishing worker.")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--tick", type=float, default=None, help="seconds between ticks")
    parser.add_argument("--lease", type=float, default=None, help="lease in seconds")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--lateness-minutes", type=float, default=None)
    parser.add_argument("--backoff-base", type=float, default=None)
    parser.add_argument("--backoff-cap", type=float, default=None)
    parser.add_argument("--account-cap", type=int, default=None,
                        help="sends in flight per account in this worker (default: a quarter "
                             "of the threads, at least 1)")
    parser.add_argument("--db-pool", type=int, default=None,
                        help="PostgreSQL connections per worker process (pool, no overflow); "
                             "keep workers x pool under max_connections")
    parser.add_argument("--exit-when-idle", action="store_true")
    parser.add_argument("--max-seconds", type=float, default=600.0)
    parser.add_argument("--import", dest="imports", action="append", default=[],
                        help="module to import first (e.g. one registering test adapters)")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level,
                        format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
    for module in args.imports:
        importlib.import_module(module)
    overrides = {"database_url": args.database_url, "tick_seconds": args.tick,
                 "worker_threads": args.threads}
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    config = DispatchConfig.from_settings(
        settings, lease_seconds=args.lease, lateness_window_minutes=args.lateness_minutes,
        backoff_base_seconds=args.backoff_base, backoff_cap_seconds=args.backoff_cap,
        max_inflight_per_account=args.account_cap)
    engine = worker_engine(settings.effective_database_url, config.threads, args.db_pool)
    if args.exit_when_idle:
        idle = run_until_idle(settings, config=config, engine=engine,
                              max_seconds=args.max_seconds)
        return 0 if idle else 3
    run_worker_forever(settings, config=config, engine=engine)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
