"""uvicorn's HTTP/1.1 protocol with a bound on slow request headers.

uvicorn closes a connection idle for ``timeout_keep_alive`` seconds, but a
client that keeps sending a header line every few seconds (slowloris) resets
nothing and is never cut: it holds a connection for as long as it likes. The
body is bounded by :class:`.guard.Guard` (408 after ``body_seconds``); this
bounds what comes before the application sees anything: the request line and
headers must be whole within ``header_seconds`` of the connection being
opened or of the previous response on it, or the client is answered 408
(problem+json) and the connection closed (a connection that sent nothing at
all is just closed, as uvicorn closes an idle one).

It extends uvicorn's h11 protocol, the one uvicorn uses without httptools
(``civicscore serve`` passes it as ``http=``), through the attributes uvicorn
0.3x-0.5x keeps (``loop``, ``transport``, ``cycle``); a test drives it over a
real socket, so a uvicorn that changes them fails that test, not a client.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from .problems import PROBLEM_JSON, TITLES


def too_slow(seconds: float) -> bytes:
    """The whole 408 answer, as bytes on the wire."""
    en, zh = TITLES[408]
    body = json.dumps({"type": "https://civicscore.invalid/problems/408", "title": en,
                       "title_zh": zh, "status": 408,
                       "detail": f"the request headers did not arrive whole within "
                                 f"{seconds:g} seconds; the connection is closed",
                       "max_seconds": seconds}, ensure_ascii=False).encode("utf-8")
    head = (f"HTTP/1.1 408 Request Timeout\r\ncontent-type: {PROBLEM_JSON}\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n")
    return head.encode("ascii") + body


class BoundedH11(H11Protocol):
    """See the module docstring; ``header_seconds`` is set by :func:`bounded`."""

    header_seconds = 10.0
    _header_timer: asyncio.TimerHandle | None = None
    _begun = False  # some bytes of the next request have come

    def data_received(self, data: bytes) -> None:
        if self._waiting_for_headers():
            self._begun = True
        super().data_received(data)

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_seconds, self._headers_late)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _waiting_for_headers(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def handle_events(self) -> None:
        super().handle_events()
        if not self._waiting_for_headers():  # a request has begun: the Guard bounds its body
            self._disarm()
            self._begun = False

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request's headers are bounded too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _headers_late(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or not self._waiting_for_headers():
            return
        if self._begun:  # half a request: say why; a connection that sent nothing is closed
            self.transport.write(too_slow(self.header_seconds))
        self.transport.close()


def bounded(header_seconds: float) -> type[BoundedH11]:
    """The protocol class to give uvicorn (``uvicorn.run(app, http=...)``)."""
    return type("BoundedH11", (BoundedH11,), {"header_seconds": header_seconds})
