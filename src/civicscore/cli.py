"""The ``civicscore`` command line.

The contract scripts rely on:

* ``check`` exits 0 when every policy is valid, 1 when any has problems
  (each printed as ``file:line:col: message``);
* ``score`` exits 0 when the run completes, even with rejected rows (their
  count goes to stderr, and each one to ``--rejects`` or stderr), 3 when it
  completes with every input row rejected (nothing scored), and 2 only for
  unusable input;
* no Python traceback reaches a user for a mistake in their input; an
  internal error says so and exits 70 (set ``CIVICSCORE_DEBUG=1`` to see it);
* a reader that closes the pipe early (``civicscore score ... | head``) stops the
  command quietly, with exit status 141 as for any Unix tool stopped by SIGPIPE;
* under ``--format json`` (every command that prints a result takes it) stdout is one
  JSON object with a ``"schema"`` key, an error included (``civicscore.error/1``,
  with the exit status of the text mode): see ``civicscore.cli_json``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from . import __version__, cli_json, completion
from .errors import CivicScoreError, InputError, PolicyError, Problem, UsageError
from .messages import LANG, error_text, problem_line, say

if TYPE_CHECKING:
    from .policy.compile import Policy
    from .schemes.base import SchemeSpec

# The commands import what they use (the engine, io, audit, rich) when they run, so
# that ``civicscore --help`` and a one-policy ``check`` do not wait for the rest.

EXIT_PROBLEMS = 1
EXIT_INPUT = 2
EXIT_ALL_REJECTED = 3
"""``score`` completed but every row of its input was rejected (a wrong file, a missing
required column): the outputs are written, and a script is told nothing was scored."""
EXIT_INTERNAL = 70


#: Commands that live in their own packages, imported only when run (or listed by
#: ``--help``), so that ``check`` and ``score`` start without them.
LAZY_COMMANDS = {
    "events": "civicscore.events.cli:events_command",  # rules over time
    "impact": "civicscore.report.commands:impact_cmd",  # who a policy change affects
    "ledger": "civicscore.ledger.cli:ledger",  # the points ledger
    "render": "civicscore.report.commands:render_cmd",  # the officer's policy page
    "serve": "civicscore.service.command:serve_cmd",  # the HTTP service
    "review": "civicscore.review:review_command",  # record and list human reviews
    "concepts": "civicscore.policy.care_cli:concepts_command",  # the care-need vocabulary
    "verify-log": "civicscore.logchain:verify_log_command",  # a decision log's hash chain
    "assess": "civicscore.assess:assess_command",  # a policy's impact assessment record
}


#: The first paragraph of each lazy command's help, so that ``civicscore --help`` lists
#: them without importing them (tests/test_startup.py pins these to the commands' own).
LAZY_HELP = {
    "events": "Run a log of EVENTS (JSON Lines, CSV or Parquet) through POLICY's [events] "
              "rules.",
    "impact": "Who changes tier, stars, grade or points if OLD is replaced by NEW, on the "
              "records of INPUT. Prints a summary; --json and --html write the whole report.",
    "ledger": "A points ledger that survives runs: post, redeem, hold, expire, adjust, "
              "reverse.",
    "render": "Write an officer-readable page of POLICY (a path or an installed name): every "
              "rule, what each layer changed, dated values, worked examples and their "
              "coverage.",
    "serve": "Serve policies, checks, decisions and policy pages over HTTP (see "
             "docs/service.md).",
    "review": "List the reviews in LOG, show decision ID with its reviews, or record a "
              "review.",
    "concepts": 'List the care-need concepts a fact may declare (concept = "...").',
    "verify-log": "Check the hash chain of decision log LOG: name the first deleted, changed "
                  "or moved entry by line.",
    "assess": "Write an impact assessment record of POLICY: what it decides, from which "
              "data, with which human review and recourse; refuse a policy that fails the "
              "checks.",
}


class _Group(click.Group):
    """Turns every error into a message for people, never a traceback; loads the commands
    of ``LAZY_COMMANDS`` when they are asked for (``--help`` lists them from
    ``LAZY_HELP``)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            self._listing = False

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # kept for an error in the command's own arguments (a misspelt option), found
        # before its --format json was read: it is told as JSON too (_json_error)
        ctx.meta[ARGS] = list(args)
        return super().parse_args(ctx, args)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            if getattr(self, "_listing", False) and cmd_name in LAZY_HELP:
                return click.Command(cmd_name, help=LAZY_HELP[cmd_name])  # a stand-in
            import importlib

            module, _, attr = LAZY_COMMANDS[cmd_name].partition(":")
            command: click.Command = getattr(importlib.import_module(module), attr)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        from .messages import POLICY_LANG

        # the language of the policy a command reads (see _load) lasts until the
        # messages below have been worded, and no longer (many runs share one process)
        token = POLICY_LANG.set(None)
        try:
            return self._invoke(ctx)
        finally:
            POLICY_LANG.reset(token)

    def _invoke(self, ctx: click.Context) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the CLI prints policy warnings itself
                return super().invoke(ctx)
        except PolicyError as e:
            _json_error(ctx, e)
            for p in e.problems:
                click.echo(problem_line(p), err=True)
            click.echo(say("problems", n=len(e.problems)), err=True)
            ctx.exit(EXIT_PROBLEMS)
        except CivicScoreError as e:
            _json_error(ctx, e)
            click.echo(say("error", detail=error_text(e)), err=True)
            ctx.exit(EXIT_INPUT)
        except click.ClickException as e:
            _json_error(ctx, e)  # then click tells it on stderr, with its exit status
            raise
        except (click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            _json_error(ctx, KeyboardInterrupt("interrupted"), "interrupted")
            click.echo(say("interrupted"), err=True)
            ctx.exit(130)
        except MemoryError:
            _out_of_memory(ctx, "")
        except BrokenPipeError:  # `civicscore score ... | head`: the reader has had enough
            _closed_pipe(ctx)
        except OSError as e:  # a file or device the operator named: theirs to fix
            if os.environ.get("CIVICSCORE_DEBUG"):
                raise
            _json_error(ctx, e)
            where = f"{e.filename}: " if e.filename else ""
            click.echo(say("error", detail=error_text(f"{where}{e.strerror or e}")), err=True)
            ctx.exit(EXIT_INPUT)
        except Exception as e:
            _internal(ctx, e)
        except BaseException as e:  # pyo3's PanicException (polars) is no Exception
            if type(e).__name__ != "PanicException":
                raise  # SystemExit, GeneratorExit: not errors
            if _MEMORY_WORDS.search(str(e)):
                _out_of_memory(ctx, str(e))
            _internal(ctx, e)


def _json_error(ctx: click.Context, e: BaseException, code: str | None = None) -> None:
    """Under ``--format json``, the error as a ``civicscore.error/1`` object on stdout
    (the text mode's message still follows on stderr, and the exit status is the same)."""
    from . import cli_json

    if ctx.meta.get(cli_json.WANTED) or cli_json.asked(ctx.meta.get(ARGS, ())):
        with contextlib.suppress(BrokenPipeError):
            cli_json.emit_error(e, code)


ARGS = "civicscore.args"
"""Key of ``ctx.meta``: the arguments the group was given."""


EXIT_CLOSED_PIPE = 141
"""As a Unix tool stopped by SIGPIPE exits (128 + 13), and without a word: the reader
of the output (``head``, ``less`` quit early) closed the pipe, nothing went wrong."""


def _closed_pipe(ctx: click.Context) -> None:
    # Whatever is still buffered for stdout would fail again when Python flushes it at
    # exit ("Exception ignored ... BrokenPipeError"): send it nowhere instead.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (a test runner's capture)
        pass
    ctx.exit(EXIT_CLOSED_PIPE)


_MEMORY_WORDS = re.compile(r"alloc|memory|capacity overflow", re.IGNORECASE)

_ACTIVITY = ["running"]
"""What the command is doing, for an out-of-memory message ("reading visits.csv")."""


@contextlib.contextmanager
def _doing(what: str) -> Iterator[None]:
    before = _ACTIVITY[0]
    _ACTIVITY[0] = what
    try:
        yield
    finally:
        _ACTIVITY[0] = before


def _out_of_memory(ctx: click.Context, detail: str) -> NoReturn:
    """Running out of memory is the size of the input against the machine, not a bug:
    say what was being done and what to try."""
    note = f" ({detail.strip()[:200]})" if detail.strip() else ""
    _json_error(ctx, MemoryError(f"ran out of memory {_ACTIVITY[0]}{note}"), "out_of_memory")
    click.echo(f"civicscore: error: ran out of memory {_ACTIVITY[0]}{note}; try "
               f"--engine per-record, split the input into smaller files, or run on a "
               f"machine with more memory", err=True)
    ctx.exit(EXIT_INPUT)


def _internal(ctx: click.Context, e: BaseException) -> NoReturn:
    if os.environ.get("CIVICSCORE_DEBUG"):
        raise e
    _json_error(ctx, RuntimeError(f"{type(e).__name__}: {e}"), "internal")
    click.echo(f"civicscore: internal error: {type(e).__name__}: {e}\n"
               f"This is a bug in civicscore, not in your input; please report it "
               f"(run with CIVICSCORE_DEBUG=1 for details).", err=True)
    ctx.exit(EXIT_INTERNAL)


#: How a policy read from standard input (``-``) is named in its problems.
STDIN_NAME = "<stdin>"
#: How records read from standard input (``score POLICY -``) are named in messages.
STDIN_INPUT = "standard input"


def _load(engine: Any, source: str) -> Policy:
    """``engine.load(source)``, and from then on the command speaks the policy's language
    (its ``locale``) unless ``--lang`` or ``CIVICSCORE_LANG`` says another: the officer
    who wrote ``locale = "zh-CN"`` reads Chinese. A policy that does not load is worded
    in the locale its file states (:func:`_stated_language`)."""
    from .messages import POLICY_LANG, locale_language

    try:
        if source == "-":  # the policy's text on standard input (an editor's unsaved draft)
            policy: Policy = engine.load_text(STDIN_NAME, sys.stdin.buffer.read())
        else:
            policy = engine.load(source)
    except PolicyError:
        POLICY_LANG.set(_stated_language(source) if source != "-" else None)
        raise
    POLICY_LANG.set(locale_language(policy.model.policy.locale))
    return policy


def _stated_language(source: str) -> str | None:
    """The language of a policy file that did not load, as far as the file itself says:
    its ``[policy] locale``, or the model's default locale when it states none and
    extends nothing (the parent would decide); None when the file is not readable TOML
    (then the catalogue's default speaks)."""
    import tomllib

    from .messages import locale_language
    from .policy.load import read_limited
    from .policy.model import PolicyMeta

    try:
        data = tomllib.loads(read_limited(Path(source)).decode("utf-8-sig"))
    except (OSError, ValueError, UnicodeDecodeError, CivicScoreError):
        return None
    meta = data.get("policy")
    if not isinstance(meta, dict):
        return None
    if "locale" in meta:
        return locale_language(meta["locale"])
    if "extends" in meta:
        return None
    return locale_language(PolicyMeta.model_fields["locale"].default)


def _set_lang(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """``--lang``: the language of the command's own messages, until the command ends."""
    if value:
        token = LANG.set(value)
        ctx.call_on_close(lambda: LANG.reset(token))


_lang_option = click.option(
    "--lang", type=click.Choice(["zh", "en"]), default=None, expose_value=False,
    callback=_set_lang, is_eager=True,
    help="Language of civicscore's own messages and of the visit reasons it words "
         "(default: CIVICSCORE_LANG, else the policy's locale, else en).")


LOGGING = "civicscore.log_json"
"""Key of ``ctx.meta`` set while ``--log-json`` records the run (a cached check would
leave out the records a run writes, so ``check`` then runs afresh)."""


def _log_json(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """``--log-json FILE``: structured records of the run (civicscore.logs), appended to
    FILE as JSON Lines, or written to standard error for ``-``."""
    if not value:
        return
    from .logs import json_lines_to

    try:
        stream = sys.stderr if value == "-" else open(value, "a", encoding="utf-8")
    except OSError as e:
        raise click.BadParameter(f"{value}: {e.strerror or e}", ctx=ctx) from None
    attached = json_lines_to(stream)
    attached.__enter__()
    ctx.meta[LOGGING] = True

    def detach() -> None:
        attached.__exit__(None, None, None)
        if stream is not sys.stderr:
            stream.close()

    ctx.call_on_close(detach)


VERBOSITY = "civicscore.verbosity"
"""Key of ``ctx.meta`` (shared by a command and its group): -1 quiet, 0 normal, 1 verbose."""


def _set_verbosity(level: int) -> Callable[[click.Context, click.Parameter, bool], None]:
    def callback(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if not value:
            return
        if ctx.meta.get(VERBOSITY, 0) == -level:
            raise click.UsageError("-q/--quiet and -v/--verbose cannot be given together",
                                   ctx=ctx)
        ctx.meta[VERBOSITY] = level
    return callback


def _verbosity_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``-q``/``--quiet`` (only errors: problems, failures, rejected rows) and
    ``-v``/``--verbose`` (what was read, where an outcome came from), accepted by the
    group and by the commands that talk around their output."""
    f = click.option("-v", "--verbose", is_flag=True, expose_value=False,
                     callback=_set_verbosity(1),
                     help="Say more: the files each policy was read from (with their "
                          "SHA-256), where an outcome came from, the engine used.")(f)
    return click.option("-q", "--quiet", is_flag=True, expose_value=False,
                        callback=_set_verbosity(-1),
                        help="Print only errors: no 'ok' lines, warnings or summaries.")(f)


def verbosity() -> int:
    """-1 (``--quiet``), 0 or 1 (``--verbose``) for the command being run."""
    ctx = click.get_current_context(silent=True)
    return int(ctx.meta.get(VERBOSITY, 0)) if ctx is not None else 0


def _note(text: str) -> None:
    """A line for the operator beside the output (standard error), unless ``--quiet``."""
    if verbosity() >= 0:
        click.echo(text, err=True)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="civicscore")
@_lang_option
@_verbosity_options
@click.option("--log-json", metavar="FILE", expose_value=False, callback=_log_json,
              help="Append a structured record of each run to FILE as JSON Lines ('-': "
                   "standard error): policy, scheme, counts, time; never a record's values.")
def main() -> None:
    """Check community-programme policies and score records against them."""


def _as_of(value: dt.datetime | None) -> dt.date:
    return value.date() if value else dt.date.today()


_as_of_option = click.option(
    "--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
    help="Evaluate as of this date (YYYY-MM-DD); default today.")
_policy_root_option = click.option(
    "--policy-root", "policy_roots", multiple=True, metavar="DIR",
    type=click.Path(file_okay=False),
    help="Read policy files only under DIR (repeatable): the policy and every file it "
         "extends must lie there. Default: the policy's own directory (and the working "
         "directory when the policy is inside it); installed policies by name.")


def _engine(policy_roots: tuple[str, ...]) -> Any:
    from ._entry_points import spare_pydantic_its_plugin_search
    from .engine import Engine

    spare_pydantic_its_plugin_search()

    return Engine(policy_roots=policy_roots or None)


_scheme_option = click.option(
    "--scheme", required=True, metavar="NAME", shell_complete=completion.schemes,
    help="Which scheme to evaluate: a section of the policy (built-in or a plugin's; "
         "civicscore plugins lists them).")


def _print_warnings(policy: Policy) -> None:
    for w in policy.warnings:
        click.echo(problem_line(w), err=True)


# --- check ------------------------------------------------------------------------------


@main.command()
@click.argument("policies", nargs=-1, required=True, shell_complete=completion.policies)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              callback=cli_json.mark,
              help="json prints one object, with one entry per policy, for editors and CI.")
@_policy_root_option
@click.option("--no-cache", is_flag=True,
              help="Check afresh: neither use nor keep the outcome of an identical earlier "
                   "check (kept in $CIVICSCORE_CACHE_DIR, else $XDG_CACHE_HOME/civicscore).")
@click.option("--strict", is_flag=True,
              help="Refuse a policy with warnings too (a tier that can never be chosen, "
                   "a word that only warns): for CI, so a warning cannot be merged unseen.")
@_lang_option
@_verbosity_options
def check(policies: tuple[str, ...], fmt: str, policy_roots: tuple[str, ...],
          no_cache: bool, strict: bool) -> None:
    """Check POLICIES (paths or installed names); exit 1 if any has problems (or, with
    --strict, warnings)."""
    ctx = click.get_current_context()
    cache_key = None
    if not no_cache and not ctx.meta.get(LOGGING) and "-" not in policies:
        from . import check_cache

        cache_key = check_cache.key({
            "command": "check", "policies": list(policies), "format": fmt, "strict": strict,
            "policy_roots": [[r, os.path.realpath(r), os.path.isdir(r)] for r in policy_roots],
            "language": LANG.get(), "verbosity": verbosity()})  # --lang (or none)
        kept = check_cache.get(cache_key) if cache_key else None
        if kept is not None:
            for err, text in kept.lines:
                click.echo(text, err=err)
            if verbosity() > 0:
                click.echo(say("from_cache", kept.language, path=check_cache.directory()),
                           err=True)
            sys.exit(kept.status)
    from .policy.reads import recording

    with recording() as reads:
        lines = []

        def echo(text: str, err: bool = False) -> None:
            click.echo(text, err=err)
            lines.append((err, text))

        failed = _check_all(policies, fmt, policy_roots, reads, echo, strict)
    if failed:
        sys.exit(EXIT_PROBLEMS)
    if cache_key is not None:
        from . import check_cache
        from .messages import language

        check_cache.put(cache_key, reads, lines, 0, language())


def _check_all(policies: tuple[str, ...], fmt: str, policy_roots: tuple[str, ...],
               reads: Any, echo: Callable[..., None], strict: bool = False) -> int:
    """Check each policy, printing through ``echo``; the number that failed (with
    ``strict``, a policy with warnings fails too)."""
    engine = _engine(policy_roots)  # one set of plugins for all the policies
    failed = 0
    checked: list[dict[str, Any]] = []  # --format json: one entry per policy
    quiet, verbose = verbosity() < 0, verbosity() > 0
    for source in policies:
        problems: list[Problem] = []
        policy = None
        first_read = len(reads.files)
        try:
            policy = _load(engine, source)
        except PolicyError as e:
            problems = list(e.problems)
            failed += 1
        if verbose:
            for path, _real, digest in reads.files[first_read:]:
                echo(say("read_file", source=source, path=path, digest=digest[:12]), err=True)
        refused = strict and policy is not None and bool(policy.warnings)
        failed += refused
        if fmt == "json":
            checked.append({
                "policy": source, "ok": policy is not None and not refused,
                "id": policy.id if policy else None,
                "version": policy.version if policy else None,
                "hash": policy.hash if policy else None,
                "problems": [vars_of(p) for p in problems],
                "warnings": [vars_of(w) for w in (policy.warnings if policy else ())],
            })
            continue
        for p in problems:
            echo(problem_line(p))
        if refused:
            assert policy is not None
            for w in policy.warnings:
                echo(problem_line(w))
            echo(say("strict_refused", source=source, n=len(policy.warnings)), err=True)
        elif policy is not None:
            if not quiet:
                for w in policy.warnings:
                    echo(problem_line(w), err=True)
                echo(say("ok", source=source, ref=policy.ref))
        else:
            echo(say("policy_problems", source=source, n=len(problems)), err=True)
    if fmt == "json":
        echo(cli_json.document("check", {"ok": not failed, "failed": failed,
                                         "policies": checked}))
    return failed


def vars_of(p: Problem) -> dict[str, Any]:
    return {"file": p.file, "line": p.line, "col": p.col, "message": p.message,
            "path": p.path, "hint": p.hint, "severity": p.severity}


# --- score ------------------------------------------------------------------------------


def _output_kind(output: str | None, fmt: str | None) -> str:
    if fmt:
        return fmt
    if output and output != "-":  # -o - is standard output, as no -o is
        from .io import output_format

        return output_format(output)
    return "table" if sys.stdout.isatty() else "jsonl"


@main.command()
@click.argument("policy", shell_complete=completion.policies)
@click.argument("input_file", metavar="INPUT", type=click.Path())
@_scheme_option
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Where to write the results (.csv, .jsonl, .json, .parquet); default stdout.")
@click.option("--rejects", type=click.Path(dir_okay=False),
              help="Write every rejected row, with its reasons, to this file "
                   "(default: list them on stderr).")
@click.option("--details", type=click.Path(dir_okay=False),
              help="Also write the scheme's detail rows (for the built-in schemes: "
                   "every activity record, every star, every liaison's caseload, every "
                   "indicator's trace).")
@click.option("--with", "with_inputs", multiple=True, metavar="NAME=FILE",
              help="An extra input of the scheme, e.g. redemptions=r.csv (repeatable).")
@click.option("--redemptions", type=click.Path(dir_okay=False),
              help="Short for --with redemptions=FILE (volunteer points).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "jsonl", "json"]),
              callback=cli_json.mark,
              help="Format of the results on stdout (default: a table on a terminal, "
                   "JSON Lines otherwise); json is one array of the result rows, as -o "
                   "FILE.json writes, and an error is a civicscore.error/1 object.")
@click.option("--log", "log_path", type=click.Path(dir_okay=False),
              help="Append every decision, with its input and reasons, to this JSON Lines "
                   "decision log (for civicscore replay and appeals).")
@click.option("--redact", "redactions", multiple=True, metavar="FIELD=erase|hash",
              help="In the decision log only, erase or hash this input field (repeatable).")
@click.option("--engine", type=click.Choice(["auto", "batch", "per-record", "spark"]),
              default="auto", show_default=True,
              help="How to compute, never what is written: batch is the columnar evaluator "
                   "(needs polars: civicscore[batch]), with a progress bar on a terminal; "
                   "per-record decides one record at a time; auto uses batch for inputs of "
                   "more than 10,000 rows when polars is installed and there is no --log; "
                   "spark splits the batch run over Spark executors (civicscore[spark], "
                   "docs/spark.md).")
@click.option("--master", metavar="URL",
              help="With --engine spark: the Spark master (default: the session's, or "
                   "local[2]), e.g. spark://host:7077 or yarn.")
@click.option("--no-csv-escape", "csv_escape", is_flag=True, flag_value=False, default=True,
              help="Write CSV text cells exactly as they are. By default a text cell that "
                   "starts with = + - @, a tab or a carriage return (and is not a number) "
                   "gets a leading ' so that a spreadsheet shows it instead of running it "
                   "as a formula; JSON and Parquet always hold the raw value.")
@click.option("--sheet", metavar="NAME",
              help="The sheet of an .xlsx input to read, by name or number (default: the "
                   "first).")
@click.option("--encoding", metavar="NAME",
              help="The encoding of CSV and JSON inputs (default UTF-8, with or without a "
                   "byte-order mark); gb18030 reads what Excel's plain 'CSV' writes on a "
                   "Chinese Windows (GBK included).")
@click.option("--bom/--no-bom", default=True, show_default=True,
              help="Start CSV output files with a UTF-8 byte-order mark, so that Excel on a "
                   "Chinese Windows opens them without mojibake (standard output never gets "
                   "one); --no-bom for programs that do not expect it.")
@_policy_root_option
@_as_of_option
@_lang_option
@_verbosity_options
def score(policy: str, input_file: str, scheme: str, output: str | None, rejects: str | None,
          details: str | None, with_inputs: tuple[str, ...], redemptions: str | None,
          fmt: str | None, log_path: str | None, redactions: tuple[str, ...], engine: str,
          master: str | None, csv_escape: bool, sheet: str | None, encoding: str | None,
          bom: bool,
          policy_roots: tuple[str, ...], as_of: dt.datetime | None) -> None:
    """Score the records in INPUT (.csv, .xlsx, .jsonl, .json or .parquet; - reads standard
    input) against POLICY with one scheme."""
    from .io import CSV_BOM, INPUT_OPTIONS, InputOptions, text_encoding

    if encoding:
        encoding = text_encoding(encoding)
    token = INPUT_OPTIONS.set(InputOptions(encoding=encoding, sheet=sheet))
    bom_token = CSV_BOM.set(bom)
    staged = None
    try:
        if input_file == "-":  # standard input: kept whole in a file of its own kind
            staged = tempfile.TemporaryDirectory(prefix="civicscore-stdin-")
            input_file = _stdin_file(Path(staged.name))
        try:
            _score(policy, input_file, scheme, output, rejects, details, with_inputs,
                   redemptions, fmt, log_path, redactions, engine, master, csv_escape,
                   policy_roots, as_of)
        except InputError as e:
            if staged is None:
                raise
            # the staged file is named as what it is (the reader named its path)
            raise InputError(str(e).replace(input_file, STDIN_INPUT)) from None
    finally:
        CSV_BOM.reset(bom_token)
        INPUT_OPTIONS.reset(token)
        if staged is not None:
            staged.cleanup()


def _stdin_file(folder: Path) -> str:
    """Standard input written to ``folder/stdin.<kind>``, its kind told by its first bytes:
    Parquet (``PAR1``), a workbook (a zip), a JSON array (``[``), JSON Lines (``{``), else
    CSV. Every row of it is then read, counted and rejected as a file's would be."""
    data = sys.stdin.buffer.read()
    if not data.strip():
        raise InputError(f"{STDIN_INPUT} is empty: pipe the records in (e.g. cat "
                         f"households.csv | civicscore score POLICY - ...), or give a file")
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:4]
    kind = ("parquet" if head.startswith(b"PAR1") else "xlsx" if head.startswith(b"PK")
            else "json" if head.startswith(b"[") else "jsonl" if head.startswith(b"{")
            else "csv")
    path = folder / f"stdin.{kind}"
    path.write_bytes(data)
    return str(path)


def _score(policy: str, input_file: str, scheme: str, output: str | None, rejects: str | None,
           details: str | None, with_inputs: tuple[str, ...], redemptions: str | None,
           fmt: str | None, log_path: str | None, redactions: tuple[str, ...], engine: str,
           master: str | None, csv_escape: bool, policy_roots: tuple[str, ...],
           as_of: dt.datetime | None) -> None:
    from .io import CSV_ESCAPE, staged_outputs

    started = time.perf_counter()
    pol = _load(_engine(policy_roots), policy)
    _print_warnings(pol)
    compiled = pol.scheme(scheme)
    spec = pol.spec(scheme)
    if master is not None and engine != "spark":
        raise click.UsageError("--master is for --engine spark")
    extra_files = _extra_inputs(pol, scheme, with_inputs, redemptions)
    log = _decision_log(log_path, redactions)
    kind = _output_kind(output, fmt)
    if kind == "parquet" and (output is None or output == "-"):
        raise click.UsageError("Parquet output needs a file: add -o FILE.parquet")
    # Everything that can be known before the run is checked before it: a run that
    # cannot write its outputs, or would overwrite its own input, does not start.
    inputs = {"INPUT": input_file, **{f"--with {k}": v for k, v in extra_files.items()}}
    from .io import check_input

    for path in inputs.values():
        check_input(path)  # a file of a known type, or a directory of such files
    outputs = {"-o": output if kind != "table" else None, "--details": details,
               "--rejects": rejects, "--log": log_path}
    if Path(policy).is_file():
        inputs["POLICY"] = policy
    _check_paths(inputs, outputs)
    absent = _absent_columns(pol, scheme, input_file)
    day = _as_of(as_of)
    if not hasattr(compiled, "batch"):  # a plugin scheme may have no batch evaluator
        if engine == "batch":
            raise click.UsageError(f"scheme {scheme} has no batch evaluator; use "
                                   f"--engine per-record (or auto)")
        engine = "per-record"
    with _doing(f"scoring {input_file}"):
        if engine == "spark":
            used = "spark"
            outcome = _score_spark(pol, scheme, spec, input_file, day, extra_files, master,
                                   log is not None)
        elif _use_batch(engine, log is not None, input_file):
            used = "batch"
            outcome = _score_batch(compiled, spec, pol.ref, input_file, day, extra_files)
        else:
            used = "per-record"
            outcome = _score_per_record(pol, scheme, compiled, input_file, day, extra_files,
                                        log)
    from .schemes.base import REJECT_COLUMNS

    # exactly the documented columns, whatever else a scheme's run carries
    rejected = [{k: r[k] for k in REJECT_COLUMNS} for r in outcome.rejected]
    token = CSV_ESCAPE.set(csv_escape)
    try:
        # all outputs appear together, whole, or none of them does (then exit 2)
        with staged_outputs():
            if kind == "table":
                _print_table(*outcome.table())
            else:
                with _doing(f"writing {output or 'the results'}"):
                    outcome.write_output(output, kind)
            if details:
                from .io import output_format

                with _doing(f"writing {details}"):
                    outcome.write_details(details, output_format(details))
            if rejects:  # written even when empty: a script finds the file it asked for
                from .io import write_rows

                write_rows(rejected, rejects, columns=REJECT_COLUMNS)
            logged = outcome.log() if outcome.log is not None else None
    finally:
        CSV_ESCAPE.reset(token)
    if logged is not None:
        _note(say("logged", n=logged, path=log.path))
    for warning in absent:  # after the outputs are written, beside the summary
        _note(warning)
    _note(outcome.summary())
    if verbosity() > 0:
        click.echo(say("engine_used", scheme=scheme, engine=used, policy=pol.ref,
                       seconds=f"{time.perf_counter() - started:.2f}"), err=True)
    if rejected and rejects:
        _note(say("rejects_written", n=len(rejected), path=rejects))
    elif rejected:
        for r in rejected[:SHOWN_REJECTS]:
            click.echo(say("rejected_row", input=r["input"], row=r["row"], id=r["id"],
                           reasons="; ".join(r["reasons"])), err=True)
        if len(rejected) > SHOWN_REJECTS:
            click.echo(say("more_rejected", n=len(rejected) - SHOWN_REJECTS), err=True)
    main_rejected = sum(1 for r in rejected if r["input"] == spec.input_kind)
    every_row_rejected = bool(outcome.rows_in) and main_rejected >= outcome.rows_in
    from .logs import event

    event("score", command="score", scheme=scheme, engine=used, policy_id=pol.ref.id,
          policy_version=pol.ref.version, policy_hash=pol.ref.hash,
          as_of=day.isoformat(), rows_in=outcome.rows_in,
          scored=outcome.rows_in - main_rejected, rejected=main_rejected,
          rejected_other_inputs=len(rejected) - main_rejected, logged=logged,
          exit_status=EXIT_ALL_REJECTED if every_row_rejected else 0,
          seconds=round(time.perf_counter() - started, 3))
    if every_row_rejected:
        click.echo(say("all_rejected", path=_shown_input(input_file), code=EXIT_ALL_REJECTED),
                   err=True)
        sys.exit(EXIT_ALL_REJECTED)


def _absent_columns(pol: Policy, scheme: str, input_file: str) -> list[str]:
    """The warnings, one per declared fact the input has no column for, that ``score``
    prints with its summary (looked at before the run, from the header alone)."""
    from .columns import absent_facts, column_names

    names = column_names(input_file)
    if names is None:
        return []
    return [fact.message(_shown_input(input_file))
            for fact in absent_facts(pol, scheme, names)]


def _shown_input(path: str) -> str:
    """How ``score`` names its input: its path, or "standard input" for the file that
    kept what ``-`` read (:func:`_stdin_file`)."""
    return STDIN_INPUT if Path(path).parent.name.startswith("civicscore-stdin-") else path


def _check_paths(inputs: dict[str, str], outputs: dict[str, str | None]) -> None:
    """Refuse a run whose outputs cannot be written (a missing directory, a directory
    that is not writable) or would land on one of its inputs or on each other (the
    same resolved path, or the same file through a hard link). ``/dev/null`` and other
    non-regular targets are written directly and may be shared."""
    from .io import check_output_target, is_stdout

    def identity(path: str) -> tuple[Any, ...]:
        try:
            info = os.stat(path)
        except OSError:
            return ("path", os.path.realpath(path))
        if not _regular(info.st_mode):
            return ("special", path)  # never clashes: each use gets its own key
        return ("file", info.st_dev, info.st_ino)

    taken: dict[tuple[Any, ...], str] = {}
    for label, path in inputs.items():
        taken.setdefault(identity(path), f"{label} {path}")
        taken.setdefault(("path", os.path.realpath(path)), f"{label} {path}")
    for label, target in outputs.items():
        if target is None or is_stdout(target):
            continue
        if label == "--log":
            _check_log_target(target)
        else:
            check_output_target(target)
        first = identity(target)
        if first[0] == "special":
            continue
        keys = [first, ("path", os.path.realpath(target))]
        for key in keys:
            if key in taken:
                raise UsageError(f"{label} {target} is the same file as {taken[key]}: "
                                 f"writing it would destroy that; choose another name")
        for key in keys:
            taken[key] = f"{label} {target}"


def _regular(mode: int) -> bool:
    import stat

    return stat.S_ISREG(mode)


def _check_log_target(target: str) -> None:
    """The decision log is appended to, so it must be a regular file (or not exist yet)
    in a directory that exists."""
    from .io import cannot_write, check_output_target

    try:
        info = os.stat(target)
    except OSError:
        check_output_target(target)
        return
    if not _regular(info.st_mode):
        import errno

        raise cannot_write(target, OSError(errno.EINVAL, "a decision log must be a "
                                                         "regular file"))
    if not os.access(target, os.W_OK):
        import errno

        raise cannot_write(target, OSError(errno.EACCES, os.strerror(errno.EACCES)))


SHOWN_REJECTS = 1000
"""Rejected rows listed on stderr when there is no ``--rejects`` file; the rest are counted
(a big batch run must not flood a terminal)."""


@dataclass
class _Outcome:
    """What ``score`` writes, the same whichever engine computed it."""

    rows_in: int
    rejected: list[dict[str, Any]]
    summary: Callable[[], str]
    write_output: Callable[[str | None, str], Any]
    write_details: Callable[[str, str], Any]
    table: Callable[[], tuple[str, list[str], list[list[str]]]]
    log: Callable[[], int] | None = None
    """Appends the run to the decision log; called after the outputs are written (to
    their temporary files), so a log that cannot be written leaves no outputs."""


def _extra_inputs(pol: Policy, scheme: str, with_inputs: tuple[str, ...],
                  redemptions: str | None) -> dict[str, str]:
    """``--with NAME=FILE`` (and ``--redemptions``), checked against the scheme's inputs."""
    spec = pol.spec(scheme)
    items = [*with_inputs, *([f"redemptions={redemptions}"] if redemptions else [])]
    files: dict[str, str] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise click.UsageError(f"--with {item!r}: write NAME=FILE")
        if name not in spec.extra_inputs:
            takers = sorted(n for n, s in pol.specs.items() if name in s.extra_inputs)
            option = "--redemptions" if item.startswith("redemptions=") and redemptions \
                else f"--with {name}=..."
            raise click.UsageError(
                f"{option}: scheme {scheme} takes "
                + (f"only {', '.join(spec.extra_inputs)}" if spec.extra_inputs
                   else "no extra inputs")
                + (f"; {name} is an input of {', '.join(takers)}" if takers else ""))
        if name in files:
            raise click.UsageError(f"{name} is given twice")
        files[name] = path
    return files


def _score_per_record(pol: Policy, scheme: str, compiled: Any, input_file: str,
                      day: dt.date, extra_files: dict[str, str], log: Any) -> _Outcome:
    from .io import read_records, write_rows

    extra: dict[str, Any] = {name: read_records(path) for name, path in extra_files.items()}
    count = [0]

    def counted(rows: Any) -> Any:
        for row in rows:
            count[0] += 1
            yield row

    records: Any = counted(read_records(input_file))
    if log is not None:  # the log needs the inputs after the run: keep them
        records = list(records)
        extra = {k: list(v) for k, v in extra.items()}
    result = compiled.run(records, as_of=day, **extra)

    def log_run() -> int:
        return int(log.write_run(pol, scheme, day, result, records, extra))
    from .schemes.base import presenter_of, run_summary

    return _Outcome(
        count[0], result.rejected_rows(),
        lambda: run_summary(presenter_of(compiled, pol.spec(scheme)), result, rows_in=count[0],
                            policy=pol.ref, as_of=day),
        lambda target, kind: write_rows(result.output_rows(), target, kind),
        lambda target, kind: write_rows(result.detail_rows(), target, kind),
        result.table, log_run if log is not None else None)


def _score_batch(compiled: Any, spec: SchemeSpec, ref: Any, input_file: str, day: dt.date,
                 extra_files: dict[str, str]) -> _Outcome:
    from .batch import command

    result = command.run(compiled, input_file, as_of=day, extra=extra_files,
                         show_progress=sys.stderr.isatty())
    return _batch_outcome(result, compiled, spec, ref, day)


def _score_spark(pol: Any, scheme: str, spec: SchemeSpec, input_file: str, day: dt.date,
                 extra_files: dict[str, str], master: str | None, logging: bool) -> _Outcome:
    """``--engine spark``: the batch run split over Spark executors (``civicscore.spark``),
    written as the batch run is."""
    if logging:
        raise click.UsageError("--log needs --engine per-record: the decision log records "
                               "every decision with its reasons")
    try:
        from .spark import score as on_spark
    except ImportError:
        raise click.UsageError("--engine spark needs pyspark: pip install "
                               "'civicscore[spark]'") from None
    # the --with inputs are split as the scheme's registration says (Split.extra)
    extra: dict[str, Any] = dict(extra_files)
    result = on_spark(pol, scheme, input_file, as_of=day, master=master, **extra)
    return _batch_outcome(result, pol.scheme(scheme), spec, pol.ref, day)


def _batch_outcome(result: Any, compiled: Any, spec: SchemeSpec, ref: Any,
                   day: dt.date) -> _Outcome:
    from .batch.result import BatchResult
    from .schemes.base import presenter_of, run_summary

    main, detail = result.cli_frames()
    shown = presenter_of(compiled, spec)

    def summary() -> str:  # from the frames; a scheme's own batch() may return rows
        if isinstance(result, BatchResult):
            return result.summary(shown)
        return run_summary(shown, result, rows_in=result.rows_in, policy=ref, as_of=day)

    return _Outcome(
        result.rows_in, result.rejected_rows(), summary,
        lambda target, kind: result.write(main, target, kind),
        lambda target, kind: result.write(detail, target, kind),
        result.table)


AUTO_BATCH_ROWS = 10_000
"""From this many input rows ``--engine auto`` uses the batch evaluator: below it the
per-record run takes a second or two and writes every decision's messages."""


def _use_batch(engine: str, logging: bool, input_file: str) -> bool:
    """Whether ``score`` runs on the batch evaluator (see ``--engine``)."""
    if engine == "per-record" or (engine == "auto" and not _many_rows(input_file)):
        return False
    if logging:  # the decision log records every decision's reasons, one at a time
        if engine == "batch":
            raise click.UsageError("--log needs --engine per-record: the decision log "
                                   "records every decision with its reasons")
        return False
    import importlib.util

    if importlib.util.find_spec("polars") is None:
        if engine == "batch":
            raise click.UsageError("--engine batch needs polars: pip install "
                                   "'civicscore[batch]'")
        return False
    return True


def _many_rows(path: str) -> bool:
    """More than AUTO_BATCH_ROWS rows? Parquet says so in its footer; text files are
    counted by lines, which is fast (a CSV row with a line break inside a quoted cell
    counts twice, which only matters near the threshold)."""
    file = Path(path)
    if not file.is_file():
        return False
    if file.suffix.lower() == ".xlsx":
        from .excel import sheet_rows
        from .io import input_options

        return sheet_rows(file, input_options().sheet) > AUTO_BATCH_ROWS + 1
    if file.suffix.lower() == ".parquet":
        try:
            import pyarrow.parquet as pq

            return bool(pq.ParquetFile(file).metadata.num_rows > AUTO_BATCH_ROWS)
        except Exception:  # unreadable or no pyarrow: the per-record path reports it
            return False
    lines = 0
    with file.open("rb") as f:
        while chunk := f.read(1 << 20):
            lines += chunk.count(b"\n")
            if lines > AUTO_BATCH_ROWS + 1:
                return True
    return False


def _decision_log(path: str | None, redactions: tuple[str, ...]) -> Any:
    from .audit import DecisionLog

    if path is None:
        if redactions:
            raise click.UsageError("--redact applies to the decision log: add --log FILE")
        return None
    rules: dict[str, Any] = {}
    for item in redactions:
        name, _, how = item.partition("=")
        if not name or how not in ("erase", "hash"):
            raise click.UsageError(f"--redact {item!r}: write FIELD=erase or FIELD=hash")
        rules[name] = how
    return DecisionLog(Path(path), rules, salt=os.environ.get("CIVICSCORE_REDACT_KEY")
                       or os.environ.get("CIVICSCORE_REDACT_SALT", ""))


def _print_table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for i, col in enumerate(columns):
        numeric = rows and all(_looks_numeric(r[i]) for r in rows)
        table.add_column(col, justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*row)
    # A pipe has no width; give tables room rather than truncating their headers.
    Console(width=None if sys.stdout.isatty() else 140).print(table)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --- explain ----------------------------------------------------------------------------


@main.command()
@click.argument("policy", shell_complete=completion.policies)
@_scheme_option
@click.option("--record", "record_json", required=True,
              help="The record as JSON, or @file.json.")
@_policy_root_option
@_as_of_option
@cli_json.format_option
def explain(policy: str, scheme: str, record_json: str, policy_roots: tuple[str, ...],
            as_of: dt.datetime | None) -> None:
    """Explain, in plain language, the decision on one record."""
    from .io import parse_json_record

    pol = _load(_engine(policy_roots), policy)
    _print_warnings(pol)
    compiled = pol.scheme(scheme)
    record = parse_json_record(record_json)
    day = _as_of(as_of)
    explanation = compiled.explain_record(record, as_of=day)
    if not cli_json.wanted():
        click.echo(explanation)
        return
    from .results import to_jsonable

    decision = compiled.decide(record, as_of=day) if hasattr(compiled, "decide") else None
    cli_json.emit("explain", {
        "policy": cli_json.policy_ref(pol.ref), "scheme": scheme, "as_of": day,
        "explanation": explanation,
        "decision": to_jsonable(decision) if decision is not None else None})


# --- test -------------------------------------------------------------------------------


@main.command("test")
@click.argument("policies", nargs=-1, required=True, shell_complete=completion.policies)
@click.option("-k", "pattern", help="Run only cases whose name or tags match (substring or "
                                    "glob).")
@click.option("--min-coverage", type=click.FloatRange(0, 100), default=None,
              help="Fail when fewer than this percent of the rules are exercised.")
@click.option("-v", "--verbose", is_flag=True, help="List passing cases too.")
@_policy_root_option
@cli_json.format_option
def test_cmd(policies: tuple[str, ...], pattern: str | None, min_coverage: float | None,
             verbose: bool, policy_roots: tuple[str, ...]) -> None:
    """Run the [[case]] tables of POLICIES (paths or installed names)."""
    from .cases import run_cases

    engine = _engine(policy_roots)
    failed = total = 0
    below = []
    as_json = cli_json.wanted()
    tested: list[dict[str, Any]] = []
    for source in policies:
        policy = engine.load(source)
        results, coverage = run_cases(policy, pattern, source)
        covered = len(coverage.rules) - len(coverage.missing)
        low = min_coverage is not None and coverage.percent + 1e-9 < min_coverage
        if as_json:
            total += len(results)
            failed += sum(not r.passed for r in results)
            below += [source] if low else []
            tested.append({
                "policy": source, "ref": cli_json.policy_ref(policy.ref),
                "cases": [{"name": r.name, "passed": r.passed,
                           "mismatches": [str(m) for m in r.mismatches],
                           "explanation": None if r.passed else r.explanation}
                          for r in results],
                "passed": sum(r.passed for r in results),
                "failed": sum(not r.passed for r in results),
                "coverage": {"percent": f"{coverage.percent:.2f}", "covered": covered,
                             "rules": len(coverage.rules),
                             "missing": list(coverage.missing)},
                "coverage_below_minimum": low})
            continue
        for r in results:
            total += 1
            if r.passed:
                if verbose:
                    click.echo(f"PASS {source}: {r.name}")
                continue
            failed += 1
            click.echo(f"FAIL {source}: {r.name}")
            for m in r.mismatches:
                click.echo(f"    {m}")
            for line in r.explanation.splitlines():
                click.echo(f"    | {line}")
        click.echo(f"{source}: {len(results)} cases, "
                   f"{sum(r.passed for r in results)} passed; rule coverage "
                   f"{coverage.percent:.0f}% ({covered} of {len(coverage.rules)})")
        if coverage.missing:
            click.echo("    not exercised: " + ", ".join(coverage.missing))
        if low:
            below.append(source)
    if as_json:
        cli_json.emit("test", {
            "ok": not (failed or below), "passed": total - failed, "failed": failed,
            "min_coverage": None if min_coverage is None else f"{min_coverage:g}",
            "coverage_below_minimum": below, "policies": tested})
    else:
        click.echo(f"{total - failed} passed, {failed} failed")
    if below:
        click.echo(f"rule coverage below {min_coverage:g}% in: {', '.join(below)}", err=True)
    if failed or below:
        sys.exit(EXIT_PROBLEMS)


# --- replay -----------------------------------------------------------------------------


@main.command()
@click.argument("log_file", metavar="LOG", type=click.Path(dir_okay=False))
@click.option("--policy", "extra_policies", multiple=True,
              help="A policy file (or name) to look for the logged hashes in, besides the "
                   "installed ones (repeatable).")
@_policy_root_option
@cli_json.format_option
def replay(log_file: str, extra_policies: tuple[str, ...], policy_roots: tuple[str, ...]
           ) -> None:
    """Re-make every decision in LOG with the policy of the same hash; report differences."""
    from .audit import policies_by_hash
    from .audit import replay as replay_log

    report = replay_log(log_file, policies_by_hash(_candidates(log_file, extra_policies,
                                                                  policy_roots)))
    if cli_json.wanted():
        from .logchain import chain_object
        from .review import reviews_object

        cli_json.emit("replay", {
            "ok": report.ok, "log": log_file, "replayed": report.replayed,
            "differences": [{"decision_id": d.decision_id, "message": d.message,
                             "fields": {k: {"logged": old, "now": new}
                                        for k, (old, new) in d.fields.items()}}
                            for d in report.differences],
            "skipped": [{"decision_id": d.decision_id, "message": d.message}
                        for d in report.skipped],
            **reviews_object(log_file),
            "chain": chain_object(report.chain) if report.chain is not None else None})
        if not report.ok:
            sys.exit(EXIT_PROBLEMS)
        return
    for d in report.differences:
        click.echo(f"DIFFERS {d.decision_id}: {d.message}")
        for key, (old, new) in d.fields.items():
            click.echo(f"    {key}: logged {old!r}, now {new!r}")
    for d in report.skipped:
        click.echo(f"NOT REPLAYED {d.decision_id}: {d.message}")
    from .review import review_lines

    for line in review_lines(log_file):
        click.echo(line)
    from .logchain import replay_lines

    for line in replay_lines(report.chain):  # a deleted, edited or moved entry: not ok
        click.echo(line)
    click.echo(f"{report.replayed} decisions replayed, {len(report.differences)} differ, "
               f"{len(report.skipped)} could not be replayed")
    if not report.ok:
        sys.exit(EXIT_PROBLEMS)


def _candidates(log_file: str, extra: tuple[str, ...],
                policy_roots: tuple[str, ...] = ()) -> list[Policy]:
    """Policies that may have made a log's decisions: given ones, installed ones, and the
    files the log names; replay and appeal then pick by content hash."""
    from .audit import read_log

    engine = _engine(policy_roots)  # with roots, a log cannot point replay anywhere
    sources = {e["policy"]["source"] for e in read_log(log_file)}
    found = []
    for source in [*extra, *engine.policy_names(), *sorted(sources)]:
        try:
            found.append(engine.load(source))
        except CivicScoreError:
            continue  # a candidate that does not load cannot be the logged policy
    return found


@main.command("appeal")
@click.argument("log_file", metavar="LOG", type=click.Path(dir_okay=False))
@click.argument("decision_id")
@click.option("--set", "settings", multiple=True, required=True, metavar="FIELD=VALUE",
              help="A corrected fact of the appealed record (repeatable).")
@click.option("--policy", "extra_policies", multiple=True,
              help="A policy file (or name) to look for the logged hash in.")
@_policy_root_option
@click.option("--by", "by", metavar="NAME",
              help="Who decides the appeal: with --reason, the appeal is recorded in LOG.")
@click.option("--reason", metavar="TEXT", help="Why the facts were corrected.")
@cli_json.format_option
def appeal_cmd(log_file: str, decision_id: str, settings: tuple[str, ...],
               extra_policies: tuple[str, ...], policy_roots: tuple[str, ...],
               by: str | None, reason: str | None) -> None:
    """Re-decide a logged run with corrected facts, under the same policy version; with
    --by and --reason, record the appeal (who, when, why, what changed) in LOG."""
    from .audit import appeal, logged_inputs, policies_by_hash, read_log

    entries = read_log(log_file)
    target = next((e for e in entries if e["decision_id"] == decision_id), None)
    if target is None or target["row"] is None:
        raise click.UsageError(f"{decision_id!r} is not a record decision in {log_file}")
    policy = policies_by_hash(_candidates(log_file, extra_policies, policy_roots)).get(
        target["policy"]["hash"])
    if policy is None:
        raise UsageError(f"no policy with hash {target['policy']['hash'][:12]} was found; "
                              f"give it with --policy")
    run = sorted((e for e in entries if e["run_id"] == target["run_id"]
                  and e["kind"] == target["kind"]), key=lambda e: e["row"])
    fixes: dict[str, Any] = {}
    for item in settings:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.UsageError(f"--set {item!r}: write FIELD=VALUE")
        fixes[name] = value
    _check_appeal(policy, target, run, fixes)
    extra = logged_inputs(policy.spec(target["scheme"]),
                          (e for e in entries if e["run_id"] == target["run_id"]))
    result = appeal(policy, target["scheme"], [e["input"] for e in run],
                    {target["row"]: fixes}, as_of=dt.date.fromisoformat(target["as_of"]),
                    expected_hash=target["policy"]["hash"], logged=run, **extra)
    as_json = cli_json.wanted()
    if not as_json:
        click.echo(result.explain())
    if bool(by) != bool(reason):
        raise click.UsageError("recording an appeal needs both --by NAME and --reason TEXT")
    entry = None
    if by and reason:
        from .review import describe, record_appeal

        entry = record_appeal(log_file, target, fixes, result.changes, by=by, reason=reason)
        click.echo(f"recorded: {describe(entry)}", err=True)
    if as_json:
        cli_json.emit("appeal", {
            "log": log_file, "decision_id": decision_id, "scheme": target["scheme"],
            "policy": cli_json.policy_ref(policy.ref), "as_of": result.as_of,
            "set": fixes, "changed": bool(result.changes),
            "changes": {key: {k: {"before": old, "after": new}
                              for k, (old, new) in fields.items()}
                        for key, fields in result.changes.items()},
            "notes": [{"en": n.en, "zh": n.zh} for n in result.notes],
            "explanation": result.explain(), "recorded": entry is not None,
            "entry": entry})
    if not (by and reason):
        click.echo("not recorded: add --by NAME --reason TEXT to record this appeal in "
                   f"{log_file}", err=True)


def _check_appeal(policy: Policy, target: dict[str, Any], run: list[dict[str, Any]],
                  fixes: dict[str, Any]) -> None:
    """Refuse an appeal whose answer would be wrong: a corrected field the records do not
    have (``agee_oldest``, which would change nothing), or a run whose redacted inputs
    feed the rules (an erased id makes every household a duplicate)."""
    from ._suggest import did_you_mean

    spec = policy.spec(target["scheme"])
    entities = spec.entities_of(getattr(policy.model, target["scheme"], None))
    facts = {f for entity in entities for f in policy.model.facts.get(entity, {})}
    known = {*facts, *spec.record_fields, *(target["input"] or {})}
    for name in fixes:
        if name not in known:
            hint = did_you_mean(name, known)
            raise UsageError(f"--set {name}=...: {name!r} is not a field of the appealed "
                             f"record" + (f" ({hint})" if hint else ""))
    # an erased value is gone; a hashed id still tells records apart, a hashed fact does not
    fed = sorted({f for e in run for f in e.get("redacted") or ()
                  if ((e.get("redaction") or {}).get(f) == "erase" and f in known)
                  or f in facts})
    if fed:
        raise UsageError(f"cannot appeal {target['decision_id']}: the log redacted "
                         f"{', '.join(fed)}, which the rules read, so re-deciding from the "
                         f"log would not be the same decision; appeal from the original "
                         f"records (score with the corrected file) instead")


# --- plugins ----------------------------------------------------------------------------


@main.command()
@cli_json.json_flag
@cli_json.format_option
def plugins() -> None:
    """List installed plugins, their hooks and the policies they provide."""
    from .engine import Engine

    engine = Engine()
    infos = engine.plugins
    if cli_json.wanted():
        cli_json.emit("plugins", {"plugins": [p.to_dict() for p in infos]})
        return
    for p in infos:
        dist = f"{p.distribution} {p.version}".strip()
        click.echo(f"{p.name}" + (f" ({dist})" if dist else ""))
        click.echo(f"  hooks: {', '.join(p.hooks) or '-'}")
        for label, items in (("policies", p.policies), ("schemes", p.schemes),
                             ("calendars", p.calendars), ("functions", p.functions)):
            if items:
                click.echo(f"  {label}: {', '.join(items)}")


@main.command("new-plugin")
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=".",
              help="Where to create civicscore-NAME/ (default: here).")
@click.option("--title", help="The locality's name for titles and docs.")
@cli_json.format_option
def new_plugin_cmd(name: str, directory: str, title: str | None) -> None:
    """Create a locality plugin package that installs and passes its own tests."""
    from .scaffold import new_plugin

    root = new_plugin(name, Path(directory), title)
    if cli_json.wanted():
        cli_json.emit("new-plugin", {
            "name": name, "directory": root,
            "files": sorted(str(p.relative_to(root)) for p in root.rglob("*")
                            if p.is_file()),
            "next": f"pip install -e {root} && civicscore plugins"})
        return
    click.echo(f"created {root}\nnext: pip install -e {root} && civicscore plugins")


# --- schema -----------------------------------------------------------------------------


@main.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file.")
@cli_json.format_option
def schema(output: str | None) -> None:
    """Print the JSON Schema of the policy format (for editors such as VS Code)."""
    from .policy.schema import policy_json_schema

    text = policy_json_schema()
    if output:
        from .io import check_output_target, write_text

        check_output_target(output)
        write_text(output, text)
    if cli_json.wanted():  # the schema itself under "json_schema", or where it was written
        cli_json.emit("schema", {"output": output,
                                 "json_schema": None if output else json.loads(text)})
    elif not output:
        click.echo(text, nl=False)
