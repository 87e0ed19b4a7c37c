"""Test helpers written once: the e-mail tests all read the same local SMTP inbox
(tests/support/smtpinbox.py) instead of each starting an aiosmtpd server of its own."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_only_the_shared_inbox_starts_an_smtp_server() -> None:
    own = sorted(str(path.relative_to(TESTS)) for path in TESTS.rglob("*.py")
                 if "from aiosmtpd" in path.read_text(encoding="utf-8")
                 and path.name not in ("smtpinbox.py", Path(__file__).name))
    assert own == [], f"use tests/support/smtpinbox.py (smtp_server, smtp_inbox): {own}"
