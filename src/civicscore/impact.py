"""``civicscore impact``: who a policy change affects, before it is made.

The first question about a policy change is "who does it affect?" (OpenFisca
answers it with reforms against a baseline, PolicyEngine with a page of
winners and losers). This module scores the same population under an OLD and
a NEW policy with the scheme's own ``run`` (the Scheme protocol every scheme,
a plugin's too, implements: nothing here decides anything) and compares the
two sets of output rows, decision by decision:

* rows in = scored + rejected on both sides, and which rows became rejected
  or scored;
* for every outcome column (tier, stars, title, grade, total, points,
  balance, next due date, ...: every output column except ids, labels,
  reasons and the policy columns), how many decisions changed, the
  transitions old -> new, and for numbers and dates which way and by how much;
* the reason codes whose reasons differ between the two decisions, as the
  rules that caused each change;
* the same counts by grid, community and liaison where those columns exist;
* the caseload of each liaison before and after, where the scheme's detail
  rows are per liaison;
* a disparity check across columns the operator names (``--by``): those
  columns are taken out of every record before it is scored, so they cannot
  reach a rule, and groups smaller than ``min_group`` are pooled so that no
  small group can be singled out.

The report is a plain dict (``REPORT_SCHEMA`` names its shape, and a test pins
its keys) written as JSON for applications or as one static HTML page with
inline SVG charts for officers.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import UsageError
from .records import UnreadableRow
from .report.layers import diff

if TYPE_CHECKING:
    from .policy.compile import Policy

REPORT_SCHEMA = "civicscore.impact/1"

#: Columns that break the counts down when a population has them (output or input).
BREAKDOWN_COLUMNS = ("grid", "grid_id", "community", "community_id", "liaison_id")
#: Output columns that are never outcomes: bookkeeping, wording and the policy reference.
NOT_OUTCOMES = frozenset({"row", "status", "reason_codes", "reasons", "as_of", "policy_id",
                          "policy_version", "policy_hash"})
#: A group's share of changed decisions outside this ratio to the rest's is flagged
#: (the four-fifths rule of adverse-impact analysis, both ways).
DISPARITY_RATIO = (0.8, 1.25)
MAX_TRANSITIONS = 50


@dataclass(frozen=True)
class _Side:
    policy: Policy
    rows: dict[Any, dict[str, Any]]
    rejected: dict[int, dict[str, Any]]
    details: list[dict[str, Any]]
    other_rejected: dict[str, int]


def _outcome_field(name: str, ignore: Iterable[str]) -> bool:
    return (name not in NOT_OUTCOMES and name not in ignore
            and not name.endswith(("_label", "_label_en", "_en")))


def _key_field(rows: Sequence[Mapping[str, Any]], record_fields: Sequence[str]) -> str:
    """How decisions are matched across the two runs: by input row, else by an id."""
    if not rows or "row" in rows[0]:
        return "row"
    for name in record_fields:
        if name in rows[0]:
            return name
    raise UsageError("the scheme's output rows carry neither a row number nor an id of its "
                     "records; impact cannot match them across the two policies")


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if hasattr(value, "as_integer_ratio") and not isinstance(value, (int, float)):
        return float(value)  # a Decimal
    return value


def _frozen(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    return value


def _run(policy: Policy, scheme: str, records: list[Any], as_of: dt.date,
         extra: Mapping[str, list[Any]], key: str | None) -> tuple[_Side, str]:
    spec = policy.spec(scheme)
    result = policy.scheme(scheme).run(list(records), as_of=as_of,
                                       **{k: list(v) for k, v in extra.items()})
    out = [dict(r) for r in result.output_rows()]
    key = key or _key_field(out, spec.record_fields)
    rows = {r.get(key): r for r in out}
    every = result.rejected_rows()
    rejected = {int(r["row"]): r for r in every if r["input"] == spec.input_kind}
    others = Counter(str(r["input"]) for r in every if r["input"] != spec.input_kind)
    details = [dict(r) for r in result.detail_rows()]
    return _Side(policy, rows, rejected, details, dict(sorted(others.items()))), key


def _causes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Reason codes whose reasons differ: the rules behind a changed decision."""
    def pairs(row: Mapping[str, Any]) -> Counter[tuple[str, str]]:
        codes = list(row.get("reason_codes") or [])
        texts = list(row.get("reasons") or [])
        if len(texts) != len(codes):
            texts = [""] * len(codes)
        return Counter(zip(codes, texts, strict=True))

    a, b = pairs(old), pairs(new)
    return sorted({code for code, _ in (a - b) + (b - a)})


