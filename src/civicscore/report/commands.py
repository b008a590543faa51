"""The ``render`` and ``impact`` commands, registered on ``civicscore``'s command group.

Kept out of ``cli.py`` so that module stays about scoring; they follow its
rules (errors for people through the group's handler, nothing half-written:
every file is written beside its target and renamed into place).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
from pathlib import Path

import click

from .. import cli_json, completion


def write_text_atomically(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a failed run leaves no half page)."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or Path("."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        # mkstemp makes the file private (0600); a page gets the mode any new file would
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _emit(text: str, output: str | None) -> None:
    if output:
        write_text_atomically(output, text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


@click.command("render")
@click.argument("policy", shell_complete=completion.policies)
@click.option("--format", "fmt", type=click.Choice(["html", "md", "json"]), default="html",
              show_default=True, callback=cli_json.mark, is_eager=True,
              help="One static HTML page, or Markdown; json prints one object with the "
                   "policy and its HTML page (or, with -o, where the page was written).")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the page to this file (default: stdout).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default=None,
              help="Language of the page's headings and of the labels shown first "
                   "(default: the policy's locale).")
def render_cmd(policy: str, fmt: str, output: str | None, lang: str | None) -> None:
    """Write an officer-readable page of POLICY (a path or an installed name): every rule,
    what each layer changed, dated values, worked examples and their coverage."""
    from ..engine import Engine
    from .layers import load_layers
    from .render import render_policy

    engine = Engine()
    pol = engine.load(policy)
    layers = load_layers(policy, engine.registry.environment())
    page = render_policy(pol, layers, "html" if fmt == "json" else fmt, lang)
    if fmt == "json":
        if output:
            write_text_atomically(output, page)
        cli_json.emit("render", {"policy": cli_json.policy_ref(pol.ref),
                                 "page_format": "html", "output": output,
                                 "page": None if output else page})
        return
    _emit(page, output)


@click.command("impact")
@click.argument("old")
@click.argument("new")
@click.argument("input_file", metavar="INPUT", type=click.Path(dir_okay=False))
@click.option("--scheme", required=True, metavar="NAME", help="The scheme to compare.")
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), required=True,
              help="Score both policies as of this date (YYYY-MM-DD).")
@click.option("--with", "with_inputs", multiple=True, metavar="NAME=FILE",
              help="An extra input of the scheme, e.g. redemptions=r.csv (repeatable), as "
                   "civicscore score --with; both policies read it.")
@click.option("--redemptions", type=click.Path(dir_okay=False),
              help="Short for --with redemptions=FILE (volunteer points).")
@click.option("--by", "by", multiple=True, metavar="COLUMN",
              help="A column of INPUT to check for disparity across (repeatable). It is "
                   "taken out of every record before scoring, so no rule can read it.")
@click.option("--min-group", type=click.IntRange(1), default=5, show_default=True,
              help="Groups of --by smaller than this are pooled, so none can be singled out.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False),
              help="Write the report as JSON (for applications).")
@click.option("--html", "html_out", type=click.Path(dir_okay=False),
              help="Write the report as one static HTML page with charts.")
@cli_json.format_option
def impact_cmd(old: str, new: str, input_file: str, scheme: str, as_of: dt.datetime,
               with_inputs: tuple[str, ...], redemptions: str | None, by: tuple[str, ...],
               min_group: int,
               json_out: str | None, html_out: str | None) -> None:
    """Who changes tier, stars, grade or points if OLD is replaced by NEW, on the records
    of INPUT. Prints a summary; --json and --html write the whole report."""
    from ..cli import _extra_inputs
    from ..engine import Engine
    from ..impact import compare, to_json
    from ..io import read_records
    from .impact_page import impact_html

    engine = Engine()
    before, after = engine.load(old), engine.load(new)
    before.spec(scheme)
    # score's own reading of --with and --redemptions: the same checks, the same words
    files = _extra_inputs(after, scheme, with_inputs, redemptions)
    extra = {name: list(read_records(path)) for name, path in files.items()}
    report = compare(before, after, scheme, list(read_records(input_file)),
                     as_of=as_of.date(), extra=extra, by=by, min_group=min_group)
    if json_out:
        write_text_atomically(json_out, to_json(report))
    if html_out:
        write_text_atomically(html_out, impact_html(report))
    for side in ("old", "new"):
        s = report[side]
        others = "".join(f", {n} {kind} rejected"
                         for kind, n in s["rejected_other_inputs"].items())
        click.echo(f"{side.upper()} {s['policy']['id']} {s['policy']['version']}: "
                   f"{s['rows_in']} rows in, {s['scored']} scored, {s['rejected']} rejected"
                   f"{others}", err=True)
    if cli_json.wanted():  # the whole report on stdout, its shares and decimals as text
        cli_json.emit("impact", {k: v for k, v in report.items() if k != "schema"})
        return
    click.echo(f"{report['changed']} of {report['compared']} {report['noun']} change "
               f"({report['share_changed']:.1%})")
    for name, f in report["fields"].items():
        if f["changed"]:
            click.echo(f"  {name}: {f['changed']} changed")
    for check in report["disparity"].values():
        if check["flagged"]:
            click.echo(f"  disparity across {check['column']}: flagged "
                       f"{', '.join(check['flagged'])}")
