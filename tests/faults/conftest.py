"""Fault tests: a loopback fake platform and real worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
# The project root goes first: a tests/<name> folder without __init__.py must not shadow the
# real package of the same name (an editable install resolves after plain sys.path entries).
for _path in (str(ROOT), str(HERE)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import fake_adapters  # noqa: E402,F401  (registers fake-noidem and fake-idem in this process)
from fake_platform import FakePlatform  # noqa: E402

LEASE = 3.0
TICK = 0.2


@pytest.fixture
def platform() -> Iterator[FakePlatform]:
    fake = FakePlatform().start()
    yield fake
    fake.stop()


WorkerFactory = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def spawn_worker(db_url: str, tmp_path: Path) -> Iterator[WorkerFactory]:
    """Start a real worker process (python -m planner.jobs) on the test database."""
    started: list[subprocess.Popen[bytes]] = []

    def spawn(*, kill_at: str = "", kill_delay_ms: int = 100, threads: int = 8,
              lease: float = LEASE, exit_when_idle: bool = True, max_seconds: float = 90,
              extra: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT)]),
               "POISE_VAR_DIR": str(tmp_path / "var")}
        env.pop("POISE_FAULT_KILL_AT", None)
        if kill_at:
            env["POISE_FAULT_KILL_AT"] = kill_at
            env["POISE_FAULT_KILL_DELAY_MS"] = str(kill_delay_ms)
        args = [sys.executable, "-m", "planner.publishing.jobs", "--database-url", db_url,
                "--import", "fake_adapters", "--tick", str(TICK), "--lease", str(lease),
                "--threads", str(threads), "--backoff-base", "0.2", "--backoff-cap", "1",
                "--max-seconds", str(max_seconds), *extra]
        if exit_when_idle:
            args.append("--exit-when-idle")
        log = open(tmp_path / f"worker-{len(started)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        started.append(proc)
        return proc

    yield spawn
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture
def run_worker(engine):  # type: ignore[no-untyped-def]
    """Run the in-process worker (start_worker, APScheduler and all) until a condition holds."""
    import time

    from planner.publishing.dispatch import DispatchConfig
    from planner.publishing.jobs import start_worker
    from planner.settings import Settings

    def run(until: Callable[[], bool], *, timeout: float = 30, lease: float = 2.0,
            threads: int = 4, skew: float = 0.0, backoff: float = 0.2) -> None:
        settings = Settings(tick_seconds=TICK, worker_threads=threads)
        config = DispatchConfig.from_settings(settings, lease_seconds=lease,
                                              backoff_base_seconds=backoff,
                                              backoff_cap_seconds=1.0, clock_skew_seconds=skew)
        handle = start_worker(settings, engine=engine, config=config)
        deadline = time.monotonic() + timeout
        try:
            while not until():
                if time.monotonic() > deadline:
                    raise AssertionError("timed out waiting for the worker")
                time.sleep(0.05)
        finally:
            handle.stop(wait=True)

    return run
