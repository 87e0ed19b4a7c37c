"""Helpers for the Playwright browser tests."""

import os
import socket
import subprocess
import sys
import time
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
