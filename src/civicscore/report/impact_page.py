"""The impact report (:func:`civicscore.impact.compare`) as one static HTML page.

Built from the report dict alone, so the page never shows what the JSON does
not hold; charts are inline SVG (:func:`.html.bar_chart`), text is escaped,
and nothing is fetched or run when the page is opened.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .blocks import Doc, to_html, to_markdown
from .html import bar_chart

#: Changed decisions listed with their reasons on the page (the JSON lists them all).
SHOWN_ROWS = 200
#: A field's transitions are charted when there are at most this many kinds of them.
CHARTED_TRANSITIONS = 12


def _v(value: Any) -> str:
    """A value in a few words: a rule by its labels, a table as ``k = v`` pairs."""
    if value is None:
        return "–"
    if isinstance(value, dict):
        if value.get("label") or value.get("label_en"):
            return " / ".join(str(x) for x in (value.get("label"), value.get("label_en")) if x)
        return "{ " + ", ".join(f"{k} = {_v(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_v(x) for x in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def impact_doc(report: Mapping[str, Any]) -> Doc:
    old, new = report["old"], report["new"]
    title = (f"{report['scheme']}: {old['policy']['id']} {old['policy']['version']} → "
             f"{new['policy']['id']} {new['policy']['version']}")
    d = Doc(f"影响评估 Impact — {title}", "zh")
    d.h(1, f"影响评估 Impact: {title}")
    d.p(f"as of {report['as_of']}; {report['changed']} of {report['compared']} "
        f"{report['noun']} change ({report['share_changed']:.1%})", cls="")
    d.table(["", "OLD", "NEW"], [
        ["policy", f"{old['policy']['id']} {old['policy']['version']}",
         f"{new['policy']['id']} {new['policy']['version']}"],
        ["sha256", old["policy"]["hash"][:12], new["policy"]["hash"][:12]],
        ["rows in", old["rows_in"], new["rows_in"]],
        ["scored", old["scored"], new["scored"]],
        ["rejected", old["rejected"], new["rejected"]],
        *([f"{kind} rejected", old["rejected_other_inputs"].get(kind, 0),
           new["rejected_other_inputs"].get(kind, 0)]
          for kind in sorted({*old["rejected_other_inputs"], *new["rejected_other_inputs"]})),
    ], numeric=(1, 2))
    rej = report["rejections"]
    if rej["newly_rejected"] or rej["no_longer_rejected"]:
        d.p(f"newly rejected rows: {_v(rej['newly_rejected'])}; no longer rejected: "
            f"{_v(rej['no_longer_rejected'])}", cls="warn")

    d.h(2, "规则改动 Rules that differ")
    if report["policy_changes"]:
        d.table(["key", "change", "OLD", "NEW"],
                [[c["path"], c["kind"], _v(c["old"]), _v(c["new"])]
                 for c in report["policy_changes"]])
    else:
        d.p("the two policies have the same rules", cls="muted")

    d.h(2, "结果变化 What changes")
    fields = report["fields"]
    d.table(["outcome", "changed", "share", "up", "down", "mean change"],
            [[f, s["changed"], f"{s['share']:.1%}", s.get("delta", {}).get("up", ""),
              s.get("delta", {}).get("down", ""), s.get("delta", {}).get("mean", "")]
             for f, s in fields.items()], numeric=(1, 2, 3, 4, 5))
    d.svg(bar_chart("changed decisions by outcome", list(fields),
                    [("changed", [s["changed"] for s in fields.values()])]))
    for f, s in fields.items():
        trans = s["transitions"]
        if not trans or ("delta" in s and len(trans) > CHARTED_TRANSITIONS):
            continue
        d.h(3, f)
        d.table(["OLD", "NEW", "count"], [[_v(t["old"]), _v(t["new"]), t["count"]]
                                          for t in trans], numeric=(2,))
        d.svg(bar_chart(f"{f}: old → new",
                        [f"{_v(t['old'])} → {_v(t['new'])}" for t in trans],
                        [("count", [t["count"] for t in trans])]))

    d.h(2, "原因 Rules behind the changes (reason codes)")
    if report["causes"]:
        d.table(["reason code", "changed decisions", "share"],
                [[c["code"], c["count"], f"{c['share']:.1%}"] for c in report["causes"]],
                numeric=(1, 2))
        d.svg(bar_chart("reason codes whose reasons differ", [c["code"] for c in
                                                            report["causes"]],
                        [("decisions", [c["count"] for c in report["causes"]])]))
    else:
        d.p("no decision changes", cls="muted")
    if report["rules"]:
        d.table(["rule named by the changed outcomes", "changed decisions", "share",
                 "changed between the policies"],
                [[r["rule"], r["count"], f"{r['share']:.1%}",
                  "yes" if r["changed_in_policy"] else ""] for r in report["rules"]],
                numeric=(1, 2))

    for column, groups in report["groups"].items():
        d.h(2, f"按 {column} By {column}")
        _group_table(d, column, groups)
    for column, check in report["disparity"].items():
        d.h(2, f"差异检查 Disparity check: {column}")
        d.p(f"{column} was taken out of every record before scoring: no rule read it. "
            f"Overall {check['overall_share']:.1%} of decisions change; a group whose share "
            f"is outside {check['ratio_band'][0]}–{check['ratio_band'][1]} times the rest's "
            f"is flagged; groups under {check['min_group']} rows are pooled.")
        if check["flagged"]:
            d.p("flagged: " + ", ".join(check["flagged"]), cls="warn")
        d.table(["group", "rows", "changed", "share", "ratio to rest", "mean change"],
                [[g["value"], g["rows"], g["changed"], f"{g['share']:.1%}",
                  "" if g["ratio_to_rest"] is None else g["ratio_to_rest"],
                  ", ".join(f"{k} {v:+g}" for k, v in g["mean_delta"].items())]
                 for g in check["groups"]], numeric=(1, 2, 3, 4))
        d.svg(bar_chart(f"share of decisions that change, by {column}",
                        [g["value"] for g in check["groups"]],
                        [("share %", [100 * g["share"] for g in check["groups"]])], unit="%"))

    if report["caseload"]:
        d.h(2, "联络员工作量 Caseload per liaison")
        keys = list(dict.fromkeys(k for c in report["caseload"]
                                  for k in (*c["before"], *c["after"])))
        d.table(["liaison", *(f"{k} OLD → NEW" for k in keys)],
                [[c["liaison_id"], *(f"{_v(c['before'].get(k))} → {_v(c['after'].get(k))}"
                                     for k in keys)] for c in report["caseload"]])
        main = next((k for k in keys if "visits" in k), keys[0] if keys else None)
        if main is not None:
            d.svg(bar_chart(f"{main} per liaison", [c["liaison_id"] for c in report["caseload"]],
                            [("OLD", [float(c["before"].get(main) or 0)
                                      for c in report["caseload"]]),
                             ("NEW", [float(c["after"].get(main) or 0)
                                      for c in report["caseload"]])]))

    rows = report["rows"]
    d.h(2, f"变化明细 Changed decisions ({len(rows)})")
    for r in rows[:SHOWN_ROWS]:
        changes = "; ".join(f"{f}: {_v(o)} → {_v(n)}" for f, (o, n) in r["changes"].items())
        status = "" if r["status"][0] == r["status"][1] else \
            f"{r['status'][0]} → {r['status'][1]}; "
        d.p((str(r["id"]), "b"), f"  {status}{changes}",
            *([("  rules: ", "muted"), (", ".join(r["rules"]), "code")] if r["rules"] else []),
            *([("  reason codes: ", "muted"), (", ".join(r["causes"]), "code")]
              if r["causes"] else []))
        for text in r["reasons"]["old"]:
            d.p(("− OLD: ", "removed"), text)
        for text in r["reasons"]["new"]:
            d.p(("+ NEW: ", "added"), text)
    if len(rows) > SHOWN_ROWS:
        d.p(f"... and {len(rows) - SHOWN_ROWS} more (all of them are in the JSON report)",
            cls="muted")
    return d


def _group_table(d: Doc, column: str, groups: Sequence[Mapping[str, Any]]) -> None:
    d.table([column, "rows", "changed", "share"],
            [[g["value"], g["rows"], g["changed"], f"{g['share']:.1%}"] for g in groups],
            numeric=(1, 2, 3))
    d.svg(bar_chart(f"changed decisions by {column}", [g["value"] for g in groups],
                    [("rows", [g["rows"] for g in groups]),
                     ("changed", [g["changed"] for g in groups])]))


def impact_html(report: Mapping[str, Any]) -> str:
    return to_html(impact_doc(report))


def impact_markdown(report: Mapping[str, Any]) -> str:
    return to_markdown(impact_doc(report))
