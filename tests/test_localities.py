"""The five locality plugins install, list themselves, and pass their cases with full coverage.

The README's set-up installs them (plugins/all.txt); this is the end-to-end
proof that entry points, the registry, extends-by-name and [[case]] coverage
work together on real policies.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import civicscore
from civicscore.cli import main

LOCALITIES = ["karamay", "fangxian", "chengdu", "qingdao", "hengshui"]


def test_plugins_are_installed_and_listed() -> None:
    result = CliRunner().invoke(main, ["plugins", "--json"])
    listed = {p["name"]: p for p in json.loads(result.stdout)["plugins"]}
    missing = [n for n in LOCALITIES if n not in listed]
    assert not missing, f"not installed: {missing} (pip install -r plugins/all.txt)"
    for name in LOCALITIES:
        assert name in listed[name]["policies"]
        assert listed[name]["distribution"] == f"civicscore-{name}"


@pytest.mark.parametrize("name", LOCALITIES)
def test_locality_policy_covers_all_four_schemes(name: str) -> None:
    policy = civicscore.load(name)
    assert set(policy.schemes) == {"volunteer", "civility", "visits", "appraisal", "events"}
    assert not policy.warnings
    assert len(policy.model.case) >= 15


def test_all_cases_pass_with_full_rule_coverage() -> None:
    result = CliRunner().invoke(main, ["test", *LOCALITIES, "--min-coverage", "100"])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("rule coverage 100%") == len(LOCALITIES)
