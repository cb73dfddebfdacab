"""Each service may import only what DESIGN.md allows; they share nothing but the contracts.

Static: every ``import`` in each component's source tree is read with ``ast``,
so a forbidden import fails here even on a code path no other test runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FORBIDDEN = {
    "shared_contracts": {"django", "celery", "kombu", "pika", "courier_web", "courier_worker"},
    "web": {"courier_worker", "celery", "kombu"},
    "worker": {"courier_web", "django", "pika", "ninja"},
}


def _imports(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def _sources(component: str) -> list[Path]:
    return sorted((ROOT / component / "src").rglob("*.py"))


@pytest.mark.parametrize("component", sorted(FORBIDDEN))
def test_component_respects_its_import_boundary(component: str) -> None:
    sources = _sources(component)
    assert sources, f"no sources found under {component}/src"
    violations = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & FORBIDDEN[component])
        for path in sources
        if _imports(path) & FORBIDDEN[component]
    }
    assert violations == {}


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import celery.app\nfrom courier_web.users import models\n")

    assert _imports(bad) & FORBIDDEN["web"] == {"celery"}
    assert _imports(bad) & FORBIDDEN["worker"] == {"courier_web"}
