"""Progress of a batch run, for whoever wants to show it.

A batch run is a handful of long vectorised steps (read, check, decide,
explain the rejected rows, aggregate, write), not a loop over rows, so
progress is reported per step. The evaluators call :func:`step`; the CLI
installs a callback with :func:`reporting` that drives a rich progress bar
on a terminal. Without a callback, :func:`step` does nothing, so library
users pay nothing and see nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Callback = Callable[[str, int, int], None]
"""``callback(label, done, total)``: ``done`` of ``total`` steps finished, ``label`` next."""

_callback: ContextVar[Callback | None] = ContextVar("civicscore_batch_progress", default=None)


def step(label: str, done: int, total: int) -> None:
    """Report that ``done`` of ``total`` steps are finished and ``label`` is starting."""
    callback = _callback.get()
    if callback is not None:
        callback(label, done, total)


@contextmanager
def reporting(callback: Callback) -> Iterator[None]:
    """Send the :func:`step` reports of batch runs inside this block to ``callback``."""
    token = _callback.set(callback)
    try:
        yield
    finally:
        _callback.reset(token)
