"""Structured records of runs, through the standard ``logging`` module.

civicscore logs to the ``civicscore`` logger and, as a library should, adds no handler
of its own but a ``NullHandler``: an application that embeds it decides where records
go. ``civicscore --log-json FILE`` (or ``-`` for standard error) attaches
:class:`JsonFormatter` for one run of the command line, one JSON object a line, for a
log collector.

A record says what ran and how it went, never what it read: the policy's id, version
and hash, the scheme, the engine, the as-of date, counts of rows in, scored and
rejected, the exit status and the time taken. No fact value, no record id and no input
file name is put in a record (a file name such as ``张三家.csv`` can name a person):
who was decided what is the decision log's business, with its redaction rules.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any

LOGGER_NAME = "civicscore"
FIELDS = "civicscore"
"""The attribute of a :class:`logging.LogRecord` that holds its structured fields
(``logger.info(event, extra={FIELDS: {...}})``)."""

logger = logging.getLogger(LOGGER_NAME)
logger.addHandler(logging.NullHandler())


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (UTC, ISO 8601), ``level``, ``logger``,
    ``event`` (the message) and the record's structured fields, in that order.

    Only the fields given under :data:`FIELDS` are written, not every attribute of
    the record, so nothing reaches the log that the caller did not put there."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC)
                      .isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = getattr(record, FIELDS, None)
        if isinstance(fields, Mapping):
            entry.update({k: v for k, v in fields.items() if k not in entry})
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(entry, ensure_ascii=False, default=str, separators=(", ", ": "))


def event(name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log ``name`` with structured ``fields`` to the ``civicscore`` logger."""
    logger.log(level, name, extra={FIELDS: fields})


@contextmanager
def json_lines_to(stream: IO[str], level: int = logging.INFO) -> Iterator[None]:
    """Send the ``civicscore`` logger's records to ``stream`` as JSON Lines while the
    block runs (one command-line run), then detach, leaving the logger as it was."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.setLevel(level)
    before = logger.level
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > level:
        logger.setLevel(level)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(before)
        handler.flush()
