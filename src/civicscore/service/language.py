"""The language a request's reasons are worded in: ``?lang=``, else Accept-Language.

A decision's reasons are worded in the language of the run (``messages.
reasons_language``: ``--lang``, else ``CIVICSCORE_LANG``, else the policy's
locale). Over HTTP the client asks: ``?lang=zh`` or ``?lang=en`` on any route,
else the first language of its ``Accept-Language`` header that civicscore
speaks (a browser set to Chinese reads Chinese). Neither given, the service
words them as the command line would. The choice holds for the whole request,
the worker thread that scores it included (the context is copied into it).
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from ..messages import LANG, LANGS


def asked_language(scope: Scope) -> str | None:
    """``zh`` or ``en`` as the request asks, or None."""
    raw: bytes = scope.get("query_string", b"")
    query = parse_qs(raw.decode("latin-1"))
    for value in query.get("lang", []):
        if value[:2].lower() in LANGS:
            return str(value[:2].lower())
    for key, header in scope.get("headers", ()):
        if key == b"accept-language":
            for part in bytes(header).decode("latin-1").split(","):
                tag = part.split(";", 1)[0].strip()[:2].lower()
                if tag in LANGS:
                    return tag
    return None


class Language:
    """Pure ASGI middleware: the request's language (above) set for its handling."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lang = asked_language(scope) if scope["type"] == "http" else None
        if lang is None:
            await self.app(scope, receive, send)
            return
        token = LANG.set(lang)
        try:
            await self.app(scope, receive, send)
        finally:
            LANG.reset(token)
