"""A policy file's problems are told in Chinese too: what the loader finds while it reads
a file (TOML syntax, keys, types, identifiers, cadences) carries its message and hint in
both languages, ``check --lang zh`` shows the Chinese, and the English words that
editors and scripts parse did not change."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from civicscore.cli import main
from civicscore.errors import PolicyError, Problem
from civicscore.messages import problem_line
from civicscore.policy import problem_words as pw
from civicscore.policy.load import read_source

HEAD = '[policy]\nid = "t"\nversion = "1"\n'


def _slots(template: str) -> set[str]:
    return {s[:-3] if s.endswith("_zh") else s for s in re.findall(r"(?<!\{)\{(\w+)\}", template)}


@pytest.mark.parametrize("name", sorted(pw.SENTENCES))
def test_every_sentence_is_in_both_languages_with_the_same_slots(name: str) -> None:
    texts = pw.SENTENCES[name]
    assert set(texts) == {"en", "zh"}
    assert _slots(texts["en"]) == _slots(texts["zh"])
    assert re.search(r"[\u4e00-\u9fff]", texts["zh"]), "the Chinese sentence has no Chinese"


def test_every_fixed_tomllib_message_is_known() -> None:
    """tomllib's fixed messages (a closed list, read from its source) all have Chinese."""
    import tomllib._parser as parser

    source = Path(parser.__file__).read_text(encoding="utf-8")
    fixed = set(re.findall(r'suffixed_err\(\s*src,\s*\w+,\s*"([^"{]+)"\s*\)', source))
    assert fixed, "tomllib's messages were not found: its source changed"
    assert {m.replace("\\\\", "\\") for m in fixed} <= set(pw.TOML_ERRORS)


def _problems(text: str) -> list[Problem]:
    with pytest.raises(PolicyError) as e:
        read_source("p.toml", text, None)
    return list(e.value.problems)


@pytest.mark.parametrize(("line", "message_zh", "hint_zh"), [
    ('label ＝ "巡逻"', "TOML 语法错误：键的后面应为“=”",
     '是否想写：label = "巡逻"（＝ 是中文输入法下的全角符号；TOML 需要半角（英文）标点）'),
    ('label\u3000= "巡逻"', "TOML 语法错误：键的后面应为“=”",
     '是否想写：label = "巡逻"（全角空格 是中文输入法下的全角符号；TOML 需要半角（英文）标点）'),
    ("巡逻 = 2", "TOML 语法错误：无效的语句",
     '键名要用英文字母书写（如 patrol）；中文请加引号作为值写入：label = "巡逻"'),
    ("label = 巡逻", "TOML 语法错误：无效的值", '文本值要加引号，如 label = "巡逻"'),
    ("x = 1\nx = 2", "TOML 语法错误：不能覆盖已有的值", "同一个表中每个键只能写一次"),
    ("x = 1 y = 2", "TOML 语法错误：一条语句之后应换行（或文件结束）", ""),
    ('x = "open', "TOML 语法错误：非法字符 '\\n'", ""),
])
def test_toml_syntax_errors_in_chinese(line: str, message_zh: str, hint_zh: str) -> None:
    (problem,) = _problems(HEAD + line + "\n")
    assert problem.message.startswith("TOML syntax error: ")
    assert (problem.message_zh, problem.hint_zh) == (message_zh, hint_zh)


def test_a_file_that_is_not_utf8_in_chinese() -> None:
    (problem,) = _problems_bytes(HEAD.encode() + 'label = "巡逻"\n'.encode("gbk"))
    assert problem.message == "the file is not valid UTF-8 text"
    assert problem.message_zh == "文件不是有效的 UTF-8 文本"
    assert problem.hint_zh.startswith("请另存为 UTF-8 编码")


def _problems_bytes(raw: bytes) -> list[Problem]:
    with pytest.raises(PolicyError) as e:
        read_source("p.toml", raw, None)
    return list(e.value.problems)


def _check(tmp_path: Path, text: str, lang: str) -> str:
    path = tmp_path / "p.toml"
    path.write_text(HEAD + text, encoding="utf-8")
    r = CliRunner().invoke(main, ["--lang", lang, "check", str(path)])
    assert r.exit_code == 1, r.output
    return r.output


VOLUNTEER = '[volunteer.activities.patrol]\npoints_per_hour = 1\n'


