"""Where the bench finds the repository and its venv, and the one host it contacts."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
PYTHON = BIN / "python"
#: Only the local broker, database and servers are ever contacted.
LOCALHOST = "127.0.0.1"

__all__ = ["BIN", "LOCALHOST", "PYTHON", "ROOT"]
