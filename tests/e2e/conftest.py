"""Browser tests: a real server (subprocess, free loopback port, demo data) and Chromium.

Without /usr/bin/chromium or Playwright these tests are skipped with the reason; with
REQUIRE_BROWSER=1 (CI) they fail instead, so nothing is silently skipped there.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from browserhelpers import BROWSER_ARGS, free_port, start_server, stop_server  # noqa: F401

CHROMIUM = os.environ.get("POISE_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("REQUIRE_BROWSER") == "1"


def _unavailable(reason: str) -> None:
    if REQUIRE_BROWSER:
        pytest.fail(f"browser tests required (REQUIRE_BROWSER=1) but {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _isolated_settings() -> Iterator[None]:
    """The browser tests run their own server process; nothing to isolate in-process."""
    yield


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    var_dir = tmp_path_factory.mktemp("e2e-var")
    proc, base = start_server(var_dir)
    yield base
    stop_server(proc)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (make test installs it)")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, tmp_path: Path) -> Iterator[object]:
    context = browser.new_context(timezone_id="Europe/Warsaw", viewport={"width": 1400,
                                                                        "height": 1000})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()
