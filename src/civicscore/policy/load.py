"""TOML file -> validated, merged policy data, with every mistake located.

The steps, each reporting problems as ``file:line:col`` so that an officer can
fix the whole file in one pass:

1. read and parse the TOML (a syntax error stops here: nothing else is known);
2. load what it ``extends`` first, then merge this file over it: a key the
   parent already defines may only be changed if ``[policy] overrides`` names
   it, so a locality cannot change a baseline rule by accident;
3. validate the merged data against :mod:`.model` (unknown keys, wrong types,
   missing keys, with "did you mean");
4. semantic checks that need the whole policy (protected characteristics,
   references between tables) and compiling every expression against the
   declared facts, done by :mod:`.compile`.

Positions come from :mod:`.locate`, built once per file when a problem is first
reported (a valid policy never needs them), since ``tomllib`` returns values
without them.
"""

from __future__ import annotations

import collections.abc
import contextvars
import copy
import datetime as dt
import hashlib
import json
import os
import re
import stat
import sys
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from .._bilingual import as_pair
from .._suggest import did_you_mean_both, one_of
from ..errors import PolicyError, Problem
from . import problem_words as pw
from .model import CADENCE_WORDS, CADENCE_ZH, PolicyModel
from .reads import note_probe, note_read

if TYPE_CHECKING:
    from .locate import PositionMap, Span

if sys.version_info >= (3, 11):  # noqa: UP036 - tomli stays declared for older Pythons
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KeyPath = tuple[str | int, ...]
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_EXTENDS_DEPTH = 8
OWN_TABLES = ("policy", "case")
"""Tables every file keeps to itself: its metadata and its test cases are not inherited."""

Resolver = Callable[[str], "tuple[str, str] | None"]
"""Name -> (display name, TOML text) for policies found by name (e.g. plugins)."""


@dataclass
class SourceFile:
    """One TOML file as read: its name for messages, text, data and positions."""

    name: str
    text: str
    data: dict[str, Any]
    directory: Path | None
    _positions: PositionMap | None = None
    _lines: list[str] | None = None

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self.text.splitlines()
        return self._lines

    @property
    def positions(self) -> PositionMap:
        if self._positions is None:
            from .locate import locate  # lazy: only a problem to report needs positions

            self._positions = locate(self.text)
        return self._positions


@dataclass
class Layers:
    """The files a merged policy came from, child first, to locate any key."""

    files: list[SourceFile] = field(default_factory=list)
    merged: dict[str, Any] | None = None  # the merged data, once an extends is resolved

    def where(self, path: KeyPath, *, value: bool = False) -> tuple[str, int, int]:
        best: tuple[int, SourceFile, Span] | None = None
        for src in self.files:
            local = _translate(path, self.merged, src.data) if self.merged else path
            if _has(src.data, local):
                span = src.positions.get(local)
                if span is not None:
                    return _point(src, span, value)
            prefix, span = src.positions.nearest(local)
            if _has(src.data, prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), src, span)
        if best is None:
            return (self.files[0].name if self.files else "<policy>", 1, 1)
        return _point(best[1], best[2], value)

    def problem(self, path: KeyPath, message: str | tuple[str, str],
                hint: str | tuple[str, str] = "", *, value: bool = False,
                offset: int | None = None, severity: str = "error") -> Problem:
        """The problem at ``path``, located. The message and the hint are English, or each
        (English, Chinese) where the check words them so (:mod:`.problem_words`)."""
        (message, message_zh), (hint, hint_zh) = as_pair(message), as_pair(hint)
        file, line, col = self.where(path, value=value or offset is not None)
        if offset is not None:
            col += offset + self._quote_width(path, line, col)
        return Problem(file, line, col, message, dotted(path), hint, severity,
                       message_zh=message_zh, hint_zh=hint_zh)

    def _quote_width(self, path: KeyPath, line: int, col: int) -> int:
        for src in self.files:
            local = _translate(path, self.merged, src.data) if self.merged else path
            if _has(src.data, local):
                lines = src.lines
                text = lines[line - 1][col - 1:] if 0 < line <= len(lines) else ""
                return 3 if text[:3] in ('"""', "'''") else 1 if text[:1] in "\"'" else 0
        return 0