@pytest.mark.parametrize(("text", "en", "zh"), [
    (VOLUNTEER + "pionts_per_event = 2\n",
     "unknown key 'pionts_per_event' in volunteer.activities.patrol",
     "第 6 行第 1 列：[volunteer.activities.patrol] 表中有未知的键 'pionts_per_event' "
     "[volunteer.activities.patrol.pionts_per_event]（建议：是否想写 'points_per_event'？）"),
    ("[policy.nonsense]\n", "unknown key 'nonsense' in policy",
     "[policy] 表中有未知的键 'nonsense' [policy.nonsense]（建议：允许的键：'description'、"
     "'effective'、'extends'、'id'、'locale'、'overrides'、'references'、'review_by'、"
     "'title' 或 'version'）"),
    ('[visits]\ndefault_tier = "w"\n[[visits.tiers]]\nid = "w"\ncadence = "每月"\n',
     "'每月' is not a cadence",
     "'每月' 不是有效的探访周期 [visits.tiers[0].cadence]（建议：“每月”请写作 'monthly'）"),
    ('[visits]\ndefault_tier = "w"\n[[visits.tiers]]\nid = "w"\ncadence = "montly"\n',
     "'montly' is not a cadence",
     "'montly' 不是有效的探访周期 [visits.tiers[0].cadence]（建议：是否想写 'monthly'？）"),
    ('[visits]\n[[visits.tiers]]\nid = "w"\ncadence = "monthly"\n',
     "missing required key 'default_tier' in visits", "[visits] 表缺少必填的键 'default_tier'"),
    ('[volunteer]\noverlap = "alow"\n' + VOLUNTEER,
     "expected 'reject' or 'allow', got text 'alow'",
     "应为 'reject' 或 'allow' 之一，实际为文本 'alow' [volunteer.overlap]"
     "（建议：是否想写 'allow'？）"),
    ('[volunteer]\nconfirmation_required = "true"\n' + VOLUNTEER,
     "expected true or false, got text 'true'",
     "应为布尔值 true 或 false，实际为文本 'true' [volunteer.confirmation_required]（建议：去掉引号：true）"),
    ('[visits]\ndefault_tier = "w"\n[[visits.tiers]]\nid = "weekly visit"\n'
     'cadence = "weekly"\n', "'weekly visit' is not a valid identifier",
     "文本 'weekly visit' 不是有效的标识符 [visits.tiers[0].id]（建议：以英文字母开头，后面只用"
     "字母、数字、“_”或“-”（如 'night_patrol'））"),
])
def test_check_says_the_policys_problems_in_chinese(tmp_path: Path, text: str, en: str,
                                                    zh: str) -> None:
    assert en in _check(tmp_path, text, "en")
    said = _check(tmp_path, text, "zh")
    assert zh in said, said
    assert "第 " in said and " 列：" in said  # the Chinese frame: 第 N 行第 M 列


def test_a_problem_line_falls_back_to_english_inside_the_chinese_frame() -> None:
    """A check that has no Chinese for its problem still shows it, in the Chinese frame."""
    p = Problem("p.toml", 3, 5, "something only English says", "a.b", "a hint")
    assert problem_line(p, "zh") == ("p.toml 第 3 行第 5 列：something only English says [a.b]"
                                     "（建议：a hint）")


@pytest.mark.parametrize(("text", "zh"), [
    ('extends = "baseline"\n[visits]\nmax_interval = "monthly"\n',
     "修改了 'visits.max_interval'，但 <civicscore>/baseline 已经规定了它 [visits.max_interval]"
     "（建议：如确需修改，请把 'visits.max_interval' 加入 [policy] 的 overrides）"),
    ('extends = "baseline"\noverrides = ["visits.max_intervl"]\n',
     "overrides 列出了 'visits.max_intervl'，但 <civicscore>/baseline 中没有这个键 "
     "[policy.overrides[0]]（建议：是否想写 'visits.max_interval'？）"),
    ('extends = "no-such-policy"\n',
     "找不到要继承的政策 'no-such-policy' [policy.extends]（建议：请写相对于本文件的 .toml "
     "路径，或已安装政策的名称）"),
    ('overrides = ["x"]\n', "有“overrides”却没有“extends”：没有继承来的键可以覆盖"),
])
def test_inheritance_problems_in_chinese(tmp_path: Path, text: str, zh: str) -> None:
    said = _check(tmp_path, text, "zh")
    assert zh in said, said


