"""Fixtures: one loopback FakePlatform for the session, reset before every test."""

from __future__ import annotations  # noqa: I001 - rootfirst must stay first

import rootfirst  # noqa: F401 - must come first: the real packages, not this folder

from platformfixtures import (  # noqa: E402,F401 - fixtures are found by name
    account,
    fake,
    fake_server,
    jpeg,
    make_ctx,
)
