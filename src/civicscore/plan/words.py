"""Reasons worded from one trace, by templates both engines render.

A decision's reasons are sentences that quote the values it read and the
values the plan computed ("last visit on 2025-03-01, monthly (1 month): next
visit due on 2025-04-01"). Wording them is part of a scheme's meaning, so it
is written once, as data, here:

* :class:`Words` is a sentence: literal text and :class:`Slot` s, each naming
  a column of the trace (a plan output, a fact, a computed value) and how its
  value is shown (:data:`SHOWS`); :class:`Branch` picks one of two sentences
  by a boolean column.
* A reason list is a tuple of entries: :class:`Say` (a sentence, said when a
  boolean column holds, or always) and :class:`Choose` (the sentence of the
  item an index column picks: the tier chosen, say; nothing when it is null).

Two renderers read the same templates: :func:`say_row` over one row (a
mapping of column to Python value, what the per-record path has) and
:func:`say_frame` over a polars frame (batch, no Python per row). Every way of
showing a value is one Python function (``SHOWS``); polars writes it with its
own expressions only where those give the same text (``tests/test_plan_words``
checks each against the Python function over random values), and otherwise
maps the *distinct* values of the column through the Python function, so the
text is the same by construction and costs one call per distinct value.

The renderers know nothing of any scheme.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # polars is the optional batch extra: imported where batch runs
    import polars as pl

#: ``dt.date.min``: "no visit on record" in a date fact (``records.NEVER``).
_NEVER = dt.date.min

Show = Literal["text", "int", "date", "iso", "fact", "days", "decimal", "bool",
               "date_zh", "fact_zh", "days_zh"]


def show_text(value: Any) -> str:
    """Text as it is, and anything else as ``str()`` writes it (None as ``None``)."""
    return str(value)


def show_int(value: Any) -> str:
    """A whole number in decimal digits."""
    return str(value)


def show_date(value: Any) -> str:
    """A date in ISO form (``2025-03-01``); "never" for ``records.NEVER``."""
    if value is None:
        return "None"
    return "never" if value == _NEVER else value.isoformat()


def show_iso(value: Any) -> str:
    """A date as ``str(date)`` writes it, ``0001-01-01`` included (no "never")."""
    return str(value)


def show_fact(value: Any) -> str:
    """A fact value as an officer would write it: true/false, an ISO date or "never",
    a float by ``:g`` (six significant digits), anything else by ``str()``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return "never" if value == _NEVER else value.isoformat()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def show_days(value: Any) -> str:
    """``1 day``, ``3 days``."""
    return f"{value} day" if value == 1 else f"{value} days"


def show_date_zh(value: Any) -> str:
    """:func:`show_date` in a Chinese sentence: "从未" for ``records.NEVER``."""
    if value is None:
        return "None"
    return "从未" if value == _NEVER else value.isoformat()


def show_fact_zh(value: Any) -> str:
    """:func:`show_fact` in a Chinese sentence: the value as the officer wrote it in the
    policy's terms (``true``, ``82``, an ISO date), "从未" for ``records.NEVER``."""
    if isinstance(value, dt.date) and value == _NEVER:
        return "从未"
    return show_fact(value)


def show_days_zh(value: Any) -> str:
    """``3 天``."""
    return f"{value} 天"


def show_decimal(value: Any) -> str:
    """An exact decimal as ``str(Decimal)`` writes it (``4.73``, ``10``); a float is
    shown through its shortest repr, so 0.1 is ``0.1``."""
    if isinstance(value, float):
        value = decimal.Decimal(repr(value))
    return str(value)


def show_bool(value: Any) -> str:
    """``true`` or ``false``."""
    return "None" if value is None else ("true" if value else "false")


def both_labels(label: str | None, label_en: str | None, fallback: str = "",
                sep: str | None = None) -> str:
    """A thing's Chinese and English labels as a sentence names it: ``任务完成率 (Task
    completion)`` (or ``每周探访 / Weekly visits`` with ``sep=" / "``), one label when
    the two are the same or only one is given, else ``fallback`` (its id)."""
    label, label_en = label or "", label_en or ""
    if label and label_en and label != label_en:
        return f"{label}{sep}{label_en}" if sep else f"{label} ({label_en})"
    return label or label_en or fallback


