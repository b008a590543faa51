"""Machine-readable output of the ``civicscore`` commands (``--format json``).

Every command that prints a result takes ``--format text|json`` (commands whose
``--format`` already chose among other formats gained ``json`` beside them). Under
``json`` the command prints exactly one JSON object on standard output:

* a ``"schema"`` key, ``"civicscore.<command>/1"`` (``civicscore.ledger.post/1`` for a
  subcommand), which changes only when a key changes meaning or goes away;
* UTF-8 text (``ensure_ascii=False``); exact decimals as strings, never floats; dates
  and times as ISO text;
* when the command fails, ``{"schema": "civicscore.error/1", "code", "message",
  "message_zh", "location", ...}`` instead, with the exit status of the text mode
  (the human message still goes to standard error).

The commands call :func:`emit`; the group's error handler (``cli._Group``) calls
:func:`emit_error` when :func:`wanted` says the run asked for JSON. Whether it did is
kept in ``click.Context.meta`` (shared by a group and its commands), set by the
``--format`` option's callback (:func:`format_option`, :func:`mark`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

WANTED = "civicscore.format_json"
"""Key of ``click.Context.meta``: True while the command runs under ``--format json``."""

ERROR_SCHEMA = "civicscore.error/1"


def schema_name(command: str) -> str:
    """``civicscore.<command>/1``; ``ledger post`` is ``civicscore.ledger.post/1``."""
    return f"civicscore.{command.replace(' ', '.')}/1"


def mark(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
    """The callback of a ``--format`` option: notes a ``json`` choice for the error
    handler, and passes the value on."""
    if value == "json":
        ctx.meta[WANTED] = True
    return value


def _mark_flag(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta[WANTED] = True
    return value


def format_option(fn: F) -> F:
    """``--format text|json`` for a command that had no ``--format``: the command reads
    :func:`wanted` (the value is not passed to it). Eager, so that an error in the other
    arguments is already told as JSON."""
    return click.option(
        "--format", "format_", type=click.Choice(["text", "json"]), default="text",
        show_default=True, expose_value=False, is_eager=True, callback=mark,
        help="text for people; json prints one JSON object (with a \"schema\" key) for "
             "scripts, errors included (docs/index.md).")(fn)


def json_flag(fn: F) -> F:
    """``--json``, kept as a short alias of ``--format json``."""
    return click.option("--json", "as_json", is_flag=True, expose_value=False,
                        is_eager=True, callback=_mark_flag,
                        help="The same as --format json.")(fn)


def asked(args: Sequence[str]) -> bool:
    """Whether command-line ``args`` ask for JSON (``--format json``, ``--format=json``,
    ``--json``): for an error click finds before the option's callback has run."""
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg in ("--format=json", "--json") or (
                arg == "--format" and list(args[i + 1:i + 2]) == ["json"]):
            return True
    return False


def wanted() -> bool:
    """Whether the command being run prints JSON."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get(WANTED))


def jsonable(value: Any) -> Any:
    """``value`` with every decimal as exact text, every date and time as ISO text, paths
    as text, tuples and sets as lists, dataclasses as objects; a float is written as
    its shortest text too (a JSON number would be read back as a binary float)."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, Decimal):
        return format(value, "f") if value.is_finite() else str(value)
    if isinstance(value, float):  # its shortest text, in plain notation (1e-05: 0.00001)
        exact = Decimal(repr(value))
        return format(exact, "f") if exact.is_finite() else repr(value)
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(jsonable(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    return str(value)


def document(command: str, payload: Mapping[str, Any]) -> str:
    """The JSON text of one command's result (``schema`` first)."""
    return json.dumps({"schema": schema_name(command), **jsonable(payload)},
                      ensure_ascii=False)


def emit(command: str, payload: Mapping[str, Any]) -> None:
    """Print the command's one JSON object on standard output."""
    click.echo(document(command, payload))


def policy_ref(ref: Any) -> dict[str, Any]:
    """A policy as JSON names it: id, version, full content hash, source."""
    return {"id": ref.id, "version": ref.version, "hash": ref.hash,
            "source": getattr(ref, "source", "") or None}


def problem(p: Any) -> dict[str, Any]:
    """One located policy problem (the objects of ``check --format json``)."""
    return {"file": p.file, "line": p.line, "col": p.col, "message": p.message,
            "path": p.path, "hint": p.hint, "severity": p.severity}


def error_object(e: BaseException, code: str | None = None) -> dict[str, Any]:
    """The ``civicscore.error/1`` object of an error: ``code`` (a RecordError's own code,
    ``policy_problems``, ``usage``, ``input``, ``ledger``, ...), the ``message`` in
    English and, where civicscore words it, ``message_zh``, and ``location`` (file, line
    and column of a policy; record and field of a record; field of a ledger refusal;
    the file of an operating-system error), else null."""
    from .errors import (
        InputError,
        LedgerError,
        PluginError,
        PolicyError,
        RecordError,
        ReviewError,
        UsageError,
    )
    from .messages import error_text, problem_line

    extra: dict[str, Any] = {}
    location: dict[str, Any] | None = None
    message_zh: str | None = None
    if isinstance(e, PolicyError):
        first = e.problems[0] if e.problems else None
        kind = "policy_problems"
        message = str(first) if first else str(e)
        message_zh = problem_line(first, "zh") if first else None
        if first is not None:
            location = {"file": first.file, "line": first.line, "col": first.col,
                        "path": first.path or None}
        extra["problems"] = [problem(p) for p in e.problems]
    elif isinstance(e, RecordError):
        kind = e.code
        message, message_zh = e.text("en"), e.text("zh")
        location = {"record": e.record, "field": e.field}
    elif isinstance(e, LedgerError):
        kind, message = "ledger", str(e)
        location = {"field": e.field}
    elif isinstance(e, click.ClickException):
        kind, message = "usage", e.format_message()
        hint = getattr(e, "param_hint", None) or (
            getattr(getattr(e, "param", None), "name", None))
        if hint:
            location = {"option": hint if isinstance(hint, str) else " / ".join(hint)}
    elif isinstance(e, OSError):
        kind, message = "os", e.strerror or str(e)
        if e.filename:
            location = {"file": str(e.filename)}
            message = f"{e.filename}: {message}"
    else:
        kinds = ((InputError, "input"), (UsageError, "usage"), (ReviewError, "review"),
                 (PluginError, "plugin"))
        kind = next((k for cls, k in kinds if isinstance(e, cls)), "error")
        message = str(e)
        message_zh = getattr(e, "message_zh", None) or None
        if message_zh is None and (said := error_text(e, "zh")) != message:
            message_zh = said
    return {"schema": ERROR_SCHEMA, "code": code or kind, "message": message,
            "message_zh": message_zh, "location": location, **extra}


def emit_error(e: BaseException, code: str | None = None, **extra: Any) -> None:
    """Print the ``civicscore.error/1`` object of ``e`` on standard output."""
    click.echo(json.dumps(jsonable({**error_object(e, code), **extra}), ensure_ascii=False))
