#!/usr/bin/env python3
"""atheris harness: arbitrary bytes as a policy file, through civicscore.load().

Not run in CI. See fuzz/README.md for how to install and run it.

A ``PolicyError`` is the expected way to refuse an input, but only when every
problem is located (file, line >= 1, col >= 1); any other exception, or an
unlocated problem, is a crash that atheris records with the input that caused
it. Each input is written to the same file in a private temporary directory,
next to a fixed ``parent.toml`` so that ``extends = "parent"`` is reachable.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import warnings

import atheris

with atheris.instrument_imports():
    import civicscore
    from civicscore import PolicyError

TODAY = dt.date(2025, 1, 1)
WORKDIR = tempfile.mkdtemp(prefix="civicscore-fuzz-")
POLICY = os.path.join(WORKDIR, "policy.toml")
PARENT = b"""[policy]
id = "parent"
version = "1"

[facts.activity]
night = { type = "bool", default = false }

[volunteer.activities.patrol]
points_per_hour = 1

[[volunteer.multipliers]]
id = "night"
when = "night"
factor = 1.5
"""
with open(os.path.join(WORKDIR, "parent.toml"), "wb") as f:
    f.write(PARENT)

# One engine: plugins are discovered once, not per input (civicscore.load would
# otherwise make a fresh Engine each call, which is the same code but slower).
ENGINE = civicscore.Engine()
warnings.simplefilter("ignore")


def TestOneInput(data: bytes) -> None:
    with open(POLICY, "wb") as f:
        f.write(data)
    try:
        civicscore.load(POLICY, today=TODAY, engine=ENGINE)
    except PolicyError as e:
        if not e.problems:
            raise AssertionError("PolicyError without problems") from e
        for p in e.problems:
            if not p.file or p.line < 1 or p.col < 1:
                raise AssertionError(f"unlocated problem: {p!r}") from e


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
