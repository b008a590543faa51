"""Slow clients on a real socket: a request's headers and body are bounded in time.

A client that trickles its headers or its body (slowloris) is answered 408
(problem+json) once its bound has passed, and its connection is closed; one
that opens a connection and sends nothing is closed; the server goes on
answering everyone else. uvicorn runs in a thread of this process on a free
loopback port, with bounds of half a second so that the tests are quick
(the bounds themselves, not the time taken, are what is asserted: the socket
timeout is only the harness's guard against a hang).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the service needs civicscore[serve]")
uvicorn = pytest.importorskip("uvicorn", reason="the service needs civicscore[serve]")

from civicscore.service import Limits, create_app  # noqa: E402
from civicscore.service.server import bounded  # noqa: E402

from .test_service import AS_OF, POLICIES, free_port  # noqa: E402

BOUND = 0.5
DECIDE = "/v1/policies/example-district/visits/decide"
BODY = json.dumps({"record": {"household_id": "H1", "age_oldest": 80},
                   "as_of": AS_OF}).encode()


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int]]:
    port = free_port()
    config = uvicorn.Config(create_app([POLICIES], limits=Limits(body_seconds=BOUND)),
                            host="127.0.0.1", port=port, log_level="warning",
                            timeout_keep_alive=5, http=bounded(BOUND))
    serving = uvicorn.Server(config)
    thread = threading.Thread(target=serving.run, daemon=True)
    thread.start()
    for _ in range(200):
        if serving.started:
            break
        time.sleep(0.05)
    assert serving.started, "uvicorn did not start"
    yield "127.0.0.1", port
    serving.should_exit = True
    thread.join(timeout=10)


def connect(server: tuple[str, int]) -> socket.socket:
    s = socket.create_connection(server)
    s.settimeout(20)  # a hang fails the test instead of stalling the suite
    return s


def answer(s: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    return data


def problem(data: bytes) -> dict[str, object]:
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), data[:200]
    assert b"content-type: application/problem+json" in head.lower()
    doc = json.loads(body)
    assert doc["status"] == 408 and doc["max_seconds"] == BOUND
    return dict(doc)


def request(body: bytes = BODY, length: int | None = None) -> bytes:
    return (f"POST {DECIDE} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body) if length is None else length}\r\n\r\n"
            ).encode() + body


def test_a_body_sent_too_slowly_is_cut_with_408(server: tuple[str, int]) -> None:
    with connect(server) as s:
        s.sendall(request(BODY[:10], length=len(BODY)))  # and then nothing more
        doc = problem(answer(s))  # answer() returns only once the server has closed
        assert "body" in str(doc["detail"])


def test_headers_sent_too_slowly_are_cut_with_408(server: tuple[str, int]) -> None:
    with connect(server) as s:
        s.sendall(f"POST {DECIDE} HTTP/1.1\r\nHost: x\r\n".encode())  # never the blank line
        doc = problem(answer(s))
        assert "headers" in str(doc["detail"])


def test_a_connection_that_sends_nothing_is_closed(server: tuple[str, int]) -> None:
    with connect(server) as s:
        assert answer(s) == b""


def test_the_next_request_on_a_connection_is_bounded_too(server: tuple[str, int]) -> None:
    with connect(server) as s:
        # a whole request, sent in two parts: answered, and the connection kept
        s.sendall(request()[:-5])
        s.sendall(request()[-5:])
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(65536)
        head, _, rest = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        while len(rest) < length:
            rest += s.recv(65536)
        assert json.loads(rest[:length])["rows"]
        s.sendall(b"GET /healthz HTTP/1.1\r\n")  # the next one, half sent
        problem(answer(s))
    with connect(server) as s:  # and everyone else is still answered
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert answer(s).startswith(b"HTTP/1.1 200")


def test_a_body_already_there_is_taken_even_when_read_after_the_bound() -> None:
    """The bound is on the client: a route that reads a body uvicorn already holds after
    the deadline (a busy server) gets it, not a 408."""
    import asyncio

    from civicscore.service.guard import Guard

    async def late_reader(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(0.2)
        message = await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": message["body"]})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"whole", "more_body": False}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    guard = Guard(late_reader, max_body_bytes=100, body_seconds=0.05)
    asyncio.run(guard({"type": "http", "headers": []}, receive, send))
    assert sent[0]["status"] == 200 and sent[1]["body"] == b"whole"
