"""Whether an appeal re-decides a record among the cohort that decided it.

Some decisions depend on other records: an appraisal grade on the quota and rank
over every scored subject of the run, a visit schedule's caseload on the other
households of the same liaison, a volunteer's caps on their other records (the
scheme's ``Split.group_by``). An appeal that re-decides such a record among other
records (a roster of today, not the run's; a correction that moves a household to
another liaison or makes a rejected subject count) answers a different question
than "what would the decision have been with the right facts". It may still be the
right thing to do, but it must not be silent: :func:`cohort_notes` says what
differs, by id, in English and in Chinese, and ``audit.Appeal.explain`` shows it
above the changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .schemes.base import ONE_GROUP, SchemeSpec

_SHOWN = 5  # ids named in a note before "and N more"


@dataclass(frozen=True)
class CohortNote:
    """One way the appeal's cohort differs from the run's, in English and Chinese."""

    en: str
    zh: str


def _value(record: Any, name: str) -> str:
    value = record.get(name) if isinstance(record, Mapping) else None
    return "" if value is None or value == "" else str(value)


def _ids(ids: Iterable[str]) -> str:
    items = sorted(ids)
    more = f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    return ", ".join(items[:_SHOWN]) + more


def _ids_zh(ids: Iterable[str]) -> str:
    items = sorted(ids)
    more = f" 等 {len(items)} 个" if len(items) > _SHOWN else ""
    return "、".join(items[:_SHOWN]) + more


def cohort_notes(spec: SchemeSpec, records: Sequence[Any], corrected: Sequence[Any],
                 rows: Iterable[int], logged: Sequence[Mapping[str, Any]] | None,
                 before: Sequence[tuple[int, Mapping[str, Any]]],
                 after: Sequence[tuple[int, Mapping[str, Any]]]) -> list[CohortNote]:
    """What differs between the cohort of the run that decided (``logged``: its decision
    log entries of record decisions, each with ``input`` and ``result``) and the cohort
    an appeal re-decided the corrected ``rows`` in (``records`` as given, ``corrected``
    with the corrections; ``before``/``after``: (row, result) of the appeal's two runs).
    Nothing for a scheme whose records are decided each on its own."""
    split = spec.split
    by = split.group_by if split is not None else None
    if split is None or by is None:
        return []
    noun, key = spec.noun, split.id_field
    whole = by == ONE_GROUP
    if logged is None:
        which = "the whole run" if whole else f"the {noun} with the same {by}"
        return [CohortNote(
            f"these decisions depend on their cohort ({which}); "
            f"the appeal re-decided them among the {len(records)} {noun} given, without the "
            f"run that decided to check that they are the same {noun}",
            f"这些决定取决于其所在群体（{'整次运行' if whole else f'{by} 相同的记录'}）；"
            f"本次申诉在所给的 {len(records)} 条记录中重新决定，未能对照原运行核实是否为同一群体")]
    notes: list[CohortNote] = []

    def group(record: Any) -> str:
        return "" if whole else _value(record, by)

    def counted(results: Iterable[tuple[Any, Mapping[str, Any]]], value: str,
                source: Sequence[Any]) -> int:
        return sum(1 for row, res in results
                   if res.get("status") != "rejected" and 0 < row <= len(source)
                   and group(source[row - 1]) == value)

    logged_by_id: dict[str, Mapping[str, Any]] = {}
    for e in sorted(logged, key=lambda e: e.get("row") or 0):
        logged_by_id.setdefault(_value(e.get("input"), key), e)  # a repeat is not the id
    for row in sorted(rows):
        if not 0 < row <= len(records):
            continue
        ident = _value(records[row - 1], key)
        original = logged_by_id.get(ident)
        if original is None:
            notes.append(CohortNote(
                f"{ident or f'row {row}'} was not decided in the logged run: there is no "
                f"original cohort to compare with",
                f"{ident or f'第 {row} 行'} 不在所记录的运行中：没有可对照的原群体"))
            continue
        old = group(original.get("input"))
        new = group(corrected[row - 1])
        place = "the whole run" if whole else f"{by} {old or '(none)'}"
        place_zh = "整次运行" if whole else f"{by} 为 {old or '（无）'} 的群体"
        first = {_value(e.get("input"), key) for e in logged if group(e.get("input")) == old}
        given = {_value(r, key) for r in records if group(r) == old}
        missing, extra = first - given, given - first
        if missing or extra:
            parts = ([f"{len(missing)} of its {len(first)} {noun} are not in the appeal "
                      f"({_ids(missing)})"] if missing else []) + (
                [f"{len(extra)} were not in it ({_ids(extra)})"] if extra else [])
            parts_zh = ([f"原有 {len(first)} 条中 {len(missing)} 条不在申诉中"
                         f"（{_ids_zh(missing)}）"] if missing else []) + (
                [f"{len(extra)} 条原本不在其中（{_ids_zh(extra)}）"] if extra else [])
            notes.append(CohortNote(
                f"the cohort of {ident} differs from the run that decided ({place}): "
                + "; ".join(parts) + ", so its outcome is compared among other "
                f"{noun} than those it was decided among",
                f"{ident} 所在群体与原运行不同（{place_zh}）：" + "；".join(parts_zh)
                + "，因此是在另一批记录中比较其结果"))
        if new != old:
            notes.append(CohortNote(
                f"the correction moves {ident} from {by} {old or '(none)'} to "
                f"{new or '(none)'}: it is re-decided in another cohort, and the one that "
                f"decided it loses it",
                f"更正把 {ident} 从 {by} {old or '（无）'} 移到 {new or '（无）'}："
                f"它在另一个群体中重新决定，原群体也随之少了它"))
        was = sum(1 for e in logged if group(e.get("input")) == old
                  and (e.get("result") or {}).get("status") != "rejected")
        now = counted(after, new, corrected)
        if new == old and now != was:
            notes.append(CohortNote(
                f"the correction changes who counts in the cohort of {ident} ({place}): "
                f"{was} {noun} decided in the run, {now} after the correction (the quota, "
                f"rank or caseload is counted over them)",
                f"更正改变了 {ident} 所在群体（{place_zh}）中计入的记录数：原运行 {was} 条，"
                f"更正后 {now} 条（名额、排名或工作量按它们计算）"))
        remade: dict[str, Mapping[str, Any]] = {}
        for r, res in before:
            if 0 < r <= len(records) and group(records[r - 1]) == old:
                remade.setdefault(_value(records[r - 1], key), res)
        hidden = {f for e in logged for f in e.get("redacted") or ()}
        differ = sorted(i for i, res in remade.items() if i in logged_by_id and any(
            res.get(k) != v for k, v in (logged_by_id[i].get("result") or {}).items()
            if k != "reasons" and k not in hidden and k in res))
        if differ:
            notes.append(CohortNote(
                f"re-made from the appeal's records, {len(differ)} decision(s) of the cohort "
                f"of {ident} differ from what the run decided ({_ids(differ)}): the changes "
                f"below are against the re-made decisions, not the logged ones",
                f"按申诉所给记录重新计算，{ident} 所在群体中有 {len(differ)} 个决定与原运行不同"
                f"（{_ids_zh(differ)}）：下列变化以重新计算的结果为准，而非日志所记"))
    return notes
