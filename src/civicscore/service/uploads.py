"""What a request brings: its limits, its JSON body's schema, and uploaded files of records.

Shared by the routes of :mod:`.app`, :mod:`.ledger` and :mod:`.review` (a module of
its own, so that none of them imports another that imports it back).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request

from .problems import Answer
from .scoring import MEDIA_TYPES


@dataclass(frozen=True)
class Limits:
    """What one request may ask of the service."""

    max_body_bytes: int = 8 << 20
    """A request body larger than this is refused (413) before it is read whole."""
    max_rows: int = 10_000
    """A batch of more rows than this is refused (413): score bigger files with the CLI."""
    body_seconds: float = 30.0
    """A body not whole this many seconds after its headers is refused (408) and its
    connection closed: a slow client holds a connection no longer than that."""


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of a route that reads ``model`` as JSON."""
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": model.model_json_schema()}}}}


BATCH_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
    "application/x-ndjson": {"schema": {"type": "string"}},
    "text/csv": {"schema": {"type": "string"}},
    "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
}}}

def upload_records(body: bytes, fmt: str, limits: Limits) -> list[Any]:
    """The records of an upload, read by the command line's own reader (a row it cannot
    read is an ``UnreadableRow``, as a file's is), its private file removed after."""
    from ..io import read_records

    with tempfile.TemporaryDirectory(prefix="civicscore-in-") as tmp:
        return list(read_records(uploaded(Path(tmp), body, fmt, limits)))


def upload_format(request: Request) -> str:
    """The reader for an upload of records, by its Content-Type (415 for another)."""
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media not in MEDIA_TYPES:
        raise Answer(415, f"send the records as one of {', '.join(MEDIA_TYPES)} "
                          f"(Content-Type {media or 'missing'})", kind="media-type")
    return MEDIA_TYPES[media]


def uploaded(tmp: Path, body: bytes, fmt: str, limits: Limits) -> Path:
    """The upload as a file in the private directory ``tmp``, for the command line's own
    reader; refused (413) when it holds more rows than ``limits.max_rows``."""
    from .problems import UPLOAD
    from .scoring import count_rows

    path = tmp / f"upload.{fmt}"
    path.write_bytes(body)
    rows = count_rows(path)
    if rows > limits.max_rows:
        raise Answer(413, f"{UPLOAD} have {rows} rows; this service takes at most "
                          f"{limits.max_rows} per request (split the file, or use the "
                          f"command line)", kind="too-many-rows", max_rows=limits.max_rows)
    return path