def _rule_index(old: Policy, new: Policy, scheme: str) -> dict[str, list[str]]:
    """Rule id -> the rules of that id (``civility.stars.clean_home``), from the rule ids
    both policies' schemes list for coverage (``rule_ids``), so that an outcome naming a
    rule (a tier, a grade, a star met) names the rule."""
    index: dict[str, list[str]] = {}
    for pol in (old, new):
        compiled = pol.scheme(scheme)
        for rule in sorted(getattr(compiled, "rule_ids", lambda: set())()):
            rid = rule.rsplit(".", 1)[-1]
            if rule not in index.setdefault(rid, []):
                index[rid].append(rule)
    return index


def _rules_in(diffs: Mapping[str, Sequence[Any]], index: Mapping[str, list[str]]) -> list[str]:
    """The rules a changed decision's outcomes name: the tier or grade it left and the one
    it took, the stars or triggers it gained or lost."""
    found: set[str] = set()
    for va, vb in diffs.values():
        if isinstance(va, (list, tuple)) or isinstance(vb, (list, tuple)):
            a, b = set(_frozen(va or ())), set(_frozen(vb or ()))
            values: set[Any] = a ^ b
        else:
            values = {va, vb}
        for v in values:
            if isinstance(v, str):
                found.update(index.get(v, ()))
    return sorted(found)


def _sentences(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, list[str]]:
    """The reason sentences one decision has and the other has not: what changed, in
    the scheme's own words (the sentences both share are left out)."""
    a, b = list(old.get("reasons") or []), list(new.get("reasons") or [])
    return {"old": [x for x in a if x not in b], "new": [x for x in b if x not in a]}


def _share(n: int, total: int) -> float:
    return round(n / total, 6) if total else 0.0


def _delta(old: Any, new: Any) -> float | None:
    if isinstance(old, bool) or isinstance(new, bool):
        return None
    if isinstance(old, dt.date) and isinstance(new, dt.date):
        return float((new - old).days)
    try:
        return float(new) - float(old)
    except (TypeError, ValueError):
        return None


