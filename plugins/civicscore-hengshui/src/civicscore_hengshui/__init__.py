"""civicscore plugin for hengshui: its policy, registered by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from civicscore import hookimpl


@hookimpl
def register_policies(register: Any) -> None:
    register("hengshui", Path(__file__).with_name("policy.toml"))
