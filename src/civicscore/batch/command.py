"""``civicscore score`` on the batch evaluator: frames in, a progress bar.

Kept apart from ``cli.py`` so the command module stays light: this module,
and polars with it, is imported only when a batch run starts. What is written,
and how, is the command line's, the same for both engines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .progress import reporting
from .result import BatchResult


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