SHOWS: dict[str, Callable[[Any], str]] = {
    "text": show_text, "int": show_int, "date": show_date, "iso": show_iso, "fact": show_fact,
    "days": show_days, "decimal": show_decimal, "bool": show_bool,
    "date_zh": show_date_zh, "fact_zh": show_fact_zh, "days_zh": show_days_zh,
}
"""How a value is shown, by name: the one Python function of each way."""


@dataclass(frozen=True, slots=True)
class Slot:
    """The value of ``column``, shown as ``show`` says."""

    column: str
    show: Show = "text"


@dataclass(frozen=True, slots=True)
class Branch:
    """``then`` where the boolean ``column`` is true, else ``otherwise``."""

    column: str
    then: Words
    otherwise: Words


Part = str | Slot | Branch


@dataclass(frozen=True, slots=True)
class Words:
    """A sentence: literal text, slots and branches, joined with nothing between."""

    parts: tuple[Part, ...]

    @staticmethod
    def of(*parts: Part) -> Words:
        """``Words.of("last visit on ", Slot("last", "date"))``; adjacent literals merge."""
        merged: list[Part] = []
        for p in parts:
            if isinstance(p, str) and merged and isinstance(merged[-1], str):
                merged[-1] = merged[-1] + p
            elif p != "":
                merged.append(p)
        return Words(tuple(merged))

    def columns(self) -> set[str]:
        """Every column the sentence reads."""
        out: set[str] = set()
        for p in self.parts:
            if isinstance(p, Slot):
                out.add(p.column)
            elif isinstance(p, Branch):
                out |= {p.column} | p.then.columns() | p.otherwise.columns()
        return out

    def render(self, row: Mapping[str, Any]) -> str:
        """The sentence for one row (the per-record renderer)."""
        out = []
        for p in self.parts:
            if isinstance(p, str):
                out.append(p)
            elif isinstance(p, Slot):
                out.append(SHOWS[p.show](row[p.column]))
            else:
                out.append((p.then if row[p.column] else p.otherwise).render(row))
        return "".join(out)


@dataclass(frozen=True, slots=True)
class Say:
    """One reason's sentence, said where the boolean ``when`` column is true (always when
    ``when`` is None)."""

    words: Words
    when: str | None = None


@dataclass(frozen=True, slots=True)
class Choose:
    """The sentence of item ``items[index]``, where the integer ``index`` column is not
    null (and names an item); nothing where it is null."""

    index: str
    items: tuple[Words, ...]


Entry = Say | Choose


def say_row(entries: Sequence[Entry], row: Mapping[str, Any]) -> list[str]:
    """The reasons' sentences of one row, in order (the per-record renderer)."""
    out = []
    for e in entries:
        if isinstance(e, Say):
            if e.when is None or row[e.when]:
                out.append(e.words.render(row))
        else:
            at = row[e.index]
            if at is not None:
                out.append(e.items[at].render(row))
    return out


# --- polars ---------------------------------------------------------------------------
#
# A frame's reason lists: each entry's sentence is rendered at the rows that may say it
# (``_entry_said``), as polars expressions over the distinct combinations of the values
# it reads (``_Renderer``: slots, branches and choices, no Python per row), then all
# sentences are assembled per row in entry order (``_assembled``).

#: Above this many computed items a Choose over many distinct rows renders each item
#: over its own rows (a when/then chain evaluates every item on every row).
_CHAIN_LIMIT = 16
#: How many rows are looked at to tell whether an entry's values repeat (a sentence is
#: rendered per distinct combination of them only where they do).
_LOOK = 4096


