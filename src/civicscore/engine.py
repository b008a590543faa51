"""An engine: one set of plugins, used to load any number of policies.

``civicscore.load()`` makes a fresh engine per call, which is simplest and
never shares state between callers. An application loading many policies, or
a test wanting particular plugins, makes one ``Engine`` and reuses it.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from pathlib import Path

from .errors import PolicyError, UsageError
from .plugins import PluginInfo, Registry, registry
from .policy.compile import Policy, load_policy
from .policy.load import POLICY_ROOTS, within


class Engine:
    """Loads policies with the plugins found when it was made."""

    def __init__(self, *, plugins: Iterable[object] = (), entry_points: bool = True,
                 policy_roots: Iterable[str | Path] | None = None) -> None:
        """``plugins`` adds plugin objects (modules or instances with ``@hookimpl``
        functions); ``entry_points=False`` ignores installed plugin packages.

        ``policy_roots`` are the only directories policy files are read from: a path
        given to :meth:`load`, and every file an ``extends`` reaches (symlinks
        followed), must lie under one of them. By default a policy file may extend
        files in its own directory (and, inside the working directory, under it);
        installed policies are always reached by name."""
        self.registry: Registry = registry(entry_points=entry_points, plugins=plugins)
        self._env = self.registry.environment()
        self.policy_roots: tuple[Path, ...] | None = None
        if policy_roots is not None:
            roots = []
            for root in policy_roots:
                real = Path(os.path.realpath(root))
                if not real.is_dir():
                    raise UsageError(f"policy root {root}: not a directory")
                roots.append(real)
            self.policy_roots = tuple(roots)

    def load(self, source: str | Path, *, today: dt.date | None = None) -> Policy:
        """Load, check and compile a policy from a TOML path or an installed name.

        Raises ``PolicyError`` listing every problem, each with file, line and
        column. ``today`` only matters for the review-date warning.
        """
        if self.policy_roots is None:
            return load_policy(source, self._env, today=today)
        self._check_within_roots(source)
        token = POLICY_ROOTS.set(self.policy_roots)
        try:
            return load_policy(source, self._env, today=today)
        finally:
            POLICY_ROOTS.reset(token)

    def load_text(self, name: str, text: str | bytes, *, today: dt.date | None = None
                  ) -> Policy:
        """Load, check and compile a policy from its TOML ``text`` (a draft not saved, or
        standard input), named ``name`` in its problems; it may extend installed policies
        by name and files under the policy roots, as a file may."""
        token = POLICY_ROOTS.set(self.policy_roots) if self.policy_roots is not None else None
        try:
            return load_policy(name, self._env, text, today=today)
        finally:
            if token is not None:
                POLICY_ROOTS.reset(token)

    def _check_within_roots(self, source: str | Path) -> None:
        """A policy given as a path must itself lie under the roots (a name is an
        installed policy)."""
        try:
            exists = Path(source).exists()
            real = Path(os.path.realpath(source)) if exists else None
        except (OSError, ValueError, RuntimeError):
            return  # load_policy reports a path that cannot be read
        if real is not None and not within(real, self.policy_roots or ()):
            raise PolicyError.single(
                str(source), 1, 1, f"the policy is outside the policy roots "
                                   f"({', '.join(map(str, self.policy_roots or ()))})",
                hint="load it with a policy root that holds it (--policy-root DIR)")

    @property
    def plugins(self) -> list[PluginInfo]:
        return list(self.registry.plugins)

    def policy_names(self) -> list[str]:
        return sorted(self.registry.policies)
