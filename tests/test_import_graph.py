"""The library's import graph, read with ``ast``: no circle, and only allowed arrows
(``media`` never imports ``artifacts``; ``schemas`` imports neither; the media registry is
a leaf).  See docs/architecture.md."""

from __future__ import annotations

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("schemas", "media", "artifacts")
#: package -> packages of the library it must never import
FORBIDDEN = {"schemas": {"media", "artifacts"}, "media": {"artifacts"}}
#: leaves: modules that import no other module of their package but these
LEAVES = {
    "media.registry": {"media.errors"},
    "artifacts.odb.layout": set(),
    "artifacts.names": set(),
}


def _modules() -> dict[str, str]:
    out = {}
    for pkg in PACKAGES:
        for dirpath, _, files in os.walk(os.path.join(ROOT, pkg)):
            for f in files:
                if f.endswith(".py"):
                    path = os.path.join(dirpath, f)
                    mod = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                    out[mod.removesuffix(".__init__")] = path
    return out


def _imports(mod: str, path: str, known: set[str]) -> set[str]:
    """Modules of the library that ``mod`` imports (also under TYPE_CHECKING, also lazily)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    is_pkg = path.endswith("__init__.py")
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = mod.split(".")
                base = parts if is_pkg else parts[:-1]
                base = base[: len(base) - (node.level - 1)]
                start = ".".join(base + ([node.module] if node.module else []))
            else:
                start = node.module or ""
            names = [start] + [f"{start}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            # the longest known module the name is in ("media.value.CHUNK" -> media.value)
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != mod:
                found.add(name)
    return found


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    graph = {m: _imports(m, p, set(mods)) for m, p in mods.items()}
    # a module importing its own package's __init__ (``from . import x``) is no circle of
    # design when the __init__ only re-exports; top-level packages are dropped as in Python
    for m, targets in graph.items():
        graph[m] = {t for t in targets if not (t in PACKAGES and m.startswith(t + "."))}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_graph_is_read():
    graph = _graph()
    assert "artifacts.store" in graph and "media.value" in graph["media.audio"]
    assert "artifacts.refs" in graph["artifacts.store"]


def test_no_import_circle():
    assert _cycles(_graph()) == []


def test_the_circle_finder_finds_circles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_forbidden_arrow(package):
    bad = [
        f"{m} imports {t}"
        for m, targets in _graph().items()
        if m.split(".")[0] == package
        for t in targets
        if t.split(".")[0] in FORBIDDEN[package]
    ]
    assert bad == []


@pytest.mark.parametrize("leaf", sorted(LEAVES))
def test_leaves_import_no_sibling(leaf):
    package = leaf.split(".")[0]
    siblings = {t for t in _graph()[leaf] if t.split(".")[0] == package}
    assert siblings <= LEAVES[leaf], f"{leaf} should be a leaf of {package}"
