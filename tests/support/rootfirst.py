"""Imported first by the conftest of every test folder named like a real package
(tests/publishers, tests/sandbox): those folders have no __init__.py, so without this the
folder could shadow the package it tests (an editable install resolves after sys.path
entries). Importing this module puts the project root first on sys.path and forgets any
namespace-package stand-in already imported under those names."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if sys.path[:1] != [ROOT]:
    sys.path.insert(0, ROOT)
for _name in ("publishers", "sandbox"):
    if not getattr(sys.modules.get(_name), "__file__", None):
        sys.modules.pop(_name, None)
