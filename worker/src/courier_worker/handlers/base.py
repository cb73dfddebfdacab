"""What a handler receives besides its event: the side-effect ports it may use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared_contracts import Envelope

from courier_worker.mail import Mailer


@dataclass(frozen=True)
class Dependencies:
    """The ports handlers use, built once per process by ``courier_worker.bootstrap``."""

    mailer: Mailer
    mail_from: str


#: A handler: a plain function of the validated envelope and the dependencies.
Handler = Callable[[Envelope[Any], Dependencies], None]
