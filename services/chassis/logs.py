"""JSON log lines with the service name and the correlation id of the work that logged them."""

import json
import logging
import time

from services.chassis import correlation

SERVICE_NAME = "-"  # set by the container's CorrelationId extension at start

_base_record_factory = logging.getLogRecordFactory()


def _record_with_correlation(*args, **kwargs):
    # Stamped when the record is made, in the greenthread doing the work: handlers that format
    # later, or elsewhere, still see the right id.
    record = _base_record_factory(*args, **kwargs)
    record.correlation_id = correlation.current()
    return record


def install_record_factory():
    if logging.getLogRecordFactory() is not _record_with_correlation:
        logging.setLogRecordFactory(_record_with_correlation)


class JsonFormatter(logging.Formatter):
    def format(self, record):
        line = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": SERVICE_NAME,
            "logger": record.name,
            "message": record.getMessage(),
            "correlation_id": getattr(record, "correlation_id", None),
        }
        for key in ("event_id", "event_type", "queue", "attempt"):
            if hasattr(record, key):
                line[key] = getattr(record, key)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)
