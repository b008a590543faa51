"""What the command line says when it cannot go on, in Chinese: the common input and
usage errors an officer meets (a file that is not there, cannot be read or written, is
of a kind civicscore does not read, is not UTF-8; a scheme the policy does not have).

The errors are raised in English where they are found (``InputError``, ``UsageError``:
scripts and logs match those words, and a library raises one message), and the command
line says them in the officer's language: :func:`zh` reads an English message back into
the slots of its template in :data:`ERRORS` and writes the Chinese one, as
``record_words.unreadable`` does for a reader's rejections. A message no template
matches is shown as it is, inside the Chinese frame (``civicscore：错误：...``). A test
raises each template's error from the code that raises it, so a change to the English
that the table does not follow fails there, not silently in front of an officer.
"""

from __future__ import annotations

from .record_words import patterns_of, read_back

ERRORS: dict[str, dict[str, str]] = {
    "no_such_file": {"en": "{path}: no such file", "zh": "{path}：文件不存在"},
    "cannot_be_read": {"en": "{path}: cannot be read ({why})",
                       "zh": "{path}：无法读取（{why_zh}）"},
    "unknown_file_type": {"en": "{path}: unknown file type {suffix}; use .csv, .xlsx, .jsonl, "
                                ".json or .parquet",
                          "zh": "{path}：不认识的文件类型 {suffix}；请使用 .csv、.xlsx、.jsonl、"
                                ".json 或 .parquet 文件"},
    "cannot_write": {"en": "cannot write {target}: {why}; nothing was written to it",
                     "zh": "无法写入 {target}：{why_zh}；没有写入任何内容"},
    "read_only_kind": {"en": "{target}: civicscore reads .{kind} files but does not write "
                             "them; write .csv, which Excel opens",
                       "zh": "{target}：civicscore 能读取 .{kind} 文件，但不能写出这种文件；请写成 "
                             ".csv，Excel 可以打开"},
    "not_utf8_guessed": {"en": "{path}:{line}: the file is not UTF-8 text; it reads as {shown}: "
                               "add --encoding {guess}, or save it as UTF-8 (Excel: 'CSV UTF-8')",
                         "zh": "{path} 第 {line} 行：文件不是 UTF-8 文本；看起来是 {shown} 编码："
                               "请加上 --encoding {guess}，或另存为 UTF-8"
                               "（Excel 中选“CSV UTF-8”）"},
    "not_utf8": {"en": "{path}:{line}: the file is not UTF-8 text; save it as UTF-8 (Excel: "
                       "'CSV UTF-8'), or name its encoding with --encoding",
                 "zh": "{path} 第 {line} 行：文件不是 UTF-8 文本；请另存为 UTF-8（Excel 中选"
                       "“CSV UTF-8”），或用 --encoding 写明它的编码"},
    "not_codec": {"en": "{path}:{line}: the file is not {codec} text (check --encoding)",
                  "zh": "{path} 第 {line} 行：文件不是 {codec} 编码的文本（请检查 --encoding）"},
    "unknown_encoding": {"en": "--encoding {name}: not an encoding Python knows (for Chinese "
                               "Windows files use gb18030; others: utf-8, big5)",
                         "zh": "--encoding {name}：不认识的编码（中文 Windows 保存的文件请用 "
                               "gb18030；其他常见的有 utf-8、big5）"},
    "not_valid_json": {"en": "{path}:{line}:{col}: not valid JSON: {msg}",
                       "zh": "{path} 第 {line} 行第 {col} 列：不是有效的 JSON：{msg}"},
    "json_list": {"en": "{path}: expected a JSON list of records",
                  "zh": "{path}：应为一个由记录组成的 JSON 列表"},
    "unclosed_quote": {"en": "{path}:{line}: a quoted cell is never closed (a \" is missing); "
                             "the rows after it cannot be read",
                       "zh": "{path} 第 {line} 行：一个带引号的单元格没有结束（缺少一个 \"）；"
                             "其后的行都无法读取"},
    "same_file": {"en": "{label} {target} is the same file as {other}: writing it would "
                        "destroy that; choose another name",
                  "zh": "{label} {target} 与 {other} 是同一个文件：写入会毁掉它；请换一个文件名"},
    "no_section": {"en": "policy {policy} ({source}) has no [{scheme}] section (no installed "
                         "scheme is called {name}; did you mean {choice}?); it defines: "
                         "{schemes}",
                   "zh": "政策 {policy}（{source}）中没有 [{scheme}] 部分（没有名为 {name} 的已安装"
                         "评分方案；是否想写 {choice}？）；它包含：{schemes}"},
    "quiet_verbose": {"en": "-q/--quiet and -v/--verbose cannot be given together",
                      "zh": "-q/--quiet 和 -v/--verbose 不能同时使用"},
}
"""An input or usage error by name: its English template (as raised) and its Chinese."""

WHY_ZH = {
    "No such file or directory": "文件或目录不存在",
    "Permission denied": "没有权限",
    "Is a directory": "这是一个目录",
    "permission denied": "没有权限",
    "the directory does not exist": "目录不存在",
    "a part of the path is not a directory": "路径中有一部分不是目录",
    "the file system is read-only": "文件系统是只读的",
    "the disk is full": "磁盘已满",
    "the disk quota is exceeded": "超出了磁盘配额",
    "it is a directory": "这是一个目录",
}
"""The reasons the operating system (and :func:`civicscore.io.cannot_write`) gives, in
Chinese, for the ``{why}`` slot."""

_PATTERNS = patterns_of(ERRORS)


def zh(message: str) -> str:
    """An input or usage error's English ``message`` in Chinese, or as it is."""
    said = read_back(message, _PATTERNS)
    if said is None:
        return message
    name, values = said
    if "why" in values:
        values["why_zh"] = WHY_ZH.get(values["why"], values["why"])
    return ERRORS[name]["zh"].format(**values)


__all__ = ["ERRORS", "WHY_ZH", "zh"]
