"""The words the command line itself says to an officer, in Chinese and English.

One catalogue (:data:`MESSAGES`, a key to one template per language) and one lookup
(:func:`say`), so that every line ``civicscore`` writes around a run (a policy's problem
count, an error, the rejected rows, "every row was rejected") is worded once per
language and picked by one rule (:func:`language`): ``--lang``, else the
``CIVICSCORE_LANG`` environment variable, else the policy's ``locale``, else English.
The details inside a line (a policy problem's message, a record's reason) come from
where they are found and are not translated here (a check that words its problem in
Chinese too gives it ``Problem.message_zh``); the Chinese frame around them is written
for officers (第 3 行第 5 列, not "line 3 column 5" word by word).
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Callable
from typing import Any, TypeVar

from .errors import Problem

T = TypeVar("T")

LANGS = ("zh", "en")
"""The languages of the catalogue; the first is the one officers read."""

MESSAGES: dict[str, dict[str, str]] = {
    "problems": {
        "en": "{n} problem(s); the policy was not used.",
        "zh": "共 {n} 处问题，本政策未被使用。",
    },
    "policy_problems": {
        "en": "{source}: {n} problem(s)",
        "zh": "{source}：共 {n} 处问题",
    },
    "ok": {
        "en": "ok: {source}: {ref}",
        "zh": "检查通过：{source}：{ref}",
    },
    "strict_refused": {
        "en": "{source}: {n} warning(s); --strict refuses a policy with warnings",
        "zh": "{source}：共 {n} 处提示；--strict 不接受带提示的政策",
    },
    "read_file": {
        "en": "{source}: read {path} (sha256 {digest})",
        "zh": "{source}：读取 {path}（sha256 {digest}）",
    },
    "from_cache": {
        "en": "civicscore: the outcome of an identical earlier check, from {path} "
              "(--no-cache checks afresh)",
        "zh": "civicscore：结果取自此前一次输入完全相同的检查，见 {path}"
              "（加 --no-cache 可重新检查）",
    },
    "engine_used": {
        "en": "{scheme}: scored by the {engine} engine with {policy} in {seconds} s",
        "zh": "{scheme}：由 {engine} 引擎按 {policy} 评分，用时 {seconds} 秒",
    },
    "error": {
        "en": "civicscore: error: {detail}",
        "zh": "civicscore：错误：{detail}",
    },
    "interrupted": {
        "en": "civicscore: interrupted",
        "zh": "civicscore：已中断",
    },
    "logged": {
        "en": "{n} decisions logged to {path}",
        "zh": "已将 {n} 条决定记入 {path}",
    },
    "rejects_written": {
        "en": "{n} rejected rows written to {path}",
        "zh": "{n} 行未通过校验，已写入 {path}",
    },
    "rejected_row": {
        "en": "rejected {input} row {row} ({id}): {reasons}",
        "zh": "{input} 第 {row} 行（{id}）未通过校验：{reasons}",
    },
    "more_rejected": {
        "en": "... and {n} more rejected rows: write them all with --rejects FILE",
        "zh": "……另有 {n} 行未通过校验：加 --rejects 文件名 可全部写出",
    },
    "all_rejected": {
        "en": "civicscore: every row of {path} was rejected; nothing was scored (exit {code})",
        "zh": "civicscore：{path} 的每一行都未通过校验，没有计分（退出码 {code}）",
    },
    "problem": {
        "en": "{file}:{line}:{col}: {label}{message}{key}{hint}",
        "zh": "{file} 第 {line} 行第 {col} 列：{label}{message}{key}{hint}",
    },
    "hint": {"en": " ({hint})", "zh": "（建议：{hint}）"},
    "warning": {"en": "warning: ", "zh": "提示："},
    # the summary line of ``score`` (schemes/base.py summary_line) and its schemes' notes
    "summary_counts": {
        "en": "{scored} of {rows_in} {noun} scored, {rejected} rejected",
        "zh": "{noun}共 {rows_in}，已计分 {scored}，未通过校验 {rejected}",
    },
    "summary_other_rejected": {
        "en": "{kind}: {n} rejected",
        "zh": "{kind}：未通过校验 {n}",
    },
    "summary_policy": {
        "en": "policy {policy}, as of {as_of}",
        "zh": "政策 {policy}，计算日 {as_of}",
    },
    "summary_warnings": {
        "en": "warnings: {warnings}",
        "zh": "提示：{warnings}",
    },
    "note_overdue": {"en": "{n} overdue", "zh": "逾期 {n} 户"},
    "note_caseloads": {"en": "{n} caseload(s)", "zh": "联络员 {n} 名"},
    "note_full_stars": {
        "en": "{n} with all {most} stars",
        "zh": "满 {most} 星 {n} 户",
    },
    "note_barred": {
        "en": "{n} barred after a revocation",
        "zh": "撤销后暂停评星 {n} 户",
    },
    "note_reviews_due": {"en": "{n} reviews due", "zh": "待复评 {n} 户"},
    "note_statements": {"en": "{n} volunteer statements", "zh": "志愿者积分结算 {n} 份"},
    "note_vetoed": {"en": "{n} vetoed", "zh": "一票否决 {n} 个"},
    "note_quota": {
        "en": "quota on {grade}: {places} place(s) for {cohort} scored, {kept} kept, "
              "{demoted} moved down",
        "zh": "{grade} 名额：已计分 {cohort} 个，名额 {places} 个，保留 {kept} 个，"
              "降档 {demoted} 个",
    },
    "note_card_quota": {
        "en": "quota on {grade} ({card}): {kept} kept, {demoted} moved down",
        "zh": "{grade} 名额（{card}）：保留 {kept} 个，降档 {demoted} 个",
    },
    "note_card_quota_by": {
        "en": "quota on {grade} ({card}, per {by}): {kept} kept, {demoted} moved down",
        "zh": "{grade} 名额（{card}，按 {by} 分组）：保留 {kept} 个，降档 {demoted} 个",
    },
    "note_confirm": {
        "en": "{n} need a person's confirmation",
        "zh": "{n} 个需人工确认",
    },
    "note_actions": {"en": "{n} actions", "zh": "触发动作 {n} 个"},
}
"""Every template in both languages (tests/test_messages.py checks that each key has
both and that their ``{names}`` agree)."""

SEPARATORS = {"en": "; ", "zh": "；"}
"""Between the parts of a summary line, in each language."""

NOUNS = {"households": "住户", "activity records": "服务记录", "subjects": "考核对象",
         "events": "事件", "records": "记录"}
"""The Chinese for the built-in schemes' record nouns (``SchemeSpec.noun``); a plugin's
own noun is shown as its scheme wrote it."""


def noun(word: str, lang: str | None = None) -> str:
    """A scheme's word for its records (``households``) in ``lang``."""
    return NOUNS.get(word, word) if language(lang) == "zh" else word


