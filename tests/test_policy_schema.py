"""The policy JSON Schema that editors use: every shipped policy validates, mistakes
are reported at the key, and every key is described in Chinese and English.

The validation tests use the ``jsonschema`` package (in the ``dev`` extra), the
same draft 2020-12 semantics as Taplo, the engine of VS Code's Even Better TOML;
Taplo itself (npm) is not needed by the suite.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from civicscore.policy.schema import (
    docs_problems,
    load_docs,
    policy_schema,
    properties,
    pydantic_schema,
)

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(
    [*ROOT.glob("policies/*.toml"), *ROOT.glob("src/civicscore/policies/*.toml"),
     *ROOT.glob("plugins/*/src/**/*.toml"), *ROOT.glob("plugins/*/examples/**/*.toml")],
    key=str)
SHIPPED = [p for p in SHIPPED if p.name != "pyproject.toml"]
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return policy_schema()


def as_json(value: Any) -> Any:
    """TOML data as an editor hands it to the schema: dates and times as ISO text."""
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if isinstance(value, (dt.date, dt.time)):  # dt.datetime is a dt.date
        return value.isoformat()
    return value


def read(path: Path) -> dict[str, Any]:
    with path.open("rb") as f:
        data: dict[str, Any] = as_json(tomllib.load(f))
    return data


def errors(schema: dict[str, Any], data: dict[str, Any]) -> list[Any]:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(schema)
    return sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))


def test_every_kind_of_shipped_policy_is_found() -> None:
    names = {p.name for p in SHIPPED}
    assert {"baseline.toml", "example-district.toml", "policy.toml"} <= names
    assert sum(1 for p in SHIPPED if "plugins" in p.parts) >= 5


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_policy_validates(schema: dict[str, Any], path: Path) -> None:
    found = errors(schema, read(path))
    assert not found, "\n".join(f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
                                for e in found)


def _example() -> dict[str, Any]:
    return read(ROOT / "policies" / "example-district.toml")


def test_a_misspelt_key_names_the_key_in_its_own_table(schema: dict[str, Any]) -> None:
    data = _example()
    data["visits"]["hit_polcy"] = "first"
    [e] = errors(schema, data)
    # JSON Schema places an unknown key's error on its table and names the key; Taplo
    # underlines the key itself
    assert (list(e.absolute_path), e.validator) == (["visits"], "additionalProperties")
    assert "'hit_polcy' was unexpected" in e.message


def test_a_rate_of_the_wrong_type_is_reported_at_the_rate(schema: dict[str, Any]) -> None:
    data = _example()
    data["volunteer"]["activities"]["patrol"]["points_per_hour"] = "3"
    [e] = errors(schema, data)
    assert list(e.absolute_path) == ["volunteer", "activities", "patrol", "points_per_hour"]
    assert e.validator == "type" and e.validator_value == ["number", "object"]


def test_a_dated_rate_with_a_bad_date_is_reported_at_the_rate(
        schema: dict[str, Any]) -> None:
    data = _example()
    data["volunteer"]["activities"]["patrol"]["points_per_hour"] = {"2025-7-1": 3}
    [e] = errors(schema, data)
    assert list(e.absolute_path) == ["volunteer", "activities", "patrol", "points_per_hour"]
    assert e.validator == "additionalProperties" and "'2025-7-1'" in e.message


def test_an_unknown_cadence_is_reported_at_the_cadence(schema: dict[str, Any]) -> None:
    data = _example()
    data["visits"]["tiers"][0]["cadence"] = "montly"
    [e] = errors(schema, data)
    assert (list(e.absolute_path), e.validator) == (["visits", "tiers", 0, "cadence"],
                                                   "pattern")


def test_a_locality_need_not_repeat_inherited_keys(schema: dict[str, Any]) -> None:
    """A tier that only changes its cadence, a fact that only adds a label, a new visits
    table with no default_tier: all complete once merged with what is inherited."""
    data = _example()
    data["visits"] = {"tiers": [{"id": "routine", "cadence": "monthly"}]}
    data["facts"]["household"] = {"age_oldest": {"label": "最年长成员年龄"}}
    assert errors(schema, data) == []


def test_a_policy_that_extends_nothing_must_be_complete(schema: dict[str, Any]) -> None:
    data = read(ROOT / "src" / "civicscore" / "policies" / "baseline.toml")
    assert errors(schema, data) == []
    del data["visits"]["default_tier"]
    del data["visits"]["tiers"][0]["cadence"]
    found = [(list(e.absolute_path), e.validator, e.message) for e in errors(schema, data)]
    assert found == [
        (["visits"], "required", "'default_tier' is a required property"),
        (["visits", "tiers", 0], "required", "'cadence' is a required property"),
    ]
    data["visits"]["tiers"] = []
    assert ["visits", "tiers"] in [list(e.absolute_path) for e in errors(schema, data)
                                   if e.validator == "minItems"]


def test_a_locality_keeps_its_own_tables_complete(schema: dict[str, Any]) -> None:
    """[policy] and [[case]] are never inherited: a locality writes them whole."""
    data = _example()
    del data["policy"]["version"]
    data["case"] = [{"name": "no expect", "scheme": "visits", "as_of": "2025-01-01"}]
    found = [(list(e.absolute_path), e.message) for e in errors(schema, data)]
    assert found == [(["case", 0], "'expect' is a required property"),
                     (["policy"], "'version' is a required property")]


def _nodes(node: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if isinstance(node, dict):
        out.append(node)
        for v in node.values():
            out.extend(_nodes(v))
    elif isinstance(node, list):
        for v in node:
            out.extend(_nodes(v))
    return out


def test_no_null_and_no_choice_of_one(schema: dict[str, Any]) -> None:
    """TOML has no null; a one-branch anyOf only hides the real error behind its own."""
    text = json.dumps(schema)
    assert '"null"' not in text
    for node in _nodes(schema):
        assert len(node.get("anyOf", [1, 2])) >= 2, node
        assert not ("default" in node and node["default"] is None), node


def test_unknown_keys_stay_forbidden_where_the_model_forbids_them(
        schema: dict[str, Any]) -> None:
    raw = pydantic_schema()
    assert raw["additionalProperties"] is False
    assert schema["additionalProperties"] is False
    for name, definition in raw["$defs"].items():
        if "properties" in definition:
            assert schema["$defs"][name].get("additionalProperties") == \
                definition.get("additionalProperties"), name


def test_every_property_is_described_in_chinese_and_english(
        schema: dict[str, Any]) -> None:
    seen = 0
    for path, prop in properties(schema):
        seen += 1
        zh, sep, en = prop.get("description", "").partition(" / ")
        assert sep and CJK.search(zh) and en and not CJK.search(en), path
        assert prop["markdownDescription"] == f"{zh}\n\n{en}", path
    assert seen > 150


def test_the_bilingual_docs_file_matches_the_format() -> None:
    problems = docs_problems(load_docs())
    assert problems == [], "\n".join(problems)


def test_the_docs_check_finds_each_kind_of_problem() -> None:
    """A new model field without docs, a stale path and a repeated English all fail."""
    docs = load_docs()
    paths = dict(docs["paths"])
    del paths["visits.tiers.cadence"]  # the model has English: Chinese is missing
    del paths["volunteer.caps.hours_per_day"]  # neither language
    paths["visits.tiers.cadense"] = {"zh": "频次", "en": "Cadence."}
    paths["visits.max_interval"] = {"zh": "最长间隔", "en": "Longest interval."}
    broken = {**docs, "paths": paths, "comon": {}}
    assert sorted(docs_problems(broken)) == sorted([
        "visits.tiers.cadence: no Chinese description in schema_docs.toml",
        "volunteer.caps.hours_per_day: no Chinese description in schema_docs.toml",
        "volunteer.caps.hours_per_day: no English description (in the model's Field, "
        "or en in schema_docs.toml)",
        "visits.max_interval: en in schema_docs.toml repeats the model's description; "
        "remove it there",
        "schema_docs.toml names 'visits.tiers.cadense', which the format does not have",
        "schema_docs.toml: unknown table [comon]",
    ])


def test_the_model_english_is_kept() -> None:
    raw = pydantic_schema()
    cadence = raw["$defs"]["Tier"]["properties"]["cadence"]["description"]
    shipped = policy_schema()["$defs"]["Tier"]["properties"]["cadence"]["description"]
    assert shipped.endswith(" / " + cadence)


def test_the_documented_taplo_config_points_at_the_shipped_schema() -> None:
    """docs/editors.md's `.taplo.toml` (written twice, zh and en) names the schema file
    that ships and covers the shipped example policy."""
    text = (ROOT / "docs" / "editors.md").read_text(encoding="utf-8")
    block = text.split("<!-- taplo-config -->\n```toml\n", 1)[1].split("```", 1)[0]
    assert text.count(block) == 2
    config = tomllib.loads(block)
    [rule] = config["rule"]
    assert (ROOT / rule["schema"]["path"]).is_file()
    assert Path("policies/example-district.toml").match(rule["include"][0].replace("**/", ""))
    first_line = (ROOT / "policies" / "example-district.toml").read_text().splitlines()[0]
    assert first_line == "#:schema ./civicscore-policy.schema.json"
