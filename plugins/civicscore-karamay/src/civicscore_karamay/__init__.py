"""civicscore plugin for Karamay District (克拉玛依区), Xinjiang.

Two policies, registered by name:

* ``karamay`` (``policy.toml``): the care-liaison grid's household care tiers
  and visits, volunteer points, household civility, and the appraisal of the
  care liaisons on the "five hundreds" (五百) method. Extends ``baseline``.
* ``karamay-projects`` (``projects.toml``): the appraisal of the projects the
  district's venture-philanthropy fund pays for. A policy has one appraisal
  scorecard for one kind of subject, so the funded projects get their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from civicscore import hookimpl

#: The policies this plugin registers: name -> file in this package.
POLICIES = {"karamay": "policy.toml", "karamay-projects": "projects.toml"}


@hookimpl
def register_policies(register: Any) -> None:
    for name, filename in POLICIES.items():
        register(name, Path(__file__).with_name(filename))
