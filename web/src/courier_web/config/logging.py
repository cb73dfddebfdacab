"""Structured logging: every line is one JSON object, structlog and stdlib alike.

Three writers, one shape (``event``, ``level``, ``logger``, ``timestamp`` and,
while a request is served, ``request_id``):

* structlog events, all of our own lines, are rendered by structlog and
  written straight to stdout. Through stdlib logging each line also built a
  ``LogRecord`` that the formatter copied again: several times the cost.
* ``EventWriter`` writes the access line, the one every request writes, with
  the same processors and renderer but without structlog's bound logger.
* stdlib loggers (Django, pika...) still go through ``LOGGING``, whose
  formatter runs their records through the same processors.

``LOG_LEVEL`` filters all three; ``LOG_FORMAT=console`` renders for humans.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog

from courier_web.correlation import add_request_id

EventDict = MutableMapping[str, Any]

#: The last second formatted, and its text: one tuple, replaced whole, so
#: threads never see a second with another second's text.
_second_and_prefix: tuple[int, str] = (-1, "")


def add_timestamp(logger: Any, method_name: str, event_dict: EventDict) -> EventDict:
    """``timestamp``: ISO 8601 in UTC with microseconds, ``2026-11-24T20:52:04.188219Z``.

    The format of ``TimeStamper(fmt="iso", utc=True)`` for a third of its
    cost: the part up to the second is formatted once per second.
    """
    global _second_and_prefix
    second, nanoseconds = divmod(time.time_ns(), 1_000_000_000)
    cached_second, prefix = _second_and_prefix
    if second != cached_second:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second_and_prefix = (second, prefix)
    event_dict["timestamp"] = f"{prefix}.{nanoseconds // 1000:06d}Z"
    return event_dict


# structlog.contextvars is not merged in: nothing here binds it (the request id
# comes from correlation's own contextvar), and merging copies the whole
# context for every line.
_SHARED: list[Any] = [
    add_request_id,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    add_timestamp,
]


def render_json(logger: Any, method_name: str, event_dict: EventDict) -> str:
    """The line: orjson (compact, no spaces), several times faster than ``json.dumps``."""
    try:
        return orjson.dumps(event_dict, default=repr, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # what orjson refuses (an int beyond 64 bits) json still writes
        return json.dumps(event_dict, default=repr)


def renderer(fmt: str) -> Any:
    """The last processor: a JSON line, or ``fmt="console"`` for humans."""
    if fmt == "console":
        return structlog.dev.ConsoleRenderer(colors=False)
    return render_json


class StdoutLogger:
    """structlog's output end: writes each rendered line to stdout and flushes.

    Like ``print``, it writes to whatever ``sys.stdout`` is at the time of the
    call. The lock keeps lines whole when threads (the outbox publisher) log
    at the same time.
    """

    _lock = threading.Lock()

    def __init__(self, name: str = "") -> None:
        #: For ``add_logger_name``, as a stdlib logger's name would be.
        self.name = name

    def msg(self, line: str) -> None:
        with self._lock:
            out = sys.stdout
            out.write(line + "\n")
            out.flush()

    debug = info = warning = error = critical = msg


class EventWriter:
    """Writes one logger's events at one level: the line structlog would write.

    For the access log, the one line every request writes. structlog's bound
    logger (its level filter, keyword arguments packed and unpacked three
    times, the context copied) was a third of that line's cost; this runs the
    same processors, renderer and output directly. ``enabled`` is False when
    ``level`` filters the events out.
    """

    def __init__(self, name: str, *, level: str, fmt: str, method_name: str = "info") -> None:
        levels = logging.getLevelNamesMapping()
        self.enabled = levels[method_name.upper()] >= levels[level.upper()]
        self._method_name = method_name
        self._output = StdoutLogger(name)
        self._render = renderer(fmt)

    def write(self, event_dict: EventDict) -> None:
        if not self.enabled:
            return
        output, method_name = self._output, self._method_name
        for processor in _SHARED:
            event_dict = processor(output, method_name, event_dict)
        output.msg(self._render(output, method_name, event_dict))


def configure_structlog(*, level: str, fmt: str) -> None:
    """structlog renders and writes its own lines; a level below ``level`` costs nothing."""
    structlog.configure(
        processors=[
            *_SHARED,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer(fmt),
        ],
        logger_factory=StdoutLogger,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )


def foreign_formatter(fmt: str) -> structlog.stdlib.ProcessorFormatter:
    """Formats stdlib records (Django's, pika's) as structlog's own lines."""
    return structlog.stdlib.ProcessorFormatter(
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer(fmt),
        ],
        foreign_pre_chain=_SHARED,
    )


def logging_config(*, level: str, fmt: str) -> dict[str, Any]:
    """A ``LOGGING`` dict for stdlib loggers: JSON lines on stdout."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": {"()": foreign_formatter, "fmt": fmt}},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "structured",
            }
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            "django": {"level": level, "propagate": True},
            # pika narrates every connection attempt at INFO/WARNING; our own
            # lines say what matters, once per state change.
            "pika": {"level": "CRITICAL", "propagate": True},
        },
    }