def _translate(path: KeyPath, merged: Any, data: Any) -> KeyPath:
    """A key path in the merged policy -> the same key in one file's own data.

    Lists of rules with ids are merged by id, so item 3 of the merged
    ``visits.tiers`` may be item 0 of the file that wrote it. Items are
    matched by id; the rest of the path is unchanged.
    """
    out: list[str | int] = []
    m, d = merged, data
    for part in path:
        if (isinstance(part, int) and isinstance(m, list) and isinstance(d, list)
                and 0 <= part < len(m) and isinstance(m[part], dict) and "id" in m[part]):
            rid = m[part]["id"]
            j = next((i for i, x in enumerate(d) if isinstance(x, dict) and x.get("id") == rid),
                     len(d))  # not in this file: an index it does not have
            out.append(j)
            m, d = m[part], (d[j] if j < len(d) else None)
            continue
        out.append(part)
        m = _step(m, part)
        d = _step(d, part)
    return tuple(out)


def _step(node: Any, part: str | int) -> Any:
    if isinstance(node, dict) and isinstance(part, str):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _point(src: SourceFile, span: Span, value: bool) -> tuple[str, int, int]:
    if value:
        return src.name, span.value_line, span.value_col
    return src.name, span.line, span.col


def _has(data: Any, path: KeyPath) -> bool:
    node = data
    for part in path:
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return False
    return True


