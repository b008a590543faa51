"""The points ledger over HTTP: ``/v1/ledger/...`` (``civicscore serve --ledger URL``).

Every route is one call of the ledger's own public operations
(:mod:`civicscore.ledger`), on a connection opened for the request and closed
after it, in a worker thread: what a redemption takes, what a re-post means and
when an account would go below zero are decided by the library alone, in one
transaction, exactly as ``civicscore ledger ...`` decides them. A connection per
request keeps no connection shared between threads, and lets two counters'
requests race through the ledger's own locks (SQLite ``BEGIN IMMEDIATE``,
PostgreSQL ``FOR UPDATE``), which the ledger suite tests.

What the service adds is the answer:

* a transfer id used again with the same content is the ledger's no-op: 200 with
  the transfer first written; with other content, 409 naming the id;
* a spend over what the account has is 409 naming the account, the points asked
  for and the points available;
* a malformed amount, date or id is 422 naming the field; an unknown volunteer,
  hold or transfer 404; a hold settled the other way, or a transfer already
  reversed, 409.

Reads need the ``read`` role, writes the ``ledger`` role. The author of an
adjustment or a reversal is the token's name (``by`` in the body only when the
service runs without tokens).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ..errors import LedgerError
from ..ledger.errors import LedgerOverdraft, kind_of
from ..ledger.model import amount_of, statement_row, text
from .guard import json_request, read_body
from .problems import LOG, Answer, documented
from .tokens import Token, Tokens, author_of, needs

if TYPE_CHECKING:
    from ..ledger import Ledger, Transfer
    from .uploads import Limits

T = TypeVar("T")

Points = Annotated[Decimal, Field(description="Exact decimal points, as a JSON number or "
                                              "a string (\"11.25\"); at most 6 decimals.")]
Day = Annotated[dt.date | None, Field(description="The day (YYYY-MM-DD); default today.")]


class Spend(BaseModel):
    """A redemption or a hold of a volunteer's points."""

    id: str = Field(description="The redemption's (or hold's) own id: sending it again "
                                "with the same content is a no-op.")
    volunteer_id: str
    points: Points
    on: Day = None
    memo: str = ""


class HoldRequest(Spend):
    """A hold: reserve points until captured, released (voided) or lapsed."""

    expires_on: dt.date | None = Field(None, description="When the hold lapses if "
                                                         "neither captured nor released.")


class Settle(BaseModel):
    """The capture or release of a hold."""

    on: Day = None
    memo: str = ""


class Adjustment(BaseModel):
    """A manual correction: positive points add a lot, negative ones take points."""

    id: str = Field(description="The adjustment's own id (idempotent, as a redemption's).")
    volunteer_id: str
    points: Annotated[Decimal, Field(description="Points to add, or (negative) to take.")]
    reason: str = Field(description="Why, kept with the transfer.")
    on: Day = None
    expires_on: dt.date | None = Field(None, description="When added points expire "
                                                         "(default never).")
    by: str | None = Field(None, description="Who makes it: only on a service without "
                                             "tokens, where no token names the author.")


class Reversal(BaseModel):
    """Undo an earning, redemption or adjustment by a linked mirror transfer, once."""

    transfer_id: str = Field(description="The full id: earn:R1, redeem:R001, adjust:A1.")
    reason: str
    on: Day = None
    by: str | None = Field(None, description="As in an adjustment.")


class Expiry(BaseModel):
    """Move what is left of every lot expired by ``on`` to the expiry account."""

    on: Day = None


#: the HTTP status of each kind of ledger refusal (:mod:`civicscore.ledger.errors`); an
#: overdraft is 422 here, and 409 with its figures from the routes that spend (``spent``)
STATUS = {"invalid": 422, "unknown": 404, "conflict": 409, "overdraft": 422, "refused": 422,
          "unavailable": 503}


def refusal(e: LedgerError, tid: str | None = None) -> Answer:
    """A refused ledger operation as the problem it is (see the module docstring), told
    by the error's kind, never by its words; ``tid``: the transfer the request names,
    given with a conflict of its id."""
    kind = kind_of(e)
    if kind == "unavailable":  # names a path or host of the server: not for clients
        LOG.error("ledger unavailable: %s", e.message)
        return Answer(503, "the ledger cannot be used just now; try again later",
                      kind="ledger-unavailable")
    extra: dict[str, Any] = {"field": e.field}
    status = STATUS[kind]
    if status == 409 and e.field == "id" and tid is not None:
        extra["id"] = tid
    problem = {404: "ledger-unknown", 409: "ledger-conflict"}.get(status, "ledger-refused")
    return Answer(status, f"{e.field}: {e.message}", kind=problem, **extra)


