"""The layers of a merged policy, and what each one changed against the one it extends.

The loader merges a locality over its parent (``extends``) and keeps every
file it read (``Loaded.parents``), but a compiled :class:`Policy` keeps only
the merged result. An officer reading a locality's page wants to know which
rules are the locality's own: so this module loads the same source again
through the loader's own steps (``read_source`` and ``load_source``, the same
resolver and format as ``Engine.load``) and compares each file's own keys with
the merged data of its parent. Lists of rules with ids are compared by id, as
the loader merges them.

``diff`` is also what ``civicscore impact`` uses to list the rules that differ
between two policies.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import PolicyError
from ..policy.compile import Environment
from ..policy.load import OWN_TABLES, Loaded, dotted, load_source, read_limited, read_source


@dataclass(frozen=True)
class Change:
    """One key of a policy against another: ``kind`` is added, changed or removed."""

    path: str
    kind: str
    old: Any = None
    new: Any = None


@dataclass(frozen=True)
class Layer:
    """One file of a merged policy: its name, id, version and what it changed."""

    source: str
    id: str
    version: str
    extends: str | None
    changes: tuple[Change, ...]
    overrides: tuple[str, ...]


def load_layers(source: str | Path, env: Environment) -> list[Layer]:
    """The files a policy is made of, child first, each with its changes to its parent.

    ``source`` is found as ``load_policy`` finds it: a path first, then an
    installed policy's name. (This belongs beside ``load_policy``; it lives
    here until the loader keeps its layers on the ``Policy``.)
    """
    path = Path(source)
    try:
        exists = path.is_file()
    except OSError:
        exists = False
    if exists:
        src = read_source(str(source), read_limited(path), path.parent)
    else:
        found = env.resolver(str(source)) if env.resolver is not None else None
        if found is None:
            raise PolicyError.single(str(source), 1, 1, "no such policy file")
        src = read_source(found[0], found[1], None)
    loaded = load_source(src, env.resolver, env.model)
    out: list[Layer] = []
    node: Loaded | None = loaded
    while node is not None:
        own = node.layers.files[0]
        table = own.data.get("policy")
        meta: dict[str, Any] = table if isinstance(table, dict) else {}
        parent = node.parents[0] if node.parents else None
        changes: tuple[Change, ...] = ()
        if parent is not None:
            # merged against merged: what this layer's rules do, a wholesale override
            # of a list of rules (its removals) included, restated keys excluded
            mine = {k: v for k, v in node.data.items() if k not in OWN_TABLES}
            theirs = {k: v for k, v in parent.data.items() if k not in OWN_TABLES}
            changes = tuple(diff(theirs, mine))
        out.append(Layer(own.name, str(meta.get("id", "")), str(meta.get("version", "")),
                         meta.get("extends") if isinstance(meta.get("extends"), str) else None,
                         changes, tuple(str(o) for o in meta.get("overrides", []) or [])))
        node = parent
    return out


def _by_id(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, list) or not value:
        return None
    if not all(isinstance(v, dict) and isinstance(v.get("id"), str) for v in value):
        return None
    return {v["id"]: v for v in value}


def diff(old: Any, new: Any, path: tuple[str | int, ...] = ()) -> Iterator[Change]:
    """Every leaf key that differs from ``old`` to ``new``, by dotted path (rules by id).

    A table present on one side only is one change (the whole table), so a
    new tier reads as "added visits.tiers.urgent" and not as five new keys.
    """
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            p = (*path, key)
            if key not in new:
                yield Change(dotted(p), "removed", old[key], None)
            elif key not in old:
                yield Change(dotted(p), "added", None, new[key])
            else:
                yield from diff(old[key], new[key], p)
        return
    a, b = _by_id(old), _by_id(new)
    if a is not None and b is not None:
        for rid in [*a, *(r for r in b if r not in a)]:
            p = (*path, rid)
            if rid not in b:
                yield Change(dotted(p), "removed", a[rid], None)
            elif rid not in a:
                yield Change(dotted(p), "added", None, b[rid])
            else:
                yield from diff({k: v for k, v in a[rid].items() if k != "id"},
                                {k: v for k, v in b[rid].items() if k != "id"}, p)
        return
    if old != new or isinstance(old, bool) != isinstance(new, bool):
        yield Change(dotted(path), "changed", old, new)
