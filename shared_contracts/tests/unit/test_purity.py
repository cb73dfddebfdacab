"""shared_contracts is imported by services on different frameworks: it stays pure."""

import ast
import sys
from pathlib import Path

import shared_contracts

PACKAGE = Path(shared_contracts.__file__).parent
ALLOWED_THIRD_PARTY = {"pydantic", "pydantic_core", "email_validator"}


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_imports_only_pydantic_and_the_standard_library() -> None:
    allowed = set(sys.stdlib_module_names) | ALLOWED_THIRD_PARTY | {"shared_contracts"}
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(_imported_roots(path) - allowed)
        for path in PACKAGE.rglob("*.py")
        if _imported_roots(path) - allowed
    }
    assert offenders == {}
