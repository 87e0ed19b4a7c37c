"""publishers/ is plain data in, result or typed error out: it imports nothing of the planner
or the web framework (docs/architecture.md), so it can be reused and tested on its own."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "publishers"
FORBIDDEN = ("planner", "fastapi", "starlette")
SOURCES = sorted(PACKAGE.rglob("*.py"))


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_the_package_has_sources() -> None:
    assert len(SOURCES) > 10  # the glob finds the adapters and the fakes


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_planner_or_web_imports(path: Path) -> None:
    bad = [name for name in imported_modules(path) if name.split(".")[0] in FORBIDDEN]
    assert bad == [], f"{path.relative_to(ROOT)} imports {bad}"


def test_importing_every_module_loads_no_planner_or_web_code() -> None:
    """Catches indirect imports too (a dependency that pulls the planner in)."""
    modules = [".".join(p.relative_to(ROOT).with_suffix("").parts) for p in SOURCES
               if p.name != "__main__.py"]
    script = (f"import importlib, sys\nfor name in {modules!r}:\n"
              "    importlib.import_module(name.removesuffix('.__init__'))\n"
              f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
