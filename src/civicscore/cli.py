"""The ``civicscore`` command line.

The contract scripts rely on:

* ``check`` exits 0 when every policy is valid, 1 when any has problems
  (each printed as ``file:line:col: message``);
* ``score`` exits 0 when the run completes, even with rejected rows (their
  count goes to stderr, and each one to ``--rejects`` or stderr), and 2 only
  for unusable input;
* no Python traceback reaches a user for a mistake in their input; an
  internal error says so and exits 70 (set ``CIVICSCORE_DEBUG=1`` to see it).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import click

from . import __version__, load
from .errors import CivicScoreError, PolicyError, Problem
from .io import format_of, parse_json_record, read_records, write_rows
from .policy.compile import Policy

SCHEMES = ("volunteer",)
EXIT_PROBLEMS = 1
EXIT_INPUT = 2
EXIT_INTERNAL = 70


class _Group(click.Group):
    """Turns every error into a message for people, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the CLI prints policy warnings itself
                return super().invoke(ctx)
        except PolicyError as e:
            for p in e.problems:
                click.echo(str(p), err=True)
            click.echo(f"{len(e.problems)} problem(s); the policy was not used.", err=True)
            ctx.exit(EXIT_PROBLEMS)
        except CivicScoreError as e:
            click.echo(f"civicscore: error: {e}", err=True)
            ctx.exit(EXIT_INPUT)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("civicscore: interrupted", err=True)
            ctx.exit(130)
        except Exception as e:
            if os.environ.get("CIVICSCORE_DEBUG"):
                raise
            click.echo(f"civicscore: internal error: {type(e).__name__}: {e}\n"
                       f"This is a bug in civicscore, not in your input; please report it "
                       f"(run with CIVICSCORE_DEBUG=1 for details).", err=True)
            ctx.exit(EXIT_INTERNAL)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="civicscore")
def main() -> None:
    """Check community-programme policies and score records against them."""


def _as_of(value: dt.datetime | None) -> dt.date:
    return value.date() if value else dt.date.today()


_as_of_option = click.option(
    "--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
    help="Evaluate as of this date (YYYY-MM-DD); default today.")
_scheme_option = click.option(
    "--scheme", type=click.Choice(SCHEMES), required=True, help="Which scheme to evaluate.")


def _print_warnings(policy: Policy) -> None:
    for w in policy.warnings:
        click.echo(str(w), err=True)


# --- check ------------------------------------------------------------------------------


@main.command()
@click.argument("policies", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              help="json prints one object per policy, for editors and CI.")
def check(policies: tuple[str, ...], fmt: str) -> None:
    """Check POLICIES (paths or installed names); exit 1 if any has problems."""
    failed = 0
    for source in policies:
        problems: list[Problem] = []
        policy = None
        try:
            policy = load(source)
        except PolicyError as e:
            problems = list(e.problems)
            failed += 1
        if fmt == "json":
            click.echo(json.dumps({
                "policy": source, "ok": policy is not None,
                "id": policy.id if policy else None,
                "version": policy.version if policy else None,
                "hash": policy.hash if policy else None,
                "problems": [vars_of(p) for p in problems],
                "warnings": [vars_of(w) for w in (policy.warnings if policy else ())],
            }, ensure_ascii=False))
            continue
        for p in problems:
            click.echo(str(p))
        if policy is not None:
            _print_warnings(policy)
            click.echo(f"ok: {source}: {policy.ref}")
        else:
            click.echo(f"{source}: {len(problems)} problem(s)", err=True)
    if failed:
        sys.exit(EXIT_PROBLEMS)


def vars_of(p: Problem) -> dict[str, Any]:
    return {"file": p.file, "line": p.line, "col": p.col, "message": p.message,
            "path": p.path, "hint": p.hint, "severity": p.severity}


# --- score ------------------------------------------------------------------------------


def _output_kind(output: str | None, fmt: str | None) -> str:
    if fmt:
        return fmt
    if output:
        return format_of(output)
    return "table" if sys.stdout.isatty() else "jsonl"


