"""civicscore's own features, registered through the same hooks as any plugin.

The baseline policy, the standard expression functions and the four schemes
are contributions like a locality's: there is one mechanism and no special
case, so what a plugin author can do is exactly what civicscore itself does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .expr import standard_functions
from .hookspecs import hookimpl
from .schemes.builtins import BUILTIN_SCHEMES


@hookimpl
def register_policies(register: Any) -> None:
    # The file beside this module, as policy/care.py reads its vocabulary: what
    # importlib.resources.files() gives for an installed package, without importing
    # importlib.resources (and tempfile, shutil, zipfile...) on every check.
    register("baseline", Path(__file__).with_name("policies") / "baseline.toml")


@hookimpl
def register_functions(register: Any) -> None:
    for fn in standard_functions():
        register(fn)


@hookimpl
def register_schemes(register: Any) -> None:
    for spec in BUILTIN_SCHEMES:
        about = {k: getattr(spec, k) for k in spec.__dataclass_fields__
                 if k not in ("name", "compiler", "model", "plugin")}
        register(spec.name, spec.compiler, spec.model, **about)

