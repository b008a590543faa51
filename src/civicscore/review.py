"""Recorded human review: a person's confirmation or override of a logged decision.

``audit.confirm`` and ``audit.override`` change a decision in memory only; a
review that is not written down did not happen as far as anyone can later
check. Here a review is an entry appended to the decision log itself (format
``civicscore-review/1``), never silent:

* **who** (``by``: a person's name, not ``"."``), **when** (UTC), **why**
  (``reason``: words, not a dash);
* **what**: the decision id, its run and the policy (id, version, content hash)
  that made it, and the values **before** and **after** (a confirmation keeps the
  value, and says which recommendation it accepted);
* only the values the scheme allows a person to change (``SchemeSpec.overridable``:
  a tier, stars, a title, a grade), with a "did you mean" for a misspelt one; a
  confirmation only of a decision that needs one (a veto or quota demotion).

``civicscore review LOG`` lists a log's reviews; ``civicscore review LOG ID``
shows one decision with the reviews of it (its explanation); ``civicscore review
LOG ID confirm|override --set FIELD=VALUE --by NAME --reason TEXT`` records one.
``replay`` reads review entries as what they are and lists them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import click

from . import cli_json
from ._suggest import did_you_mean
from .errors import ReviewError

Action = Literal["confirm", "override"]

_WORDS = re.compile(r"[^\W\d_]", re.UNICODE)  # a letter of any script


def _person(by: str) -> str:
    name = " ".join(by.split())
    if len(_WORDS.findall(name)) < 2:
        raise ReviewError(f"--by {by!r} does not name a person: write the reviewer's name "
                          f"(e.g. --by \"王芳\" or --by \"Li Wei\"), as it will stand in "
                          f"the log")
    return name


def _reason(reason: str) -> str:
    text = " ".join(reason.split())
    if len(_WORDS.findall(text)) < 2:
        raise ReviewError(f"--reason {reason!r} gives no reason: say why, in words a "
                          f"resident could read (e.g. --reason \"家访核实：已康复出院\")")
    return text


def _overridable(scheme: str) -> tuple[str, ...]:
    """The values of a scheme's decisions a person may change (its registration)."""
    from .plugins import registry

    found = registry().schemes.get(scheme)  # (plugin, spec)
    return tuple(found[1].overridable) if found is not None else ()


def _typed(before: Any, text: str) -> Any:
    """A value given on the command line, in the type of the value it replaces."""
    if isinstance(before, bool):
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise ReviewError(f"expected true or false, got {text!r}")
    if isinstance(before, int):
        try:
            return int(text)
        except ValueError:
            raise ReviewError(f"expected a whole number, got {text!r}") from None
    return text