def _native(show: str, dtype: pl.DataType, v: pl.Expr | None = None) -> pl.Expr | None:
    """The polars expression that writes ``show`` of ``v`` (a column of ``dtype``, the
    column ``__v`` if not given) exactly as the Python function does, or None where none
    is proven equal (then the distinct values are mapped through the Python function)."""
    import polars as pl

    v = pl.col("__v") if v is None else v
    if dtype == pl.String and show in ("text", "fact"):
        return v
    if dtype.is_integer() and show in ("text", "int", "fact", "decimal"):
        return v.cast(pl.String)
    if dtype.is_integer() and show == "days":
        return pl.when(v == 1).then(pl.lit("1 day")).otherwise(
            pl.concat_str([v.cast(pl.String), pl.lit(" days")]))
    if dtype.is_integer() and show == "days_zh":
        return pl.concat_str([v.cast(pl.String), pl.lit(" 天")])
    if dtype == pl.String and show == "fact_zh":
        return v
    if dtype.is_integer() and show == "fact_zh":
        return v.cast(pl.String)
    if dtype == pl.Boolean and show in ("fact", "bool", "fact_zh"):
        return pl.when(v).then(pl.lit("true")).when(~v).then(pl.lit("false"))
    if dtype == pl.Date and show in ("date", "fact"):
        return pl.when(v == _NEVER).then(pl.lit("never")).otherwise(v.dt.strftime("%Y-%m-%d"))
    if dtype == pl.Date and show in ("date_zh", "fact_zh"):
        return pl.when(v == _NEVER).then(pl.lit("从未")).otherwise(v.dt.strftime("%Y-%m-%d"))
    if dtype == pl.Date and show in ("iso", "text"):
        return v.dt.strftime("%Y-%m-%d")
    return None


def _shown(frame: pl.DataFrame, column: str, show: str) -> pl.Series:
    """``show`` of every value of ``column`` as text (null where the value is null)."""
    import polars as pl

    s = frame[column]
    native = _native(show, s.dtype)
    if native is not None:
        return pl.DataFrame({"__v": s}).select(native.alias(column)).to_series()
    fn = SHOWS[show]
    if s.dtype.is_float():
        # keyed by the shortest round-trip text, so 0.0 and -0.0 (equal as numbers, shown
        # "0" and "-0") stay apart; the text is parsed back to the very float
        key = s.cast(pl.String)
        distinct = key.unique().drop_nulls()
        texts = pl.Series([fn(float(v)) for v in distinct.to_list()], dtype=pl.String)
    else:
        key = s
        distinct = s.unique().drop_nulls()
        texts = pl.Series([fn(v) for v in distinct.to_list()], dtype=pl.String)
    keyed = pl.DataFrame({"__k": distinct, "__t": texts})
    return (pl.DataFrame({"__k": key}).join(keyed, on="__k", how="left", nulls_equal=False,
                                            maintain_order="left")["__t"].alias(column))


