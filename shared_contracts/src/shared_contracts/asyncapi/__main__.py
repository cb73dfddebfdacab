"""``python -m shared_contracts.asyncapi``: write or check the AsyncAPI document and its page.

    python -m shared_contracts.asyncapi --json asyncapi.json --markdown asyncapi.md \\
        web-part.json worker-part.json          # write them (make asyncapi)
    python -m shared_contracts.asyncapi --check ...   # fail when they drift (make test)

Each part is what a service exports about its side of the wire
(``courier-web asyncapi_part``, ``courier-worker asyncapi-part``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from importlib import metadata
from pathlib import Path

from pydantic import ValidationError
from shared_contracts.asyncapi.document import DocumentError, build
from shared_contracts.asyncapi.markdown import render_markdown
from shared_contracts.asyncapi.parts import ServicePart

#: The command that rewrites the files, named by the drift check.
REGENERATE = "make asyncapi"


def render_json(document: dict[str, object]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def load_part(path: Path) -> ServicePart:
    try:
        return ServicePart.model_validate_json(path.read_bytes())
    except (OSError, ValidationError) as exc:
        raise SystemExit(f"{path}: not a service part of the AsyncAPI document:\n{exc}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared_contracts.asyncapi")
    parser.add_argument("parts", nargs="+", type=Path, help="each service's part (JSON)")
    parser.add_argument("--json", type=Path, required=True, help="the AsyncAPI document")
    parser.add_argument("--markdown", type=Path, required=True, help="its readable page")
    parser.add_argument("--check", action="store_true", help="fail when either file drifts")
    args = parser.parse_args(argv)

    try:
        document = build(
            [load_part(path) for path in args.parts], version=metadata.version("shared-contracts")
        )
    except DocumentError as exc:
        print(f"cannot build the AsyncAPI document: {exc}", file=sys.stderr)
        return 1
    source = Path(os.path.relpath(args.json, args.markdown.parent)).as_posix()
    outputs = {
        args.json: render_json(document),
        args.markdown: render_markdown(document, source=source),
    }
    stale = [path for path, text in outputs.items() if _read(path) != text]
    if args.check:
        for path in stale:
            print(
                f"{path} differs from the contracts and the services' declarations; "
                f"run `{REGENERATE}` and commit the result",
                file=sys.stderr,
            )
        return 1 if stale else 0
    for path in stale:
        path.write_text(outputs[path])
        print(f"wrote {path}")
    if not stale:
        print("the AsyncAPI document and its page are up to date")
    return 0


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(main())
