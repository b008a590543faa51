"""Rules over time over HTTP: ``POST /v1/policies/{name}/events/run``, as ``civicscore events``.

The route is the command ``civicscore events POLICY EVENTS --until DATE
[--engine durable|reference] [-o FILE] [--rejects FILE]`` with the log as an
upload (the ``Content-Type``s of a batch): the same reader of the log (the
rows written to a private file and read by the command line's reader), the
same ``policy.events.run``, the same check that ``until`` falls in the
policy's effective dates, the same writer of the actions and the same summary
line. The answer is either one JSON document (``actions``, ``rejected``,
``summary``, counts and the policy) or, with ``format=jsonl|csv``, the
actions file itself, byte for byte as ``civicscore events -o actions.jsonl``
writes it, with the counts in headers.

A refused event is no error of the request: it is a rejected row naming the
event and the field at fault, and ``rows_in == taken + rejected``, as on the
command line. Errors of the request are problems naming the query field
(``until``, ``engine``, ``format``).

With the service's decision log (``serve --log``), the run is logged as
``civicscore score POLICY EVENTS --scheme events --as-of DAY --log`` logs it
(every event row and every action, by :meth:`DecisionLog.write_run`), so that
``civicscore replay`` runs it again. A log keeps the day of a run, not a time,
so a logged run must end at a day's end: ``until`` is then a date, and a time is
refused (400) rather than logged as a run it was not.

The ``/v1/policies/{name}/events/...`` routes of the generic schemes
(``decide``, ``explain``, ``batch``) work too: ``[events]`` is a scheme like any
other, decided as of the end of ``as_of``'s day on the online engine.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from .guard import read_body
from .problems import Answer, documented
from .tokens import Tokens, needs
from .uploads import BATCH_BODY, Limits, upload_format, uploaded

if TYPE_CHECKING:
    from ..audit import DecisionLog

#: The problem types the route may answer, by status (listed in the OpenAPI document).
KINDS: dict[int, list[str]] = {
    400: ["usage", "events-log"],
    401: ["token"], 403: ["role"],
    404: ["policy-unknown", "scheme-unknown"],
    408: ["408"],
    413: ["413", "too-many-rows"],
    415: ["media-type"],
    422: ["request", "events-until", "input", "policy"],
    500: ["500"],
    503: ["decision-log"],
}
ENGINES = "^(durable|reference)$"
FORMATS = "^(json|jsonl|csv)$"


def parse_until(text: str, name: str = "until") -> dt.date | dt.datetime:
    """``until`` as ``civicscore events --until`` reads it (one reader: the command's);
    a value it refuses is a 422 naming the field (``name``)."""
    import click

    from ..events.cli import _until

    try:
        return _until(text)
    except click.BadParameter as e:
        raise Answer(422, f"{name}: {e.message}", kind="events-until", field=name,
                     fields=[{"field": f"query.{name}", "message": e.message}]) from None


def install_events(app: FastAPI, *, tokens: Tokens | None, limits: Limits,
                   log: DecisionLog | None, policy_of: Callable[[str], Any]) -> None:
    """Add ``POST /v1/policies/{name}/events/run``; ``policy_of(name)`` is the compiled
    policy of that name with an ``[events]`` section (404 for an unknown policy or one
    without)."""

    @app.post("/v1/policies/{name}/events/run", tags=["events"],
              dependencies=[Depends(needs(tokens, "read"))], openapi_extra=BATCH_BODY,
              responses=documented(*KINDS, kinds=KINDS),
              summary="Run an uploaded log of events through the policy's [events] rules: "
                      "the actions `civicscore events` writes for it")
    async def run_events(
            request: Request, name: str,
            until: Annotated[str, Query(description="The end of the run, as `--until`: a "
                                                    "date YYYY-MM-DD (its whole day) or a "
                                                    "time such as 2025-12-31T18:00")],
            engine: Annotated[str, Query(pattern=ENGINES, description=(
                "as `--engine`: durable-rules (online) or the polars reference; the same "
                "actions either way"))] = "durable",
            format_: Annotated[str, Query(alias="format", pattern=FORMATS, description=(
                "json: one document; jsonl or csv: the actions file itself, as "
                "`civicscore events -o actions.jsonl` writes it"))] = "json",
    ) -> Response:
        end = parse_until(until)
        fmt = upload_format(request)
        body = await read_body(request)

        def work() -> Response:
            policy = policy_of(name)
            if log is not None and isinstance(end, dt.datetime):
                raise Answer(400, "until: this service logs every run to its decision log "
                                  "(serve --log), which keeps the day a run ends, not a "
                                  "time: give until=YYYY-MM-DD", kind="events-log",
                             field="until")
            _in_effect(policy, end)
            return _answer(policy, body, fmt, end, engine, format_, limits, log)

        return await run_in_threadpool(work)


def _in_effect(policy: Any, end: dt.date | dt.datetime) -> None:
    """The command's check that the run ends while the policy is in effect, as a 422
    naming ``until``."""
    from ..errors import UsageError

    try:
        policy.check_in_effect(end.date() if isinstance(end, dt.datetime) else end)
    except UsageError as e:
        raise Answer(422, f"until: {e}", kind="events-until", field="until") from None


def _answer(policy: Any, body: bytes, fmt: str, end: dt.date | dt.datetime, engine: str,
            format_: str, limits: Limits, log: DecisionLog | None) -> Response:
    """Run the upload as ``civicscore events`` runs its file, and answer what it writes."""
    from ..io import CSV_BOM, CSV_ESCAPE, read_records, write_rows

    with tempfile.TemporaryDirectory(prefix="civicscore-events-") as tmp:
        records = list(read_records(uploaded(Path(tmp), body, fmt, limits)))
        result = policy.events.run(records, until=end, engine=engine)
        summary = result.summary() + f"; policy {policy.ref}"
        logged = None
        if log is not None:  # after the run, before the answer: an unlogged run is unsaid
            from .scoring import _logged

            assert not isinstance(end, dt.datetime)  # refused before the run
            logged = _logged(lambda: log.write_run(policy, "events", end, result, records))
        if format_ != "json":
            out = Path(tmp) / f"actions.{format_}"
            escape, bom = CSV_ESCAPE.set(True), CSV_BOM.set(False)  # the command's defaults
            try:
                write_rows(result.actions, str(out), format_)
            finally:
                CSV_BOM.reset(bom)
                CSV_ESCAPE.reset(escape)
            headers = {"X-Civicscore-Rows-In": str(result.rows_in),
                       "X-Civicscore-Rejected": str(len(result.rejected)),
                       "X-Civicscore-Actions": str(len(result.actions))}
            if logged is not None:
                headers["X-Civicscore-Logged"] = str(logged)
            return Response(out.read_bytes(), headers=headers, media_type=(
                "text/csv" if format_ == "csv" else "application/x-ndjson"))
    ref = policy.ref
    answer: dict[str, Any] = {
        "policy": {"id": ref.id, "version": ref.version, "hash": ref.hash},
        "until": end.isoformat(), "engine": engine, "rows_in": result.rows_in,
        "taken": result.accepted, "actions": result.actions, "rejected": result.rejected,
        "summary": summary}
    if logged is not None:
        answer["logged"] = logged
    return JSONResponse(answer)
