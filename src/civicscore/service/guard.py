"""The service's outer guard: bounded bodies, and no stack trace to anyone.

:class:`Guard` wraps the whole application (inside Starlette's own error
middleware, so it sees every exception first):

* a body announced (``Content-Length``) or found (chunked) to be larger than
  the limit is answered 413 and never read whole;
* a body that has not arrived whole within ``body_seconds`` of the request's
  headers (a client sending it a byte at a time: "slowloris") is answered 408,
  and the connection closed: it holds a connection and a request open for no
  longer than that;
* a client that goes away mid-request ends that request quietly;
* any other exception is answered 500 with a problem document that says it
  is the service's fault, and is logged as its type, the method and the route
  only: never its message, which may quote a record.
"""

from __future__ import annotations

import asyncio
import json
import logging
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .problems import LOG, PROBLEM_JSON, TITLES, Answer


class BodyTooLarge(Exception):
    """A request body passed the limit while it was being read."""


class BodyTooSlow(Exception):
    """A request body was not whole by its deadline."""


class Guard:
    """Pure ASGI middleware (see the module docstring)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, body_seconds: float = 30.0) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_seconds = body_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        for key, value in scope.get("headers", ()):
            if key == b"content-length":
                try:
                    announced = int(value)
                except ValueError:
                    announced = -1
                if announced < 0:
                    await _send_problem(send, 400, "the Content-Length header is not a "
                                                   "number")
                    return
                if announced > limit:
                    await _send_problem(send, 413, _too_large(limit), max_bytes=limit)
                    return
        started = False
        seen = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_seconds
        whole = False  # after the body, receive() waits for a disconnect: no deadline

        async def counted() -> Message:
            nonlocal seen, whole
            if whole:
                return await receive()
            # never less than a moment: a chunk uvicorn already holds is taken even when
            # the route asks for it after the deadline (the client was not slow then)
            try:
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0.05))
            except TimeoutError:
                raise BodyTooSlow from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge
                whole = not message.get("more_body", False)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if not started:
                await _send_problem(send, 413, _too_large(limit), max_bytes=limit)
        except BodyTooSlow:
            if not started:
                await _send_problem(send, 408, _too_slow(self.body_seconds),
                                    max_seconds=self.body_seconds)
        except ClientDisconnect:
            return  # nobody is there to answer
        except Exception as e:
            await _internal(send, scope, e, started)
        except BaseException as e:  # pyo3's PanicException (polars) is no Exception
            if type(e).__name__ != "PanicException":
                raise  # cancellation, SystemExit: not errors of this request
            await _internal(send, scope, e, started)


async def _internal(send: Send, scope: Scope, e: BaseException, started: bool) -> None:
    LOG.log(logging.ERROR, "internal error %s on %s %s", type(e).__name__,
            scope.get("method", ""), _route(scope))
    if not started:
        await _send_problem(send, 500, "the service failed on this request; this is a bug "
                                       "in civicscore, not in what you sent (it is logged "
                                       "without your data)")


def _route(scope: Scope) -> str:
    route = scope.get("route")
    return str(getattr(route, "path", None) or scope.get("path", ""))


def _too_large(limit: int) -> str:
    return (f"the request body is larger than this service accepts ({limit} bytes); "
            f"split the records into smaller uploads, or use civicscore score")


def _too_slow(seconds: float) -> str:
    return (f"the request body did not arrive whole within {seconds:g} seconds of its "
            f"headers; the connection is closed (send the body at once, or split it)")


async def _send_problem(send: Send, status: int, detail: str, **extra: Any) -> None:
    en, zh = TITLES.get(status, ("Error", "错误"))
    body = json.dumps({"type": f"https://civicscore.invalid/problems/{status}",
                       "title": en, "title_zh": zh, "status": status, "detail": detail,
                       **extra}, ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", PROBLEM_JSON.encode()),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


async def read_body(request: Request) -> bytes:
    """The whole body (the :class:`Guard` stops it at the limit)."""
    chunks = []
    async for chunk in request.stream():
        chunks.append(chunk)
    return b"".join(chunks)


M = TypeVar("M", bound=BaseModel)


async def json_request(request: Request, model: type[M], *, exact: bool = False) -> M:
    """The body as ``model``: 400 for JSON that does not parse, 422 naming each field
    that does not fit. ``exact``: JSON numbers with a fraction are read as decimals,
    never floats (an amount of points is exact)."""
    body = await read_body(request)
    try:
        data = json.loads(body, parse_float=Decimal) if exact else json.loads(body)
    except (ValueError, RecursionError) as e:
        msg = e.msg if isinstance(e, json.JSONDecodeError) else type(e).__name__
        raise Answer(400, f"the body is not valid JSON: {msg}", kind="request") from None
    try:
        return model.model_validate(data)
    except ValidationError as e:
        fields = [{"field": ".".join(str(x) for x in err["loc"]) or "body",
                   "message": err["msg"]} for err in e.errors()]
        raise Answer(422, "; ".join(f"{f['field']}: {f['message']}" for f in fields),
                     kind="request", fields=fields) from None