def dotted(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


# --- 1. read ---------------------------------------------------------------------


def read_source(name: str, raw: bytes | str, directory: Path | None) -> SourceFile:
    """Decode and parse one TOML file, or raise a located ``PolicyError``."""
    if isinstance(raw, bytes):
        if len(raw) > MAX_FILE_BYTES:
            raise PolicyError.single(name, 1, 1, f"policy file is larger than "
                                                 f"{MAX_FILE_BYTES // 1024 // 1024} MiB")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            line = raw[: e.start].count(b"\n") + 1
            col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
            (message, message_zh), (hint, hint_zh) = pw.both("not_utf8"), pw.both("save_utf8")
            raise PolicyError.single(name, line, col, message, hint=hint,
                                     zh=(message_zh, hint_zh)) from None
    else:
        text = raw
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        line, col, msg = _toml_error_position(e, text)
        lines = text.splitlines()
        source_line = lines[line - 1] if 0 < line <= len(lines) else ""
        message, message_zh = pw.both("toml_syntax", msg=msg, msg_zh=pw.toml_error(msg))
        hint, hint_zh = _toml_hint(msg, source_line)
        raise PolicyError.single(name, line, col, message, hint=hint,
                                 zh=(message_zh, hint_zh)) from None
    except RecursionError:
        from .locate import MAX_DEPTH, too_deep  # lazy: only a problem needs positions

        line, col = too_deep(text)
        (message, message_zh), (hint, hint_zh) = (pw.both("too_deep"),
                                                   pw.both("nest_at_most", depth=MAX_DEPTH))
        raise PolicyError.single(name, line, col, message, hint=hint,
                                 zh=(message_zh, hint_zh)) from None
    return SourceFile(name, text, data, directory)


def _toml_error_position(e: Exception, text: str) -> tuple[int, int, str]:
    line = getattr(e, "lineno", None)
    col = getattr(e, "colno", None)
    msg = getattr(e, "msg", None) or str(e)
    if line is None:
        import re

        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        if m:
            line, col = int(m.group(1)), int(m.group(2))
        elif "end of document" in str(e):
            lines = text.splitlines() or [""]
            line, col = len(lines), len(lines[-1]) + 1
        msg = str(e).split(" (at ")[0]
    return int(line or 1), int(col or 1), msg


FULL_WIDTH = {"＝": "=", "，": ",", "：": "=", "“": '"', "”": '"', "‘": "'", "’": "'",
              "「": '"', "」": '"', "【": "[", "】": "]", "［": "[", "］": "]", "｛": "{",
              "｝": "}", "。": ".", "．": ".", "；": "", "\u3000": " ", "－": "-", "＋": "+",
              **{chr(0xFF10 + d): str(d) for d in range(10)}}
"""What a Chinese keyboard types where TOML needs ASCII: full-width ``＝ ， ４``, smart and
corner quotes, 【】 brackets, the ideographic space; ``：`` (typed for ``=`` by analogy
with 键：值) becomes ``=``."""


def _half_width(line: str) -> tuple[str, list[str]]:
    """``line`` with the characters of :data:`FULL_WIDTH` outside ASCII-quoted strings
    replaced (a full-width comma inside "巡逻，夜间" is the officer's text), and the
    characters replaced."""
    out: list[str] = []
    found: list[str] = []
    quote = ""
    for ch in line:
        if quote:
            out.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
            out.append(ch)
        elif ch == "#":
            out.append(line[len(out):])  # a comment: left as written
            break
        elif ch in FULL_WIDTH:
            found.append(ch)
            out.append(FULL_WIDTH[ch])
        else:
            out.append(ch)
    return "".join(out), found


def _cjk(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf" for c in text)


def _toml_hint(msg: str, line: str = "") -> tuple[str, str]:
    """A hint for a TOML syntax error, in English and Chinese, from the message and the
    line it is on: the half-width line when the officer typed full-width punctuation (the
    usual cause on a Chinese keyboard), quotes for an unquoted Chinese key or value."""
    fixed, found = _half_width(line)
    if found:
        typed = list(dict.fromkeys(found))
        shown = " ".join("ideographic space" if c == "\u3000" else c for c in typed)
        shown_zh = " ".join(pw.SPACE_ZH if c == "\u3000" else c for c in typed)
        return pw.both("full_width", fixed=fixed.strip(), shown=shown, shown_zh=shown_zh)
    key, eq, value = line.partition("=")
    stripped = key.strip()
    if stripped and _cjk(stripped) and stripped[0] not in "\"'[" and "Invalid statement" in msg:
        return pw.both("chinese_key", key=stripped)
    inline = next((k for k in re.findall(r"[{,]\s*([^\s=,{}\"']+)\s*=", line) if _cjk(k)),
                  None)
    if inline and "key" in msg.lower():
        return pw.both("chinese_inline_key", key=inline)
    if "Invalid value" in msg or "invalid value" in msg:
        if eq and value.strip()[:1] in ("\"", "'"):
            return "", ""
        return pw.both("quote_text")
    if "Cannot overwrite" in msg or "cannot overwrite" in msg.lower():
        return pw.both("key_once")
    return "", ""


# --- 2. extends --------------------------------------------------------------------


POLICY_ROOTS: contextvars.ContextVar[tuple[Path, ...] | None] = contextvars.ContextVar(
    "civicscore_policy_roots", default=None)
"""The directories policy files may be read from, as an :class:`~civicscore.Engine` was
given them (``policy_roots=``, ``--policy-root``); None for the default (see
:func:`default_roots`)."""


class _NotFound(Exception):
    """Why an ``extends`` cannot be followed: the message and hint of its problem, and
    the two in Chinese (``zh``) where they are worded."""

    def __init__(self, message: str, hint: str = "", zh: tuple[str, str] = ("", "")) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.zh = zh

    @classmethod
    def said(cls, message: tuple[str, str], hint: tuple[str, str]) -> _NotFound:
        """From a message and a hint, each (English, Chinese)."""
        return cls(message[0], hint[0], (message[1], hint[1]))


def default_roots(directory: Path | None) -> tuple[Path, ...]:
    """Where an ``extends`` may reach by default: the directory of the policy being loaded
    and, when that lies inside the working directory, the working directory (a project's
    shared baseline one level up). Installed policies are reached by name."""
    if directory is None:
        return ()
    try:
        own = Path(os.path.realpath(directory))
        here = Path(os.path.realpath(os.getcwd()))
    except (OSError, ValueError):
        return ()
    return (own, here) if own.is_relative_to(here) else (own,)


def within(path: Path, roots: Sequence[Path]) -> bool:
    """Whether a resolved path lies under one of the (resolved) roots."""
    return any(path.is_relative_to(root) for root in roots)


def _find_parent(child: SourceFile, name: str, resolver: Resolver | None,
                 roots: Sequence[Path] = ()) -> tuple[str, bytes | str, Path | None]:
    """A bare name (``baseline``) is an installed policy first, so a stray file of
    that name cannot silently replace it; a path (``./base.toml``, ``../x``) is a
    file relative to the extending one, and must resolve (symlinks followed) to a file
    under one of ``roots``, so a policy cannot make the loader read, and echo the keys
    of, any ``.toml`` on the machine."""
    if "\0" in name:
        raise _NotFound("the name to extend holds a NUL character",
                        "write the file name or the installed policy's name")
    is_path = "/" in name or "\\" in name or name.endswith(".toml")
    if not is_path and resolver is not None:
        found = resolver(name)
        if found is not None:
            return found[0], found[1], None
    missing = _NotFound.said(pw.both("extends_missing", name=repr(name)),
                             pw.both("extends_missing_fix"))
    if child.directory is None or Path(name).is_absolute() or len(name) > 255:
        raise missing  # only relative paths: a policy cannot point the loader anywhere
    base = child.directory / name
    for path in (base, Path(str(base) + ".toml")):
        try:
            exists = os.path.lexists(path)
            note_probe(path, "lexists", exists)
            if not exists:
                continue
            real = Path(os.path.realpath(path, strict=True))
        except (OSError, RuntimeError, ValueError) as e:  # a symlink loop, a name too long
            raise _NotFound(f"cannot follow {name!r}: {getattr(e, 'strerror', None) or e}",
                            "point 'extends' at a plain .toml file") from None
        if not within(real, roots):
            shown = ", ".join(str(r) for r in roots) or "none"
            raise _NotFound.said(pw.both("extends_outside", name=repr(name), roots=shown),
                                 pw.both("extends_outside_fix"))
        if path.suffix == ".toml" and real.suffix == ".toml" and real.is_file():
            return str(path), read_limited(path), path.parent
    raise missing


def read_limited(path: Path) -> bytes:
    """A policy file's bytes: only a regular file (a FIFO would block for ever, a device
    has no end), refused over the size limit before reading it."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                     | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError) as e:
        raise PolicyError.single(str(path), 1, 1, f"cannot read the policy: "
                                                  f"{getattr(e, 'strerror', None) or e}"
                                 ) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise PolicyError.single(str(path), 1, 1, "not a regular file (a directory, "
                                                      "a pipe or a device); a policy is a "
                                                      ".toml file")
        if info.st_size > MAX_FILE_BYTES:
            raise PolicyError.single(str(path), 1, 1, f"policy file is larger than "
                                                      f"{MAX_FILE_BYTES // 1024 // 1024} MiB")
        chunks: list[bytes] = []
        left = MAX_FILE_BYTES + 1  # a file that grew after the stat is still cut here
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        note_read(path, data)
        return data
    except OSError as e:
        raise PolicyError.single(str(path), 1, 1, f"cannot read the policy: "
                                                  f"{e.strerror or e}") from None
    finally:
        os.close(fd)


def _merge(parent: Any, child: Any, path: KeyPath, overrides: dict[str, bool],
           layers: Layers, parent_name: str, problems: list[Problem]) -> Any:
    """Child over parent; changing an inherited key needs an explicit override."""
    if not (isinstance(parent, dict) and isinstance(child, dict)):
        return child
    out = dict(parent)
    for key, value in child.items():
        p = path + (key,)
        name = dotted(p)
        if key not in parent:
            if _is_fact(path) and key in _FACT_MEANING:  # care_need, concept, type, values
                if name not in overrides:
                    problems.append(layers.problem(
                        p, pw.both("adds_meaning", key=repr(key),
                                           fact=repr(dotted(path)), parent=parent_name),
                        pw.both("override_it", key=repr(name)), value=False))
                    continue
                overrides[name] = True
            out[key] = value
            continue
        if name in overrides:
            overrides[name] = True
            out[key] = value
        elif isinstance(parent[key], dict) and isinstance(value, dict):
            out[key] = _merge(parent[key], value, p, overrides, layers, parent_name, problems)
        elif _by_id(parent[key]) is not None and _by_id(value) is not None:
            out[key] = _merge_by_id(parent[key], value, p, overrides, layers, parent_name,
                                    problems)
        elif parent[key] != value:
            problems.append(_changes_inherited(layers, p, name, parent_name))
    return out


def _changes_inherited(layers: Layers, path: KeyPath, name: str, parent: str) -> Problem:
    """A child's key that changes what its parent defines, without an override."""
    return layers.problem(path, pw.both("changes_inherited", key=repr(name), parent=parent),
                    pw.both("override_it", key=repr(name)), value=False)


#: The keys of a fact that give it its meaning: a child adding one changes an inherited fact.
_FACT_MEANING = ("care_need", "concept", "type", "values")


def _is_fact(path: KeyPath) -> bool:
    return len(path) == 3 and path[0] == "facts"


def _by_id(value: Any) -> dict[str, dict[str, Any]] | None:
    """A list of tables that all carry an ``id``, keyed by it; otherwise None."""
    if not isinstance(value, list) or not value:
        return None
    if not all(isinstance(v, dict) and isinstance(v.get("id"), str) for v in value):
        return None
    return {v["id"]: v for v in value}


def _merge_by_id(parent: list[Any], child: list[Any], path: KeyPath,
                 overrides: dict[str, bool], layers: Layers, parent_name: str,
                 problems: list[Problem]) -> list[Any]:
    """Lists of rules with ids (multipliers, tiers, ...): new ids add, same ids override.

    An override names the rule by id (``volunteer.multipliers.holiday``) or
    one of its keys (``volunteer.multipliers.holiday.factor``).
    """
    out = list(parent)
    index = {v["id"]: i for i, v in enumerate(parent)}
    for i, item in enumerate(child):
        rid = item["id"]
        if rid not in index:
            out.append(item)
            continue
        name = dotted((*path, rid))
        if name in overrides:
            overrides[name] = True
            out[index[rid]] = item
            continue
        merged = dict(parent[index[rid]])
        for key, value in item.items():
            full = f"{name}.{key}"
            if full in overrides:
                overrides[full] = True
            elif key in merged and merged[key] != value:
                problems.append(_changes_inherited(layers, (*path, i, key), full, parent_name))
                continue
            merged[key] = value
        out[index[rid]] = merged
    return out


def _all_paths(data: Any, path: KeyPath = ()) -> list[str]:
    """Every key path a policy defines, as overrides would name it."""
    out: list[str] = []
    if isinstance(data, dict):
        for k, v in data.items():
            out.append(dotted((*path, k)))
            out.extend(_all_paths(v, (*path, k)))
    elif (items := _by_id(data)) is not None:
        for rid, v in items.items():
            out.append(dotted((*path, rid)))
            out.extend(_all_paths({k: x for k, x in v.items() if k != "id"}, (*path, rid)))
    return out


# --- 3. validate ---------------------------------------------------------------------


def _got(value: Any) -> dict[str, str]:
    """The ``{got}`` slot of a :mod:`.problem_words` sentence: the value described in
    English (``text '2'``) and in Chinese (``got_zh``: ``文本 '2'``)."""
    return {"got": _describe(value), "got_zh": _describe_zh(value)}


def _describe_zh(value: Any) -> str:
    if isinstance(value, str):
        return f"文本 {value!r}"
    if isinstance(value, dict):
        return "一个表"
    if isinstance(value, list):
        return "一个列表"
    if isinstance(value, dt.date):
        return f"日期 {value}"
    return f" {_describe(value)}"


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, str):
        return f"text {value!r}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dt.date):
        return f"date {value}"
    return repr(value)


def keys_at(model_cls: type[BaseModel], path: KeyPath) -> list[str]:
    """The keys allowed in the table at a key path, to list them after an unknown one.

    The same list as the ``properties`` of the policy's JSON Schema at that path
    (aliases, in field order; nothing through a list or dict the schema cannot
    follow), read from the models' fields: generating the JSON Schema took longer
    than the rest of a failing ``civicscore check``.
    """
    node: Any = model_cls
    for part in path:
        node = _table_type(node)
        if isinstance(node, type) and issubclass(node, BaseModel):
            fields = _fields(node)
            if not isinstance(part, str) or part not in fields:
                return []
            node = fields[part]
            continue
        origin, args = get_origin(node), get_args(node)
        if isinstance(part, str) and origin in _MAPPINGS and len(args) == 2:
            node = args[1]
        elif isinstance(part, int) and origin in _SEQUENCES and args \
                and (origin is not tuple or (len(args) == 2 and args[1] is Ellipsis)):
            node = args[0]
        else:
            return []
    node = _table_type(node)
    if isinstance(node, type) and issubclass(node, BaseModel):
        return list(_fields(node))
    return []


_MAPPINGS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)
_SEQUENCES = (list, tuple, set, frozenset, collections.abc.Sequence,
              collections.abc.MutableSequence, collections.abc.Set)


