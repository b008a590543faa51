"""Every error civicscore raises, in one tree.

The people who read these messages are policy officers editing TOML and
clerks feeding in spreadsheets, so each error says *where* (file, line and
column, or record and field), *what was expected*, and where possible *how to
fix it* ("did you mean ...?").

::

    CivicScoreError                 base of everything raised on purpose
    ├── PolicyError (ValueError)    a policy file is wrong; holds every Problem found
    ├── ExpressionError (ValueError)an expression is outside the language or ill-typed
    │                               (raised standalone; inside a policy it becomes
    │                               a Problem of a PolicyError)
    ├── RecordError (ValueError)    one input record is unusable (names record and field)
    ├── InputError (ValueError)     an input file as a whole is unusable
    ├── UsageError (ValueError)     a call asks for what is not there: a scheme the policy
    │                               has no section for, a date it is not in effect on
    ├── ReviewError (ValueError)    a confirmation, override or appeal cannot be recorded
    │                               as asked (no reason given, a value not allowed)
    ├── LedgerError (ValueError)    a points-ledger operation is refused, nothing written
    │                               (names the field: unknown volunteer, over the balance,
    │                               an id reused with other content, a bad --db URL)
    └── PluginError (RuntimeError)  a plugin contributes something invalid or conflicting

``CivicScoreError`` itself is never raised (a test checks it): every error is
one of the kinds above, so a caller can tell them apart.

Exceptions subclass the builtin they refine (as attrs does), so code that
already catches ``ValueError`` keeps working, and none shadows a builtin name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .record_words import say, who

__all__ = [
    "CivicScoreError",
    "ExpressionError",
    "InputError",
    "LedgerError",
    "PluginError",
    "PolicyError",
    "Problem",
    "RecordError",
    "ReviewError",
    "UsageError",
]


class CivicScoreError(Exception):
    """Base class: catch this to handle any error civicscore raises on purpose."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One located mistake in a policy file.

    ``path`` is the TOML key path (``volunteer.activities.patrol.points``);
    ``line``/``col`` are 1-based and point at the key or value at fault.
    """

    file: str
    line: int
    col: int
    message: str
    path: str = ""
    hint: str = ""
    severity: str = "error"
    #: The message and hint as an officer reads them in Chinese, where the check that
    #: found the problem words it so (``messages.problem_line`` shows them under
    #: ``--lang zh``); empty: the English one is shown inside the Chinese frame.
    message_zh: str = field(default="", compare=False)
    hint_zh: str = field(default="", compare=False)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}"
        key = f" [{self.path}]" if self.path else ""
        hint = f" ({self.hint})" if self.hint else ""
        label = "" if self.severity == "error" else f"{self.severity}: "
        return f"{where}: {label}{self.message}{key}{hint}"


class PolicyError(CivicScoreError, ValueError):
    """A policy file cannot be used; ``problems`` lists every mistake found.

    The loader keeps going after the first mistake so that an officer can fix
    a whole file in one pass, then raises one ``PolicyError`` with all of them.
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def single(
        cls, file: str, line: int, col: int, message: str, *, path: str = "", hint: str = "",
        zh: tuple[str, str] = ("", ""),
    ) -> PolicyError:
        """One problem; ``zh`` is its message and hint in Chinese, where they are worded."""
        return cls([Problem(file, line, col, message, path, hint, message_zh=zh[0],
                            hint_zh=zh[1])])


class ExpressionError(CivicScoreError, ValueError):
    """An expression uses something outside the language or mixes types.

    ``offset`` is the 0-based column inside the expression text, so the loader
    can add it to the column where the string starts in the TOML file.
    """

    def __init__(self, message: str, *, offset: int = 0, hint: str = "",
                 zh: tuple[str, str] = ("", "")) -> None:
        self.message = message
        self.offset = offset
        self.hint = hint
        #: The message and hint in Chinese, where the checker words them so (else empty).
        self.message_zh, self.hint_zh = zh
        super().__init__(message + (f" ({hint})" if hint else ""))

    @classmethod
    def said(cls, message: tuple[str, str], hint: tuple[str, str] = ("", ""), *,
             offset: int = 0) -> ExpressionError:
        """From a message and a hint, each (English, Chinese)."""
        return cls(message[0], offset=offset, hint=hint[0], zh=(message[1], hint[1]))


class RecordError(CivicScoreError, ValueError):
    """One input record is unusable; names the record and the field."""

    def __init__(self, record: str, field: str, message: str, *, code: str = "INVALID_FIELD",
                 message_zh: str | None = None):
        self.record = record
        self.field = field
        self.message = message
        self.message_zh = message_zh
        self.code = code
        super().__init__(say("field", "en", who=who(record, "en"), field=field,
                             detail=message))

    def detail(self, lang: str) -> str:
        """What is wrong with the value, in ``lang`` (``zh`` or ``en``; English where no
        Chinese was given)."""
        return self.message_zh if lang == "zh" and self.message_zh else self.message

    def text(self, lang: str) -> str:
        """The whole sentence in ``lang``: ``str(self)`` in English, ``记录 H1：字段“age”：
        应为整数，实际为 'x'`` in Chinese (``record_words`` holds both frames)."""
        if lang != "zh":
            return str(self)
        return say("field", "zh", who=who(self.record, "zh"), field=self.field,
                   detail=self.detail("zh"))

    def __reduce__(self) -> tuple[Any, ...]:
        # a worker process (Spark, a pool) re-raises the error it got with both languages
        return (_record_error, (self.record, self.field, self.message, self.code,
                                self.message_zh))


def _record_error(record: str, field: str, message: str, code: str,
                  message_zh: str | None) -> RecordError:
    return RecordError(record, field, message, code=code, message_zh=message_zh)


class InputError(CivicScoreError, ValueError):
    """An input file cannot be read at all (wrong format, not UTF-8, truncated)."""


class UsageError(CivicScoreError, ValueError):
    """A call asks for something the policy does not offer: a scheme it has no section
    for, a date it is not in effect on, an option that does not exist."""


class ReviewError(CivicScoreError, ValueError):
    """A human review (a confirmation, an override, an appeal) cannot be recorded as
    asked: it lacks a reason or an author, or sets a value the policy does not allow."""


class LedgerError(CivicScoreError, ValueError):
    """A points-ledger operation is refused and nothing was written; ``field`` names what
    is wrong (``volunteer_id``, ``points``, ``date``, ``id``, ``db``, ...)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")

    def __reduce__(self) -> tuple[Any, ...]:
        # args holds the joined text; a worker process (Spark, a pool) re-raises the error
        # it got by calling the class with the two parts again
        return (type(self), (self.field, self.message))


class PluginError(CivicScoreError, RuntimeError):
    """A plugin contributes something invalid or clashes with another plugin."""
