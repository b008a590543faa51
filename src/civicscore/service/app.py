"""The ASGI application: policies, checks, decisions, explanations and pages over HTTP.

``create_app(policy_roots)`` builds a FastAPI app over the policies in those
roots (see :mod:`.catalog`). The routes, all JSON under ``/v1`` but the
pages, are described by the OpenAPI document at ``/openapi.json``:

* ``GET /healthz``; ``GET /v1/schemes`` (every registered scheme, a plugin's
  too); ``GET /v1/policies`` (name, id, version, hash, schemes);
* ``GET /v1/policies/{name}`` (the merged policy), ``.../check`` (its
  problems, located, in zh and en), ``POST /v1/check`` (a draft's);
* ``GET /v1/policies/{name}.html?lang=zh|en``: the officer's page of ``render``;
* ``POST /v1/policies/{name}/{scheme}/decide``, ``.../explain``,
  ``.../batch`` (JSON array, JSON Lines, CSV or Parquet upload);
* ``POST /v1/policies/{name}/{scheme}/impact?against=OLD``: the report of
  ``civicscore impact`` on an upload (JSON, or the HTML page);
* ``POST /v1/policies/{name}/events/run?until=``: the actions of ``civicscore
  events`` on an uploaded log (:mod:`.events`); ``.../events/sessions`` and
  ``/v1/events/sessions/{id}/...``: an online session (:mod:`.sessions`);
* ``/v1/ledger/...``: the points ledger, with ``ledger`` (:mod:`.ledger`);
* ``/v1/reviews/...``: confirm or override a logged decision, with ``log``
  (:mod:`.review`);
* ``GET /``: a small page to choose a policy, read it and try a record.

Every route words its reasons in the language the request asks (``?lang=zh|en``,
else ``Accept-Language``; :mod:`.language`), else as the command line would.

Bodies are read by the routes themselves, bounded by :class:`Limits`, so that
a too-large body is a 413 whatever route it is sent to. Scoring runs in a
worker thread (it is CPU work), never on the event loop.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from .. import __version__
from .._suggest import did_you_mean
from .catalog import Catalog, Entry
from .guard import Guard, json_request, read_body
from .language import Language
from .problems import Answer, install, problem_json
from .scoring import OUTPUT_KINDS, score_file
from .tokens import Tokens, needs
from .uploads import (
    BODY_SCHEMAS,
    WITH_BODY,
    Limits,
    json_body,
    read_inputs,
    upload_format,
    with_inputs,
)

if TYPE_CHECKING:
    from ..audit import DecisionLog

class DecideRequest(BaseModel):
    """One record to decide or explain, and the day to decide it on."""

    record: dict[str, Any] = Field(description="The record: the fields the scheme reads "
                                               "and the policy's facts.")
    as_of: dt.date | None = Field(None, description="Decide as of this day (default: "
                                                     "today), as `--as-of`.")
    with_: dict[str, list[dict[str, Any]]] = Field(
        default_factory=dict, alias="with",
        description="The scheme's extra inputs by name, as `--with NAME=FILE` (e.g. "
                    "{\"redemptions\": [...]}, for volunteer points).")

    model_config = ConfigDict(populate_by_name=True)


CHECK_BODY = {"requestBody": {"required": True, "content": {
    "application/toml": {"schema": {"type": "string"}}}}}


def create_app(policy_roots: Sequence[str | Path] = (".",), *,
               limits: Limits | None = None, plugins: Sequence[object] = (),
               tokens: Tokens | None = None, log: DecisionLog | None = None,
               ledger: str | None = None) -> FastAPI:
    """The service over the policies in ``policy_roots`` (read nowhere else).

    With ``log``, every decision of ``decide`` and ``batch`` is appended to that
    decision log, as ``civicscore score --log`` appends it (``explain``, like
    ``civicscore explain``, logs nothing).

    With ``tokens``, every route but ``/healthz``, ``/openapi.json``, the policy
    pages and the page at ``/`` needs a bearer token with the ``read`` role;
    without, the service is open (``civicscore serve`` then listens on loopback
    only).

    With ``ledger`` (a path or URL, as ``--db``), the ``/v1/ledger`` routes work on
    that points ledger (:mod:`.ledger`)."""
    from ..engine import Engine

    limits = limits or Limits()
    engine = Engine(policy_roots=list(policy_roots), plugins=plugins)
    catalog = Catalog(engine)
    # no /docs or /redoc: those pages load their scripts from the network
    app = FastAPI(
        title="civicscore", version=__version__, docs_url=None, redoc_url=None,
        description="Community-programme policies as checked TOML; every decision "
                    "explained, in Chinese and English, with its policy version and hash. "
                    "Errors are application/problem+json (RFC 9457).")
    install(app, catalog)
    app.add_middleware(Guard, max_body_bytes=limits.max_body_bytes,
                       body_seconds=limits.body_seconds)
    app.add_middleware(Language)  # ?lang= or Accept-Language: the reasons' language
    app.state.catalog = catalog
    app.state.limits = limits

    read = [Depends(needs(tokens, "read"))]

    def entry_of(name: str) -> Entry:
        entry = catalog.get(name)
        if entry is None:
            names = list(catalog.entries())
            hint = did_you_mean(name, names)
            raise Answer(404, f"no policy is called {name!r}"
                              + (f"; {hint}" if hint else "")
                              + (f" (this service offers: {', '.join(sorted(names))})"
                                 if names else ""), kind="policy-unknown", policy=name)
        return entry

    def scheme_of(entry: Entry, scheme: str) -> Any:
        policy = catalog.load(entry)
        if scheme not in policy.schemes:
            hint = did_you_mean(scheme, list(policy.schemes))
            raise Answer(404, f"policy {entry.name!r} has no [{scheme}] section"
                              + (f"; {hint}" if hint else "")
                              + f"; it defines: {', '.join(sorted(policy.schemes))}",
                         kind="scheme-unknown", scheme=scheme)
        return policy

    def ref(policy: Any) -> dict[str, str]:
        return {"id": policy.id, "version": policy.version, "hash": policy.hash}

    async def decide_request(request: Request) -> DecideRequest:
        return await json_request(request, DecideRequest)

    # --- health, schemes, policies -------------------------------------------------

    @app.get("/healthz", tags=["service"], summary="The service is up")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/v1/schemes", tags=["policies"], summary="Every registered scheme",
             dependencies=read)
    def schemes() -> dict[str, Any]:
        specs = engine.registry.scheme_specs()
        return {"schemes": [{"name": s.name, "plugin": s.plugin, "noun": s.noun,
                             "outputs": s.outputs, "extra_inputs": list(s.extra_inputs)}
                            for s in specs.values()]}

    @app.get("/v1/policies", tags=["policies"], summary="The policies this service offers",
             dependencies=read)
    def policies() -> dict[str, Any]:
        out = []
        for entry in catalog.entries().values():
            item: dict[str, Any] = {"name": entry.name, "origin": entry.origin}
            try:
                policy = catalog.load(entry)
            except Exception as e:  # a broken file is listed, not hidden
                from ..errors import PolicyError

                if not isinstance(e, PolicyError):
                    raise
                item.update(ok=False, problems=len(e.problems))
            else:
                item.update(ok=True, **ref(policy), title=policy.model.policy.title,
                            schemes=sorted(policy.schemes))
            out.append(item)
        return {"policies": out}

    @app.get("/v1/policies/{name}.html", tags=["pages"], response_class=HTMLResponse,
             summary="The officer's page of a policy (as `civicscore render`)")
    def policy_page(name: str, lang: Annotated[str | None, Query(pattern="^(zh|en)$")] = None
                    ) -> HTMLResponse:
        from ..report.html import esc
        from ..report.render import render_policy

        entry = entry_of(name)
        policy = catalog.load(entry)
        text = render_policy(policy, catalog.layers(entry), "html", lang)
        for root in catalog.roots:  # file names as the root shows them, not where it is
            text = text.replace(esc(f"{root}{os.sep}"), "")
        return HTMLResponse(text, headers={"Content-Security-Policy": _PAGE_CSP})

    @app.get("/v1/policies/{name}", tags=["policies"], summary="One merged policy, as JSON",
             dependencies=read)
    def policy_json(name: str) -> dict[str, Any]:
        entry = entry_of(name)
        policy = catalog.load(entry)
        return {"name": entry.name, **ref(policy), "schemes": sorted(policy.schemes),
                "warnings": [problem_json(w, catalog) for w in policy.warnings],
                "policy": policy.model.model_dump(mode="json", exclude_none=True)}

    def check_answer(load: Any) -> dict[str, Any]:
        from ..errors import PolicyError

        try:
            policy = load()
        except PolicyError as e:
            return {"ok": False, "problems": [problem_json(p, catalog) for p in e.problems],
                    "warnings": []}
        return {"ok": True, "policy": ref(policy), "problems": [],
                "warnings": [problem_json(w, catalog) for w in policy.warnings]}

    @app.get("/v1/policies/{name}/check", tags=["policies"], dependencies=read,
             summary="Check a policy: its problems, each at file:line:col, in zh and en")
    def check(name: str) -> dict[str, Any]:
        entry = entry_of(name)
        return check_answer(lambda: engine.load(entry.source))

    @app.post("/v1/check", tags=["policies"], openapi_extra=CHECK_BODY, dependencies=read,
              summary="Check a draft policy sent as TOML text (it may extend the "
                      "policies of the roots or installed ones by name)")
    async def check_draft(request: Request,
                          name: Annotated[str, Query(max_length=200)] = "draft.toml") -> Any:
        body = await read_body(request)
        from ..policy.compile import load_policy
        from ..policy.load import POLICY_ROOTS

        def load() -> Any:
            token = POLICY_ROOTS.set(catalog.roots or None)
            try:
                return load_policy(Path(name).name, engine.registry.environment(), body)
            finally:
                POLICY_ROOTS.reset(token)

        return await run_in_threadpool(check_answer, load)

    # --- decisions -----------------------------------------------------------------

    @app.post("/v1/policies/{name}/{scheme}/decide", tags=["decisions"], dependencies=read,
              openapi_extra=json_body(DecideRequest),
              summary="Decide one record: the output rows, rejects and summary "
                      "`civicscore score` gives, and the explanation")
    async def decide(request: Request, name: str, scheme: str) -> Any:
        req = await decide_request(request)
        day = req.as_of or dt.date.today()
        body = json.dumps({"records": [req.record], "with": req.with_} if req.with_
                          else [req.record], ensure_ascii=False).encode("utf-8")

        def work() -> dict[str, Any]:
            entry = entry_of(name)
            policy = scheme_of(entry, scheme)
            scored = _score_upload(policy, scheme, body, "json", day, "auto", "jsonl",
                                   False, limits, log)
            # in words: why it was decided so, or why the record could not be used
            explanation = policy.scheme(scheme).explain_record(req.record, as_of=day)
            answer = {"policy": ref(policy), "scheme": scheme, "as_of": day.isoformat(),
                      "rows": scored.rows(), "rejected": scored.rejected,
                      "summary": scored.summary, "explanation": explanation}
            if scored.logged is not None:
                answer["logged"] = scored.logged
            return answer

        return await run_in_threadpool(work)

    @app.post("/v1/policies/{name}/{scheme}/explain", tags=["decisions"], dependencies=read,
              openapi_extra=json_body(DecideRequest),
              summary="Explain the decision on one record in plain words "
                      "(as `civicscore explain`)")
    async def explain(request: Request, name: str, scheme: str) -> Any:
        req = await decide_request(request)
        day = req.as_of or dt.date.today()

        def work() -> dict[str, Any]:
            policy = scheme_of(entry_of(name), scheme)
            text = policy.scheme(scheme).explain_record(req.record, as_of=day)
            return {"policy": ref(policy), "scheme": scheme, "as_of": day.isoformat(),
                    "explanation": text}

        return await run_in_threadpool(work)

    @app.post("/v1/policies/{name}/{scheme}/batch", tags=["decisions"], dependencies=read,
              openapi_extra=WITH_BODY,
              summary="Score an uploaded file of records: exactly what `civicscore score` "
                      "writes for it")
    async def batch(request: Request, name: str, scheme: str,
                    as_of: Annotated[dt.date | None, Query(description="as `--as-of`")] = None,
                    engine_: Annotated[str, Query(alias="engine", pattern=_ENGINES)] = "auto",
                    format_: Annotated[str, Query(alias="format", pattern=_FORMATS)] = "json",
                    details: Annotated[bool, Query(description="also the detail rows")] = False,
                    ) -> Any:
        fmt = upload_format(request)
        body = await read_body(request)
        day = as_of or dt.date.today()
        kind = "jsonl" if format_ == "json" else format_

        def work() -> Response:
            policy = scheme_of(entry_of(name), scheme)
            if format_ != "json":
                return _streamed_upload(policy, scheme, body, fmt, day, engine_, kind,
                                        limits, log)
            scored = _score_upload(policy, scheme, body, fmt, day, engine_,
                                   kind, details, limits, log)
            answer: dict[str, Any] = {
                "policy": ref(policy), "scheme": scheme, "as_of": day.isoformat(),
                "engine": scored.engine, "rows_in": scored.rows_in, "rows": scored.rows(),
                "rejected": scored.rejected, "summary": scored.summary}
            if scored.details is not None:
                answer["details"] = scored.details
            if scored.logged is not None:
                answer["logged"] = scored.logged
            return JSONResponse(answer)

        return await run_in_threadpool(work)

    # --- the page ------------------------------------------------------------------

    @app.post("/v1/policies/{name}/{scheme}/impact", tags=["decisions"], dependencies=read,
              openapi_extra=WITH_BODY,
              summary="Who changes if policy `against` is replaced by this one, on an "
                      "uploaded file of records (as `civicscore impact`)")
    async def impact(request: Request, name: str, scheme: str,
                     against: Annotated[str, Query(description="The policy this one would "
                                                               "replace (OLD)")],
                     as_of: Annotated[dt.date | None, Query(description="as `--as-of`")] = None,
                     by: Annotated[list[str] | None, Query(
                         description="A column to check for disparity across, as `--by` "
                                     "(repeatable); it never reaches a rule")] = None,
                     min_group: Annotated[int, Query(ge=1, description="as `--min-group`")] = 5,
                     format_: Annotated[str, Query(alias="format",
                                                   pattern="^(json|html)$")] = "json",
                     ) -> Response:
        from ..impact import compare, to_json
        from ..report.impact_page import impact_html

        fmt = upload_format(request)
        body = await read_body(request)
        day = as_of or dt.date.today()

        def work() -> Response:
            new = scheme_of(entry_of(name), scheme)
            old = scheme_of(entry_of(against), scheme)
            records, extra = read_inputs(body, fmt, limits,
                                         new.spec(scheme).extra_inputs, scheme)
            report = compare(old, new, scheme, records, as_of=day, extra=extra,
                             by=by or (), min_group=min_group)
            if format_ == "html":
                return HTMLResponse(impact_html(report),
                                    headers={"Content-Security-Policy": _PAGE_CSP})
            return Response(to_json(report), media_type="application/json")

        return await run_in_threadpool(work)

    # --- rules over time: civicscore events ---------------------------------------------

    from .events import install_events

    install_events(app, tokens=tokens, limits=limits, log=log,
                   policy_of=lambda name: scheme_of(entry_of(name), "events"))

    from .sessions import install_sessions

    app.state.sessions = install_sessions(
        app, tokens=tokens, limits=limits, log=log,
        policy_of=lambda name: scheme_of(entry_of(name), "events"))

    # --- the ledger ----------------------------------------------------------------

    from .ledger import install_ledger

    install_ledger(app, ledger, tokens=tokens, limits=limits,
                   policy_of=lambda name: scheme_of(entry_of(name), "volunteer"))

    # --- reviews of logged decisions -------------------------------------------------

    from .review import install_review

    install_review(app, log, tokens=tokens)

    from .page import install_page

    install_page(app)
    describe_routes(app)
    generated = app.openapi

    def openapi() -> dict[str, Any]:
        """FastAPI's document, with the schemas the batch bodies refer to."""
        document = generated()
        document.setdefault("components", {}).setdefault("schemas", {}).update(BODY_SCHEMAS)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def describe_routes(app: FastAPI) -> None:
    """Name in the OpenAPI document the role each route needs (``x-civicscore-roles``,
    and its 401 and 403 answers) and the problems every route may answer; the role is
    the one its :func:`.tokens.needs` dependency asks for, so the document cannot say
    one role and the route check another."""
    from fastapi.routing import APIRoute

    from .problems import documented

    def roles(dependant: Any) -> list[str]:
        found = [getattr(dependant.call, "role", None)]
        for sub in dependant.dependencies:
            found += roles(sub)
        return [r for r in found if r]

    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        needed = sorted(set(roles(route.dependant)))
        extra = dict(route.openapi_extra or {})
        extra["x-civicscore-roles"] = needed
        route.openapi_extra = extra
        statuses = [500] + ([401, 403] if needed else [])
        if route.path.startswith("/v1/"):
            statuses += [404, 413, 422] if "POST" in (route.methods or ()) else [404, 422]
        route.responses = {**documented(*statuses, kinds=COMMON_KINDS), **route.responses}