class _Renderer:
    """Entries as polars expressions over one frame, each a sentence or null.

    A slot polars can show natively is an expression over its column; any other is
    shown once per distinct value (``_shown``) into a column added to the frame."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame
        self.added: dict[str, pl.Series] = {}  # columns computed eagerly, by name
        self._slots: dict[tuple[str, str], pl.Expr] = {}

    def literal(self, text: str) -> pl.Expr:
        import polars as pl

        return pl.lit(text, dtype=pl.String)

    def flag(self, column: str) -> pl.Expr:
        import polars as pl

        return pl.col(column).fill_null(False).cast(pl.Boolean)

    def slot(self, s: Slot) -> pl.Expr:
        import polars as pl

        key = (s.column, s.show)
        if key not in self._slots:
            column = self.frame[s.column]
            native = _native(s.show, column.dtype, pl.col(s.column))
            if native is None:
                shown = _shown(self.frame, s.column, s.show)
                name = f"__m{len(self.added)}"
                self.added[name] = shown.alias(name)
                native = pl.col(name)
            self._slots[key] = native.fill_null(SHOWS[s.show](None))
        return self._slots[key]

    def words(self, w: Words) -> pl.Expr:
        import polars as pl

        parts: list[pl.Expr] = []
        for p in w.parts:
            if isinstance(p, str):
                parts.append(self.literal(p))
            elif isinstance(p, Slot):
                parts.append(self.slot(p))
            else:
                parts.append(pl.when(self.flag(p.column)).then(self.words(p.then))
                             .otherwise(self.words(p.otherwise)))
        if not parts:
            return pl.lit("", dtype=pl.String)
        return parts[0] if len(parts) == 1 else pl.concat_str(parts)

    def entry(self, e: Entry) -> pl.Expr:
        import polars as pl

        if isinstance(e, Say):
            said = self.words(e.words)
            return said if e.when is None else pl.when(self.flag(e.when)).then(said)
        return self.choose(e)

    def choose(self, e: Choose) -> pl.Expr:
        """The chosen item's sentence: literal-only items by one gather from a table, the
        others by a when/then chain over the indexes that occur, or, for many, rendered
        over each item's own rows into a column."""
        import polars as pl

        index = self.frame[e.index]
        literal = [w.parts[0] if len(w.parts) == 1 and isinstance(w.parts[0], str)
                   else ("" if not w.parts else None) for w in e.items]
        present = [int(k) for k in index.unique().drop_nulls().to_list()]
        varying = [k for k in present if literal[k] is None]
        at = pl.col(e.index).cast(pl.Int64)
        out: pl.Expr = pl.lit(None, dtype=pl.String)
        if any(literal[k] is not None for k in present):
            out = pl.lit(pl.Series(literal, dtype=pl.String)).gather(at)
        if len(varying) > _CHAIN_LIMIT:
            name = f"__m{len(self.added)}"
            rendered = _by_item(e, self.frame, varying)
            self.added[name] = rendered.alias(name)
            return pl.coalesce(pl.col(name), out)
        for k in varying:
            out = pl.when(at == k).then(self.words(e.items[k])).otherwise(out)
        return out


def _by_item(e: Choose, frame: pl.DataFrame, varying: Sequence[int]) -> pl.Series:
    """The sentences of the ``varying`` items of ``e``, each rendered over its own rows
    only (one partition per item), null on every other row."""
    import polars as pl

    read = {e.index}.union(*(e.items[k].columns() for k in varying))
    numbered = frame.select(sorted(read)).with_row_index("__at").filter(
        pl.col(e.index).is_in(varying))
    rows: list[pl.Series] = []
    texts: list[pl.Series] = []
    for part in numbered.partition_by(e.index, maintain_order=False):
        k = int(part[e.index][0])
        rows.append(part["__at"])
        texts.append(_rendered(e.items[k], part))
    out = pl.repeat(None, frame.height, dtype=pl.String, eager=True).alias("__c")
    if rows:
        out = out.scatter(pl.concat(rows), pl.concat(texts))
    return out


def _rendered(words: Words, frame: pl.DataFrame) -> pl.Series:
    """The sentence of every row of ``frame``: one Words rendered eagerly."""
    r = _Renderer(frame)
    expr = r.words(words)
    # with_columns, not select: a sentence of literals alone is one value per row too
    return frame.with_columns(*r.added.values()).with_columns(expr.alias("__t"))["__t"]


def say_frame(entries: Sequence[Entry], frame: pl.DataFrame,
              more: Sequence[tuple[pl.Series, pl.Series]] = (), *,
              compact: bool = True) -> pl.Series:
    """The reasons' sentences of every row of ``frame``, a List(Categorical) column
    (:func:`reasons_dtype`; List(String) with ``compact=False``): the same lists
    :func:`say_row` gives row by row. ``frame`` holds every column the entries read;
    its other columns are ignored. ``more`` adds sentences after them, as (row
    position, text) column pairs."""
    return _lists(frame, entries, more, None, compact)[1]


def say_coded(coded: Sequence[tuple[str, Entry]], frame: pl.DataFrame, *,
              compact: bool = True) -> tuple[pl.Series, pl.Series]:
    """``(reason_codes, reasons)``: :func:`say_frame` of the entries of ``coded``, and
    beside each sentence said the code paired with its entry, in one assembly (the
    codes a List(String), the reasons as :func:`say_frame` types them)."""
    return _lists(frame, [e for _, e in coded], (), [c for c, _ in coded], compact)


