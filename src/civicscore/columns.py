"""Which declared facts an input file has no column for, said once with a run's summary.

A fact with a default reads that default when a record leaves it out: right for a
record that leaves one cell blank, silently wrong for a file that lacks the whole
column. An export without ``disability`` and ``dementia`` columns would give every
household ``false`` for both, and move some from monthly to routine visits, with
nothing said. So ``score`` looks at the file's columns before the run and warns,
beside its summary (an input refused as unusable gets its error alone), once per
fact, naming the fact and the default every record will read; a fact without a
default whose column is absent is said once too (every record will be rejected for
it, which the exit status then reports).

Only files whose columns are known before reading them are looked at: a CSV or
workbook header, a Parquet schema. JSON and JSON Lines records each carry their
own keys, so a missing key is a per-record matter there.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .policy.compile import Policy


@dataclass(frozen=True)
class AbsentFact:
    """A declared fact of the scheme's records that the input has no column for."""

    entity: str
    name: str
    default: Any
    """The default every record will read; None for a fact that is required."""
    optional: bool = False

    def message(self, path: str | Path) -> str:
        """The warning ``score`` prints (once, before the run)."""
        where = f"facts.{self.entity}.{self.name}"
        if self.optional:
            return (f"warning: {path} has no column {self.name!r}: every row will read it "
                    f"as 'never' (an optional date) [{where}]; add the column if the file "
                    f"should have it")
        if self.default is None:
            return (f"warning: {path} has no column {self.name!r}, which every row needs "
                    f"(it has no default) [{where}]: every row will be rejected "
                    f"(MISSING_FIELD)")
        return (f"warning: {path} has no column {self.name!r}: every row will read the "
                f"default {_shown(self.default)} [{where}]; add the column, or check that "
                f"the default is meant for all of them")


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    return repr(value) if isinstance(value, str) else str(value)


def column_names(path: str | Path) -> list[str] | None:
    """The columns of a CSV, workbook or Parquet input (or of a directory of CSV or
    Parquet files, which all have the same), as its reader names them, or None where
    records carry their own keys (JSON) or the header cannot be read (the reader then
    says why)."""
    from .errors import CivicScoreError
    from .io import format_of, input_options, read_records
    from .records import check_column_names

    p = Path(path)
    names: list[str] | None = None
    try:
        if p.is_dir():  # a directory of part files: the columns of its first file
            from .io import directory_files

            kind, files = directory_files(p)
            found = (column_names(f) for f in files if f.stat().st_size)
            return next((n for n in found if n is not None), None) \
                if kind in ("csv", "parquet") else None
        kind = format_of(p)
        if kind == "parquet":
            from .io import parquet_column_names

            names = parquet_column_names(p)
        elif kind == "xlsx":
            first = next(iter(read_records(p)), None)
            names = list(first) if isinstance(first, dict) else None
        elif kind == "csv":
            from .io import _text_lines

            header = next(csv.reader(_text_lines(p, input_options().encoding)), None)
            names = [h.strip() for h in header] if header is not None else None
        if names is not None:
            check_column_names(p, names)  # a header the reader refuses: it says why, alone
    except (CivicScoreError, csv.Error, OSError, StopIteration):
        return None
    return names


def _texts(value: Any) -> Iterator[str]:
    """Every string inside a dumped policy section (keys and values)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _texts(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _texts(v)


def absent_facts(policy: Policy, scheme: str, columns: list[str]) -> list[AbsentFact]:
    """The facts of the scheme's records (``[facts.<entity>]``) that its section reads and
    the input has no column for, in declaration order.

    A fact counts as read when its name appears as a word in the scheme's section (a
    ``when`` condition, an indicator's ``fact = "..."``): civility's facts share
    ``[facts.household]`` with the visit tiers, and a visits file without civility's
    columns is not worth a warning. A label that happens to hold the name only adds a
    warning, never hides one."""
    spec = policy.spec(scheme)
    section = getattr(policy.model, scheme, None)
    entity = spec.entity_of(section)
    if entity is None or section is None:
        return []
    if len(spec.entities_of(section)) > 1:
        # rows of several kinds (appraisal scorecards of their own entities): a column
        # one kind lacks is not missing from the rows of another, and which row is
        # which kind is for the rules to say
        return []
    dumped = section.model_dump(mode="json") if hasattr(section, "model_dump") else {}
    words = {w for text in _texts(dumped) for w in re.findall(r"[^\W\d]\w*", text)}
    present = set(columns)
    facts = policy.model.facts.get(entity, {})
    return [AbsentFact(entity, name, fact.default, fact.optional)
            for name, fact in facts.items() if name not in present and name in words]
