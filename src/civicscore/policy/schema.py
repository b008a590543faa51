"""The JSON Schema of the policy format, generated from the pydantic models.

Editors (VS Code with Even Better TOML / Taplo, JetBrains) use it to complete
keys and flag mistakes while an officer types. It is generated, never edited:
``policies/civicscore-policy.schema.json`` is checked against this output by
the test suite, so the shipped copy cannot drift from the code.

pydantic's own schema is reshaped for editors, because officers edit TOML:

* TOML has no null, so the ``{"type": "null"}`` branch pydantic adds for every
  optional key is dropped, and a choice left with one branch becomes that
  branch. A choice between types (a dated rate: a number or a table of dated
  numbers) becomes one schema with a list of types. Without this, a mistake
  anywhere in ``[visits]`` was reported at the section header as "not valid
  under any of the schemas"; now it is reported at the key.
* A locality policy (``[policy] extends = ...``) writes only what it changes:
  the keys it inherits must not be required. The schema is therefore split in
  two: the *shape* (key names, types, ranges; unknown keys stay forbidden)
  checked in every file, and the *completeness* (required keys, the least
  number of tiers, stars, grades) of the inherited tables, checked only when
  the file extends nothing (a top-level ``if``/``else``). The tables a file
  keeps to itself (``[policy]``, ``[[case]]``, :data:`.load.OWN_TABLES`) are
  complete in every file.
* Every key is described in Chinese and English, ``"中文 / English"``. The
  English is the model field's description; what the models leave out, and
  all of the Chinese, comes from ``schema_docs.toml`` beside this module
  (tests/test_policy_schema.py fails when a key lacks either language).
"""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SCHEMA_ID = "https://civicscore.invalid/schema/policy.json"
DOCS_FILE = Path(__file__).with_name("schema_docs.toml")

Schema = dict[str, Any]

# keywords that constrain one JSON type only: schemas of different types made of these
# alone can be merged into one schema with a list of types without changing its meaning
_TYPE_KEYWORDS: dict[str, frozenset[str]] = {
    "object": frozenset({"properties", "patternProperties", "additionalProperties",
                         "required", "minProperties", "maxProperties", "propertyNames"}),
    "array": frozenset({"items", "prefixItems", "minItems", "maxItems", "uniqueItems",
                        "contains"}),
    "string": frozenset({"pattern", "minLength", "maxLength", "format"}),
    "number": frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                         "multipleOf"}),
}
_TYPE_KEYWORDS["integer"] = _TYPE_KEYWORDS["number"]
_ANNOTATIONS = frozenset({"description", "title", "default", "examples"})
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs")
_SCHEMA_ONE = ("additionalProperties", "items", "not", "if", "then", "else",
               "propertyNames", "contains")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


def policy_json_schema() -> str:
    """The schema as stable, pretty-printed JSON text (ends with a newline)."""
    return json.dumps(policy_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def policy_schema(docs: dict[str, Any] | None = None) -> Schema:
    """The schema as a dict: the format is the core tables plus the section of every
    built-in scheme, as the registry assembles it (installed plugins' sections are left
    out, so the shipped schema does not depend on what is installed)."""
    from .load import OWN_TABLES

    schema: Schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                      "$id": SCHEMA_ID, **_tidy(pydantic_schema())}
    describe(schema, load_docs() if docs is None else docs)
    return _split_completeness(schema, OWN_TABLES)


# --- 1. tidy: no null, no one-branch choices ----------------------------------------


def _tidy(node: Any) -> Any:
    """The schema without null branches and one-branch ``anyOf`` (bottom up)."""
    if not isinstance(node, dict):
        return node
    out = dict(node)
    for key in _SCHEMA_MAPS:
        if isinstance(out.get(key), dict):
            out[key] = {k: _untitled(_tidy(v)) if key == "properties" else _tidy(v)
                        for k, v in out[key].items()}
    for key in _SCHEMA_ONE:
        if isinstance(out.get(key), dict):
            out[key] = _tidy(out[key])
    for key in _SCHEMA_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [_tidy(v) for v in out[key]]
    if "anyOf" in out:
        branches = [b for b in out.pop("anyOf") if b != {"type": "null"}]
        if len(branches) == 1:
            out = {**branches[0], **out}  # the field's own description wins over its type's
        elif (merged := _merge_types(branches)) is not None:
            out = {**merged, **out}
        else:
            out["anyOf"] = branches
    if "default" in out and out["default"] is None:
        del out["default"]  # no null in TOML: leaving the key out is the default
    return out


