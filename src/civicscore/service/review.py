"""Human review over HTTP: ``/v1/reviews/...`` on the service's decision log (``--log``).

A confirmation or an override is recorded by :func:`civicscore.review.record_review`,
the function behind ``civicscore review LOG ID confirm|override``: the same checks
(a reason in words, only the values the scheme lets a person change, a
confirmation only of a proposed demotion), the same entry appended to the same
log, chained and under its lock. The author is the token's name (``by`` in the
body only on a service without tokens); the time is the server's clock (UTC).

* ``GET /v1/reviews/proposals``: the demotions no one has confirmed yet (what
  ``civicscore review LOG`` lists as ``PROPOSED``);
* ``GET /v1/reviews/{decision_id}``: the logged decision, its reviews, the values
  it holds after them, and whether it is still a proposal;
* ``POST /v1/reviews/{decision_id}/confirm`` and ``.../override``.

Every route needs the ``review`` role. The log's place on the server is never in
an answer: the library's messages name it, and the service says "the decision
log" instead.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ..errors import InputError, ReviewError
from .guard import json_request
from .problems import Answer, documented
from .tokens import Token, Tokens, author_of, needs

if TYPE_CHECKING:
    from ..audit import DecisionLog, LogContents

T = TypeVar("T")
THE_LOG = "the decision log"


class Confirmation(BaseModel):
    """A person accepts a proposed demotion as it is."""

    reason: str = Field(description="Why, in words a resident could read.")
    by: str | None = Field(None, description="Who: only on a service without tokens, "
                                             "where no token names the reviewer.")


class Override(Confirmation):
    """A person sets values the scheme allows a person to change (a tier, stars, a grade)."""

    set: dict[str, str | int | bool] = Field(description="The values to set, by field "
                                                         "(e.g. {\"tier\": \"routine\"}).")


def install_review(app: FastAPI, log: DecisionLog | None, *, tokens: Tokens | None) -> None:
    """Add the ``/v1/reviews`` routes over ``log`` (none: each route answers 404 saying
    how to start the service with one)."""
    from .uploads import json_body

    reviewer = Depends(needs(tokens, "review"))
    answers = documented(401, 403, 404, 422, 503)

    def on_log(fn: Callable[[Path], T]) -> T:
        """``fn`` over the log's path; its refusals as problems that do not name it."""
        if log is None or not isinstance(log.path, Path):  # a stream is not read back
            raise Answer(404, "this service keeps no decision log, so it has nothing to "
                              "review: start it with civicscore serve --log FILE",
                         kind="review-none")
        path = log.path
        try:
            return fn(path)
        except (ReviewError, InputError) as e:
            text = str(e).replace(f"{path}: ", "").replace(str(path), THE_LOG)
            if text == "no such file":  # nothing decided yet
                text = "no decision is in the log yet"
            unknown = text.startswith("no decision")
            raise Answer(404 if unknown else 422, text,
                         kind="decision-unknown" if unknown else "review") from None

    def contents(path: Path) -> LogContents | None:
        from ..audit import scan_log

        return scan_log(path) if path.exists() else None  # no decision logged yet

    def shown(entry: dict[str, Any]) -> dict[str, Any]:
        return {k: entry.get(k) for k in ("decision_id", "run_id", "scheme", "as_of",
                                          "policy", "result")}

    @app.get("/v1/reviews/proposals", tags=["review"], responses=answers,
             summary="The demotions that are only proposed: no one has confirmed or "
                     "overridden them yet")
    async def proposals(_: Token | None = reviewer) -> dict[str, Any]:
        from ..review import pending, proposal

        def work(path: Path) -> dict[str, Any]:
            found = contents(path)
            waiting = pending(found.entries, found.reviews) if found else []
            return {"proposals": [{**shown(dict(e)), "text": proposal(e)}
                                  for e in waiting]}

        return await run_in_threadpool(on_log, work)

    @app.get("/v1/reviews/{decision_id}", tags=["review"], responses=answers,
             summary="A logged decision with its reviews and the values it holds after "
                     "them")
    async def decision(decision_id: str, _: Token | None = reviewer) -> dict[str, Any]:
        from ..review import current_values, pending

        def work(path: Path) -> dict[str, Any]:
            found = contents(path)
            target = next((e for e in found.entries if e["decision_id"] == decision_id),
                          None) if found else None
            if found is None or target is None:
                raise ReviewError(f"no decision {decision_id!r} in the log")
            reviews = [r for r in found.reviews if r.get("decision_id") == decision_id]
            return {**shown(target), "reviews": reviews,
                    "after_review": current_values(reviews, decision_id),
                    "proposed": bool(pending([target], reviews))}

        return await run_in_threadpool(on_log, work)

    def record(action: str, model: type[Confirmation], summary: str) -> None:
        """``POST /v1/reviews/{decision_id}/<action>``: one review, appended to the log."""
        from ..review import record_review

        async def route(request: Request, decision_id: str,
                        token: Token | None = reviewer) -> dict[str, Any]:
            req = await json_request(request, model)
            by = author_of(token, req.by)
            sets = ({k: str(v) for k, v in req.set.items()} if isinstance(req, Override)
                    else None)
            entry: dict[str, Any] = await run_in_threadpool(on_log, lambda path: record_review(
                path, decision_id, "confirm" if action == "confirm" else "override", by=by,
                reason=req.reason, sets=sets))
            return entry

        app.post(f"/v1/reviews/{{decision_id}}/{action}", tags=["review"], name=action,
                 responses={**answers, **documented(413)}, openapi_extra=json_body(model),
                 summary=summary)(route)

    record("confirm", Confirmation, "Confirm a proposed demotion (as `civicscore review LOG "
                                    "ID confirm`), signed by the token's holder")
    record("override", Override, "Override values of a logged decision (as `civicscore "
                                 "review LOG ID override --set`), signed by the token's "
                                 "holder")
