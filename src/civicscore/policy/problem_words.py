"""What a policy file's problems say, in Chinese and English: one table, every reader.

An officer meets a policy problem before anything else a policy does ("policy.toml:12:5:
unknown key 'pionts' in volunteer.activities.patrol (did you mean 'points'?)"), and many
officers read Chinese first. The problems the loader finds while it reads a file (the
TOML syntax, the keys and types every policy shares) are worded here once per language;
a :class:`~civicscore.errors.Problem` carries both (``message_zh``, ``hint_zh``) and
``messages.problem_line`` shows the officer's language. The English words are the ones
editors and scripts already parse and do not change.

* :data:`SENTENCES`: a problem's message or hint by name, ``{slot}``\\ s filled by
  :func:`both`; a Chinese template may name ``{x_zh}`` where its value is not the
  English one (the kind of value expected: 整数 for "a whole number").
* :data:`TOML_ERRORS`: the parser's own words (``tomllib``'s, a closed list) in
  Chinese; a message the table does not know stays as the parser wrote it.
* :data:`TYPE_WORDS`: the kind of value a key expects, by pydantic's error type.
"""

from __future__ import annotations

import re
from typing import Any

from .._bilingual import fill_both

SENTENCES: dict[str, dict[str, str]] = {
    # reading the file
    "not_utf8": {"en": "the file is not valid UTF-8 text",
                 "zh": "文件不是有效的 UTF-8 文本"},
    "save_utf8": {"en": "save it as UTF-8",
                  "zh": "请另存为 UTF-8 编码（记事本或编辑器：另存为，编码选 UTF-8）"},
    "toml_syntax": {"en": "TOML syntax error: {msg}",
                    "zh": "TOML 语法错误：{msg_zh}"},
    "too_deep": {"en": "TOML nesting is too deep", "zh": "TOML 嵌套层数过多"},
    "nest_at_most": {"en": "nest arrays and tables at most {depth} deep",
                     "zh": "数组和表最多嵌套 {depth} 层"},
    # hints for a syntax error, from the line it is on
    "full_width": {"en": "did you mean: {fixed} ({shown} typed on a Chinese keyboard; TOML "
                         "needs half-width punctuation)",
                   "zh": "是否想写：{fixed}（{shown_zh} 是中文输入法下的全角符号；TOML 需要"
                         "半角（英文）标点）"},
    "chinese_key": {"en": "keys are written in English letters (e.g. patrol); Chinese goes "
                          "in quotes as a value: label = \"{key}\"",
                    "zh": "键名要用英文字母书写（如 patrol）；中文请加引号作为值写入："
                          "label = \"{key}\""},
    "chinese_inline_key": {"en": "inside {{ }} a key is a name too: write it in English "
                                 "letters, as the policy names the field (e.g. night_patrol), "
                                 "or put it in quotes: \"{key}\" = ...",
                           "zh": "{{ }} 中的键也是名称：请按政策中的字段名用英文字母书写"
                                 "（如 night_patrol），或加上引号：\"{key}\" = ..."},
    "quote_text": {"en": "text values need quotes, e.g. label = \"巡逻\"",
                   "zh": "文本值要加引号，如 label = \"巡逻\""},
    "key_once": {"en": "each key may be written once per table",
                 "zh": "同一个表中每个键只能写一次"},
    # the keys and values every policy shares
    "unknown_key": {"en": "unknown key {key} in {where}",
                    "zh": "{where_zh}中有未知的键 {key}"},
    "allowed_keys": {"en": "allowed keys: {keys}", "zh": "允许的键：{keys_zh}"},
    "missing_key": {"en": "missing required key {key} in {where}",
                    "zh": "{where_zh}缺少必填的键 {key}"},
    "expected": {"en": "expected {what}, got {got}", "zh": "应为{what_zh}，实际为{got_zh}"},
    "too_long": {"en": "text is longer than {limit} characters ({n})",
                 "zh": "文本超过 {limit} 个字符（共 {n} 个）"},
    "not_identifier": {"en": "{got} is not a valid identifier",
                       "zh": "{got_zh} 不是有效的标识符"},
    "identifier_fix": {"en": "use a letter, then letters, digits, '_' or '-' "
                             "(e.g. 'night_patrol')",
                       "zh": "以英文字母开头，后面只用字母、数字、“_”或“-”（如 'night_patrol'）"},
    "remove_quotes": {"en": "remove the quotes: {value}", "zh": "去掉引号：{value}"},
    "not_a_cadence": {"en": "{got} is not a cadence", "zh": "{got} 不是有效的探访周期"},
    "cadence_word": {"en": "write {word} for {value}", "zh": "“{value}”请写作 {word}"},
    "cadence_fix": {"en": "write a period such as P7D or P2M, or one of {words}",
                    "zh": "请写一个周期，如 P7D（7 天）或 P2M（2 个月），或以下之一：{words_zh}"},
    # extends and overrides
    "changes_inherited": {"en": "changes {key}, which {parent} already defines",
                          "zh": "修改了 {key}，但 {parent} 已经规定了它"},
    "override_it": {"en": "to change it on purpose, add {key} to [policy] overrides",
                    "zh": "如确需修改，请把 {key} 加入 [policy] 的 overrides"},
    "adds_meaning": {"en": "adds {key} to fact {fact}, which {parent} declares: that changes "
                           "what the fact means",
                     "zh": "给 {parent} 已声明的事实 {fact} 加上了 {key}：这会改变该事实的含义"},
    "override_unused": {"en": "overrides {key}, but this file does not change it",
                        "zh": "overrides 列出了 {key}，但本文件并没有修改它"},
    "override_unused_fix": {"en": "remove it from [policy] overrides, or change the key",
                            "zh": "请从 [policy] 的 overrides 中删去它，或修改这个键"},
    "override_unknown": {"en": "overrides {key}, which {parent} does not define",
                         "zh": "overrides 列出了 {key}，但 {parent} 中没有这个键"},
    "extends_empty": {"en": "'extends' is empty", "zh": "“extends”为空"},
    "extends_empty_fix": {"en": "name the policy to extend, or remove the key",
                          "zh": "请写明要继承的政策，或删去这个键"},
    "overrides_alone": {"en": "'overrides' without 'extends': there is no inherited key to "
                              "override",
                        "zh": "有“overrides”却没有“extends”：没有继承来的键可以覆盖"},
    "overrides_alone_fix": {"en": "add 'extends', or remove 'overrides'",
                            "zh": "请加上“extends”，或删去“overrides”"},
    "extends_deep": {"en": "'extends' goes deeper than {depth} policies",
                     "zh": "“extends”的继承超过 {depth} 层"},
    "extends_cycle": {"en": "{name} extends this file again (a cycle)",
                      "zh": "{name} 又继承了本文件（循环继承）"},
    "extends_missing": {"en": "cannot find the policy {name} to extend",
                        "zh": "找不到要继承的政策 {name}"},
    "extends_missing_fix": {"en": "give a .toml path relative to this file, or the name of an "
                                  "installed policy",
                            "zh": "请写相对于本文件的 .toml 路径，或已安装政策的名称"},
    "extends_outside": {"en": "{name} is outside the policy roots ({roots})",
                        "zh": "{name} 不在允许读取政策的目录中（{roots}）"},
    "extends_outside_fix": {"en": "a policy may extend files under its own directory or an "
                                  "installed policy by name; add a directory with "
                                  "--policy-root",
                            "zh": "政策只能继承本目录下的文件，或按名称继承已安装的政策；"
                                  "可用 --policy-root 增加目录"},
    # [facts]: what a fact may be, and what no policy may read
    "fact_name": {"en": "fact name {name} cannot be used in expressions",
                  "zh": "事实名 {name} 不能在表达式中使用"},
    "fact_name_fix": {"en": "use a name of letters, digits and '_' that does not start with "
                            "'_' or a digit, e.g. {fix}",
                      "zh": "请用字母、数字和“_”组成名称，不以“_”或数字开头，如 {fix}"},
    "rename_it": {"en": "rename it", "zh": "请改名"},
    "fact_protected": {"en": "fact {name} denotes a protected characteristic ({why}); policies "
                             "may not read it",
                       "zh": "事实 {name} 属于受保护的个人特征（{why_zh}）；政策不得读取"},
    "fact_control": {"en": "fact {name} names {why}; no policy keeps a category of people to "
                           "watch",
                     "zh": "事实 {name} 是{why_zh}类别；政策不设盯防人员的类别"},
    "fact_health": {"en": "fact {name} is about {why}, but declares no care concept",
                    "zh": "事实 {name} 涉及{why_zh}，但没有声明照护概念"},
    "fact_health_fix": {"en": "declare it as a care need: concept = \"{concept}\" (then only "
                              "visit tiers read it, to give care; 健康信息只能作为照护需求申报，"
                              "仅供探访分级使用)",
                        "zh": "请声明为照护需求：concept = \"{concept}\"（此后只有探访分级能读取"
                              "它，用于提供关怀；健康信息只能作为照护需求申报，仅供探访分级使用）"},
    "fact_health_fix_any": {"en": "declare it as a care need with the concept it carries "
                                  "(civicscore care-vocabulary lists them), or leave it out "
                                  "(健康信息只能作为照护需求申报)",
                            "zh": "请声明为照护需求并写明它对应的照护概念（civicscore "
                                  "care-vocabulary 列出全部概念），或删去这个事实（健康信息只能"
                                  "作为照护需求申报）"},
    "value_protected": {"en": "value {value} of fact {name} denotes a protected characteristic "
                              "({why})",
                        "zh": "事实 {name} 的取值 {value} 属于受保护的个人特征（{why_zh}）"},
    "default_protected": {"en": "the default {value} of fact {name} denotes a protected "
                                "characteristic ({why})",
                          "zh": "事实 {name} 的默认值 {value} 属于受保护的个人特征（{why_zh}）"},
    "not_who": {"en": "scores recognise effort and allocate care by need; they may not sort "
                      "people by who they are (评分认可贡献、按需分配关怀，不按身份区分人)",
                "zh": "评分认可贡献、按需分配关怀，不按身份区分人"},
    "concept_not_care": {"en": "fact {name} carries the care concept {concept} but says "
                               "care_need = false",
                         "zh": "事实 {name} 带有照护概念 {concept}，却写了 care_need = false"},
    "concept_not_care_fix": {"en": "remove care_need (a concept makes the fact a care need), "
                                   "or remove the concept",
                             "zh": "请删去 care_need（有照护概念的事实即是照护需求），或删去概念"},
    "text_mentions_protected": {"en": "{what} mentions a protected characteristic ({why}); a "
                                      "name of what people do may, but no rule may read who "
                                      "they are",
                                "zh": "{what_zh}提到了受保护的个人特征（{why_zh}）；活动名称可以"
                                      "提到，但规则不得读取一个人的身份"},
    "text_protected": {"en": "{what} denotes a protected characteristic ({why}); policies may "
                             "not read it",
                       "zh": "{what_zh}属于受保护的个人特征（{why_zh}）；政策不得读取"},
    "text_mentions_control": {"en": "{what} mentions {why}; a name of what people do may, but "
                                    "no rule may sort who they are by it",
                              "zh": "{what_zh}提到了{why_zh}；活动名称可以提到，但规则不得据此给人"
                                    "分类"},
    "text_control_care": {"en": "{what} names {why}; visits allocate care, they do not watch "
                                "people",
                          "zh": "{what_zh}是{why_zh}类别；探访是分配关怀，不是盯防人员"},
    "text_control_care_fix": {"en": "name the tier by the care it gives (每周探访 / weekly "
                                    "visits), not by whom it watches",
                              "zh": "请按提供的关怀给等级命名（如“每周探访”），"
                                    "不要按盯防的对象命名"},
    "text_control": {"en": "{what} names {why}; scores recognise what people do, they do not "
                           "watch people",
                     "zh": "{what_zh}是{why_zh}类别；评分认可人们做的事，不是盯防人员"},
    "text_control_fix": {"en": "name it by what it recognises (e.g. 遵纪守法 / law-abiding), "
                               "not by whom it watches (评分不设管控类别)",
                         "zh": "请按它认可的行为命名（如“遵纪守法”），不要按盯防的对象命名"
                               "（评分不设管控类别）"},
    "enum_needs_values": {"en": "an enum fact needs its allowed values",
                          "zh": "枚举（enum）类型的事实需要写明可选值"},
    "add_values": {"en": "add values = [\"a\", \"b\"]", "zh": "请加上 values = [\"a\", \"b\"]"},
    "values_only_enum": {"en": "'values' only applies to enum facts, this one is {kind}",
                         "zh": "只有枚举（enum）事实才能写“values”，这个事实是{kind_zh}"},
    "set_enum": {"en": "set type = \"enum\"", "zh": "请写 type = \"enum\""},
    "min_max_only_numbers": {"en": "min/max only apply to int and decimal facts, this one is "
                                   "{kind}",
                             "zh": "只有整数（int）和数字（decimal）事实才能写 min/max，这个事实是"
                                   "{kind_zh}"},
    "min_above_max": {"en": "min {min} is greater than max {max}",
                      "zh": "下限 min {min} 大于上限 max {max}"},
    "optional_only_date": {"en": "only date facts can be optional (a missing date means "
                                 "'never')",
                           "zh": "只有日期事实可以是可选的（没填日期表示“从未”）"},
    "give_default": {"en": "give the fact a default instead", "zh": "请改为给这个事实一个默认值"},
    "optional_with_default": {"en": "an optional date fact cannot also have a default",
                              "zh": "可选的日期事实不能同时有默认值"},
    "default_invalid": {"en": "default {value} is not a valid {kind} value",
                        "zh": "默认值 {value} 不是有效的{kind_zh}"},
    "default_not_enum": {"en": "default {value} is not a valid enum value (allowed: {allowed})",
                         "zh": "默认值 {value} 不是可选值之一（可选值：{allowed_zh}）"},
    "default_outside": {"en": "default {value} is outside min/max",
                        "zh": "默认值 {value} 超出了 min/max 的范围"},
    "got_value": {"en": "{msg} (got {got})", "zh": "{msg}（实际为{got_zh}）"},
}
"""A policy problem's message or hint, by name, in each language."""

