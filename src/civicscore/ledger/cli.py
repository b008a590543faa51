"""``civicscore ledger ...``: the points ledger from the command line.

Every command takes ``--db PATH_OR_URL`` (or the ``CIVICSCORE_LEDGER`` environment
variable). A refused operation (a ``LedgerError``) writes nothing and reaches the
``civicscore`` group's handler, which prints it and exits 2; ``verify`` exits 1
when an invariant is broken, listing each.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import click

from .. import cli_json, completion
from . import ENV, Ledger, open_ledger
from .model import statement_row, text

F = TypeVar("F", bound=Callable[..., Any])

EXIT_BROKEN = 1
SHOWN_REJECTS = 1000


def _db(fn: F) -> F:
    return click.option("--db", "db", envvar=ENV, metavar="PATH_OR_URL",
                        help=f"The ledger: a SQLite file, sqlite:///PATH, or postgresql://... "
                             f"(default: ${ENV}).")(fn)


def _format(fn: F) -> F:
    return click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]),
                        default="table", show_default=True, callback=cli_json.mark,
                        is_eager=True, help="How to print it.")(fn)


def _transfer(command: str, t: Any, left: Any) -> None:
    """``ledger <command> --format json``: the transfer written (or found, when its id was
    already posted with the same content) and the volunteer's balance after it."""
    cli_json.emit(f"ledger {command}", {"transfer": t.to_row(), "balance": left.to_row()})


def _on(what: str) -> Callable[[F], F]:
    return click.option("--on", "on", metavar="YYYY-MM-DD", default=None,
                        help=f"The day {what} (default today).")


def _open(db: str | None) -> Ledger:
    ledger = open_ledger(db)
    try:
        ledger.require_current()
    except BaseException:
        ledger.close()
        raise
    return ledger


def _day(value: str | None) -> str:
    return value if value else dt.date.today().isoformat()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def ledger() -> None:
    """A points ledger that survives runs: post, redeem, hold, expire, adjust, reverse."""


@ledger.command()
@_db
@cli_json.format_option
def init(db: str | None) -> None:
    """Create the ledger (a SQLite file is created) and its tables; a no-op when it exists."""
    with open_ledger(db, create=True) as book:
        before, after = book.migrate()
    if cli_json.wanted():
        cli_json.emit("ledger init", {"schema_version": after, "created": before == 0,
                                      "migrated_from": before if 0 < before != after
                                      else None})
        return
    click.echo(f"ledger at schema version {after}" + (" (created)" if before == 0 else
                                                      " (already there)"
                                                      if before == after else
                                                      f" (migrated from {before})"))


@ledger.command()
@_db
@cli_json.format_option
def migrate(db: str | None) -> None:
    """Upgrade the ledger's tables to this civicscore's schema version."""
    with open_ledger(db) as book:
        before, after = book.migrate()
    if cli_json.wanted():
        cli_json.emit("ledger migrate", {"schema_version": after, "migrated_from": before,
                                         "migrated": before != after})
        return
    click.echo(f"ledger migrated from schema version {before} to {after}" if before != after
               else f"ledger already at schema version {after}")


@ledger.command()
@click.argument("policy", shell_complete=completion.policies)
@click.argument("input_file", metavar="FILE", type=click.Path(dir_okay=False))
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), required=True,
              help="Score the records as of this date (YYYY-MM-DD).")
@_db
@cli_json.format_option
def post(policy: str, input_file: str, as_of: dt.datetime, db: str | None) -> None:
    """Score the volunteer records in FILE with POLICY and post the accepted ones."""
    from .. import load
    from ..io import read_records

    pol = load(policy)
    records = list(read_records(input_file))
    with _open(db) as book:
        summary = book.post(pol, records, as_of=as_of.date())
    if cli_json.wanted():
        cli_json.emit("ledger post", {
            "policy": cli_json.policy_ref(pol.ref), "as_of": as_of.date(),
            "posted": summary.posted, "unchanged": summary.unchanged,
            "transfer_ids": list(summary.ids),
            "rejected": [{"record_id": rid, "reason_codes": list(codes)}
                         for rid, codes in summary.rejected],
            "warnings": list(summary.warnings), "summary": str(summary)})
    click.echo(f"{summary} ({pol.ref}, as of {as_of.date()})", err=True)
    for warning in summary.warnings:
        click.echo(f"warning: {warning}", err=True)
    for rid, codes in summary.rejected[:SHOWN_REJECTS]:
        click.echo(f"rejected {rid}: {', '.join(codes)}", err=True)


