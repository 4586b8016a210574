"""Structured logs: one JSON object per line on stderr.

Every record has ``ts`` (UTC, ISO 8601), ``level``, ``logger`` and ``event``; keyword
context passed as ``extra={"fields": {...}}`` is merged in.  Use :func:`log_event`.
A worker process of a multi-process server adds its ``worker`` index and ``pid`` to every
record (:func:`configure` with context).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

LOGGER_NAME = "m2v_grpc"
logger = logging.getLogger(LOGGER_NAME)


class JSONFormatter(logging.Formatter):
    """Format a record as one line of JSON, with ``context`` fields in every record."""

    def __init__(self, context: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.context = dict(context or {})

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as JSON (exceptions under ``exc``)."""
        payload: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            **self.context,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            payload.update(fields)
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


def configure(level: str | int = "info", **context: Any) -> None:
    """Send the ``m2v_grpc`` logger's records to stderr as JSON lines (``context`` in each)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter(context))
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper() if isinstance(level, str) else level)
    logger.propagate = False


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log ``event`` with structured ``fields``."""
    if logger.isEnabledFor(level):
        logger.log(level, event, extra={"fields": fields})