def install_ledger(app: FastAPI, url: str | None, *, tokens: Tokens | None,
                   limits: Limits, policy_of: Callable[[str], Any]) -> None:
    """Add the ``/v1/ledger`` routes over the ledger at ``url`` (none: every route
    answers 404 saying how to start the service with one); ``policy_of(name)`` is the
    policy a post scores with (404 for an unknown one or one without [volunteer])."""
    from .uploads import BATCH_BODY, json_body, upload_format, upload_records

    # a token of the role: the route's parameter default, so that it also gets the token
    reader = Depends(needs(tokens, "read"))
    writer = Depends(needs(tokens, "ledger"))
    reads = documented(401, 403, 404, 422, 503)
    writes = documented(401, 403, 404, 409, 422, 503)

    def run(fn: Callable[[Ledger], T], tid: str | None = None) -> T:
        """``fn`` over the ledger, on a connection of its own; refusals as problems
        (``tid``: the transfer id the request gives, named in a conflict of it)."""
        from ..ledger import open_ledger

        if url is None:
            raise Answer(404, "this service has no ledger: start it with civicscore serve "
                              "--ledger PATH_OR_URL (or CIVICSCORE_LEDGER)",
                         kind="ledger-none")
        try:
            with open_ledger(url) as book:
                book.require_current()
                return fn(book)
        except LedgerError as e:
            raise refusal(e, tid) from None

    def amount(points: Decimal, *, signed: bool = False) -> Decimal:
        """The points as the ledger takes them, or 422: checked before the operation, so
        that the operation's own refusal of ``points`` means only "not enough"."""
        try:
            return amount_of(points, "points", signed=signed)
        except LedgerError as e:
            raise refusal(e) from None

    def spent(book: Ledger, vid: str, asked: Decimal, day: dt.date, what: Callable[[], T]
              ) -> T:
        """``what()``, a spend of ``asked`` points of ``vid`` on ``day``; an overdraft
        (``LedgerOverdraft``: the amount itself was checked before) is 409 with the
        figures; other refusals go on to ``refusal``."""
        try:
            return what()
        except LedgerOverdraft as e:
            try:
                have: str | None = text(book.balance(vid, on=day).balance)
            except LedgerError:
                have = None
            raise Answer(409, f"points: {e.message}", kind="ledger-overdraft",
                         field="points", account=f"volunteer:{vid}", volunteer_id=vid,
                         requested=text(asked), available=have) from None

    def moved(book: Ledger, t: Transfer) -> dict[str, Any]:
        return {"transfer": t.to_row(),
                "balance": book.balance(t.volunteer_id, on=t.effective_on).to_row()}

    def today(day: dt.date | None) -> dt.date:
        return day or dt.date.today()

    # --- reading ------------------------------------------------------------------------

    @app.get("/v1/ledger/balances", tags=["ledger"], responses=reads,
             summary="Every volunteer's balance as of a day (as `ledger balance`)")
    async def balances(_: Token | None = reader,
                       on: dt.date | None = None) -> dict[str, Any]:
        day = today(on)
        rows = await run_in_threadpool(run, lambda b: [x.to_row() for x in b.balances(on=day)])
        return {"as_of": day.isoformat(), "balances": rows}

    @app.get("/v1/ledger/accounts/{volunteer_id}", tags=["ledger"], responses=reads,
             summary="One volunteer's balance as of a day: earned, adjusted, redeemed, "
                     "expired, held, balance, book and hours")
    async def balance(volunteer_id: str, _: Token | None = reader,
                      on: dt.date | None = None) -> dict[str, Any]:
        day = today(on)
        row: dict[str, Any] = await run_in_threadpool(
            run, lambda b: b.balance(volunteer_id, on=day).to_row())
        return row

    @app.get("/v1/ledger/accounts/{volunteer_id}/statement", tags=["ledger"],
             responses=reads, summary="Every transfer of a volunteer's account in posting "
                                      "order, with the book balance after each")
    async def statement(volunteer_id: str, _: Token | None = reader,
                        on: dt.date | None = None) -> dict[str, Any]:
        day = today(on)

        def work(book: Ledger) -> dict[str, Any]:
            head, lines = book.statement(volunteer_id, on=day)
            return {"balance": head.to_row(), "transfers": [statement_row(t, after)
                                                            for t, after in lines]}

        answer: dict[str, Any] = await run_in_threadpool(run, work)
        return answer

    @app.get("/v1/ledger/verify", tags=["ledger"], responses=reads,
             summary="Check every invariant of the ledger (as `ledger verify`)")
    async def verify(_: Token | None = reader) -> dict[str, Any]:
        problems: list[str] = await run_in_threadpool(run, lambda b: b.verify())
        return {"ok": not problems, "broken": problems}

    # --- writing ------------------------------------------------------------------------

    @app.post("/v1/ledger/post/{name}", tags=["ledger"], responses=writes,
              openapi_extra=BATCH_BODY,
              summary="Score an upload of volunteer records with a policy and post the "
                      "accepted ones, all or nothing (as `ledger post`)")
    async def post(request: Request, name: str,
                   as_of: Annotated[dt.date, Query(description="Score as of this day")],
                   _: Token | None = writer) -> dict[str, Any]:
        fmt = upload_format(request)
        body = await read_body(request)

        def work() -> dict[str, Any]:
            policy = policy_of(name)
            records = upload_records(body, fmt, limits)
            summary = run(lambda b: b.post(policy, records, as_of=as_of))
            return {"policy": {"id": policy.id, "version": policy.version,
                               "hash": policy.hash}, "as_of": as_of.isoformat(),
                    "posted": summary.posted, "unchanged": summary.unchanged,
                    "ids": list(summary.ids),
                    "rejected": [{"record_id": rid, "reason_codes": list(codes)}
                                 for rid, codes in summary.rejected],
                    "warnings": list(summary.warnings)}

        return await run_in_threadpool(work)

    def spend(path: str, model: type[Spend], kind: str, summary: str) -> None:
        """``POST path``: ``Ledger.redeem`` or ``Ledger.hold`` (a hold's ``expires_on``
        too), refused whole as an overdraft when the points are not there."""

        async def route(request: Request, _: Token | None = writer) -> dict[str, Any]:
            req = await json_request(request, model, exact=True)
            asked, day = amount(req.points), today(req.on)
            until = {"expires_on": req.expires_on} if isinstance(req, HoldRequest) else {}
            return await run_in_threadpool(run, lambda b: moved(b, spent(
                b, req.volunteer_id, asked, day, lambda: getattr(b, kind)(
                    req.volunteer_id, asked, id=req.id, on=day, memo=req.memo, **until))),
                f"{kind}:{req.id}")

        app.post(path, tags=["ledger"], responses=writes, openapi_extra=json_body(model),
                 name=kind, summary=summary)(route)

    spend("/v1/ledger/redemptions", Spend, "redeem",
          "Spend a volunteer's unexpired points, oldest first, or refuse (409) and take "
          "nothing")
    spend("/v1/ledger/holds", HoldRequest, "hold",
          "Reserve a volunteer's points until captured or released; they count against "
          "the balance at once")

    def settle(action: str, summary: str) -> None:
        """``POST /v1/ledger/holds/{hold_id}/<action>``: ``Ledger.capture`` or
        ``Ledger.release`` of the hold (again: its first settlement)."""

        async def route(request: Request, hold_id: str,
                        _: Token | None = writer) -> dict[str, Any]:
            req = await json_request(request, Settle)
            return await run_in_threadpool(run, lambda b: moved(
                b, getattr(b, action)(hold_id, on=today(req.on), memo=req.memo)))

        app.post(f"/v1/ledger/holds/{{hold_id}}/{action}", tags=["ledger"], responses=writes,
                 openapi_extra=json_body(Settle), name=action, summary=summary)(route)

    settle("capture", "Redeem a hold's points (hand the goods over); again: the same capture")
    settle("release", "Void a hold: give its points back to the lots they came from")

    @app.post("/v1/ledger/adjustments", tags=["ledger"], responses=writes,
              openapi_extra=json_body(Adjustment),
              summary="A manual correction by the token's holder: add a lot, or take "
                      "points (never below zero)")
    async def adjust(request: Request, token: Token | None = writer
                     ) -> dict[str, Any]:
        req = await json_request(request, Adjustment, exact=True)
        by = author_of(token, req.by)
        asked, day = amount(req.points, signed=True), today(req.on)
        return await run_in_threadpool(run, lambda b: moved(b, spent(
            b, req.volunteer_id, -asked, day, lambda: b.adjust(
                req.volunteer_id, asked, id=req.id, on=day, by=by, reason=req.reason,
                expires_on=req.expires_on))), f"adjust:{req.id}")

    @app.post("/v1/ledger/reversals", tags=["ledger"], responses=writes,
              openapi_extra=json_body(Reversal),
              summary="Undo an earning, redemption or adjustment, once, by the token's "
                      "holder")
    async def reverse(request: Request, token: Token | None = writer
                      ) -> dict[str, Any]:
        req = await json_request(request, Reversal)
        by = author_of(token, req.by)
        return await run_in_threadpool(run, lambda b: moved(b, b.reverse(
            req.transfer_id, on=today(req.on), by=by, reason=req.reason)))

    @app.post("/v1/ledger/expire", tags=["ledger"], responses=writes,
              openapi_extra=json_body(Expiry),
              summary="Move every lot expired by a day to the expiry account (again: "
                      "nothing)")
    async def expire(request: Request, _: Token | None = writer
                     ) -> dict[str, Any]:
        req = await json_request(request, Expiry)
        day = today(req.on)
        done = await run_in_threadpool(run, lambda b: b.expire(day))
        return {"on": day.isoformat(), "expired": [t.to_row() for t in done],
                "points": text(sum((t.amount for t in done), start=Decimal(0)))}