@ledger.command(context_settings={"ignore_unknown_options": True})
@click.argument("volunteer")
@click.argument("points")
@click.option("--id", "rid", required=True, help="The redemption's own id (idempotent).")
@_on("of the redemption")
@click.option("--memo", default="", help="What the points bought.")
@_db
@cli_json.format_option
def redeem(volunteer: str, points: str, rid: str, on: str | None, memo: str,
           db: str | None) -> None:
    """Spend POINTS of VOLUNTEER's unexpired points, oldest first."""
    with _open(db) as book:
        t = book.redeem(volunteer, points, id=rid, on=_day(on), memo=memo)
        left = book.balance(volunteer, on=t.effective_on)
    if cli_json.wanted():
        _transfer("redeem", t, left)
        return
    click.echo(f"{t.id}: {text(t.amount)} points of {volunteer} on {t.effective_on}; "
               f"balance {text(left.balance)}")


@ledger.command(context_settings={"ignore_unknown_options": True})
@click.argument("volunteer")
@click.argument("points")
@click.option("--id", "aid", required=True, help="The adjustment's own id (idempotent).")
@click.option("--by", "by", required=True, help="Who makes the adjustment.")
@click.option("--reason", required=True, help="Why (kept with the transfer).")
@_on("of the adjustment")
@click.option("--expires-on", default=None, metavar="YYYY-MM-DD",
              help="When added points expire (default: never).")
@_db
@cli_json.format_option
def adjust(volunteer: str, points: str, aid: str, by: str, reason: str, on: str | None,
           expires_on: str | None, db: str | None) -> None:
    """Add POINTS to VOLUNTEER's account, or take them (negative POINTS)."""
    with _open(db) as book:
        t = book.adjust(volunteer, points, id=aid, on=_day(on), by=by, reason=reason,
                        expires_on=expires_on)
        left = book.balance(volunteer, on=t.effective_on)
    if cli_json.wanted():
        _transfer("adjust", t, left)
        return
    sign = "+" if t.credit_account.startswith("volunteer:") else "-"
    click.echo(f"{t.id}: {sign}{text(t.amount)} points for {volunteer} on {t.effective_on}; "
               f"balance {text(left.balance)}")


@ledger.command(context_settings={"ignore_unknown_options": True})
@click.argument("volunteer")
@click.argument("points")
@click.option("--id", "hid", required=True, help="The hold's own id (idempotent).")
@_on("of the hold")
@click.option("--expires-on", default=None, metavar="YYYY-MM-DD",
              help="When the hold lapses if neither captured nor released (default: never).")
@click.option("--memo", default="", help="What the points are held for.")
@_db
@cli_json.format_option
def hold(volunteer: str, points: str, hid: str, on: str | None, expires_on: str | None,
         memo: str, db: str | None) -> None:
    """Reserve POINTS of VOLUNTEER's unexpired points until captured or released."""
    with _open(db) as book:
        t = book.hold(volunteer, points, id=hid, on=_day(on), expires_on=expires_on,
                      memo=memo)
        left = book.balance(volunteer, on=t.effective_on)
    if cli_json.wanted():
        _transfer("hold", t, left)
        return
    until = f" until {t.expires_on}" if t.expires_on else ""
    click.echo(f"{t.id}: {text(t.amount)} points of {volunteer} held on {t.effective_on}"
               f"{until}; balance {text(left.balance)}")


@ledger.command()
@click.argument("hold_id", metavar="HOLD")
@_on("of the capture")
@click.option("--memo", default="", help="What the points bought.")
@_db
@cli_json.format_option
def capture(hold_id: str, on: str | None, memo: str, db: str | None) -> None:
    """Redeem the points of HOLD (hand the goods over)."""
    with _open(db) as book:
        t = book.capture(hold_id, on=_day(on), memo=memo)
        left = book.balance(t.volunteer_id, on=t.effective_on)
    if cli_json.wanted():
        _transfer("capture", t, left)
        return
    click.echo(f"{t.id}: {text(t.amount)} points of {t.volunteer_id} redeemed on "
               f"{t.effective_on}; balance {text(left.balance)}")


@ledger.command()
@click.argument("hold_id", metavar="HOLD")
@_on("of the release")
@click.option("--memo", default="", help="Why the hold is given up.")
@_db
@cli_json.format_option
def release(hold_id: str, on: str | None, memo: str, db: str | None) -> None:
    """Give the points of HOLD back to the volunteer's lots."""
    with _open(db) as book:
        t = book.release(hold_id, on=_day(on), memo=memo)
        left = book.balance(t.volunteer_id, on=t.effective_on)
    if cli_json.wanted():
        _transfer("release", t, left)
        return
    click.echo(f"{t.id}: {text(t.amount)} points of {t.volunteer_id} given back on "
               f"{t.effective_on}; balance {text(left.balance)}")


