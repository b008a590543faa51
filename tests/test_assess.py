"""``civicscore assess POLICY`` (issue 11, item 9): a plain-language impact assessment record
of what a policy decides, from which data, with which human review and recourse, in
Chinese or English; a policy whose visit tiers or triggers fail the responsible-scoring
checks is not assessed, and the command says why."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import civicscore
from civicscore.cli import main
from civicscore.engine import Engine
from civicscore.policy.care import vocabulary

TODAY = dt.date(2025, 1, 1)


def run(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture(scope="module")
def karamay() -> civicscore.Policy:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return civicscore.load("karamay", today=TODAY)


def record(tmp_path: Path, *args: str) -> str:
    out = tmp_path / "assessment.md"
    r = run("assess", *args, "-o", str(out))
    assert r.exit_code == 0, r.output
    return out.read_text(encoding="utf-8")


def test_karamay_in_chinese_says_what_it_decides_from_which_data(
        tmp_path: Path, karamay: civicscore.Policy) -> None:
    text = record(tmp_path, "karamay", "--lang", "zh")
    assert text.startswith("# 算法影响评估记录：克拉玛依区")
    assert f"| 内容哈希 | {karamay.hash} |" in text and "| 政策 | karamay 2025.1 |" in text
    for heading in ("## 1. 本政策决定什么", "## 2. 依据哪些数据", "## 3. 人工复核",
                    "## 4. 救济途径", "## 5. 生成本记录时已通过的检查", "## 8. 由主管部门填写"):
        assert heading in text
    assert "What the policy decides" not in text and "From which data" not in text
    # every tier with its cadence and the care needs it reads, in the policy's words
    visits = karamay.model.visits
    assert visits is not None
    for tier in visits.tiers:
        assert f"- 等级「{tier.label}」：" in text
    assert "- 等级「关心户」：每周；依据：残疾 (`disability`)、失智 (`dementia`)、年龄 " \
           "(`age_oldest`)、独居 (`lives_alone`)、空巢 (`empty_nest`)" in text
    assert "- 等级「放心户」：每月；依据：默认等级（不符合其他等级时）" in text
    assert "- 触发「出院后24小时内探访」：出院 (`discharged_on`)后 1 天内探访" in text
    # the data: each declared fact, which are care needs with their concepts, who reads them
    vocab = vocabulary().concepts
    for name, spec in karamay.model.facts["household"].items():
        row = next(line for line in text.splitlines() if line.startswith(f"| `{name}` |"))
        if spec.care_need:
            assert f"| 是：{vocab[spec.concept or ''].label}" in row and row.endswith(
                "| visits |"), row
        else:
            assert "| 否 |" in row and "visits" not in row, row
    assert "GB/T 26341-2010" in text
    assert "共 13 项，只由探访等级和触发读取" in text
    # human review and recourse
    assert "`civicscore review LOG ID confirm --by 姓名 --reason 理由`" in text
    assert "- 一票否决 3 项：发生重大安全事故、财务违规、泄露居民个人信息" in text
    assert "`civicscore appeal LOG ID --set 字段=值`" in text
    assert "至少保存三年" in text
    assert "- 下次复审：2027-12-31" in text


def test_karamay_in_english(tmp_path: Path, karamay: civicscore.Policy) -> None:
    text = record(tmp_path, "karamay", "--lang", "en")
    assert text.startswith("# Algorithmic impact assessment record: ")
    assert "## 1. What the policy decides" in text and "本政策决定什么" not in text
    assert "- tier 'Concern household (needs regular looking-in)': every week; reads: " \
           "Disability (`disability`), Dementia (`dementia`), Age (`age_oldest`)" in text
    assert "- trigger '" in text and "a visit within 1 day(s) of Hospital discharge " \
                                     "(`discharged_on`)" in text
    assert "| `disability` | bool | Disability | yes: Disability (GB/T 26341-2010" in text
    assert "| `law_violations` | int |" in text and "| no | civility |" in text
    assert "a person may override tier" in text
    assert "How to contest:" in text and "civicscore appeal LOG ID --set FIELD=VALUE" in text
    assert "PIPL Art. 56" in text and "Canada's Algorithmic Impact Assessment" in text
    assert f"| Content hash | {karamay.hash} |" in text


def test_the_language_follows_lang_then_the_environment_then_the_locale(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CIVICSCORE_LANG", raising=False)
    assert record(tmp_path, "karamay").startswith("# 算法影响评估记录")  # locale zh-CN
    monkeypatch.setenv("CIVICSCORE_LANG", "en")
    assert record(tmp_path, "karamay").startswith("# Algorithmic impact")
    assert record(tmp_path, "karamay", "--lang", "zh").startswith("# 算法影响评估记录")


@pytest.mark.parametrize("name", Engine().policy_names())
def test_every_shipped_policy_is_assessed(name: str) -> None:
    for lang in ("zh", "en"):
        r = run("assess", name, "--lang", lang)
        assert r.exit_code == 0, r.output
        assert ("## 5. 生成本记录时已通过的检查" if lang == "zh" else
                "## 5. Checks this policy passed") in r.output


BAD = """[policy]
id = "bad-care"
version = "1"