def joined(parts: list[str], lang: str | None = None) -> str:
    """The parts of one line, separated as ``lang`` writes it."""
    return SEPARATORS[language(lang)].join(parts)


LANG: contextvars.ContextVar[str | None] = contextvars.ContextVar("civicscore_lang",
                                                                  default=None)
"""The language a command was asked to speak (``--lang``), for the code it calls."""


POLICY_LANG: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "civicscore_policy_lang", default=None)
"""The language of the policy a command read (its ``[policy] locale``): the default when
neither ``--lang`` nor ``CIVICSCORE_LANG`` says one."""


def locale_language(locale: object) -> str | None:
    """The catalogue's language for a policy's ``locale`` (``zh-CN``, ``zh_TW``, ``en``,
    ``en-GB`` ... by its first two letters), or None for one it does not speak (then
    the next rule of :func:`language` decides)."""
    if isinstance(locale, str) and locale[:2].lower() in LANGS:
        return locale[:2].lower()
    return None


def language(asked: str | None = None) -> str:
    """``zh`` or ``en``: as asked (``--lang``), else :data:`LANG`, else
    ``CIVICSCORE_LANG`` (``zh``, ``zh-CN``, ``en_US.UTF-8`` ... by its first two
    letters), else the language of the policy the command read (:data:`POLICY_LANG`:
    the officer who wrote ``locale = "zh-CN"`` reads Chinese without asking), else
    English, the words scripts already match."""
    for choice in (asked, LANG.get(), os.environ.get("CIVICSCORE_LANG"), POLICY_LANG.get()):
        if choice and choice[:2].lower() in LANGS:
            return choice[:2].lower()
    return "en"


def reasons_language(locale: object) -> str:
    """The language a decision's reasons are worded in, ``zh`` or ``en``: ``--lang``
    (:data:`LANG`), else ``CIVICSCORE_LANG``, else the deciding policy's ``locale``
    (a policy written ``locale = "zh-CN"`` explains itself in Chinese, to an app that
    imports it as to the command line), else English. Read when the reasons are first
    worded (the per-record path words them when first read, batch when ``output`` is)."""
    for choice in (LANG.get(), os.environ.get("CIVICSCORE_LANG"), locale_language(locale)):
        if choice and choice[:2].lower() in LANGS:
            return choice[:2].lower()
    return "en"


def worded_in(lang: str, build: Callable[[], T]) -> Callable[[], T]:
    """``build``, run with reasons worded in ``lang`` whenever it is called: a batch
    frame built on first read (its reasons) is worded in the language of the run that
    made it, not of whatever code reads it later."""
    def run() -> T:
        token = LANG.set(lang)
        try:
            return build()
        finally:
            LANG.reset(token)
    return run


def say(name: str, lang: str | None = None, /, **values: Any) -> str:
    """The message ``name`` in ``lang`` (see :func:`language`) with ``values`` filled in
    (positional-only, so that a template may have a ``{key}`` or ``{lang}`` slot)."""
    return MESSAGES[name][language(lang)].format(**values)


def error_text(error: BaseException | str, lang: str | None = None) -> str:
    """An error that stops a command, in the officer's language: a record's in its own
    words (``RecordError.text``), an input or usage error by :mod:`.usage_words`, else
    as it was raised."""
    chosen = language(lang)
    text = getattr(error, "text", None)
    if callable(text) and not isinstance(error, str):
        return str(text(chosen))
    if chosen == "en":
        return str(error)
    from .usage_words import zh

    return zh(str(error))


def problem_line(p: Problem, lang: str | None = None) -> str:
    """One located policy problem as a line for a person. English is the problem's own
    ``str`` (what editors and scripts parse: ``file:line:col: message``); Chinese puts
    the same facts in the officer's order."""
    chosen = language(lang)
    if chosen == "en":
        return str(p)
    return say("problem", chosen, file=p.file, line=p.line, col=p.col,
               label="" if p.severity == "error" else say("warning", chosen),
               message=p.message_zh or p.message, key=f" [{p.path}]" if p.path else "",
               hint=say("hint", chosen, hint=p.hint_zh or p.hint) if p.hint else "")