TOML_ERRORS: dict[str, str] = {
    "Cannot overwrite a value": "不能覆盖已有的值",
    "Escaped character is not a Unicode scalar value": "转义字符不是有效的 Unicode 字符",
    "Expected '=' after a key in a key/value pair": "键的后面应为“=”",
    "Expected ']' at the end of a table declaration": "表头末尾应为“]”",
    "Expected newline or end of document after a statement": "一条语句之后应换行（或文件结束）",
    "Expected ']]' at the end of an array declaration": "表数组的表头末尾应为“]]”",
    "Invalid date or datetime": "无效的日期或时间",
    "Invalid hex value": "无效的十六进制值",
    "Invalid initial character for a key part": "键名的第一个字符无效",
    "Invalid statement": "无效的语句",
    "Invalid value": "无效的值",
    "Unclosed array": "数组没有闭合（缺少“]”）",
    "Unclosed inline table": "内联表没有闭合（缺少“}”）",
    "Unescaped '\\' in a string": "字符串中有未转义的“\\”",
    "Unterminated string": "字符串没有结束（缺少引号）",
}
"""``tomllib``'s fixed messages in Chinese (its messages with a value in them are in
:data:`_TOML_PATTERNS`)."""

_TOML_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"Cannot declare (.+) twice", re.S), r"不能重复声明 \1"),
    (re.compile(r"Cannot mutate immutable namespace (.+)", re.S), r"不能修改不可变的表 \1"),
    (re.compile(r"Cannot redefine namespace (.+)", re.S), r"不能重新定义表 \1"),
    (re.compile(r"Duplicate inline table key (.+)", re.S), r"内联表中的键 \1 重复"),
    (re.compile(r"Found invalid character (.+)", re.S), r"发现无效字符 \1"),
    (re.compile(r"Illegal character (.+)", re.S), r"非法字符 \1"),
    (re.compile(r"Expected (.+)", re.S), r"应为 \1"),
]