#: The problem types every route answers a status with, whatever the route.
COMMON_KINDS = {401: ["token"], 403: ["role"], 500: ["500"]}
_ENGINES = "^(auto|batch|per-record)$"
_FORMATS = "^(" + "|".join(OUTPUT_KINDS) + ")$"
_PAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
             "base-uri 'none'; form-action 'none'; frame-ancestors 'self'")


def _streamed_upload(policy: Any, scheme: str, body: bytes, fmt: str, day: dt.date,
                     engine: str, kind: str, limits: Limits, log: DecisionLog | None
                     ) -> Response:
    """The output file of a batch (``format=csv|jsonl``), streamed from disk: the run is
    whole, and logged, before the first byte (a failure is still a problem, never half
    a file); the file is then sent in chunks, and its private directory removed after."""
    import shutil

    from .scoring import streamed

    keep = Path(tempfile.mkdtemp(prefix="civicscore-answer-"))
    try:
        scored = _score_upload(policy, scheme, body, fmt, day, engine, kind, False, limits,
                               log, keep_in=keep)
    except BaseException:
        shutil.rmtree(keep, ignore_errors=True)
        raise
    assert scored.output_file is not None
    headers = {"X-Civicscore-Rows-In": str(scored.rows_in),
               "X-Civicscore-Rejected": str(len(scored.rejected)),
               "Content-Length": str(scored.output_file.stat().st_size)}
    if scored.logged is not None:
        headers["X-Civicscore-Logged"] = str(scored.logged)
    return StreamingResponse(streamed(keep, scored.output_file), headers=headers,
                             media_type="text/csv" if kind == "csv"
                             else "application/x-ndjson")


def _score_upload(policy: Any, scheme: str, body: bytes, fmt: str, day: dt.date,
                  engine: str, kind: str, details: bool, limits: Limits,
                  log: DecisionLog | None = None, keep_in: Path | None = None) -> Any:
    """Write the upload (and its ``with`` inputs, :func:`.uploads.with_inputs`) to private
    temporary files and score them as the CLI would."""
    with tempfile.TemporaryDirectory(prefix="civicscore-in-") as tmp:
        path, extra = with_inputs(Path(tmp), body, fmt, limits,
                                  policy.spec(scheme).extra_inputs, scheme)
        return score_file(policy, scheme, path, as_of=day, engine=engine, kind=kind,
                          details=details, log=log, extra=extra, keep_in=keep_in)