def said_lists(n: int, texts: Sequence[pl.Series],
               more: Sequence[tuple[pl.Series, pl.Series]] = (), *,
               compact: bool = False) -> pl.Series:
    """Per row of ``n``, the non-null ``texts`` (row-aligned String columns, one per
    entry) in entry order, then the ``more`` texts at their row positions, as a
    List(String) column named ``reasons`` (an empty list where a row has none;
    List(Categorical) with ``compact``, for a column of sentences)."""
    import polars as pl

    at = pl.int_range(n, dtype=pl.Int64, eager=True)
    return _assembled(n, [(at, t) for t in texts] + list(more), None, compact)[0]


def reasons_dtype(categorical: bool = True) -> pl.DataType:
    """The type of a batch frame's ``reasons`` column: by default a list of Categorical,
    each distinct sentence held once (a tier's sentence is ~500 bytes and 10^6
    households say a few thousand distinct ones: 456 MB as List(String), 16 MB so).
    A scheme whose sentences are nearly all distinct (an appraisal's quote each
    subject's own scores) says ``categorical=False``: a dictionary would hold every
    sentence anyway, and building it costs a quarter of the run. Its values, CSV and
    JSON texts are those of List(String) either way; Parquet files of both engines
    write it as a list of dictionary-encoded strings (``io``)."""
    import polars as pl

    return pl.List(pl.Categorical() if categorical else pl.String())


def compact_reasons(frame: pl.DataFrame, categorical: bool = True) -> pl.DataFrame:
    """``frame`` with its ``reasons`` column (if any, a list of text) as
    :func:`reasons_dtype` (the frame itself where it is already so)."""
    import polars as pl

    dtype = frame.schema.get("reasons")
    wanted = reasons_dtype(categorical)
    if dtype is None or dtype == wanted or not isinstance(dtype, pl.List):
        return frame
    return frame.with_columns(pl.col("reasons").cast(wanted))


def _lists(frame: pl.DataFrame, entries: Sequence[Entry],
           more: Sequence[tuple[pl.Series, pl.Series]], codes: Sequence[str] | None,
           compact: bool = False) -> tuple[pl.Series, pl.Series]:
    """``(reason_codes, reasons)`` of every row of ``frame`` (codes only with ``codes``,
    else the reasons twice): each entry's sentences at the rows that say it, then the
    ``more`` pairs, assembled per row in that order."""
    said = [_entry_said(e, frame, compact) for e in entries] + list(more)
    texts, coded = _assembled(frame.height, said, codes, compact)
    return coded, texts


def _entry_said(e: Entry, frame: pl.DataFrame, compact: bool = False
                ) -> tuple[pl.Series, pl.Series]:
    """``(rows, texts)``: the positions of the rows of ``frame`` that may say entry ``e``
    and its sentence on each (null where it says none; Categorical with ``compact``).

    Only the rows that may say it are read (a trigger's sentence is said for a few
    households in a thousand). A sentence is a function of the values the entry reads
    alone, and those repeat (a tier's sentence quotes a dozen facts, but 10^6
    households hold a few thousand combinations of them): it is rendered once per
    distinct combination and then placed at every row that holds it, about ten times
    faster than writing each row's text (polars copies a long sentence slowly; as
    Categorical, each row holds only the sentence's number). Where most rows
    are distinct they are rendered directly. A float is keyed by its round-trip text,
    so 0.0 and -0.0 (equal as numbers, shown "0" and "-0") stay apart."""
    import polars as pl

    kind = pl.Categorical() if compact else pl.String()
    read = sorted(entry_columns([e]))
    rows = pl.int_range(frame.height, dtype=pl.Int64, eager=True)
    gate = e.when if isinstance(e, Say) else e.index
    if gate is not None:
        says = frame[gate].fill_null(False).cast(pl.Boolean) if isinstance(e, Say) \
            else frame[gate].is_not_null()
        if not says.all():
            frame, rows = frame.select(read).filter(says), rows.filter(says)
    if not read or frame.height < 2:
        return rows, _rendered_entry(e, frame).cast(kind)
    keys = frame.select(read).with_columns(rows.alias("__at"))
    on, floats = list(read), []
    for i, name in enumerate(read):
        if keys[name].dtype.is_float():
            key = f"__words_key{i}"
            keys = keys.with_columns(pl.col(name).cast(pl.String).alias(key))
            on[i] = key
            floats.append(name)
    # a first look at a few rows tells whether the values repeat at all
    if keys.head(_LOOK).unique(subset=on).height * 2 > min(_LOOK, keys.height):
        return rows, _rendered_entry(e, frame).cast(kind)
    groups = keys.group_by(on).agg("__at", *(pl.col(f).first() for f in floats))
    if groups.height * 2 > frame.height:
        return rows, _rendered_entry(e, frame).cast(kind)
    # each distinct combination's sentence, then at every row that holds it (the rows
    # come out in no order: the assembly orders them)
    said = groups.select(_rendered_entry(e, groups).cast(kind), "__at").explode("__at")
    return said["__at"], said["__t"]