TYPE_WORDS: dict[str, dict[str, str]] = {
    "float_type": {"en": "a number", "zh": "数字"},
    "int_type": {"en": "a whole number", "zh": "整数"},
    "int_from_float": {"en": "a whole number", "zh": "整数"},
    "string_type": {"en": "text in quotes", "zh": "带引号的文本"},
    "bool_type": {"en": "true or false", "zh": "布尔值 true 或 false"},
    "date_type": {"en": "a date such as 2025-01-01 (without quotes)",
                  "zh": "日期，如 2025-01-01（不加引号）"},
    "list_type": {"en": "a list [ ... ]", "zh": "列表 [ ... ]"},
    "dict_type": {"en": "a table", "zh": "表"},
    "model_type": {"en": "a table", "zh": "表"},
    "model_attributes_type": {"en": "a table", "zh": "表"},
}
"""What a key expects, by pydantic's error type, in each language."""

FACT_TYPES_ZH = {"bool": "真假值（bool）", "int": "整数（int）", "decimal": "数字（decimal）",
                 "string": "文本（string）", "enum": "枚举（enum）", "date": "日期（date）",
                 "datetime": "日期时间（datetime）"}
"""A fact's ``type`` in Chinese, the TOML word beside it."""

SPACE_ZH = "全角空格"
"""The ideographic space (U+3000), named in a hint (it cannot be seen)."""


