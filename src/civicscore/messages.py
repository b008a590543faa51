"""The words the command line itself says to an officer, in Chinese and English.

One catalogue (:data:`MESSAGES`, a key to one template per language) and one lookup
(:func:`say`), so that every line ``civicscore`` writes around a run (a policy's problem
count, an error, the rejected rows, "every row was rejected") is worded once per
language and picked by one rule (:func:`language`): ``--lang``, else the
``CIVICSCORE_LANG`` environment variable, else English. The details inside a line
(a policy problem's message, a record's reason) come from where they are found and are
not translated here; the Chinese frame around them is written for officers
(第 3 行第 5 列, not "line 3 column 5" word by word).
"""

from __future__ import annotations

import contextvars
import os
from typing import Any

from .errors import Problem

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
}
"""Every template in both languages (tests/test_messages.py checks that each key has
both and that their ``{names}`` agree)."""

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


def say(name: str, lang: str | None = None, /, **values: Any) -> str:
    """The message ``name`` in ``lang`` (see :func:`language`) with ``values`` filled in
    (positional-only, so that a template may have a ``{key}`` or ``{lang}`` slot)."""
    return MESSAGES[name][language(lang)].format(**values)


def problem_line(p: Problem, lang: str | None = None) -> str:
    """One located policy problem as a line for a person. English is the problem's own
    ``str`` (what editors and scripts parse: ``file:line:col: message``); Chinese puts
    the same facts in the officer's order."""
    chosen = language(lang)
    if chosen == "en":
        return str(p)
    return say("problem", chosen, file=p.file, line=p.line, col=p.col,
               label="" if p.severity == "error" else say("warning", chosen),
               message=p.message, key=f" [{p.path}]" if p.path else "",
               hint=say("hint", chosen, hint=p.hint) if p.hint else "")
