"""Translate the DMN TCK's compliance-level-2 decision tables into cases.json.

Run once, by hand, over a checkout of https://github.com/dmn-tck/tck (the commit
is written into the output):

    python tests/data/dmn_tck/translate.py /path/to/tck > tests/data/dmn_tck/cases.json

Each table's input entries (FEEL unary tests) become one civicscore condition
per rule; the translation knows the unary tests these tables use (``-``,
``<``/``<=``/``>``/``>=`` a number, a number, ``true``/``false``, one or more
string literals, ``[a..b]``) and refuses anything else, so a table it cannot
read is declared unsupported with the entry it stopped at, never dropped.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path
from typing import Any

LEVEL2 = "TestCases/compliance-level-2"
POLICY = {"UNIQUE": "unique", "ANY": "any", "PRIORITY": "priority", "FIRST": "first",
          "OUTPUT ORDER": "output order", "RULE ORDER": "rule order", "COLLECT": "collect"}
TYPES = {"number": "decimal", "string": "string", "boolean": "bool"}
NUMBER = r"-?\d+(?:\.\d+)?"


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def text(e: ET.Element) -> str:
    return "".join(e.itertext()).strip()


def child(e: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in e if local(c.tag) == name]


def strings(entry: str) -> list[str] | None:
    parts = [p.strip() for p in entry.split(",")]
    if all(re.fullmatch(r'"[^"\\]*"', p) for p in parts):
        return [p[1:-1] for p in parts]
    return None


def unary(name: str, entry: str) -> str | None:
    """The civicscore condition of one FEEL unary test (None: any value, ``-``);
    ValueError for a test this translation does not know."""
    entry = entry.strip()
    if entry == "-":
        return None
    if m := re.fullmatch(rf"(<=|>=|<|>)\s*({NUMBER})", entry):
        return f"{name} {m[1]} {m[2]}"
    if re.fullmatch(NUMBER, entry):
        return f"{name} == {entry}"
    if m := re.fullmatch(rf"\[\s*({NUMBER})\s*\.\.\s*({NUMBER})\s*\]", entry):
        return f"{m[1]} <= {name} <= {m[2]}"
    if entry in ("true", "false"):
        return f"{name} == {entry.capitalize()}"
    if (values := strings(entry)) is not None:
        if len(values) == 1:
            return f"{name} == {json.dumps(values[0])}"
        return f"{name} in {json.dumps(values)}"
    raise ValueError(f"unary test {entry!r} is not one this translation reads")


def literal(entry: str) -> Any:
    """An output entry: a string literal, a number or a boolean."""
    if re.fullmatch(r'"[^"\\]*"', entry):
        return entry[1:-1]
    if re.fullmatch(NUMBER, entry):
        return {"decimal": entry}
    if entry in ("true", "false"):
        return entry == "true"
    raise ValueError(f"output entry {entry!r} is not a literal")


def value(e: ET.Element) -> Any:
    """An expected or input value of a TCK test file: scalar, component, list."""
    if (nil := e.get("{http://www.w3.org/2001/XMLSchema-instance}nil")) == "true":
        return None
    kind = e.get("{http://www.w3.org/2001/XMLSchema-instance}type", "")
    if local(e.tag) == "value":
        t = text(e)
        if kind.endswith("decimal"):
            return {"decimal": str(Decimal(t))}
        if kind.endswith("boolean"):
            return t == "true"
        del nil
        return t
    raise AssertionError(e.tag)


def expected(e: ET.Element) -> Any:
    kids = list(e)
    if len(kids) == 1 and local(kids[0].tag) == "value":
        return value(kids[0])
    if len(kids) == 1 and local(kids[0].tag) == "list":
        return [expected(item) for item in child(kids[0], "item")]
    if kids and all(local(k.tag) == "component" for k in kids):
        return {k.get("name"): expected(k) for k in kids}
    if not kids:
        return None
    raise AssertionError([k.tag for k in kids])


def table(dmn: Path) -> dict[str, Any]:
    root = ET.parse(dmn).getroot()
    decisions = [d for d in root.iter() if local(d.tag) == "decision"]
    (decision,) = decisions
    (dt,) = [d for d in decision.iter() if local(d.tag) == "decisionTable"]
    inputs = []
    for i in child(dt, "input"):
        (ie,) = child(i, "inputExpression")
        inputs.append({"name": text(ie), "type": TYPES[ie.get("typeRef", "")]})
    outputs = []
    for o in child(dt, "output"):
        values = child(o, "outputValues")
        outputs.append({"name": o.get("name"),
                        "values": strings(text(values[0])) if values else None})
    rules = []
    for r in child(dt, "rule"):
        entries = [text(e) for e in child(r, "inputEntry")]
        tests = [unary(inputs[k]["name"], e) for k, e in enumerate(entries)]
        when = " and ".join(t for t in tests if t is not None) or "True"
        rules.append({"when": when, "output": [literal(text(e))
                                               for e in child(r, "outputEntry")]})
    return {"decision": decision.get("name"), "hit_policy": POLICY[dt.get("hitPolicy",
                                                                          "UNIQUE")],
            "aggregation": (dt.get("aggregation") or "").lower() or None,
            "inputs": inputs, "outputs": outputs, "rules": rules}


def tests(path: Path, inputs: list[dict[str, str]]) -> list[dict[str, Any]]:
    kinds = {i["name"]: i["type"] for i in inputs}
    out = []
    for tc in ET.parse(path).getroot():
        if local(tc.tag) != "testCase":
            continue
        given = {}
        for node in child(tc, "inputNode"):
            (v,) = child(node, "value")
            given[node.get("name")] = value(v)
        for k, v in given.items():
            if kinds[k] == "decimal" and isinstance(v, str):
                raise AssertionError(v)
        (result,) = child(tc, "resultNode")
        (exp,) = child(result, "expected")
        out.append({"id": tc.get("id"), "inputs": given, "expected": expected(exp)})
    return out


#: The compliance-level-3 files whose decision tables use a hit policy other than
#: unique: declared here, with the reason this translation does not read them.
LEVEL3 = {
    name: ("compliance level 3: the table is one node of a decision graph (its inputs "
           "are other decisions' results, contexts or lists, and its entries FEEL "
           "expressions beyond unary tests of constants); the hit-policy semantic is "
           "tested on the level-2 tables, which isolate it")
    for name in ("0004-lending", "0008-listGen", "0017-tableTests", "0020-vacation-days",
                 "0039-dt-list-semantics", "0087-chapter-11-example")}


def main(tck: Path) -> None:
    commit = subprocess.run(["git", "-C", str(tck), "rev-parse", "HEAD"], text=True,
                            capture_output=True, check=True).stdout.strip()
    cases = []
    for d in sorted((tck / LEVEL2).iterdir()):
        dmn = d / f"{d.name}.dmn"
        if not dmn.exists() or "hitPolicy=" not in dmn.read_text(encoding="utf-8"):
            continue
        case: dict[str, Any] = {"name": d.name, "file": f"{LEVEL2}/{d.name}/{dmn.name}"}
        try:
            case |= table(dmn)
        except ValueError as e:
            case["unsupported"] = str(e)
            cases.append(case)
            continue
        case["tests"] = [t for f in sorted(d.glob(f"{d.name}-test-*.xml"))
                         for t in tests(f, case["inputs"])]
        cases.append(case)
    for name, why in LEVEL3.items():
        cases.append({"name": name,
                      "file": f"TestCases/compliance-level-3/{name}/{name}.dmn",
                      "unsupported": why})
    json.dump({"tck": "https://github.com/dmn-tck/tck", "commit": commit,
               "licence": "Apache-2.0", "cases": cases}, sys.stdout, indent=1,
              ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