def _untitled(prop: Schema) -> Schema:
    """A property without pydantic's title (the key's name, capitalised: no information)."""
    return {k: v for k, v in prop.items() if k != "title"}


def _merge_types(branches: list[Schema]) -> Schema | None:
    """One schema ``{"type": [...]}`` for branches of distinct types, each made only of
    keywords of its own type; None when they cannot be merged without changing meaning."""
    types: list[str] = []
    merged: Schema = {}
    for b in branches:
        kind = b.get("type")
        if not isinstance(kind, str) or kind not in _TYPE_KEYWORDS or kind in types:
            return None
        own = {k: v for k, v in b.items() if k not in _ANNOTATIONS and k != "type"}
        if not set(own) <= _TYPE_KEYWORDS[kind]:
            return None
        types.append(kind)
        merged.update(own)
    if {"integer", "number"} <= set(types):
        return None  # an integer is a number too: its constraints would apply to both
    return {"type": types, **merged}


# --- 2. descriptions in zh and en ----------------------------------------------------


def load_docs(path: Path = DOCS_FILE) -> dict[str, Any]:
    """The bilingual descriptions: ``[common.<key>]`` for a key of that name anywhere,
    ``[paths."<path>"]`` for one key (a path as :func:`properties` names it)."""
    with path.open("rb") as f:
        return tomllib.load(f)


def properties(schema: Schema) -> Iterator[tuple[str, Schema]]:
    """Every property of the schema with its path, once per path: ``visits.tiers.cadence``
    (a list's items add nothing to the path), ``facts.*.*.type`` (``*``: a table's keys).

    A property reached through a ``$ref`` is the definition's own dict, so setting a
    description on it sets it wherever the definition is used."""
    defs = schema.get("$defs", {})

    def walk(node: Any, path: str, seen: tuple[str, ...]) -> Iterator[tuple[str, Schema]]:
        if not isinstance(node, dict):
            return
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            if name not in seen:
                yield from walk(defs[name], path, (*seen, name))
        for key, prop in (node.get("properties") or {}).items():
            sub = f"{path}.{key}" if path else key
            yield sub, prop
            yield from walk(prop, sub, seen)
        if isinstance(node.get("items"), dict):
            yield from walk(node["items"], path, seen)
        if isinstance(node.get("additionalProperties"), dict):
            yield from walk(node["additionalProperties"], f"{path}.*" if path else "*", seen)
        for b in node.get("anyOf") or ():
            yield from walk(b, path, seen)

    yield from walk(schema, "", ())


def _entry(docs: dict[str, Any], path: str) -> dict[str, str]:
    leaf = path.rsplit(".", 1)[-1]
    specific = docs.get("paths", {}).get(path)
    if specific is not None:
        return dict(specific)
    return dict(docs.get("common", {}).get(leaf, {}))


def describe(schema: Schema, docs: dict[str, Any]) -> None:
    """Give each property ``description`` = "中文 / English" and a ``markdownDescription``.

    The English is the model's description when the field has one, else the data
    file's; a key missing either language keeps what there is (the tests flag it)."""
    done: set[int] = set()
    for path, prop in properties(schema):
        if id(prop) in done:  # a definition used at two paths: described once
            continue
        done.add(id(prop))
        entry = _entry(docs, path)
        en = prop.get("description") or entry.get("en", "")
        zh = entry.get("zh", "")
        if zh and en:
            prop["description"] = f"{zh} / {en}"
            prop["markdownDescription"] = f"{zh}\n\n{en}"
        elif zh or en:
            prop["description"] = zh or en