# --- expressions ------------------------------------------------------------------------

RULES = ('[facts.household]\nage = { type = "int", min = 0 }\n'
         'tidy = { type = "enum", values = ["good", "poor"] }\n'
         '[civility]\n[[civility.stars]]\nid = "s"\n')


@pytest.mark.parametrize(("when", "en", "zh"), [
    ("agee >= 70", "unknown name 'agee' in civility star 's'",
     "未知的名称 'agee' [civility.stars[0].when]（建议：是否想写 'age'？）"),
    ('age >= "70"', "cannot compare int with string", "不能把整数和文本相比较"),
    ('tidy == "god"', "'god' is not a value of tidy",
     "'god' 不是 tidy 的可选值 [civility.stars[0].when]（建议：是否想写 'good'？）"),
    ("age", "must give bool, this gives int", "这里应得出真假值，这个表达式得出的是整数"),
    ("true", "(write True or False with a capital letter)",
     "（建议：真假值要写作 True 或 False（首字母大写））"),
    ('abs("x") > 1', "argument 1 of abs() must be int or decimal, got string",
     "abs() 的第 1 个参数应为整数或数字，实际为文本"),
    ('tidy > "good"', "string values can only be compared with == or !=",
     "文本只能用 == 或 != 比较"),
    ("age / 0 > 1", "division by zero", "除数为零"),
    ("(age > 1", "not a valid expression: '(' was never closed",
     "不是有效的表达式：“(”没有闭合"),
    ('tidy = "good"', "(to compare, write == (one = gives a value, which a rule cannot do))",
     "不是有效的表达式：语法有误 [civility.stars[0].when]（建议：比较是否相等请写“==”"),
    ("lenn(age) > 1", "unknown function 'lenn'", "未知的函数 'lenn'"),
    ("age >= 1 # old", "'#' starts a comment", "“#”会开始一段注释，规则里不能使用"),
])
def test_expression_refusals_in_chinese(tmp_path: Path, when: str, en: str, zh: str) -> None:
    text = RULES + f"when = '{when}'\n"
    assert en in _check(tmp_path, text, "en")
    said = _check(tmp_path, text, "zh")
    assert zh in said, said


@pytest.mark.parametrize("name", sorted(__import__("civicscore.expr.error_words",
                                                   fromlist=["SENTENCES"]).SENTENCES))
def test_every_expression_sentence_is_in_both_languages(name: str) -> None:
    from civicscore.expr import error_words as ew

    texts = ew.SENTENCES[name]
    assert set(texts) == {"en", "zh"}
    zh = _slots(texts["zh"])
    assert zh <= _slots(texts["en"]), "a Chinese slot the English sentence does not fill"
    assert re.search(r"[\u4e00-\u9fff]", texts["zh"])


# --- [facts] and what no policy may read (responsible use) -------------------------------


@pytest.mark.parametrize(("text", "zh"), [
    ('[facts.household]\nethnicity = { type = "string" }\n',
     "事实 'ethnicity' 属于受保护的个人特征（民族/种族）；政策不得读取 [facts.household.ethnicity]"
     "（建议：评分认可贡献、按需分配关怀，不按身份区分人）"),
    ('[facts.household]\nkey_person = { type = "bool", label = "重点人员" }\n',
     "事实 'key_person' 是管控/重点人员类别；政策不设盯防人员的类别"),
    ('[facts.household]\ngroup = { type = "enum", values = ["汉族", "维吾尔族"] }\n',
     "事实 'group' 的取值 '汉族' 属于受保护的个人特征（民族/种族）"),
    ('[facts.household]\nsize = { type = "enum" }\n',
     "枚举（enum）类型的事实需要写明可选值 [facts.household.size.type]"
     "（建议：请加上 values = [\"a\", \"b\"]）"),
    ('[facts.household]\nsize = { type = "int", min = 5, max = 1 }\n',
     "下限 min 5 大于上限 max 1"),
    ('[facts.household]\ntidy = { type = "enum", values = ["good", "poor"], default = "god" }\n',
     "默认值 'god' 不是可选值之一（可选值：good、poor） [facts.household.tidy.default]"
     "（建议：是否想写 'good'？）"),
    ('[facts.household]\nn = { type = "int", optional = true }\n',
     "只有日期事实可以是可选的（没填日期表示“从未”）"),
    ('[visits]\ndefault_tier = "r"\n[[visits.tiers]]\nid = "r"\nlabel = "管控户"\n'
     'cadence = "monthly"\n', "是管控/重点人员类别；探访是分配关怀，不是盯防人员"),
])
def test_fact_and_responsible_use_refusals_in_chinese(tmp_path: Path, text: str,
                                                       zh: str) -> None:
    said = _check(tmp_path, text, "zh")
    assert zh in said, said


