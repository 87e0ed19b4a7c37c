"""Helpers for the Playwright browser tests."""

import os
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

DEMO_PASSWORD = "poise-demo-2026"
ROOT = Path(__file__).resolve().parents[2]
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-quic"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(var_dir: Path, *, extra_env: dict[str, str] | None = None,
                 worker: bool = False) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "POISE_VAR_DIR": str(var_dir), "POISE_TICK_SECONDS": "0.5",
           "POISE_SUGGESTER": os.environ.get("POISE_SUGGESTER", "lexicon"),
           **(extra_env or {})}
    if "POISE_DATABASE_URL" not in (extra_env or {}):
        env.pop("POISE_DATABASE_URL", None)  # the demo runs on its own SQLite file
    log = open(var_dir / "server.log", "wb")  # noqa: SIM115 - closed with the process
    args = [sys.executable, str(ROOT / "main.py"), "serve", "--demo", "--port", str(port),
            "--worker" if worker else "--no-worker"]
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {(var_dir / 'server.log').read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, base
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start within 60 s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()




def log_in(page, base: str, email: str = "admin@poise.local",
           password: str = DEMO_PASSWORD) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/w/**")


def seed_published(db: sqlite3.Connection, account_id: int, counts: tuple[int, int, int, int],
                   label: str) -> None:
    """Published posts on one account of a demo server's SQLite file, one a day from 40 days
    ago: ``counts`` Try/Share/Care/Learn posts, interleaved so the oldest two are Try."""
    tags = [q for q, n in zip(("try", "share", "care", "learn"), counts, strict=True)
            for _ in range(n)]
    tags = tags[::2] + tags[1::2]
    start = datetime.now(UTC) - timedelta(days=40)
    for i, tag in enumerate(tags):
        at = (start + timedelta(days=i)).strftime("%Y-%m-%d %H:%M:%S.000000")
        cur = db.execute(
            "INSERT INTO post (workspace_id, text, link, tags, dm_keyword, dm_product_url,"
            " dm_prefill, tag_source, media_path, media_mime, status, scheduled_at,"
            " scheduled_local, scheduled_tz, version, created_at, updated_at)"
            " VALUES (1, ?, '', ?, '', '', '', 'manual', '', '', 'approved', ?, '', '', 1,"
            " ?, ?)", (f"{label} {i}", tag, at, at, at))
        db.execute(
            "INSERT INTO publication (post_id, account_id, workspace_id, status,"
            " scheduled_at, due_at, attempt_id, attempts, idempotency_key, fingerprint,"
            " remote_state, remote_id, remote_url, last_error, updated_at, published_at)"
            " VALUES (?, ?, 1, 'published', ?, ?, '', 0, ?, '', '{}', '', '', '', ?, ?)",
            (cur.lastrowid, account_id, at, at, f"seed{cur.lastrowid}", at, at))
