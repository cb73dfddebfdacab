"""The architecture checks import infra/k8s/tools (scripts, not an installed package)."""

from __future__ import annotations

import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parent.parent / "infra" / "k8s" / "tools"
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))
