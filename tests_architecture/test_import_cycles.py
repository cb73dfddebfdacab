"""No import circle inside a component: each module can be read after the ones it uses.

Static: every ``import`` statement in a component's ``src/`` is read with
``ast``, wherever it stands, at module level or inside a function. A lazy
import inside a function is still a circle, only hidden until that function
runs; it is counted like any other.

What counts as an edge from module A to module B (both in the component):

* ``import B`` / ``import B as b``;
* ``from B import name``, and ``from P import m`` where ``P.m`` is a module:
  that imports the submodule ``P.m``, not only the package ``P``; relative
  imports are resolved against A's package.

Not counted:

* imports under ``if TYPE_CHECKING:`` (``typing.TYPE_CHECKING`` too): they
  never run, so they cannot form a runtime circle; they exist for annotations;
* the parent packages Python imports on the way to a submodule (``a.b.c``
  runs ``a/__init__`` and ``a/b/__init__`` first): a package is always
  importing already when its submodules are, so that is no circle;
* dynamic imports (``importlib.import_module``), which no reader can follow.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Component package -> its ``src/`` folder.
COMPONENTS = {
    "shared_contracts": ROOT / "shared_contracts" / "src",
    "courier_web": ROOT / "web" / "src",
    "courier_worker": ROOT / "worker" / "src",
}

Graph = dict[str, set[str]]


def modules(src: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` under ``src``, by dotted name (a package is its ``__init__``)."""
    found = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement below ``node``, skipping ``if TYPE_CHECKING:`` bodies."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield from _import_nodes(ast.Module(body=[other], type_ignores=[]))
        else:
            yield from _import_nodes(child)


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that module ``name`` (at ``path``) imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            base = ".".join([*anchor, *([base] if base else [])])
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            targets.add(submodule if submodule in known else base)
    return {target for target in targets if target in known and target != name}


def import_graph(src: Path, package: str) -> Graph:
    found = modules(src, package)
    known = set(found)
    return {name: imported(name, path, known) for name, path in found.items()}


def cycles(graph: Graph) -> list[list[str]]:
    """One circle per strongly connected group of modules (Tarjan), as ``[a, b, ..., a]``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_circle(graph, group) for group in groups]


def _circle(graph: Graph, group: set[str]) -> list[str]:
    """A shortest circle through the group's first module, for the message."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for successor in sorted(graph[node] & group):
                if successor == start:
                    return [*paths[node], start]
                if successor not in paths:
                    paths[successor] = [*paths[node], successor]
                    following.append(successor)
        frontier = following
    raise AssertionError(f"no circle through {start} in {sorted(group)}")


@pytest.mark.parametrize("package", sorted(COMPONENTS))
def test_a_component_has_no_import_circle(package: str) -> None:
    graph = import_graph(COMPONENTS[package], package)
    assert graph, f"no modules found for {package} under {COMPONENTS[package]}"

    found = [" -> ".join(circle) for circle in cycles(graph)]

    assert found == [], f"import circles in {package} (imports in functions count too):\n" + (
        "\n".join(found)
    )


def _package(tmp_path: Path, files: dict[str, str]) -> Graph:
    for relative, text in {"pkg/__init__.py": "", **files}.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return import_graph(tmp_path, "pkg")


def test_the_checker_sees_a_circle_hidden_in_a_function(tmp_path: Path) -> None:
    graph = _package(
        tmp_path,
        {
            "pkg/a.py": "from pkg.b import thing\n",
            "pkg/b.py": "def thing():\n    from pkg import c\n",
            "pkg/c.py": "from . import a\n",
        },
    )

    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]


def test_the_checker_ignores_type_checking_imports_and_parent_packages(tmp_path: Path) -> None:
    graph = _package(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import A\n",
            "pkg/a.py": (
                "from typing import TYPE_CHECKING\n"
                "import pkg.sub.b\n"
                "if TYPE_CHECKING:\n    from pkg.sub.b import B\nelse:\n    import json\n"
                "class A: ...\n"
            ),
            "pkg/sub/__init__.py": "",
            "pkg/sub/b.py": "import typing\nif typing.TYPE_CHECKING:\n    from pkg.a import A\n",
        },
    )

    assert graph["pkg.a"] == {"pkg.sub.b"}
    assert graph["pkg.sub.b"] == set()
    assert cycles(graph) == []
