"""pytest collects the ``[[case]]`` tables of policy files as tests.

Installed through the ``pytest11`` entry point, so running ``pytest`` in a
locality plugin's package (or anywhere a policy TOML with cases lies under
the test paths) runs every case, with the same comparison and explanation as
``civicscore test``. A policy that does not load is one failing test whose
message lists every located problem.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .cases import run_case
from .errors import CivicScoreError
from .policy.compile import Policy
from .policy.model import Case


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix != ".toml" or file_path.name == "pyproject.toml":
        return None
    try:
        head = file_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    if "[[case]]" not in head or "[policy]" not in head:
        return None
    return PolicyFile.from_parent(parent, path=file_path)


class PolicyFile(pytest.File):
    """A policy TOML: loads it once, then one item per case."""

    def collect(self) -> Iterator[pytest.Item]:
        from . import load

        try:
            policy = load(self.path)
        except CivicScoreError as e:
            yield PolicyLoadItem.from_parent(self, name="load", error=str(e))
            return
        for case in policy.model.case:
            yield CaseItem.from_parent(self, name=case.name, policy=policy, case=case)


class PolicyLoadItem(pytest.Item):
    def __init__(self, *, error: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def runtest(self) -> None:
        raise CaseFailure(f"the policy does not load:\n{self.error}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        return str(excinfo.value)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.path.name}: load"


class CaseFailure(AssertionError):
    """A case's output differed from its expectation."""


class CaseItem(pytest.Item):
    def __init__(self, *, policy: Policy, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.policy = policy
        self.case = case
        self.extra_keyword_matches.update(case.tags)  # so `pytest -k tag` selects by tag

    def runtest(self) -> None:
        result = run_case(self.policy, self.case, str(self.path))
        if not result.passed:
            lines = [*result.mismatches, "", *result.explanation.splitlines()]
            raise CaseFailure("\n".join(lines))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailure):
            return f"case {self.case.name!r} failed:\n{excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"case: {self.case.name}"
