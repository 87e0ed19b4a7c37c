"""Fixtures: one loopback FakePlatform for the session, reset before every test."""

from __future__ import annotations

import sys
from pathlib import Path

# The project root goes first: this folder has no __init__.py and is named like the real
# package, which it must not shadow (an editable install resolves after sys.path entries).
ROOT = str(Path(__file__).resolve().parents[2])
if sys.path[:1] != [ROOT]:
    sys.path.insert(0, ROOT)
for _name in ("publishers", "sandbox"):
    if not getattr(sys.modules.get(_name), "__file__", None):
        sys.modules.pop(_name, None)

from platformfixtures import (  # noqa: E402,F401 - fixtures are found by name
    account,
    fake,
    fake_server,
    jpeg,
    make_ctx,
)
