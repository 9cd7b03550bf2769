"""JSON logs carry the service and the correlation id of the work that logged them."""

import json
import logging

from services.chassis import correlation, logs


def test_a_record_keeps_the_correlation_id_it_was_made_under():
    logs.install_record_factory()
    correlation.set_current("req-42")
    record = logging.getLogger("probe").makeRecord(
        "probe", logging.INFO, __file__, 1, "hello %s", ("world",), None
    )
    correlation.set_current("another")  # formatting happens later, elsewhere
    line = json.loads(logs.JsonFormatter().format(record))
    assert line["correlation_id"] == "req-42"
    assert line["message"] == "hello world" and line["level"] == "INFO"
    assert line["ts"].endswith("Z")
    correlation.set_current(None)


def test_exceptions_are_kept_in_one_line():
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.getLogger("probe").makeRecord(
            "probe", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    text = logs.JsonFormatter().format(record)
    assert "\n" not in text and "ValueError: boom" in json.loads(text)["exc"]