def compare(old: Policy, new: Policy, scheme: str, records: Iterable[Any], *,
            as_of: dt.date, extra: Mapping[str, Iterable[Any]] | None = None,
            by: Sequence[str] = (), min_group: int = 5) -> dict[str, Any]:
    """The impact report of changing ``old`` to ``new`` for ``scheme`` on ``records``."""
    spec = new.spec(scheme)
    old.spec(scheme)
    entity_facts: set[str] = set()
    for pol in (old, new):
        section = getattr(pol.model, scheme, None)
        for entity in pol.spec(scheme).entities_of(section):
            entity_facts |= set(pol.model.facts.get(entity, {}))
    for column in by:
        if column in spec.record_fields or column in entity_facts:
            raise UsageError(f"--by {column}: the policy reads {column!r} (a field of its "
                             f"records or a declared fact); a disparity check needs a "
                             f"column the rules never read")
    # the --by columns are taken out of the records before scoring: they never reach a rule
    rows_in: list[Any] = []
    groups_in: dict[int, dict[str, Any]] = {}
    for i, record in enumerate(records, start=1):
        if isinstance(record, UnreadableRow) or not isinstance(record, Mapping):
            rows_in.append(record)
            continue
        groups_in[i] = {c: record.get(c) for c in (*BREAKDOWN_COLUMNS, *by) if c in record}
        rows_in.append({k: v for k, v in record.items() if k not in by} if by else record)
    extras = {k: list(v) for k, v in (extra or {}).items()}
    a, key = _run(old, scheme, rows_in, as_of, extras, None)
    if by and key != "row":
        raise UsageError(f"--by needs one decision per input row; scheme {scheme} decides "
                         f"per {key}")
    b, _ = _run(new, scheme, rows_in, as_of, extras, key)
    ignore = {*spec.record_fields, key}
    units = list(dict.fromkeys([*a.rows, *b.rows]))
    fields = [f for f in dict.fromkeys(k for side in (a, b) for r in side.rows.values()
                                       for k in r) if _outcome_field(f, ignore)]
    id_field = next((f for f in spec.record_fields if f != key and any(
        f in r for r in a.rows.values())), key)

    rule_index = _rule_index(old, new, scheme)
    policy_changes = _policy_changes(old, new, scheme)
    per_field: dict[str, dict[str, Any]] = {
        f: {"changed": 0, "transitions": Counter(), "deltas": []} for f in fields}
    status: Counter[str] = Counter()
    causes: Counter[str] = Counter()
    rules: Counter[str] = Counter()
    changed_rows: list[dict[str, Any]] = []
    group_of: dict[Any, dict[str, Any]] = {}
    for unit in units:
        ra, rb = a.rows.get(unit) or {}, b.rows.get(unit) or {}
        sa = ra.get("status", "scored") if ra else "missing"
        sb = rb.get("status", "scored") if rb else "missing"
        status[f"{sa}->{sb}"] += 1
        values = {**(groups_in.get(unit, {}) if key == "row" else {}),
                  **{c: ra.get(c, rb.get(c)) for c in BREAKDOWN_COLUMNS if c in ra or c in rb}}
        group_of[unit] = values
        diffs: dict[str, list[Any]] = {}
        if sa == sb == "scored":
            for f in fields:
                va, vb = ra.get(f), rb.get(f)
                if va != vb and _frozen(va) != _frozen(vb):
                    diffs[f] = [va, vb]
                    stats = per_field[f]
                    stats["changed"] += 1
                    stats["transitions"][(_frozen(va), _frozen(vb))] += 1
                    if (d := _delta(va, vb)) is not None:
                        stats["deltas"].append(d)
        if sa != sb or diffs:
            why = _causes(ra, rb) if sa == sb else []
            involved = _rules_in(diffs, rule_index)
            causes.update(why)
            rules.update(involved)
            changed_rows.append({
                "key": _jsonable(unit), "id": _jsonable(ra.get(id_field, rb.get(id_field))),
                "status": [sa, sb], "changes": _jsonable(diffs), "causes": why,
                "rules": involved,
                "reasons": _sentences(ra, rb)})
    changed_keys = {c["key"] for c in changed_rows}
    total = len(units)
    report: dict[str, Any] = {
        "schema": REPORT_SCHEMA,
        "scheme": scheme,
        "as_of": as_of.isoformat(),
        "noun": spec.noun if key == "row" else f"decisions (one per {key})",
        "old": _side_summary(a, len(rows_in)),
        "new": _side_summary(b, len(rows_in)),
        "policy_changes": policy_changes,
        "compared": total,
        "changed": len(changed_rows),
        "share_changed": _share(len(changed_rows), total),
        "status": dict(sorted(status.items())),
        "rejections": {
            "newly_rejected": sorted(set(b.rejected) - set(a.rejected)),
            "no_longer_rejected": sorted(set(a.rejected) - set(b.rejected)),
            "rejected_both": len(set(a.rejected) & set(b.rejected)),
        },
        "fields": {f: _field_summary(s, total) for f, s in per_field.items()},
        "causes": [{"code": c, "count": n, "share": _share(n, len(changed_rows))}
                   for c, n in causes.most_common()],
        "rules": [{"rule": r, "count": n, "share": _share(n, len(changed_rows)),
                   "changed_in_policy": any(c["path"] == r or c["path"].startswith(r + ".")
                                            for c in policy_changes)}
                  for r, n in rules.most_common()],
        "groups": {c: _groups(c, group_of, changed_keys, min_group=1)
                   for c in BREAKDOWN_COLUMNS if any(c in g for g in group_of.values())},
        "disparity": {c: _disparity(c, group_of, changed_keys, changed_rows, fields,
                                    min_group) for c in by},
        "caseload": _caseload(a.details, b.details),
        "rows": changed_rows,
    }
    return report


def _side_summary(side: _Side, rows_in: int) -> dict[str, Any]:
    ref = side.policy.ref
    return {"policy": {"id": ref.id, "version": ref.version, "hash": ref.hash,
                       "source": ref.source},
            "rows_in": rows_in, "scored": rows_in - len(side.rejected),
            "rejected": len(side.rejected), "rejected_other_inputs": side.other_rejected}


def _policy_changes(old: Policy, new: Policy, scheme: str) -> list[dict[str, Any]]:
    """The keys that differ between the two policies and can change this scheme's
    decisions: its section, the facts of its records, the holiday calendar. A key left
    at its default counts as not written (so a new key reads "added")."""
    def meaning(p: Policy) -> dict[str, Any]:
        section = getattr(p.model, scheme, None)
        entities = p.spec(scheme).entities_of(section)
        data = p.model.model_dump(by_alias=True, exclude_defaults=True,
                                  include={scheme, "facts", "calendar"})
        facts = data.get("facts", {})
        data["facts"] = {e: facts[e] for e in entities if e in facts}
        return data

    return [{"path": c.path, "kind": c.kind, "old": _jsonable(c.old), "new": _jsonable(c.new)}
            for c in diff(meaning(old), meaning(new))]


