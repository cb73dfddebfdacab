"""The web's consumer of the events addressed to it (results of the worker's work).

Handlers are declared where they are written, in an app's ``results.py``:

    @consumes(ReportCompleted)
    def report_completed(envelope: Envelope[ReportCompleted]) -> None: ...

and everything else is derived from the declarations: the routing keys the
web's queue is bound by (``topology``), the dispatch of a delivered message
(``processing``) and the broker definitions the tests check. The
``consume_events`` command runs it (``runner``), and between messages the
housekeeping declared with ``@every(seconds=...)`` (a deadline, say).
"""

from courier_web.consumer.registry import (
    Consumption,
    consumes,
    consumption_for,
    consumptions,
    every,
    periodics,
)

__all__ = ["Consumption", "consumes", "consumption_for", "consumptions", "every", "periodics"]