def both(sentence: str, /, **values: Any) -> tuple[str, str]:
    """The ``sentence`` in English and in Chinese, with ``values`` filled in; a Chinese
    ``{x_zh}`` slot takes ``x_zh`` when given, else ``x``."""
    return fill_both(SENTENCES[sentence], values)


def toml_error(message: str) -> str:
    """``tomllib``'s message in Chinese, or as it is when the table does not know it."""
    known = TOML_ERRORS.get(message)
    if known is not None:
        return known
    for pattern, zh in _TOML_PATTERNS:
        if pattern.fullmatch(message):
            return pattern.sub(zh, message)
    return message


def why_zh(why: str) -> str:
    """What a protected, control or health check found, in Chinese: the category's
    Chinese name, which :mod:`.protected` writes in brackets after the English
    (``ethnicity or race (民族/种族)``), and the detail after a colon in words."""
    head, _, detail = why.partition(": ")
    found = re.search(r"\(([^()]*)\)\s*$", head)
    name = found.group(1) if found else head
    if detail == "the name of an ethnic group":
        return f"{name}：民族名称"
    return f"{name}：{detail}" if detail else name


def where_zh(where: str) -> str:
    """The table a key is in, as a Chinese sentence names it: “[volunteer]” 表, 文件顶层."""
    return "文件顶层" if where == "the top level" else f"[{where}] 表"


__all__ = ["SENTENCES", "TOML_ERRORS", "TYPE_WORDS", "both", "toml_error", "where_zh"]
