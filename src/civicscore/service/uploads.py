"""What a request brings: its limits, its JSON body's schema, and uploaded files of records.

Shared by the routes of :mod:`.app`, :mod:`.ledger` and :mod:`.review` (a module of
its own, so that none of them imports another that imports it back).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
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


class InlineFile(BaseModel):
    """A file of rows inside a JSON body, in the text of another format."""

    model_config = ConfigDict(extra="forbid")
    format: Literal["csv", "jsonl"] = Field(description="How ``content`` is written.")
    content: str = Field(description="The file's text (CSV with a header row, or JSON "
                                     "Lines).")


Rows = list[Any] | InlineFile


class WithInputs(BaseModel):
    """Records and a scheme's extra inputs in one JSON body: ``--with NAME=FILE`` over
    HTTP (the service takes no multipart forms)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    records: Rows = Field(description="The records: a JSON array, or a CSV or JSON Lines "
                                      "file as {\"format\", \"content\"}.")
    with_: dict[str, Rows] = Field(default_factory=dict, alias="with", description=(
        "The scheme's extra inputs by name, as `--with NAME=FILE` (e.g. "
        "{\"redemptions\": [...]}), each a JSON array or {\"format\", \"content\"}."))


#: The formats other than JSON an upload of records may have, and their schemas.
_FILES: dict[str, Any] = {
    "application/x-ndjson": {"schema": {"type": "string"}},
    "text/csv": {"schema": {"type": "string"}},
    "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
}
BATCH_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
    **_FILES}}}

def _body_schemas() -> dict[str, Any]:
    schema = WithInputs.model_json_schema(by_alias=True,
                                          ref_template="#/components/schemas/{model}")
    return {**schema.pop("$defs", {}), "WithInputs": schema}


#: The batch body's schemas, added to the OpenAPI document's components.
BODY_SCHEMAS = _body_schemas()

#: The body of a route that also takes a scheme's extra inputs (:func:`with_inputs`):
#: a batch's, or one JSON object of records and ``with`` inputs.
WITH_BODY = {"requestBody": {"required": True, "content": {
    **_FILES,
    "application/json": {"schema": {"oneOf": [
        {"type": "array", "items": {"type": "object"}},
        {"$ref": "#/components/schemas/WithInputs"}]}}}}}


def with_inputs(tmp: Path, body: bytes, fmt: str, limits: Limits, takes: Sequence[str],
                scheme: str) -> tuple[Path, dict[str, Path]]:
    """The records file and the extra inputs' files of an upload, each in the private
    directory ``tmp`` for the command line's own reader.

    A JSON object (``application/json`` whose first character is ``{``) is a
    :class:`WithInputs`: records and ``with`` inputs, each a JSON array or an inline
    CSV or JSON Lines file; any other upload is the records alone. An input the scheme
    does not take (``takes``, its ``extra_inputs``) is refused (422) naming it, as
    ``--with`` refuses it; each input is bounded by ``limits.max_rows``."""
    if fmt != "json" or not body.lstrip()[:1] == b"{":
        return uploaded(tmp, body, fmt, limits), {}
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as e:
        msg = e.msg if isinstance(e, json.JSONDecodeError) else type(e).__name__
        raise Answer(400, f"the body is not valid JSON: {msg}", kind="request") from None
    try:
        given = WithInputs.model_validate(data)
    except ValidationError as e:
        fields = [{"field": ".".join(str(x) for x in err["loc"]) or "body",
                   "message": err["msg"]} for err in e.errors()]
        raise Answer(422, "; ".join(f"{f['field']}: {f['message']}" for f in fields),
                     kind="request", fields=fields) from None
    for name in given.with_:
        if name not in takes:
            message = (f"scheme {scheme} takes " + (f"only {', '.join(takes)}" if takes
                                                    else "no extra inputs"))
            raise Answer(422, f"with.{name}: {message}", kind="request",
                         field=f"with.{name}",
                         fields=[{"field": f"with.{name}", "message": message}])

    def written(stem: str, rows: Rows) -> Path:
        if isinstance(rows, InlineFile):
            return uploaded(tmp, rows.content.encode("utf-8"), rows.format, limits, stem)
        return uploaded(tmp, json.dumps(rows, ensure_ascii=False).encode("utf-8"), "json",
                        limits, stem)

    # a name of ``takes`` is the scheme's own identifier, so a safe file name
    return written("upload", given.records), {
        name: written(f"with-{name}", rows) for name, rows in sorted(given.with_.items())}


def read_inputs(body: bytes, fmt: str, limits: Limits, takes: Sequence[str], scheme: str
                ) -> tuple[list[Any], dict[str, list[Any]]]:
    """The records and the extra inputs of an upload (:func:`with_inputs`), read by the
    command line's own reader, their private files removed after."""
    from ..io import read_records

    with tempfile.TemporaryDirectory(prefix="civicscore-in-") as tmp:
        path, extra = with_inputs(Path(tmp), body, fmt, limits, takes, scheme)
        return list(read_records(path)), {name: list(read_records(p))
                                          for name, p in extra.items()}


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


def uploaded(tmp: Path, body: bytes, fmt: str, limits: Limits, stem: str = "upload"
             ) -> Path:
    """The upload as a file in the private directory ``tmp``, for the command line's own
    reader; refused (413) when it holds more rows than ``limits.max_rows``."""
    from .problems import UPLOAD
    from .scoring import count_rows

    path = tmp / f"{stem}.{fmt}"
    path.write_bytes(body)
    rows = count_rows(path)
    if rows > limits.max_rows:
        what = UPLOAD if stem == "upload" else f"the uploaded {stem.removeprefix('with-')}"
        raise Answer(413, f"{what} have {rows} rows; this service takes at most "
                          f"{limits.max_rows} per request (split the file, or use the "
                          f"command line)", kind="too-many-rows", max_rows=limits.max_rows)
    return path
