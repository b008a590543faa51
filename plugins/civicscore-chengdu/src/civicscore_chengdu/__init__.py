"""civicscore plugin for chengdu: its policy, registered by name."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from civicscore import hookimpl


@hookimpl
def register_policies(register: Any) -> None:
    register("chengdu", files(__name__) / "policy.toml")
