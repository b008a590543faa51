"""An engine: one set of plugins, used to load any number of policies.

``civicscore.load()`` makes a fresh engine per call, which is simplest and
never shares state between callers. An application loading many policies, or
a test wanting particular plugins, makes one ``Engine`` and reuses it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from .plugins import PluginInfo, Registry, registry
from .policy.compile import Policy, load_policy


class Engine:
    """Loads policies with the plugins found when it was made."""

    def __init__(self, *, plugins: Iterable[object] = (), entry_points: bool = True) -> None:
        """``plugins`` adds plugin objects (modules or instances with ``@hookimpl``
        functions); ``entry_points=False`` ignores installed plugin packages."""
        self.registry: Registry = registry(entry_points=entry_points, plugins=plugins)
        self._env = self.registry.environment()

    def load(self, source: str | Path, *, today: dt.date | None = None) -> Policy:
        """Load, check and compile a policy from a TOML path or an installed name.

        Raises ``PolicyError`` listing every problem, each with file, line and
        column. ``today`` only matters for the review-date warning.
        """
        return load_policy(source, self._env, today=today)

    @property
    def plugins(self) -> list[PluginInfo]:
        return list(self.registry.plugins)

    def policy_names(self) -> list[str]:
        return sorted(self.registry.policies)
