"""What a handler receives besides its event: the side-effect ports it may use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared_contracts import Envelope

from courier_worker.mail import Mailer

if TYPE_CHECKING:
    from courier_worker.results import ResultPublisher
    from courier_worker.storage import Storage


class MissingDependency(RuntimeError):
    """A handler needs a port this process was not built with."""


@dataclass(frozen=True)
class Dependencies:
    """The ports handlers use, built once per process by ``courier_worker.bootstrap``."""

    mailer: Mailer
    mail_from: str
    #: Where result events go (reports, documents); None where nothing emits.
    results: ResultPublisher | None = None
    #: The storage shared with the web (``STORAGE_URL``).
    storage: Storage | None = None

    def result_publisher(self) -> ResultPublisher:
        if self.results is None:
            raise MissingDependency("this worker was built without a result publisher")
        return self.results

    def shared_storage(self) -> Storage:
        if self.storage is None:
            raise MissingDependency("this worker was built without a storage")
        return self.storage


#: A handler: a plain function of the validated envelope and the dependencies.
Handler = Callable[[Envelope[Any], Dependencies], None]