@pytest.mark.parametrize(("text", "zh"), [
    ('[facts.household]\ndisability = { type = "bool", concept = "disability", default = false }\n'
     '[civility]\n[[civility.stars]]\nid = "s"\nwhen = "not disability"\n',
     "这里不能读取 'disability'：它是照护需求（照护概念 'disability'，"),
    ('[facts.household]\ntidy = { type = "bool", default = false }\n'
     '[visits]\ndefault_tier = "r"\n[[visits.tiers]]\nid = "w"\nwhen = "tidy"\n'
     'cadence = "weekly"\n[[visits.tiers]]\nid = "r"\ncadence = "quarterly"\n',
     "这里不能读取 'tidy'：探访分级只读取照护需求，而事实"),
])
def test_care_needs_read_where_they_may_not_be_in_chinese(tmp_path: Path, text: str,
                                                          zh: str) -> None:
    said = _check(tmp_path, text, "zh")
    assert zh in said, said


VISITS_HEAD = ('[facts.household]\nage = { type = "int", min = 0, max = 130, concept = "age" }\n'
               '[visits]\n')


@pytest.mark.parametrize(("text", "zh"), [
    ('default_tier = "rutine"\n[[visits.tiers]]\nid = "routine"\ncadence = "quarterly"\n',
     "默认等级 'rutine' 不在已定义的探访等级中 [visits.default_tier]（建议：是否想写 'routine'？）"),
    ('default_tier = "r"\n[[visits.tiers]]\nid = "w"\ncadence = "weekly"\n'
     '[[visits.tiers]]\nid = "r"\ncadence = "quarterly"\n',
     "等级 'w' 需要“when”条件（只有默认等级 'r' 没有条件）"),
    ('default_tier = "r"\n[[visits.tiers]]\nid = "d"\nwhen = "age >= 90"\ncadence = "daily"\n'
     '[[visits.tiers]]\nid = "r"\ncadence = "quarterly"\n',
     "等级 'd' 每天探访一次（daily）：比每周更频繁的探访，条件中必须要求一项需要密集照护的需求"),
    ('default_tier = "r"\nmax_interval = "monthly"\n[[visits.tiers]]\nid = "r"\n'
     'cadence = "quarterly"\n',
     "等级 'r' 每 3 个月探访一次（quarterly，约 91.3 天），超过了最长间隔 max_interval 'monthly'"),
])
def test_visits_problems_in_chinese(tmp_path: Path, text: str, zh: str) -> None:
    said = _check(tmp_path, VISITS_HEAD + text, "zh")
    assert zh in said, said


@pytest.mark.parametrize(("text", "zh"), [
    ('[volunteer.activities.patrol]\npoints_per_hour = 1\npoints_per_event = 2\n',
     "活动 'patrol' 需要且只能有 points_per_hour（按小时）和 points_per_event（按次）中的一个"),
    ('[volunteer.categories.care]\ncoefficient = 1\n[volunteer.activities.patrol]\n'
     'points_per_hour = 1\ncategory = "cares"\n',
     "未知的活动类别 'cares' [volunteer.activities.patrol.category]（建议：是否想写 'care'？）"),
    ('[volunteer.activities.patrol]\npoints_per_hour = -1\n', "points_per_hour 不能为负数"),
    ('[facts.household]\nn = { type = "int", min = 0 }\n[civility]\n[[civility.stars]]\n'
     'id = "s"\nwhen = "n > 1"\n[[civility.titles]]\nmin_stars = 3\nlabel = "三星户"\n',
     "称号 '三星户' 需要 3 颗星，但一共只有 1 颗星，永远达不到"),
])
def test_volunteer_and_civility_problems_in_chinese(tmp_path: Path, text: str, zh: str) -> None:
    said = _check(tmp_path, text, "zh")
    assert zh in said, said