def _rendered_entry(e: Entry, frame: pl.DataFrame) -> pl.Series:
    """The sentence ``e`` says on each row of ``frame``, written row by row in polars."""
    r = _Renderer(frame)
    expr = r.entry(e).alias("__t")
    # with_columns, not select: an entry of literals alone is one value per row too
    return frame.with_columns(*r.added.values()).with_columns(expr)["__t"]


def _assembled(n: int, said: Sequence[tuple[pl.Series, pl.Series]],
               codes: Sequence[str] | None, compact: bool = False
               ) -> tuple[pl.Series, pl.Series]:
    """``(reasons, reason_codes)``, the lists of ``n`` rows from (row positions, texts)
    pairs, one per entry in entry order (null texts are not said), and with ``codes`` the
    list of each sentence's entry code beside them (else the reasons twice). With
    ``compact`` the reasons are :func:`reasons_dtype` (the codes stay List(String)).

    The long assembly, for texts that hold the separator: the sentences stacked long
    (row, entry, text), the nulls dropped and grouped by row in order (a stable sort
    keeps entry order within a row)."""
    import polars as pl

    kind = pl.Categorical() if compact else pl.String()
    empty = pl.lit([], dtype=pl.List(kind))
    parts = [pl.DataFrame({"__r": rows.cast(pl.Int64), "__t": texts.cast(kind)})
             .filter(pl.col("__t").is_not_null()).with_columns(__k=pl.lit(k, dtype=pl.Int64))
             for k, (rows, texts) in enumerate(said)]
    if not parts:
        none = pl.select(pl.repeat(empty, n)).to_series()
        coded = pl.select(pl.repeat(pl.lit([], dtype=pl.List(pl.String)), n)).to_series() \
            if codes is not None else none
        return none.alias("reasons"), coded.alias("reason_codes")
    long = pl.concat(parts).sort("__r", maintain_order=True)
    names = ["__t"]
    if codes is not None:
        table = pl.Series(list(codes), dtype=pl.String)
        long = long.with_columns(__c=table.gather(long["__k"]))
        names.append("__c")
    grouped = long.group_by("__r", maintain_order=True).agg(*names)
    if grouped.height < n:  # rows with no sentence have no group
        grouped = pl.DataFrame({"__r": pl.int_range(n, dtype=pl.Int64, eager=True)}).join(
            grouped, on="__r", how="left", maintain_order="left").with_columns(
            pl.col("__t").fill_null(empty),
            *([pl.col("__c").fill_null(pl.lit([], dtype=pl.List(pl.String)))]
              if codes is not None else []))
    reasons = grouped["__t"].alias("reasons")
    return reasons, (grouped["__c"] if codes is not None else reasons).alias("reason_codes")


def entry_columns(entries: Sequence[Entry]) -> set[str]:
    """Every column the entries read (what a batch frame must hold to word them)."""
    out: set[str] = set()
    for e in entries:
        if isinstance(e, Say):
            out |= e.words.columns() | ({e.when} if e.when else set())
        else:
            out.add(e.index)
            for w in e.items:
                out |= w.columns()
    return out
