"""genbench's modules import one way, down: no import circle, deferred imports included.

The graph is read from the source (ast), not from a running interpreter, so an import deferred
into a function body counts as much as one at the top of a file: deferring an import hides a
circle from Python, not from the design.

One pattern is allowed to close a loop, the registry: a package's `__init__` declares a registry
(or a base class) and, at its bottom, imports its own submodules so that each registers itself;
each submodule imports the package back for the registry. So a circle must stay inside one
package and pass through that package's `__init__` -> submodule edges; a circle that leaves the
package (features -> recipes -> metrics -> features) is an error, and so is one between two
submodules of the same package. Importing a submodule runs its package's `__init__` first, so it
counts as an import of the package too: genbench.artefacts (written by runs) importing
genbench.leaderboard.plots would import genbench.leaderboard, which reads runs: a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

SOURCE = REPO / "genbench"


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_package(name: str, modules: dict[str, Path]) -> bool:
    return name in modules and modules[name].name == "__init__.py"


def import_graph() -> dict[str, set[str]]:
    """{module: genbench modules it imports anywhere in its body}."""
    modules = {module_name(p): p for p in SOURCE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if is_package(name, modules) else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from .x import y
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
                for alias in node.names:  # `from genbench import env` imports the module genbench.env
                    targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
        # Importing genbench.a.b runs genbench.a's __init__ first, so a module depends on the packages
        # above what it imports (those above itself have run already).
        parents = {p for t in targets for p in packages_above(t) if not inside(name, p)}
        graph[name] = {t for t in targets | parents if t in modules and t != name}
    return graph


def packages_above(module: str) -> list[str]:
    """genbench.a.b.c -> [genbench.a.b, genbench.a] (genbench itself aside)."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(len(parts) - 1, 1, -1)]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def registration_edge(src: str, dst: str) -> bool:
    """A package's __init__ importing one of its own submodules (so that it registers itself)."""
    return dst.startswith(src + ".")


def test_the_graph_sees_function_level_and_from_imports():
    graph = import_graph()
    assert "genbench.errors" in graph["genbench.registry"]
    assert "genbench.api" in graph["genbench"]  # deferred into __getattr__, still an edge
    assert "genbench.models.gmm" in graph["genbench.models"]  # `from genbench.models import gmm`
    assert "genbench.features" in graph["genbench.api"]  # `from genbench.features.inception import NAME`


def test_no_import_circle_leaves_a_package():
    graph = import_graph()
    bad = []
    for component in cycles(graph):
        common = component[0]
        while not all(inside(m, common) for m in component):
            common = common.rpartition(".")[0]
        if common in ("", "genbench"):  # spans top-level modules or packages
            bad.append(component)
    assert not bad, f"import circle(s) across packages: {bad}"


def test_inside_a_package_only_registration_closes_a_circle():
    graph = import_graph()
    without = {m: {t for t in targets if not registration_edge(m, t)} for m, targets in graph.items()}
    assert not cycles(without), f"import circle(s) not made by registration: {cycles(without)}"
