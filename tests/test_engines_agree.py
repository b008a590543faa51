"""Every shipped policy, every scheme, every shipped example: both engines agree.

``civicscore.testing.assert_evaluators_agree`` is the check plugin authors are
told to make; here civicscore makes it of itself, on every policy it ships
(the example district, the baseline, each locality) and every example file
beside them. A file meant for another scheme is scored too: every row is then
rejected, and the rejections must agree as well.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

import civicscore
from civicscore.io import read_records
from civicscore.testing import EvaluatorsDisagree, assert_evaluators_agree, first_difference

pytest.importorskip("polars")

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2025, 12, 31)

#: (policy, the example files beside it)
SHIPPED = [
    (str(ROOT / "policies" / "example-district.toml"), sorted((ROOT / "examples").glob("*.csv"))),
    ("baseline", sorted((ROOT / "examples").glob("*.csv"))),
    *[(name, sorted((ROOT / "plugins" / f"civicscore-{plugin}" / "examples").glob("*.csv")))
      for name, plugin in [("karamay", "karamay"),
                           ("fangxian", "fangxian"), ("chengdu", "chengdu"),
                           ("qingdao", "qingdao"), ("hengshui", "hengshui")]],
]
REDEMPTIONS = ROOT / "examples" / "redemptions.csv"


def _cases() -> list[Any]:
    cases = []
    for source, files in SHIPPED:
        policy = civicscore.load(source)
        name = Path(source).stem if source.endswith(".toml") else source
        for scheme in policy.schemes:
            for file in files:
                if file.name == "redemptions.csv":
                    continue
                cases.append(pytest.param(source, scheme, file,
                                          id=f"{name}-{scheme}-{file.name}"))
    return cases


@pytest.fixture(scope="module")
def policies() -> dict[str, Any]:
    return {}


@pytest.mark.parametrize("source,scheme,file", _cases())
def test_both_engines_agree_on_every_shipped_example(policies: dict[str, Any], source: str,
                                                     scheme: str, file: Path) -> None:
    policy = policies.get(source) or policies.setdefault(source, civicscore.load(source))
    extra = {}
    if "redemptions" in policy.spec(scheme).extra_inputs:
        extra["redemptions"] = list(read_records(REDEMPTIONS))
    result = assert_evaluators_agree(policy, scheme, read_records(file), as_of=AS_OF, **extra)
    assert result.rows_in == len(list(read_records(file)))


def test_a_difference_is_named_by_row_column_and_both_values() -> None:
    same = [{"row": 1, "tier": "weekly", "reason_codes": ["TIER"]}]
    assert first_difference("output", same, [dict(same[0])]) is None
    assert first_difference("output", same, [{**same[0], "reason_codes": ("TIER",)}]) is None
    message = first_difference("output", same, [{**same[0], "tier": "monthly"}])
    assert message is not None
    assert "output row 0, column 'tier'" in message
    assert "'weekly'" in message and "'monthly'" in message
    # 1 and 1.0 are different outputs (an int column is not a float column)
    assert first_difference("output", [{"n": 1}], [{"n": 1.0}]) is not None
    assert first_difference("output", same, same * 2) == (
        "output: the per-record engine gave 1 row, the batch engine 2 rows")
    columns = first_difference("output", same, [{"tier": "weekly", "row": 1,
                                                 "reason_codes": ["TIER"]}])
    assert columns is not None and "the columns differ" in columns


def test_the_helper_fails_when_the_engines_disagree(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = civicscore.load(ROOT / "policies" / "example-district.toml")
    records = list(read_records(ROOT / "examples" / "visits-households.csv"))
    scheme = type(policy.visits)
    real = scheme.batch

    def tampered(self: Any, source: Any, **kwargs: Any) -> Any:
        result = real(self, source, **kwargs)
        import polars as pl

        result.output = result.output.with_columns(
            pl.when(pl.col("row") == 2).then(pl.lit("nobody")).otherwise(pl.col("tier"))
            .alias("tier"))
        return result

    monkeypatch.setattr(scheme, "batch", tampered)
    with pytest.raises(EvaluatorsDisagree, match=r"output row 1, column 'tier'"):
        assert_evaluators_agree(policy, "visits", records, as_of=AS_OF)
