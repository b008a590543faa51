"""civicscore over HTTP: ``civicscore serve`` (``pip install 'civicscore[serve]'``).

:func:`create_app` is an ASGI application factory over a set of policy roots
(the same confinement as the command line's ``--policy-root``); run it with
any ASGI server, or with ``civicscore serve``. See docs/service.md.

The names are imported on first use (PEP 562), so that ``civicscore --help``,
which lists ``serve`` from :mod:`.command`, does not import FastAPI.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import DecideRequest, Limits, create_app

__all__ = ["DecideRequest", "Limits", "create_app"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(".app", __name__), name)
    globals()[name] = value
    return value