[facts.household]
age_oldest = { type = "int", min = 0, max = 130, care_need = true }

[visits]
default_tier = "routine"

[[visits.tiers]]
id = "key"
label = "重点户"
cadence = "weekly"
when = "age_oldest >= 80"

[[visits.tiers]]
id = "routine"
cadence = "monthly"

[[visits.triggers]]
id = "everyday"
event = "as_of"
within_days = 0
"""


def test_a_policy_failing_the_checks_is_not_assessed_and_says_why(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(BAD, encoding="utf-8")
    out = tmp_path / "assessment.md"
    r = run("assess", str(path), "--lang", "en", "-o", str(out))
    assert r.exit_code == 1 and not out.exists()
    said = r.output
    assert f"{path}:13:9: the text '重点户' names a control or surveillance category" in said
    assert f"{path}:15:9: visit tier 'key' may not read 'age_oldest'" in said
    assert f"{path}:23:10: visit trigger 'everyday' may not read 'as_of'" in said
    assert "civicscore assess: no assessment written: the policy has 3 problem(s), 3 of " \
           "them visit tiers or triggers failing the responsible-scoring checks" in said
    zh = run("assess", str(path), "--lang", "zh")
    assert zh.exit_code == 1
    assert f"{path} 第 13 行第 9 列：" in zh.output
    assert "未生成评估记录：政策有 3 处问题，其中 3 处是探访等级或触发" in zh.output


DAILY = """[policy]
id = "daily"
version = "1"
locale = "en"

[facts.household]
bedridden = { type = "bool", default = false, concept = "bedridden", label = "卧床" }
lives_alone = { type = "bool", default = false, concept = "lives_alone" }
agreed_daily = { type = "bool", default = false, concept = "visit_consent", label = "同意每日探访" }

[visits]
default_tier = "routine"

[[visits.tiers]]
id = "daily_care"
label = "卧床独居老人每日探访"
label_en = "Daily visits for a bedridden elder living alone"
cadence = "daily"
when = "bedridden and lives_alone and agreed_daily"

[[visits.tiers]]
id = "routine"
cadence = "monthly"
"""


def test_a_legitimate_daily_tier_is_assessed_with_what_it_requires(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CIVICSCORE_LANG", raising=False)
    path = tmp_path / "daily.toml"
    path.write_text(DAILY, encoding="utf-8")
    text = record(tmp_path, str(path))  # locale = "en"
    assert "- tier 'Daily visits for a bedridden elder living alone' visits more often than " \
           "weekly; its condition requires: Bedridden (`bedridden`), Lives alone " \
           "(`lives_alone`), Agreed to the visiting arrangement (`agreed_daily`)" in text
    assert "| `agreed_daily` | bool | 同意每日探访 | yes: " in text
    assert "The policy declares no care need." not in text
