"""A real local SMTP server (aiosmtpd) that keeps every message it receives: the inbox the
e-mail tests read (team invitations, workflow notifications, the browser's team day)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message as EmailMessage

import pytest
from browserhelpers import free_port

Inbox = tuple[str, list[EmailMessage]]  # the server's smtp:// URL, what it received in order


@contextmanager
def smtp_inbox() -> Iterator[Inbox]:
    """Listen on a free loopback port while the block runs."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received: list[EmailMessage] = []

    class Collect(Message):
        def handle_message(self, message: EmailMessage) -> None:
            received.append(message)

    controller = Controller(Collect(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{controller.port}", received
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[Inbox]:
    """One test's inbox."""
    with smtp_inbox() as inbox:
        yield inbox