def _fields(model: type[BaseModel]) -> dict[str, Any]:
    """A model's keys as a policy spells them (the alias) -> their types."""
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        alias = info.validation_alias if isinstance(info.validation_alias, str) else None
        out[alias or info.alias or name] = info.annotation
    return out


def _table_type(node: Any) -> Any:
    """``Annotated[X, ...]`` -> X; a union -> its first table (model or mapping)
    alternative, as the JSON Schema's ``anyOf`` is followed."""
    while get_origin(node) is Annotated:
        node = get_args(node)[0]
    if get_origin(node) in (Union, types.UnionType):
        for alt in get_args(node):
            alt = _table_type(alt)
            if (isinstance(alt, type) and issubclass(alt, BaseModel)) \
                    or get_origin(alt) in _MAPPINGS or alt in _MAPPINGS:
                return alt
    return node


def validation_problems(err: ValidationError, layers: Layers,
                        model_cls: type[PolicyModel] = PolicyModel) -> list[Problem]:
    """Turn pydantic's errors into messages an officer can act on, in English and
    Chinese (:mod:`.problem_words`)."""
    problems: list[Problem] = []
    for e in err.errors(include_url=False):
        loc: KeyPath = tuple(x for x in e["loc"] if isinstance(x, (str, int)))
        kind = e["type"]
        where = dotted(loc[:-1]) or "the top level"
        if kind == "extra_forbidden":
            allowed = keys_at(model_cls, loc[:-1])
            key = str(loc[-1])
            hint = did_you_mean_both(key, allowed)
            if not hint[0] and allowed:
                hint = pw.both("allowed_keys", keys=one_of(allowed),
                               keys_zh=one_of(allowed, words=("、", " 或 ")))
            message = pw.both("unknown_key", key=repr(key), where=where,
                              where_zh=pw.where_zh(where))
            problems.append(layers.problem(loc, message, hint, value=False))
        elif kind == "missing":
            message = pw.both("missing_key", key=repr(loc[-1]), where=where,
                              where_zh=pw.where_zh(where))
            problems.append(layers.problem(loc[:-1], message, value=False))
        elif kind == "literal_error":
            options = [o.strip(" '") for o in e["ctx"]["expected"].replace(" or ", ",")
                       .split(",")]
            got = e["input"]
            expected = e["ctx"]["expected"]
            message = pw.both("expected", what=expected, **_got(got),
                              what_zh=" " + expected.replace(" or ", " 或 ") + " 之一")
            hint = did_you_mean_both(str(got), options) if isinstance(got, str) else ("", "")
            problems.append(layers.problem(loc, message, hint, value=True))
        elif kind in pw.TYPE_WORDS:
            words = pw.TYPE_WORDS[kind]
            message = pw.both("expected", what=words["en"], what_zh=words["zh"],
                              **_got(e["input"]))
            problems.append(layers.problem(loc, message, _fix_for(kind, e["input"]),
                                           value=True))
        elif kind == "value_error":
            msg = str(e["ctx"]["error"]) if "ctx" in e else e["msg"]
            problems.append(layers.problem(loc, msg, value=True))
        elif kind == "string_too_long":
            message = pw.both("too_long", limit=e["ctx"]["max_length"], n=len(e["input"]))
            problems.append(layers.problem(loc, message, value=True))
        elif kind == "string_pattern_mismatch" and loc and loc[-1] in (
                "cadence", "max_interval") and isinstance(e["input"], str):
            problems.append(layers.problem(loc, *_cadence_hint(e["input"]), value=True))
        elif kind == "string_pattern_mismatch":
            problems.append(layers.problem(loc, pw.both("not_identifier",
                                                          **_got(e["input"])),
                                     pw.both("identifier_fix"), value=True))
        else:
            problems.append(layers.problem(loc, pw.both("got_value", msg=e["msg"],
                                                          **_got(e["input"])), value=True))
    return problems


