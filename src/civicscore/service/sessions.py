"""Online events over HTTP: a session that takes events one at a time and gives actions.

``policy.events.session(until=...)`` of the Python API (docs/events.md) as routes,
for an application that posts events as they happen:

* ``POST /v1/policies/{name}/events/sessions?until=`` opens one (201, its ``id``);
* ``POST /v1/events/sessions/{id}/events``: one event (a JSON object) or several (an
  array), in arrival order; the answer is the actions they release and the events
  refused (each naming the event and field, as a run's rejected rows);
* ``POST /v1/events/sessions/{id}/advance?to=``: a heartbeat (``session.advance``);
* ``DELETE /v1/events/sessions/{id}``: close it; the deadlines due by ``until``
  fire, and the answer counts every event posted (``rows_in = taken + rejected``).

A session lives in the memory of the one service process that opened it (run one
process, or route a session's requests to the process that opened it); it belongs
to the token that opened it (another token is told it does not exist); at most
:data:`MAX_SESSIONS` are open at once, and one idle for :data:`IDLE_SECONDS` is
closed (its remaining actions are then lost: close a session to have them).

With a decision log (``serve --log``) sessions are refused: a session answers
actions as events come, before the run is whole, so it could not log a run
before answering it; ``events/run`` logs whole runs.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from .events import parse_until
from .guard import read_body
from .problems import Answer, documented
from .tokens import Token, Tokens, needs

if TYPE_CHECKING:
    from ..audit import DecisionLog
    from .uploads import Limits

MAX_SESSIONS = 64
IDLE_SECONDS = 600.0
KINDS: dict[int, list[str]] = {
    400: ["usage", "events-log", "request"], 401: ["token"], 403: ["role"],
    404: ["policy-unknown", "scheme-unknown", "session-unknown"], 413: ["413",
                                                                       "too-many-rows"],
    422: ["request", "events-until"], 500: ["500"], 503: ["sessions-full"],
}


@dataclass
class Open:
    """One open session, whose it is, and when it was last used."""

    session: Any
    policy: Any
    owner: str | None
    until: dt.date | dt.datetime
    used: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Sessions:
    """The open sessions of this process, closed when idle too long."""

    def __init__(self, max_sessions: int = MAX_SESSIONS, idle_seconds: float = IDLE_SECONDS
                 ) -> None:
        self.max_sessions = max_sessions
        self.idle_seconds = idle_seconds
        self._open: dict[str, Open] = {}
        self._lock = threading.Lock()

    def _sweep(self) -> None:
        now = time.monotonic()
        with self._lock:
            idle = [k for k, s in self._open.items() if now - s.used > self.idle_seconds]
            gone = [self._open.pop(k) for k in idle]
        for s in gone:
            with s.lock:  # not while a request of its own is still posting to it
                s.session.close()

    def add(self, item: Open) -> str:
        self._sweep()
        with self._lock:
            if len(self._open) >= self.max_sessions:
                item.session.close()
                raise Answer(503, f"this service has {self.max_sessions} events sessions "
                                  f"open, as many as it keeps; close one, or try again "
                                  f"later", kind="sessions-full",
                             headers={"Retry-After": "60"})
            key = secrets.token_urlsafe(16)
            self._open[key] = item
        return key

    def get(self, key: str, owner: str | None, *, remove: bool = False) -> Open:
        self._sweep()
        with self._lock:
            item = self._open.get(key)
            if item is None or item.owner != owner:  # another's is no business of this one
                raise Answer(404, f"no open events session {key!r} (closed, idle for more "
                                  f"than {self.idle_seconds:g} s, or never opened)",
                             kind="session-unknown", session=key)
            if remove:
                del self._open[key]
            item.used = time.monotonic()
        return item


def install_sessions(app: FastAPI, *, tokens: Tokens | None, limits: Limits,
                     log: DecisionLog | None, policy_of: Any,
                     sessions: Sessions | None = None) -> Sessions:
    """Add the session routes (see the module docstring); returns the store."""
    from .events import _in_effect

    store = sessions or Sessions()
    reader = Depends(needs(tokens, "read"))
    answers = documented(*KINDS, kinds=KINDS)

    def owner(token: Token | None) -> str | None:
        return token.name if token is not None else None

    def ref(policy: Any) -> dict[str, str]:
        return {"id": policy.ref.id, "version": policy.ref.version, "hash": policy.ref.hash}

    @app.post("/v1/policies/{name}/events/sessions", tags=["events"], status_code=201,
              responses=answers, summary="Open an online events session (as "
                                             "policy.events.session(until=...))")
    async def open_session(name: str, until: Annotated[str, Query(description=(
            "The end of the session, as `--until`: a date or a time"))],
            token: Token | None = reader) -> JSONResponse:
        end = parse_until(until)

        def work() -> JSONResponse:
            if log is not None:
                raise Answer(400, "this service logs every decision (serve --log), and a "
                                  "session answers actions before its run is whole: post "
                                  "the log to events/run instead", kind="events-log")
            policy = policy_of(name)
            _in_effect(policy, end)
            session = policy.events.session(until=end)
            key = store.add(Open(session, policy, owner(token), end))
            return JSONResponse({"id": key, "policy": ref(policy), "until": end.isoformat(),
                                 "idle_seconds": store.idle_seconds}, status_code=201)

        return await run_in_threadpool(work)

    @app.post("/v1/events/sessions/{key}/events", tags=["events"], responses=answers,
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": {"oneOf": [
                      {"type": "object"}, {"type": "array", "items": {"type": "object"}}]}}}}},
              summary="Post events to a session (one object, or an array in arrival "
                      "order): the actions they release")
    async def post_events(request: Request, key: str,
                          token: Token | None = reader) -> dict[str, Any]:
        import json

        body = await read_body(request)
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise Answer(400, "the body is not valid JSON: send one event as an object, "
                              "or an array of them", kind="request") from None
        events = data if isinstance(data, list) else [data]
        if len(events) > limits.max_rows:
            raise Answer(413, f"{len(events)} events in one request; this service takes at "
                              f"most {limits.max_rows}", kind="too-many-rows",
                         max_rows=limits.max_rows)

        def work() -> dict[str, Any]:
            item = store.get(key, owner(token))
            with item.lock:
                before = len(item.session.rejected)
                actions = [a for event in events for a in item.session.post(event)]
                refused = item.session.rejected[before:]
            return {"actions": actions, "rejected": refused,
                    "rows_in": item.session.rows_in}

        return await run_in_threadpool(work)

    @app.post("/v1/events/sessions/{key}/advance", tags=["events"], responses=answers,
              summary="A heartbeat: time has reached `to` (as session.advance)")
    async def advance(key: str, to: Annotated[str, Query(description="A date or a time")],
                      token: Token | None = reader) -> dict[str, Any]:
        moment = parse_until(to, name="to")

        def work() -> dict[str, Any]:
            item = store.get(key, owner(token))
            with item.lock:
                return {"actions": item.session.advance(moment)}

        return await run_in_threadpool(work)

    @app.delete("/v1/events/sessions/{key}", tags=["events"], responses=answers,
                summary="Close a session: the deadlines due by its `until` fire")
    async def close(key: str, token: Token | None = reader) -> dict[str, Any]:
        def work() -> dict[str, Any]:
            item = store.get(key, owner(token), remove=True)
            with item.lock:
                actions = item.session.close()
                s = item.session
            return {"actions": actions, "rows_in": s.rows_in,
                    "taken": s.rows_in - len(s.rejected), "rejected": s.rejected,
                    "policy": ref(item.policy), "until": item.until.isoformat()}

        return await run_in_threadpool(work)

    return store
