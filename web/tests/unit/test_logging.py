"""One JSON line per event, the same fields whichever path wrote it."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

import structlog

from courier_web.config.logging import EventWriter, add_timestamp
from courier_web.correlation import bound_request_id
from tests.conftest import CapturedLogs

ISO_UTC_MICROSECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def test_structlog_and_stdlib_lines_carry_the_same_fields(captured_logs: CapturedLogs) -> None:
    with bound_request_id("req-7"):
        structlog.get_logger("courier_web.sample").info("sample.structlog", n=1)
        logging.getLogger("django.sample").warning("sample.stdlib")
        EventWriter("courier_web.sample", level="INFO", fmt="json").write(
            {"event": "sample.writer"}
        )

    own, foreign, written = (
        captured_logs.events(name)[0]
        for name in ("sample.structlog", "sample.stdlib", "sample.writer")
    )
    assert own["n"] == 1
    for line, level, logger in (
        (own, "info", "courier_web.sample"),
        (foreign, "warning", "django.sample"),
        (written, "info", "courier_web.sample"),
    ):
        assert line["request_id"] == "req-7"
        assert (line["level"], line["logger"]) == (level, logger)
        assert ISO_UTC_MICROSECONDS.match(line["timestamp"])


def test_outside_a_request_lines_have_no_request_id(captured_logs: CapturedLogs) -> None:
    structlog.get_logger("courier_web.sample").info("sample.outside")

    (line,) = captured_logs.events("sample.outside")
    assert "request_id" not in line


def test_an_event_writer_below_the_log_level_writes_nothing(captured_logs: CapturedLogs) -> None:
    writer = EventWriter("courier_web.sample", level="WARNING", fmt="json")

    writer.write({"event": "sample.filtered"})

    assert not writer.enabled
    assert captured_logs.events("sample.filtered") == []


def test_timestamps_are_the_current_utc_time_with_microseconds() -> None:
    for _ in range(3):  # the first formats the second, the others reuse it
        stamp = add_timestamp(None, "info", {})["timestamp"]

        assert ISO_UTC_MICROSECONDS.match(stamp)
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        assert abs((datetime.now(UTC) - when).total_seconds()) < 1