@ledger.command()
@click.argument("transfer_id", metavar="TRANSFER")
@click.option("--by", "by", required=True, help="Who reverses it.")
@click.option("--reason", required=True, help="Why (kept with the reversal).")
@_on("of the reversal")
@_db
@cli_json.format_option
def reverse(transfer_id: str, by: str, reason: str, on: str | None, db: str | None) -> None:
    """Undo TRANSFER (earn:ID, redeem:ID or adjust:ID) by a linked reversal, once."""
    with _open(db) as book:
        t = book.reverse(transfer_id, on=_day(on), by=by, reason=reason)
        left = book.balance(t.volunteer_id, on=t.effective_on)
    if cli_json.wanted():
        _transfer("reverse", t, left)
        return
    click.echo(f"{t.id}: {text(t.amount)} points of {t.volunteer_id} back from "
               f"{t.debit_account} to {t.credit_account} on {t.effective_on}; balance "
               f"{text(left.balance)}")


@ledger.command()
@_on("to expire points up to")
@_db
@cli_json.format_option
def expire(on: str | None, db: str | None) -> None:
    """Move every lot expired by --on to the expiry account (a no-op when run again)."""
    with _open(db) as book:
        done = book.expire(_day(on))
    total = sum((t.amount for t in done), start=Decimal(0))
    if cli_json.wanted():
        cli_json.emit("ledger expire", {"on": _day(on), "lots": len(done),
                                        "points": text(total),
                                        "transfers": [t.to_row() for t in done]})
        return
    click.echo(f"{len(done)} lots expired, {text(total)} points")


@ledger.command()
@click.argument("volunteer", required=False)
@_on("of the balance")
@_format
@_db
def balance(volunteer: str | None, on: str | None, fmt: str, db: str | None) -> None:
    """VOLUNTEER's balance (every volunteer's without one)."""
    with _open(db) as book:
        rows = [b.to_row() for b in ([book.balance(volunteer, on=_day(on))] if volunteer
                                     else book.balances(on=_day(on)))]
    if fmt == "json":
        cli_json.emit("ledger balance", {"as_of": _day(on), "volunteer_id": volunteer,
                                         "balances": rows})
        return
    _print(rows, fmt, f"Balances as of {_day(on)}")


@ledger.command()
@click.argument("volunteer")
@_on("of the statement")
@_format
@_db
def statement(volunteer: str, on: str | None, fmt: str, db: str | None) -> None:
    """Every transfer of VOLUNTEER's account, with the book balance after each."""
    with _open(db) as book:
        head, lines = book.statement(volunteer, on=_day(on))
    rows = [statement_row(t, after) for t, after in lines]
    if fmt == "json":
        cli_json.emit("ledger statement", {"volunteer_id": volunteer, "as_of": _day(on),
                                           "balance": head.to_row(), "transfers": rows})
        return
    _print(rows, fmt, f"Statement of {volunteer} as of {_day(on)}: balance "
                      f"{text(head.balance)} (earned {text(head.earned)}, adjusted "
                      f"{text(head.adjusted)}, redeemed {text(head.redeemed)}, expired "
                      f"{text(head.expired)}), {text(head.hours)} hours")


@ledger.command()
@_db
@cli_json.format_option
def verify(db: str | None) -> None:
    """Check every invariant of the ledger; exit 1 naming each one broken."""
    with _open(db) as book:
        problems = book.verify()
        count = sum(1 for _ in book.transfers()) if not problems else 0
    if cli_json.wanted():
        cli_json.emit("ledger verify", {"ok": not problems, "transfers": count if not
                                        problems else None, "broken": list(problems)})
    if problems:
        for p in problems:
            click.echo(f"broken: {p}", err=True)
        click.echo(f"{len(problems)} invariant(s) broken", err=True)
        sys.exit(EXIT_BROKEN)
    if cli_json.wanted():
        return
    click.echo(f"ok: {count} transfers, every invariant holds")


@ledger.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write to this file (default stdout).")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "json"]), default=None,
              callback=cli_json.mark, is_eager=True,
              help="Default: by the file's extension, JSON Lines on stdout. json on stdout "
                   "is one object whose \"transfers\" are the rows; with -o, the file is "
                   "one array of them and stdout says what was written.")
@_db
def export(output: str | None, fmt: str | None, db: str | None) -> None:
    """Every transfer, in posting order (amounts as exact decimal text)."""
    from ..io import write_rows

    with _open(db) as book:
        rows = [t.to_row() for t in book.transfers()]
    if fmt == "json" and not output:
        cli_json.emit("ledger export", {"transfers": rows})
        return
    n = write_rows(rows, output, fmt or (None if output else "jsonl"))
    if output:
        click.echo(f"{n} transfers written to {output}", err=True)
        if fmt == "json":
            cli_json.emit("ledger export", {"output": output, "written": n})


def _print(rows: Sequence[dict[str, Any]], fmt: str, title: str) -> None:
    from ..io import write_rows

    if fmt == "csv":
        write_rows(rows, None, "csv")
    elif fmt == "json":
        write_rows(rows, None, "json")
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title)
        for col in rows[0] if rows else ["(none)"]:
            table.add_column(col)
        for row in rows:
            table.add_row(*(str(v) for v in row.values()))
        Console(width=None if sys.stdout.isatty() else 160).print(table)