@main.command()
@click.argument("policy")
@click.argument("input_file", metavar="INPUT", type=click.Path(dir_okay=False))
@_scheme_option
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Where to write the results (.csv, .jsonl, .json, .parquet); default stdout.")
@click.option("--rejects", type=click.Path(dir_okay=False),
              help="Write every rejected row, with its reasons, to this file.")
@click.option("--records", "records_out", type=click.Path(dir_okay=False),
              help="volunteer: also write the decision on every activity record.")
@click.option("--redemptions", type=click.Path(exists=False, dir_okay=False),
              help="volunteer: redemption records to apply to the balances.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "jsonl", "json"]),
              help="Format of the results on stdout (default: a table on a terminal, "
                   "JSON Lines otherwise).")
@_as_of_option
def score(policy: str, input_file: str, scheme: str, output: str | None, rejects: str | None,
          records_out: str | None, redemptions: str | None, fmt: str | None,
          as_of: dt.datetime | None) -> None:
    """Score the records in INPUT against POLICY."""
    pol = load(policy)
    _print_warnings(pol)
    day = _as_of(as_of)
    records = read_records(input_file)
    red = read_records(redemptions) if redemptions else ()
    result = pol.volunteer.evaluate(records, red, as_of=day)
    statements = [s.to_row() for s in result.statements.values()]
    kind = _output_kind(output, fmt)
    if kind == "table":
        _statement_table(result.statements.values(), pol, day)
    else:
        write_rows(statements, output, kind)
    if records_out:
        write_rows((d.to_row() for d in result.records), records_out)
    rejected = [_reject_row("activities", d.to_row(), d.record_id) for d in result.rejected]
    rejected += [_reject_row("redemptions", r.to_row(), r.redemption_id)
                 for r in result.redemptions if r.status == "rejected"]
    n_in = len(result.records)
    click.echo(f"{n_in - len(result.rejected)} of {n_in} activity records scored, "
               f"{len(result.rejected)} rejected; "
               f"{len(result.statements)} volunteer statements as of {day}"
               + (f"; {len(result.redemptions)} redemptions read" if redemptions else ""),
               err=True)
    if rejected:
        if rejects:
            write_rows(rejected, rejects)
            click.echo(f"{len(rejected)} rejected rows written to {rejects}", err=True)
        else:
            for r in rejected:
                click.echo(f"rejected {r['input']} row {r['row']} ({r['id']}): "
                           + "; ".join(r["reasons"]), err=True)


def _reject_row(kind: str, row: Mapping[str, Any], ident: str) -> dict[str, Any]:
    return {"input": kind, "row": row["row"], "id": ident,
            "volunteer_id": row.get("volunteer_id", ""),
            "reason_codes": row["reason_codes"], "reasons": row["reasons"]}


def _statement_table(statements: Iterable[Any], policy: Policy, day: dt.date) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Volunteer statements as of {day} — {policy.ref}")
    for col in ("volunteer", "earned", "expired", "redeemed", "balance", "hours", "star level",
                "records", "rejected"):
        table.add_column(col, justify="left" if col in ("volunteer", "star level") else "right")
    for s in statements:
        table.add_row(s.volunteer_id, f"{s.earned:g}", f"{s.expired:g}", f"{s.redeemed:g}",
                      f"{s.balance:g}", f"{s.hours:g}", s.star_label or "-",
                      str(s.records_scored), str(s.records_rejected))
    Console().print(table)


# --- explain ----------------------------------------------------------------------------


@main.command()
@click.argument("policy")
@_scheme_option
@click.option("--record", "record_json", required=True,
              help="The record as JSON, or @file.json.")
@_as_of_option
def explain(policy: str, scheme: str, record_json: str, as_of: dt.datetime | None) -> None:
    """Explain, in plain language, the decision on one record."""
    pol = load(policy)
    _print_warnings(pol)
    record = parse_json_record(record_json)
    decision = pol.volunteer.evaluate_record(record, as_of=_as_of(as_of))
    click.echo(decision.explain())


# --- schema -----------------------------------------------------------------------------


@main.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file.")
def schema(output: str | None) -> None:
    """Print the JSON Schema of the policy format (for editors such as VS Code)."""
    from .policy.schema import policy_json_schema

    text = policy_json_schema()
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