def _field_summary(stats: Mapping[str, Any], total: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "changed": stats["changed"], "share": _share(stats["changed"], total),
        "transitions": [{"old": _jsonable(o), "new": _jsonable(n), "count": k}
                        for (o, n), k in stats["transitions"].most_common(MAX_TRANSITIONS)],
    }
    deltas: list[float] = stats["deltas"]
    if deltas:
        out["delta"] = {"up": sum(d > 0 for d in deltas), "down": sum(d < 0 for d in deltas),
                        "sum": round(sum(deltas), 6),
                        "mean": round(sum(deltas) / len(deltas), 6),
                        "min": min(deltas), "max": max(deltas)}
    return out


def _groups(column: str, group_of: Mapping[Any, Mapping[str, Any]], changed: set[Any], *,
            min_group: int) -> list[dict[str, Any]]:
    counts: Counter[str] = Counter()
    hits: Counter[str] = Counter()
    for unit, values in group_of.items():
        value = values.get(column)
        name = "(none)" if value in (None, "") else str(value)
        counts[name] += 1
        hits[name] += _jsonable(unit) in changed
    out: list[dict[str, Any]] = []
    pooled = [n for n in counts if counts[n] < min_group]
    for name in sorted(n for n in counts if n not in pooled):
        out.append({"value": name, "rows": counts[name], "changed": hits[name],
                    "share": _share(hits[name], counts[name])})
    if pooled:
        rows, changed_n = sum(counts[n] for n in pooled), sum(hits[n] for n in pooled)
        out.append({"value": f"(groups under {min_group}, {len(pooled)} pooled)",
                    "rows": rows, "changed": changed_n, "share": _share(changed_n, rows)})
    return out


def _disparity(column: str, group_of: Mapping[Any, Mapping[str, Any]], changed: set[Any],
               rows: Sequence[Mapping[str, Any]], fields: Sequence[str],
               min_group: int) -> dict[str, Any]:
    groups = _groups(column, group_of, changed, min_group=min_group)
    total = sum(g["rows"] for g in groups)
    hits = sum(g["changed"] for g in groups)
    deltas: dict[str, dict[str, list[float]]] = {}
    names = {}
    for unit, values in group_of.items():
        v = values.get(column)
        names[_jsonable(unit)] = "(none)" if v in (None, "") else str(v)
    shown = {g["value"] for g in groups}
    for r in rows:
        group = names.get(r["key"], "(none)")
        group = group if group in shown else next(
            (g["value"] for g in groups if g["value"].startswith("(groups under")), group)
        for f, (va, vb) in r["changes"].items():
            d = _delta(_parse(va), _parse(vb))
            if d is not None:
                deltas.setdefault(group, {}).setdefault(f, []).append(d)
    lo, hi = DISPARITY_RATIO
    flagged = []
    for g in groups:
        rest_rows, rest_hits = total - g["rows"], hits - g["changed"]
        rest = rest_hits / rest_rows if rest_rows else 0.0
        g["ratio_to_rest"] = round(g["share"] / rest, 6) if rest else None
        g["mean_delta"] = {f: round(sum(v) / g["rows"], 6)
                           for f, v in deltas.get(g["value"], {}).items()}
        small = g["value"].startswith("(groups under")
        ratio = g["ratio_to_rest"]
        if not small and g["changed"] and (ratio is None or not lo <= ratio <= hi):
            flagged.append(g["value"])
    return {"column": column, "overall_share": _share(hits, total), "groups": groups,
            "flagged": flagged, "ratio_band": list(DISPARITY_RATIO), "min_group": min_group}


def _parse(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value
    return value


def _caseload(before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]]
              ) -> list[dict[str, Any]]:
    """Detail rows that are one per liaison (a caseload), before and after."""
    def per_liaison(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]] | None:
        if not rows or "liaison_id" not in rows[0] or "row" in rows[0]:
            return None
        return {str(r["liaison_id"]): {k: _jsonable(v) for k, v in r.items() if _number(v)}
                for r in rows}

    a, b = per_liaison(before), per_liaison(after)
    if a is None or b is None:
        return []
    return [{"liaison_id": k, "before": a.get(k, {}), "after": b.get(k, {})}
            for k in sorted({*a, *b})]


def _number(value: Any) -> bool:
    """An int, float or Decimal (not a bool): a count or a rate of a caseload."""
    return not isinstance(value, bool) and hasattr(value, "as_integer_ratio")


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if hasattr(value, "as_integer_ratio"):
        return float(value)  # a Decimal
    raise TypeError(f"{type(value).__name__} is not JSON")


def to_json(report: Mapping[str, Any]) -> str:
    """The report as JSON text (its values are already plain, but for dates and decimals)."""
    return json.dumps(report, ensure_ascii=False, indent=1, default=_json_default) + "\n"
