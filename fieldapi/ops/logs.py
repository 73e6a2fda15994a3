"""The app's logs: one JSON object per line on stderr, encoded by orjson.

Every record of the ``fieldapi`` loggers comes out as ``{"ts", "level", "logger", "message"}``
plus ``request_id`` when it was written while answering a request, and ``exc_info`` (the
traceback) for ``log.exception``. Each answered request adds one ``fieldapi.requests`` line
with its method, route template, status, time and the signed-in user's id.

What goes into a line is chosen here, field by field: never a header, a query string, a
body or a path with its values, so no token, password, ID number or phone number.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import orjson
from flask import g, has_request_context

REQUESTS_LOGGER = "fieldapi.requests"
# The only attributes of a record that reach a line, besides time, level, logger and message.
FIELDS = ("request_id", "user_id", "method", "route", "status", "duration_ms")
_MARK = "_fieldapi_json"

requests_log = logging.getLogger(REQUESTS_LOGGER)


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", <FIELDS present>, "exc_info"?, "stack_info"?}``.

    Written for the hot path (a line per request): a fixed list of fields rather than a
    walk over every attribute of the record, and orjson to encode it."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        attributes = record.__dict__
        for name in FIELDS:
            if name in attributes:
                line[name] = attributes[name]
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc_info"] = record.exc_text
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        return orjson.dumps(line, default=str).decode()


class RequestId(logging.Filter):
    """Mark records written while answering a request with that request's id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id") and has_request_context():
            request_id = g.get("request_id")
            if request_id is not None:
                record.request_id = request_id
        return True


class StderrHandler(logging.StreamHandler):
    """Writes to ``sys.stderr`` as it is at each record (test runners replace it)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        raise AttributeError("StderrHandler always writes to sys.stderr")


def configure() -> None:
    """Give the ``fieldapi`` loggers their JSON handler, once per process."""
    logger = logging.getLogger("fieldapi")
    if any(getattr(handler, _MARK, False) for handler in logger.handlers):
        return
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestId())
    setattr(handler, _MARK, True)
    # Flask gives an app's logger (ours is "fieldapi") a plain-text handler of its own.
    from flask.logging import default_handler

    logger.removeHandler(default_handler)
    logger.addHandler(handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)


def request_line(
    *,
    request_id: str,
    method: str | None,
    route: str | None,
    status: int,
    duration_ms: float | None,
    user_id: str | None = None,
) -> None:
    if not requests_log.isEnabledFor(logging.INFO):
        return
    fields = {
        "request_id": request_id,
        "user_id": user_id,
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": duration_ms,
    }
    # As ``requests_log.info`` would, less looking up the caller's frame: once per request.
    record = requests_log.makeRecord(
        REQUESTS_LOGGER, logging.INFO, __file__, 0, "request", (), None, extra=fields
    )
    requests_log.handle(record)
