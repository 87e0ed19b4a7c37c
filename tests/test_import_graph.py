"""No import circles in the product's packages, and area packages used through their front door.

The graph is built from the source with ``ast`` (nothing is imported), and it counts every
import: module level, inside functions and under ``if TYPE_CHECKING``, because a lazy import
is still a dependency that points the wrong way. ``from pkg import name`` is an edge to the
submodule ``pkg.name`` when there is one, else to ``pkg`` itself (its ``__init__``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("planner", "compass", "publishers", "sandbox")
AREAS = ("accounts", "posts", "publishing", "team", "balance", "conversions")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def discover(root: Path) -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            modules[module_name(path, root)] = path
    return modules


def _absolute(node: ast.ImportFrom, current: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = current.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The product modules that ``name`` imports, wherever in the file the import stands."""
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = alias.name
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target:
                    found.add(target)
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(node, name, path.name == "__init__.py")
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                if candidate in modules:
                    found.add(candidate)
                elif source in modules:
                    found.add(source)
    found.discard(name)
    return found


def build_graph(root: Path) -> dict[str, set[str]]:
    modules = discover(root)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected component of two or more modules, as one concrete circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:  # iterative Tarjan: deep graphs must not hit the recursion limit
        nonlocal counter
        work: list[tuple[str, Iterable[str]]] = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_circle(graph, component) for component in components]


def _circle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A shortest path from the component's first module back to itself, for the message."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & members):
                if child == start:
                    return paths[node] + [start]
                if child not in paths:
                    paths[child] = paths[node] + [child]
                    following.append(child)
        frontier = following
    return component


def test_the_graph_sees_the_product() -> None:
    graph = build_graph(ROOT)
    assert "planner.publishing.dispatch" in graph
    assert "planner.publishing.claiming" in graph["planner.publishing.dispatch"]
    assert "compass.balance" in graph


def test_no_import_circles() -> None:
    cycles = find_cycles(build_graph(ROOT))
    assert cycles == [], "import circles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_a_reintroduced_circle_is_found_and_named(tmp_path: Path) -> None:
    """The check itself can fail: a lazy import inside a function closes a circle."""
    package = tmp_path / "planner"
    (package / "publishing").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "publishing" / "__init__.py").write_text("")
    (package / "publishing" / "config.py").write_text(
        "def later():\n    from planner.publishing.dispatch import Dispatcher\n")
    (package / "publishing" / "dispatch.py").write_text(
        "from planner.publishing.config import later\nclass Dispatcher: ...\n")
    for other in PACKAGES[1:]:
        (tmp_path / other).mkdir()
    cycles = find_cycles(build_graph(tmp_path))
    assert cycles == [["planner.publishing.config", "planner.publishing.dispatch",
                       "planner.publishing.config"]]


@pytest.mark.parametrize("area", AREAS)
def test_other_areas_use_the_front_door(area: str) -> None:
    """Code outside an area imports what its ``__init__`` exports, not its inner modules
    (routes are wired by the app factory, the one place that reaches in for them)."""
    graph = build_graph(ROOT)
    prefix = f"planner.{area}."
    offenders = []
    for module, targets in graph.items():
        if module.startswith(prefix) or module in (f"planner.{area}", "planner.web.app"):
            continue
        inner = sorted(t for t in targets if t.startswith(prefix)
                       and t.rpartition(".")[2] not in _exported_submodules(area))
        if inner:
            offenders.append(f"{module} -> {', '.join(inner)}")
    assert offenders == [], "\n".join(offenders)


def _exported_submodules(area: str) -> set[str]:
    init = ROOT / "planner" / area / "__init__.py"
    tree = ast.parse(init.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == f"planner.{area}":
            names.update(alias.name for alias in node.names)
    return names