APPRAISAL_HEAD = ('[facts.subject]\na = { type = "decimal", min = 0, max = 100 }\n'
                  'b = { type = "decimal", min = 0, max = 100 }\n[appraisal]\n')
TWO = ('[[appraisal.indicators]]\nid = "a"\nweight = 0.5\nvalue = "a"\n'
       'normalise = { method = "none" }\n'
       '[[appraisal.indicators]]\nid = "b"\nweight = 0.4\nvalue = "b"\n'
       'normalise = { method = "none" }\n')
GRADES = ('[[appraisal.grades]]\nid = "good"\nmin_score = 60\n'
          '[[appraisal.grades]]\nid = "fail"\nmin_score = 0\n')


@pytest.mark.parametrize(("text", "zh"), [
    (TWO + GRADES, "指标权重之和为 0.9（a 0.5, b 0.4）；权重之和必须为 1"),
    (TWO.replace("0.4", "0.5") + GRADES.replace("min_score = 0", "min_score = 10"),
     "最后一个等级（fail）的 min_score 必须为 0，这样每个总分都有等级"),
    (TWO.replace("0.4", "0.5") + GRADES + '[appraisal.quota]\ngrade = "god"\nmax_share = 0.2\n',
     "未知的等级 'god' [appraisal.quota.grade]（建议：是否想写 'good'？）"),
    (TWO.replace("0.4", "0.5").replace('value = "b"\n', "") + GRADES,
     "指标 'b' 需要取值表达式 value 或评价人 raters"),
])
def test_appraisal_problems_in_chinese(tmp_path: Path, text: str, zh: str) -> None:
    said = _check(tmp_path, APPRAISAL_HEAD + text, "zh")
    assert zh in said, said


@pytest.mark.parametrize(("normalise", "zh"), [
    ('{ method = "linear", floor = 60, target = 60 }', "target 60 与 floor 60 相等；两者必须不同"),
    ('{ method = "linear", floor = 100, target = 60 }',
     "target 60 低于 floor 100，但 higher_is_better 为 true：floor 是最差的值，target 是最好的值"),
    ('{ method = "bands", bands = [{ from = 0, to = 60, score = 50 }, '
     '{ from = 50, to = 101, score = 100 }] }',
     "第 2 段 [50, 101) 与第 1 段 [0, 60) 重叠"),
    ('{ method = "none", floor = 1 }', "'floor' 只在 method = 'linear' 时使用"),
])
def test_normalisation_problems_in_chinese(tmp_path: Path, normalise: str, zh: str) -> None:
    text = (APPRAISAL_HEAD + f'[[appraisal.indicators]]\nid = "a"\nweight = 1\nvalue = "a"\n'
            f'normalise = {normalise}\n' + GRADES)
    said = _check(tmp_path, text, "zh")
    assert zh in said, said


@pytest.mark.parametrize(("text", "zh"), [
    ('[calendar]\ncountry = "XQ"\n', "不认识的节假日日历国家代码 'XQ'"),
    (VOLUNTEER + '[[case]]\nname = "c"\nscheme = "volunter"\nas_of = 2025-01-01\n'
     'input = { record_id = "a" }\nexpect = { status = "scored" }\n',
     "案例 'c' 针对评分方案 'volunter'，但本政策没有定义它 [case[0].scheme]"
     "（建议：是否想写 'volunteer'？）"),
])
def test_calendar_and_case_problems_in_chinese(tmp_path: Path, text: str, zh: str) -> None:
    said = _check(tmp_path, text, "zh")
    assert zh in said, said


def test_a_review_date_passed_is_told_in_chinese_too(tmp_path: Path) -> None:
    import datetime as dt

    import civicscore

    path = tmp_path / "p.toml"
    path.write_text(HEAD.replace('version = "1"\n', 'version = "1"\nreview_by = 2025-01-01\n')
                    + VOLUNTEER, encoding="utf-8")
    with pytest.warns(UserWarning):
        policy = civicscore.load(path, today=dt.date(2026, 1, 1))
    (due,) = [w for w in policy.warnings if w.path == "policy.review_by"]
    assert (due.message_zh, due.hint_zh) == ("本政策应在 2025-01-01 复审，已经过期",
                                             "请复审，并设定新的 review_by 日期")