def docs_problems(docs: dict[str, Any]) -> list[str]:
    """What is wrong with the bilingual descriptions, one sentence each: a key without
    Chinese or English, an entry naming a key the format does not have, an English text
    that repeats what the model already says (one source for each description)."""
    schema = _tidy(pydantic_schema())
    problems: list[str] = []
    paths: dict[str, Schema] = dict(properties(schema))
    leaves = {p.rsplit(".", 1)[-1] for p in paths}
    for path, prop in paths.items():
        entry = _entry(docs, path)
        if not entry.get("zh"):
            problems.append(f"{path}: no Chinese description in {DOCS_FILE.name}")
        if not (prop.get("description") or entry.get("en")):
            problems.append(f"{path}: no English description (in the model's Field, or "
                            f"en in {DOCS_FILE.name})")
        specific = docs.get("paths", {}).get(path, {})
        if prop.get("description") and specific.get("en"):
            problems.append(f"{path}: en in {DOCS_FILE.name} repeats the model's "
                            f"description; remove it there")
    for path in docs.get("paths", {}):
        if path not in paths:
            problems.append(f"{DOCS_FILE.name} names {path!r}, which the format does not have")
    for leaf in docs.get("common", {}):
        if leaf not in leaves:
            problems.append(f"{DOCS_FILE.name} [common.{leaf}]: no key of that name")
    for section in set(docs) - {"common", "paths"}:
        problems.append(f"{DOCS_FILE.name}: unknown table [{section}]")
    return problems


def pydantic_schema() -> Schema:
    """The schema as pydantic writes it, before it is reshaped for editors."""
    from ..plugins import registry

    model = registry(entry_points=False).policy_model()
    schema: Schema = model.model_json_schema(by_alias=True, mode="validation")
    return schema


# --- 3. shape everywhere, completeness when nothing is inherited -----------------------


def _split_completeness(schema: Schema, own_tables: tuple[str, ...]) -> Schema:
    """Move the required keys and least sizes of the inherited tables into
    ``$defs/<Name>:complete``, applied by a top-level ``else`` when the file has no
    ``[policy] extends``. A definition used by an own table and an inherited one alike
    (none is, today) would be relaxed in both: a missing error, never a false one."""
    out = copy.deepcopy(schema)
    defs: dict[str, Schema] = out["$defs"]
    inherited = _reachable(defs, [p for k, p in out["properties"].items()
                                  if k not in own_tables])
    done: dict[str, Schema] = {}

    def complete(node: Schema) -> Schema:
        """What completes a value (popping it from the shape): a reference to its
        table's completeness, and for a list or table of inherited tables, its least
        size (a locality's list is merged with the inherited one by id, so its own
        length says nothing)."""
        ref = node.get("$ref")
        if isinstance(ref, str) and (name := ref.removeprefix("#/$defs/")) in inherited:
            if name not in done:
                done[name] = {}  # placeholder: the format has no cycles, but stay finite
                done[name] = of_table(defs[name])
            return {"$ref": f"{ref}:complete"} if done[name] else {}
        c: Schema = {}
        for key, least in (("items", "minItems"), ("additionalProperties", "minProperties")):
            sub = node.get(key)
            if isinstance(sub, dict) and any(r in inherited for r in _refs(sub)):
                if least in node:
                    c[least] = node.pop(least)
                if inner := complete(sub):
                    c[key] = inner
        return c

    def of_table(definition: Schema) -> Schema:
        c: Schema = {}
        if "required" in definition:
            c["required"] = definition.pop("required")
        props = {k: pc for k, p in (definition.get("properties") or {}).items()
                 if (pc := complete(p))}
        if props:
            c["properties"] = props
        return c

    root = {k: c for k, p in out["properties"].items()
            if k not in own_tables and (c := complete(p))}
    defs.update({f"{name}:complete": c for name, c in sorted(done.items()) if c})
    out["if"] = {"properties": {"policy": {"required": ["extends"]}}, "required": ["policy"]}
    out["else"] = {"properties": root}
    return out


def _reachable(defs: dict[str, Schema], starts: list[Schema]) -> set[str]:
    """The definitions these schemas use, directly or through each other."""
    found: set[str] = set()
    todo = list(starts)
    while todo:
        node = todo.pop()
        for ref in _refs(node):
            if ref not in found:
                found.add(ref)
                todo.append(defs[ref])
    return found


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            yield ref.removeprefix("#/$defs/")
        for v in node.values():
            yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)
