"""``civicscore score`` on the batch evaluator: frames in, frames out, a progress bar.

Kept apart from ``cli.py`` so the command module stays light: this module,
and polars with it, is imported only when a batch run starts.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
import polars as pl

from .progress import reporting
from .result import BatchResult, flat_lists

#: Rejected rows listed on stderr when no ``--rejects`` file is given; the rest are counted.
SHOWN_REJECTS = 50


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar on stderr, or a callback that does nothing."""
    if not enabled:
        yield lambda label, done, total: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("starting", total=1)

        def update(label: str, done: int, total: int) -> None:
            bar.update(task, description=label, completed=done, total=total)

        yield update


def run(compiled: Any, input_file: str, *, as_of: dt.date, extra: dict[str, Any],
        show_progress: bool) -> BatchResult:
    """Score ``input_file`` with the scheme's batch evaluator."""
    with progress_bar(show_progress) as update, reporting(update):
        result: BatchResult = compiled.batch(input_file, as_of=as_of, **extra)
    return result


def write(result: BatchResult, output: str | None, kind: str, details: str | None,
          rejects: str | None) -> None:
    """Write the frames; list rejected rows on stderr when there is no ``--rejects`` file."""
    from ..io import format_of

    main, extra_frame = result.cli_frames()
    if output == "":
        pass  # already shown as a table
    elif output is None:
        if kind == "parquet":
            raise click.UsageError("Parquet output needs a file: add -o FILE.parquet")
        sys.stdout.write(_text(main, kind))
    else:
        result.write(main, output, kind)
    if details and extra_frame.width:
        result.write(extra_frame, details, format_of(details))
    click.echo(result.summary(), err=True)
    rejected = pl.DataFrame(result.rejected_rows(), schema=result.rejected.schema) \
        if result.rejected.width else result.rejected
    if rejected.height and rejects:
        result.write(rejected, rejects, format_of(rejects))
        click.echo(f"{rejected.height} rejected rows written to {rejects}", err=True)
    elif rejected.height:
        for r in rejected.head(SHOWN_REJECTS).iter_rows(named=True):
            click.echo(f"rejected {r['input']} row {r['row']} ({r['id']}): "
                       + "; ".join(r["reasons"]), err=True)
        if rejected.height > SHOWN_REJECTS:
            click.echo(f"... and {rejected.height - SHOWN_REJECTS} more rejected rows: "
                       f"write them all with --rejects FILE", err=True)


def _text(frame: pl.DataFrame, kind: str) -> str:
    if kind == "csv":
        return flat_lists(frame).write_csv()
    return frame.write_ndjson()