def _cadence_hint(value: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """The problem and the fix for a cadence that is not one (``montly``, ``每月``)."""
    message = pw.both("not_a_cadence", got=repr(value))
    words = CADENCE_ZH.get(value.strip())
    if words is not None:
        return message, pw.both("cadence_word", word=repr(words), value=value.strip())
    hint = did_you_mean_both(value, CADENCE_WORDS)
    return message, (hint if hint[0] else pw.both(
        "cadence_fix", words=one_of(CADENCE_WORDS),
        words_zh=one_of(CADENCE_WORDS, words=("、", " 或 "))))


def _fix_for(kind: str, value: Any) -> tuple[str, str]:
    """Suggest removing quotes when the quoted text is a valid value of the right type."""
    if not isinstance(value, str):
        return "", ""
    if len(value) > 100:
        return "", ""
    try:
        parsed = tomllib.loads(f"x = {value.strip()}")["x"]
    except Exception:  # any text that is not a plain TOML value: no suggestion
        return "", ""
    fits = {"float_type": (int, float), "int_type": (int,), "bool_type": (bool,),
            "date_type": (dt.date,)}.get(kind, ())
    if isinstance(parsed, fits) and not (kind != "bool_type" and isinstance(parsed, bool)):
        return pw.both("remove_quotes", value=value.strip())
    return "", ""


# --- the whole load --------------------------------------------------------------------


@dataclass
class Loaded:
    """Everything the compile step needs: the model, the raw data and the layers."""

    model: PolicyModel
    data: dict[str, Any]
    layers: Layers
    content_hash: str
    parents: list[Loaded]
    problems: list[Problem]
    pruned: set[str] = field(default_factory=set)

    def is_consequence(self, problem: Problem) -> bool:
        """A later problem caused by a key already reported and pruned (no cascades)."""
        return any(p == problem.path or p.startswith((problem.path + ".", problem.path + "["))
                   for p in self.pruned)


def _validate(data: dict[str, Any], layers: Layers, problems: list[Problem],
              pruned_paths: set[str], model_cls: type[PolicyModel]) -> PolicyModel:
    """Validate; on errors, report them and go on with the faulty keys pruned.

    Pruning lets the later checks (expressions, references) run on the rest of
    the file, so an officer sees every mistake in one pass rather than one
    layer of mistakes per run. The policy is still refused: the problems
    collected here are raised after compiling.
    """
    try:
        return model_cls.model_validate(data)
    except ValidationError as e:
        problems.extend(validation_problems(e, layers, model_cls))
        error = e
    try:
        pruned: Any = copy.deepcopy(data)
    except RecursionError:
        raise PolicyError(problems) from None
    for _ in range(5):
        locs = [tuple(x for x in err["loc"] if isinstance(x, (str, int)))
                for err in error.errors() if err["type"] != "missing"]
        if not locs or any(len(loc) < 2 for loc in locs):
            break
        for loc in sorted(set(locs), key=_loc_order, reverse=True):
            _delete(pruned, loc)
            pruned_paths.add(dotted(loc))
        try:
            return model_cls.model_validate(pruned)
        except ValidationError as e:
            error = e
    raise PolicyError(problems)


def _loc_order(loc: KeyPath) -> list[tuple[int, int, str]]:
    return [(0, x, "") if isinstance(x, int) else (1, 0, x) for x in loc]


def _delete(data: Any, loc: KeyPath) -> None:
    node = data
    for part in loc[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return
    last = loc[-1]
    if isinstance(node, dict) and last in node:
        del node[last]
    elif isinstance(node, list) and isinstance(last, int) and 0 <= last < len(node):
        del node[last]


def canonical_hash(data: Any, parent_hashes: Sequence[str] = ()) -> str:
    """sha256 of the policy's meaning, not its spelling (key order, comments, spacing)."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=lambda o: o.isoformat())
    h = hashlib.sha256(text.encode("utf-8"))
    for p in parent_hashes:
        h.update(p.encode("ascii"))
    return h.hexdigest()


def policy_hash(content_hash: str, calendar_digest: str | None = None) -> str:
    """The hash a policy is known by: its content's, and, for a policy that reads its
    calendar (``is_holiday`` and the like), the digest of the calendar's days with it.

    The days come from the ``holidays`` package, not from the file: a release that
    moves a day off (调休) changes what such a policy decides, and so its hash; a release
    that changes no day changes neither. A policy that never asks the calendar keeps its
    content hash, whatever ``holidays`` says."""
    if calendar_digest is None:
        return content_hash
    h = hashlib.sha256(content_hash.encode("ascii"))
    h.update(b"+calendar:" + calendar_digest.encode("ascii"))
    return h.hexdigest()


def load_source(src: SourceFile, resolver: Resolver | None = None,
                model_cls: type[PolicyModel] = PolicyModel,
                _chain: tuple[str, ...] = (),
                _roots: tuple[Path, ...] | None = None) -> Loaded:
    """Steps 2 and 3 for one parsed file; raises ``PolicyError`` when it cannot go on.

    ``extends`` is followed only to files under the policy roots: those of the engine
    (:data:`POLICY_ROOTS`) or, by default, the first file's :func:`default_roots`."""
    if _roots is None:
        _roots = POLICY_ROOTS.get() or default_roots(src.directory)
    layers = Layers([src])
    problems: list[Problem] = []
    data = src.data
    parents: list[Loaded] = []
    policy_table = data.get("policy")
    meta: dict[str, Any] = policy_table if isinstance(policy_table, dict) else {}
    parent_name = meta.get("extends")
    if parent_name == "" or (isinstance(parent_name, str) and not parent_name.strip()):
        raise PolicyError([layers.problem(("policy", "extends"), pw.both("extends_empty"),
                                    pw.both("extends_empty_fix"), value=True)])
    if "overrides" in meta and "extends" not in meta:
        problems.append(layers.problem(("policy", "overrides"), pw.both("overrides_alone"),
                                 pw.both("overrides_alone_fix"), value=False))
    if isinstance(parent_name, str) and parent_name:
        if len(_chain) >= MAX_EXTENDS_DEPTH:
            raise PolicyError([layers.problem(("policy", "extends"),
                                        pw.both("extends_deep", depth=MAX_EXTENDS_DEPTH),
                                        value=True)])
        try:
            pname, raw, pdir = _find_parent(src, parent_name, resolver, _roots)
        except _NotFound as e:
            raise PolicyError([layers.problem(("policy", "extends"), (e.message, e.zh[0]),
                                              (e.hint, e.zh[1]), value=True)]) from None
        key = str(Path(pname).resolve()) if pdir is not None else pname
        if key in _chain:
            raise PolicyError([layers.problem(("policy", "extends"),
                                        pw.both("extends_cycle", name=repr(parent_name)),
                                        value=True)])
        parent = load_source(read_source(pname, raw, pdir), resolver, model_cls,
                             (*_chain, key), _roots)
        parents.append(parent)
        overrides_list = meta.get("overrides", [])
        overrides = {str(o): False for o in overrides_list} if isinstance(
            overrides_list, list) else {}
        parent_data = {k: v for k, v in parent.data.items() if k not in OWN_TABLES}
        child_data = {k: v for k, v in data.items() if k not in OWN_TABLES}
        data = _merge(parent_data, child_data, (), overrides, layers, pname, problems)
        data.update({k: v for k, v in src.data.items() if k in OWN_TABLES})
        layers.files.extend(parent.layers.files)
        layers.merged = data
        known: list[str] | None = None  # every inherited key path: only for a stale override
        for i, (name, used) in enumerate(overrides.items()):
            if not used:
                if known is None:
                    known = _all_paths(parent_data)
                if name in known:
                    why, hint = (pw.both("override_unused", key=repr(name)),
                                 pw.both("override_unused_fix"))
                else:
                    why, hint = (pw.both("override_unknown", key=repr(name), parent=pname),
                                 did_you_mean_both(name, known))
                problems.append(layers.problem(("policy", "overrides", i), why, hint,
                                               value=True))
    pruned: set[str] = set()
    model = _validate(data, layers, problems, pruned, model_cls)
    meaning = {k: v for k, v in data.items() if k != "case"}  # tests do not change decisions
    content_hash = canonical_hash(meaning, [p.content_hash for p in parents])
    return Loaded(model, data, layers, content_hash, parents, problems, pruned)
