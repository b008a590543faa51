"""Errors as answers for people: RFC 9457 ``application/problem+json``, in zh and en.

Every refusal of the service is one JSON object with a ``status``, a short
``title`` (English) and ``title_zh``, a ``detail`` that says what was wrong
and what to do, and, where there is one, the record and field at fault
(``record``, ``field``) or the located policy problems (``problems``, each
with ``file``, ``line``, ``col``, ``where`` = ``file:line:col``, ``message``,
``fix`` and both languages' sentence). No answer carries a stack trace; an
unexpected error is a 500 saying it is the service's fault, and the log gets
its type and the request's method and route, never a record's values.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from ..errors import InputError, PolicyError, Problem, RecordError, ReviewError, UsageError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from .catalog import Catalog

LOG = logging.getLogger("civicscore.service")
PROBLEM_JSON = "application/problem+json"

TITLES: dict[int, tuple[str, str]] = {
    400: ("Bad request", "请求有误"),
    401: ("Not signed in", "未登录"),
    403: ("Not allowed", "无权访问"),
    404: ("Not found", "未找到"),
    405: ("Method not allowed", "不支持此方法"),
    408: ("Request timeout", "请求超时"),
    409: ("Conflict", "与已有记录冲突"),
    413: ("Request too large", "请求过大"),
    415: ("Unsupported media type", "不支持的内容类型"),
    422: ("Cannot be used", "无法使用"),
    500: ("Internal error", "服务内部错误"),
    503: ("Service unavailable", "服务暂不可用"),
}


class Answer(Exception):
    """Stop handling a request and answer with this problem (raised by the routes)."""

    def __init__(self, status: int, detail: str, *, kind: str = "",
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind
        self.headers = headers
        self.extra = extra


def problem(status: int, detail: str, *, kind: str = "", headers: dict[str, str] | None = None,
            **extra: Any) -> JSONResponse:
    """A problem+json response (``kind`` names the type of problem, e.g. ``policy``)."""
    en, zh = TITLES.get(status, ("Error", "错误"))
    body = {"type": problem_type(kind or status),
            "title": en, "title_zh": zh, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def problem_type(kind: str | int) -> str:
    """The ``type`` URI of a problem of ``kind`` (``policy-unknown``, or a bare status)."""
    return f"https://civicscore.invalid/problems/{kind}"


def documented(*statuses: int, kinds: Mapping[int, Sequence[str]] | None = None
               ) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the problems a route may answer: each a problem+json
    document (the :func:`problem` fields), described by its title in both languages.
    ``kinds`` names, per status, the problem types the route answers with it: they are
    listed in the description and as the ``type`` field's ``enum``, so that a client
    can tell from the document alone which refusals to expect."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        type_schema: dict[str, Any] = {"type": "string"}
        description = " / ".join(TITLES[status])
        named = list((kinds or {}).get(status, ()))
        if named:
            type_schema["enum"] = [problem_type(k) for k in named]
            description += " (problem types: " + ", ".join(named) + ")"
        schema = {"type": "object", "required": ["type", "title", "status", "detail"],
                  "properties": {"type": type_schema, "title": {"type": "string"},
                                 "title_zh": {"type": "string"},
                                 "status": {"type": "integer"},
                                 "detail": {"type": "string"}}}
        out[status] = {"description": description,
                       "content": {PROBLEM_JSON: {"schema": schema}}}
    return out


def problem_json(p: Problem, catalog: Catalog | None = None) -> dict[str, Any]:
    """One located policy problem, for an editor or a person, in both languages."""
    file = catalog.shown(p.file) if catalog is not None else p.file
    where = f"{file}:{p.line}:{p.col}"
    key = f" [{p.path}]" if p.path else ""
    fix_en = f" ({p.hint})" if p.hint else ""
    fix_zh = f"（建议：{p.hint}）" if p.hint else ""
    label_en = "" if p.severity == "error" else f"{p.severity}: "
    label_zh = "" if p.severity == "error" else "提示："
    return {
        "file": file, "line": p.line, "col": p.col, "where": where, "path": p.path,
        "severity": p.severity, "message": p.message, "expected": _expected(p.message),
        "fix": p.hint,
        "text": {"en": f"{where}: {label_en}{p.message}{key}{fix_en}",
                 "zh": f"{file} 第 {p.line} 行第 {p.col} 列：{label_zh}{p.message}{key}"
                       f"{fix_zh}"},
    }


def _expected(message: str) -> str | None:
    """What the checker expected, when its message says (``... expected a number``)."""
    at = message.find("expected ")
    return message[at + len("expected "):].rstrip(".") if at >= 0 else None


def install(app: FastAPI, catalog: Catalog) -> None:
    """Answer every error civicscore raises on purpose, and every refusal of the web
    framework (unknown route, bad JSON), as problem+json."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    @app.exception_handler(Answer)
    async def _answer(request: Request, e: Answer) -> JSONResponse:
        return problem(e.status, e.detail, kind=e.kind, headers=e.headers, **e.extra)

    @app.exception_handler(PolicyError)
    async def _policy(request: Request, e: PolicyError) -> JSONResponse:
        shown = [problem_json(p, catalog) for p in e.problems]
        return problem(422, f"the policy has {len(shown)} problem(s) and was not used: "
                            + "; ".join(s["text"]["en"] for s in shown[:3]),
                       kind="policy", problems=shown)

    @app.exception_handler(RecordError)
    async def _record(request: Request, e: RecordError) -> JSONResponse:
        return problem(422, str(e), kind="record", record=e.record, field=e.field,
                       code=e.code)

    @app.exception_handler(InputError)
    async def _input(request: Request, e: InputError) -> JSONResponse:
        return problem(422, _unplaced(str(e)), kind="input")

    @app.exception_handler(UsageError)
    async def _usage(request: Request, e: UsageError) -> JSONResponse:
        return problem(400, str(e), kind="usage")

    @app.exception_handler(ReviewError)
    async def _review(request: Request, e: ReviewError) -> JSONResponse:
        return problem(422, str(e), kind="review")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        # FastAPI's own answer echoes the input back; this one names only the fields
        fields = [{"field": ".".join(str(x) for x in err.get("loc", ())),
                   "message": str(err.get("msg", ""))} for err in e.errors()]
        return problem(422, "; ".join(f"{f['field']}: {f['message']}" for f in fields),
                       kind="request", fields=fields)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, e: HTTPException) -> JSONResponse:
        detail = e.detail if isinstance(e.detail, str) else TITLES.get(e.status_code,
                                                                        ("Error",))[0]
        return problem(e.status_code, detail)


UPLOAD = "the uploaded records"


def _unplaced(message: str) -> str:
    """An input error names the file it read; the client's file is "the uploaded
    records", not a temporary path of the server."""
    import re

    message = re.sub(r"/\S*?/with-(\w+)\.(csv|jsonl|json|parquet)", r"the uploaded \1",
                     message)
    return re.sub(r"/\S*?/upload\.(csv|jsonl|json|parquet)", UPLOAD, message)
