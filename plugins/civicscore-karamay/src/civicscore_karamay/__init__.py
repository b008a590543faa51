"""civicscore plugin for Karamay District (克拉玛依区), Xinjiang.

One policy, registered by name:

* ``karamay`` (``policy.toml``): the care-liaison grid's household care tiers
  and visits, volunteer points, household civility, and two appraisal
  scorecards: the care liaisons on the "five hundreds" (五百) method
  (``[appraisal]``'s own scorecard, ``liaisons``), and the projects the
  district's venture-philanthropy fund pays for (``[[appraisal.scorecard]]``
  ``projects``, for records with ``kind = "project"``, their facts in
  ``[facts.project]``), each with its own 20 % excellent quota. Extends
  ``baseline``.

``karamay-projects`` is a deprecated name of ``karamay``: the funded projects
were a second policy only while a policy could hold one scorecard. It still
loads (the same policy, ``karamay``), with a :class:`DeprecatedPolicyName`
warning saying to use karamay's ``projects`` scorecard; a project's record now
says ``kind = "project"``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from civicscore import hookimpl

#: The policies this plugin registers: name -> file in this package.
POLICIES = {"karamay": "policy.toml"}
#: Names kept for policies folded into another: old name -> (the file, what to use).
DEPRECATED = {"karamay-projects": ("policy.toml", "karamay's 'projects' scorecard "
                                                  "(civicscore.load(\"karamay\"); records "
                                                  "with kind = \"project\")")}


class DeprecatedPolicyName(FutureWarning):
    """A policy was loaded by a name this plugin keeps only for old scripts."""


class _Deprecated:
    """A policy file registered under an old name: reading it warns, then reads the file
    (the registry reads a policy's text with ``read_text`` when it is loaded)."""

    def __init__(self, name: str, path: Path, use: str) -> None:
        self.name, self.path, self.use = name, path, use

    def read_text(self, encoding: str = "utf-8") -> str:
        warnings.warn(f"policy {self.name!r} is deprecated: use {self.use}",
                      DeprecatedPolicyName, stacklevel=2)
        return self.path.read_text(encoding=encoding)

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()

    def __str__(self) -> str:
        return f"{self.path} (deprecated name {self.name!r})"


@hookimpl
def register_policies(register: Any) -> None:
    for name, filename in POLICIES.items():
        register(name, Path(__file__).with_name(filename))
    for name, (filename, use) in DEPRECATED.items():
        register(name, _Deprecated(name, Path(__file__).with_name(filename), use))