def record_review(log: str | Path, decision_id: str, action: Action, *, by: str,
                  reason: str, sets: Mapping[str, str] | None = None,
                  at: dt.datetime | None = None) -> dict[str, Any]:
    """Append a review of decision ``decision_id`` to ``log``; returns the entry written."""
    from .audit import REVIEW_FORMAT, append_chained, scan_log  # (not for --help)

    contents = scan_log(log)
    target = next((e for e in contents.entries if e["decision_id"] == decision_id), None)
    if target is None:
        ids = [e["decision_id"] for e in contents.entries]
        raise ReviewError(f"{log}: no decision {decision_id!r} in the log"
                          + (f" ({hint})" if (hint := did_you_mean(decision_id, ids)) else ""))
    result = target["result"] if isinstance(target.get("result"), dict) else {}
    if result.get("status") == "rejected":
        raise ReviewError(f"{decision_id}: a rejected record has no value to review; correct "
                          f"the record and appeal instead")
    person, why = _person(by), _reason(reason)
    current = {**result, **current_values(contents.reviews, decision_id)}
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    if action == "confirm":
        if sets:
            raise ReviewError("confirm accepts the recommendation as it is: use override "
                              "--set FIELD=VALUE to change a value")
        if not result.get("needs_confirmation"):
            raise ReviewError(f"{decision_id} needs no confirmation (only a veto or a quota "
                              f"demotion does)")
        before = {"grade": result.get("computed_grade")}
        after = {"grade": current.get("grade")}
    elif action == "override":
        allowed = _overridable(target["scheme"])
        if not sets:
            raise ReviewError(f"override needs --set FIELD=VALUE (a {target['scheme']} "
                              f"decision allows {', '.join(allowed) or 'nothing'})")
        for name, text in sets.items():
            if name not in allowed:
                hint = did_you_mean(name, allowed)
                raise ReviewError(f"a {target['scheme']} decision allows overriding "
                                  f"{', '.join(allowed) or 'nothing'}, not {name!r}"
                                  + (f" ({hint})" if hint else ""))
            before[name] = current.get(name)
            after[name] = _typed(before[name], text)
    else:
        raise ReviewError(f"the action is confirm or override, not {action!r}")
    stamp = (at or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    entry = {"format": REVIEW_FORMAT, "action": action, "decision_id": decision_id,
             "run_id": target["run_id"], "scheme": target["scheme"],
             "policy": target["policy"], "by": person, "at": stamp, "reason": why,
             "before": before, "after": after}
    link = append_chained(Path(log), [json.dumps(entry, ensure_ascii=False)])
    entry["seq"], entry["prev"] = link.seq, link.prev  # as written (civicscore.logchain)
    return entry


def record_appeal(log: str | Path, target: Mapping[str, Any], fixes: Mapping[str, Any],
                  changes: Mapping[str, Mapping[str, tuple[Any, Any]]], *, by: str,
                  reason: str, at: dt.datetime | None = None) -> dict[str, Any]:
    """Append an appeal of logged decision ``target`` to ``log``: who, when, why, the
    corrected facts and every decision the re-decided run changed (``changes``, from
    ``audit.appeal``); the appealed decision's new values become its current ones, as
    an override's do. Returns the entry written."""
    from .audit import REVIEW_FORMAT, append_chained  # (not for --help)

    person, why = _person(by), _reason(reason)
    own = f"{target['kind']} {target['key']}"
    mine = changes.get(own, {})
    stamp = (at or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    entry = {"format": REVIEW_FORMAT, "action": "appeal", "decision_id": target["decision_id"],
             "run_id": target["run_id"], "scheme": target["scheme"],
             "policy": target["policy"], "by": person, "at": stamp, "reason": why,
             "set": dict(fixes), "before": {k: a for k, (a, _) in mine.items()},
             "after": {k: b for k, (_, b) in mine.items()},
             "also": {key: {k: [a, b] for k, (a, b) in fields.items()}
                      for key, fields in changes.items() if key != own}}
    link = append_chained(Path(log), [json.dumps(entry, ensure_ascii=False, default=str)])
    entry["seq"], entry["prev"] = link.seq, link.prev  # as written (civicscore.logchain)
    return entry


def current_values(reviews: Sequence[Mapping[str, Any]], decision_id: str) -> dict[str, Any]:
    """The values a decision holds after its reviews, in the order they were made."""
    out: dict[str, Any] = {}
    for r in reviews:
        if r.get("decision_id") == decision_id and isinstance(r.get("after"), dict):
            out.update(r["after"])
    return out


def describe(review: Mapping[str, Any]) -> str:
    """One line a resident can read: who, when, what changed, why, under which policy."""
    changes = "; ".join(f"{k}: {review['before'].get(k)!r} -> {v!r}"
                        for k, v in review.get("after", {}).items())
    verb = {"confirm": "confirmed", "appeal": "appealed"}.get(str(review.get("action")),
                                                              "overrode")
    policy = review.get("policy", {})
    return (f"{review.get('at')} {review.get('by')} {verb} {review.get('decision_id')} "
            f"({changes}) — {review.get('reason')} [policy {policy.get('id')} "
            f"{policy.get('version')}, {str(policy.get('hash', ''))[:19]}]")


def review_lines(log: str | Path) -> list[str]:
    """``REVIEWED ...`` lines for every review in a log (replay prints them), then a
    ``PROPOSED ...`` line for every demotion no one has confirmed yet."""
    from .audit import scan_log

    contents = scan_log(log)
    return [*(f"REVIEWED {describe(r)}" for r in contents.reviews),
            *(f"PROPOSED {proposal(e)}" for e in pending(contents.entries, contents.reviews))]


def reviews_object(log: str | Path) -> dict[str, Any]:
    """What ``review_lines`` says, as JSON: every review entry of a log as it was written,
    and every demotion still only proposed (``replay`` and ``review --format json``)."""
    from .audit import scan_log

    contents = scan_log(log)
    return {"reviews": [dict(r) for r in contents.reviews],
            "proposed": [proposal_object(e)
                         for e in pending(contents.entries, contents.reviews)]}


def proposal_object(entry: Mapping[str, Any]) -> dict[str, Any]:
    result = entry["result"]
    return {"decision_id": entry["decision_id"], "grade": result.get("grade"),
            "computed_grade": result.get("computed_grade"), "message": proposal(entry)}


def pending(entries: Sequence[Mapping[str, Any]], reviews: Sequence[Mapping[str, Any]]
            ) -> list[Mapping[str, Any]]:
    """The decisions whose grade is only proposed: a veto or quota demotion
    (``needs_confirmation``) that no review has confirmed or overridden."""
    reviewed = {r.get("decision_id") for r in reviews
                if "grade" in (r.get("after") or {})}
    return [e for e in entries if isinstance(e.get("result"), dict)
            and e["result"].get("needs_confirmation") and e["decision_id"] not in reviewed]


def proposal(entry: Mapping[str, Any]) -> str:
    """A demotion as what it is until a person confirms it: a proposal."""
    result = entry["result"]
    return (f"{entry['decision_id']}: grade {result.get('grade')!r} is proposed (computed "
            f"{result.get('computed_grade')!r}), not final until a person confirms it: "
            f"civicscore review LOG {entry['decision_id']} confirm --by NAME --reason TEXT "
            f"/ 降级仅为建议，经人工确认后方为最终结果")


@click.command("review")
@click.argument("log_file", metavar="LOG", type=click.Path(dir_okay=False))
@click.argument("decision_id", required=False)
@click.argument("action", required=False, type=click.Choice(["confirm", "override"]))
@click.option("--set", "settings", multiple=True, metavar="FIELD=VALUE",
              help="override: the value a person sets (repeatable).")
@click.option("--by", "by", metavar="NAME", help="The reviewer's name (required to record).")
@click.option("--reason", metavar="TEXT", help="Why (required to record).")
@cli_json.format_option
def review_command(log_file: str, decision_id: str | None, action: str | None,
                   settings: tuple[str, ...], by: str | None, reason: str | None) -> None:
    """List the reviews in LOG, show decision ID with its reviews, or record a review."""
    as_json = cli_json.wanted()
    if decision_id is None:
        if as_json:
            cli_json.emit("review", {"action": "list", "log": log_file,
                                     **reviews_object(log_file)})
            return
        for line in review_lines(log_file):
            click.echo(line)
        return
    if action is None:
        from .audit import scan_log

        contents = scan_log(log_file)
        target = next((e for e in contents.entries if e["decision_id"] == decision_id), None)
        if target is None:
            raise ReviewError(f"{log_file}: no decision {decision_id!r} in the log")
        reviews = [r for r in contents.reviews if r.get("decision_id") == decision_id]
        if as_json:
            proposed = bool(pending([target], reviews))
            cli_json.emit("review", {
                "action": "show", "log": log_file, "decision_id": decision_id,
                "scheme": target["scheme"], "as_of": target["as_of"],
                "policy": target.get("policy"), "result": target["result"],
                "reviews": [dict(r) for r in reviews],
                "proposed": proposal_object(target) if proposed else None,
                "reviewed": bool(reviews),
                "after_review": current_values(reviews, decision_id)})
            return
        click.echo(f"{decision_id} ({target['scheme']}, as of {target['as_of']}): "
                   f"{json.dumps(target['result'], ensure_ascii=False, sort_keys=True)}")
        for r in reviews:
            click.echo(f"  Review: {describe(r)}")
        if pending([target], reviews):
            click.echo(f"  Proposed: {proposal(target)}")
        elif isinstance(target.get("result"), dict) and target["result"].get(
                "needs_confirmation"):
            click.echo(f"  Final: grade {current_values(reviews, decision_id)['grade']!r}, "
                       f"after review / 经人工复核后为最终结果")
        if not reviews:
            click.echo("  Not reviewed.")
        elif current := current_values(reviews, decision_id):
            click.echo("  After review: " + ", ".join(f"{k} = {v!r}"
                                                      for k, v in current.items()))
        return
    if not by or not reason:
        raise click.UsageError("recording a review needs --by NAME and --reason TEXT")
    sets: dict[str, str] = {}
    for item in settings:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.UsageError(f"--set {item!r}: write FIELD=VALUE")
        sets[name.strip()] = value.strip()
    entry = record_review(log_file, decision_id, "confirm" if action == "confirm"
                          else "override", by=by, reason=reason, sets=sets)
    if as_json:
        cli_json.emit("review", {"action": action, "log": log_file,
                                 "decision_id": decision_id, "recorded": entry,
                                 "description": describe(entry)})
        return
    click.echo(f"recorded: {describe(entry)}")
