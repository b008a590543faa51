"""``civicscore new-plugin``: a locality plugin package that works from the start.

The generated package installs, lists itself in ``civicscore plugins``, and
passes its own tests unchanged, so a plugin author begins from something
green and changes one rule at a time.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from . import __version__
from .errors import UsageError
from .io import cannot_write

NAME = re.compile(r"^[a-z][a-z0-9_]*$")

PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.18"]
build-backend = "hatchling.build"

[project]
name = "civicscore-{name}"
version = "0.1.0"
description = "civicscore policy for {title}"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["civicscore>={version}"]

[project.optional-dependencies]
dev = ["pytest>=8.0"]

[project.entry-points.civicscore]
{name} = "civicscore_{name}"

[tool.hatch.build.targets.wheel]
packages = ["src/civicscore_{name}"]

[tool.pytest.ini_options]
testpaths = ["tests", "src"]
"""

INIT = '''\
"""civicscore plugin for {title}: its policy, registered by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from civicscore import hookimpl


@hookimpl
def register_policies(register: Any) -> None:
    # the file beside this module (importlib.resources would cost every check ~10 ms)
    register("{name}", Path(__file__).with_name("policy.toml"))
'''

POLICY = """\
# {title}: the locality's policy. It inherits the national baseline; change a
# baseline rule by naming it in [policy].overrides, add new rules freely.

[policy]
id = "{name}"
version = "0.1.0"
title = "{title}"
locale = "zh-CN"
extends = "baseline"
overrides = []

[[case]]
name = "an older resident living alone is visited weekly"
scheme = "visits"
as_of = 2025-12-31
input = {{ household_id = "h1", age_oldest = 84, lives_alone = true, last_visit = 2025-12-29 }}
expect = {{ tier = "weekly_care", next_due = 2026-01-05 }}

[[case]]
name = "two hours of general volunteering earn two points"
scheme = "volunteer"
as_of = 2025-12-31
input = {{ record_id = "r1", volunteer_id = "v1", activity = "general", start = "2025-11-04T09:00", end = "2025-11-04T11:00", confirmed = true, submitted_at = "2025-11-04T12:00" }}
expect = {{ earned = 2, hours = 2 }}
"""

TEST = '''\
"""The policy loads, and every [[case]] in it passes (pytest also collects them directly)."""

from __future__ import annotations

import civicscore
import civicscore_{name}
from civicscore.cases import run_cases


def test_policy_loads_and_cases_pass() -> None:
    engine = civicscore.Engine(plugins=[civicscore_{name}], entry_points=False)
    policy = engine.load("{name}")
    assert policy.id == "{name}"
    results, _coverage = run_cases(policy)
    assert results, "the policy has no [[case]] tables"
    failed = [(r.name, r.mismatches) for r in results if not r.passed]
    assert not failed, failed
'''

README = """\
# civicscore-{name}

The civicscore policy for {title}, as a plugin package.

```sh
pip install -e .                  # then: civicscore plugins
civicscore check {name}           # every mistake as file:line:col
civicscore test {name}            # run the [[case]] tables, with rule coverage
pytest                            # the same cases, under pytest
```

Edit `src/civicscore_{name}/policy.toml`. Read civicscore's `docs/plugins.md`
for additions and overrides, and `docs/policy-format.md` for the format.
"""


def new_plugin(name: str, directory: Path, title: str | None = None) -> Path:
    """Write the package ``civicscore-<name>`` under ``directory``; return its path."""
    if not NAME.match(name):
        raise UsageError(f"plugin name {name!r}: use lower-case letters, digits and '_', "
                              f"starting with a letter (e.g. 'karamay')")
    root = directory / f"civicscore-{name}"
    if root.exists():
        raise UsageError(f"{root} already exists; choose another --dir or name")
    values = {"name": name, "title": title or name, "version": __version__}
    files = {
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        f"src/civicscore_{name}/__init__.py": INIT,
        f"src/civicscore_{name}/policy.toml": POLICY,
        "tests/test_policy.py": TEST,
    }
    # Whole or not at all: the package is written into a hidden directory beside the
    # target and renamed into place in one step, so a full disk or a refused write
    # leaves nothing behind that looks like a plugin (a half package would install).
    try:
        directory.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".civicscore-{name}.", dir=directory))
    except OSError as e:
        raise cannot_write(root, e) from None
    try:
        for rel, template in files.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(template.format(**values), encoding="utf-8")
        os.chmod(staging, 0o755)  # mkdtemp makes it private; a package directory is not
        os.rename(staging, root)  # refuses (does not merge into) a root made meanwhile
    except OSError as e:
        shutil.rmtree(staging, ignore_errors=True)
        if root.exists():
            raise UsageError(f"{root} already exists; choose another --dir or name") from None
        raise cannot_write(root, e) from None
    return root
