"""A loaded policy that travels: pickled on one machine, rebuilt and verified on another.

Why: a Spark executor (or any worker process) must decide with exactly the
policy the driver loaded, but a compiled :class:`~civicscore.policy.compile.Policy`
holds generated functions, pydantic models and plugin callables that do not
pickle, and rebuilding it from a path would read whatever file happens to be
on the worker. So a policy pickles as its *sources*: the text of every TOML
file it was loaded from (the file itself and each file it ``extends``), the
names of the plugins that registered its schemes, and its content hash.

On the worker, :func:`rebuild` lays the files out in a private directory in
the same relative places (so ``extends = "../base.toml"`` finds the same
text), loads them with the plugins installed there (found by entry point, as
``civicscore`` always finds them; installed parents are reached by name
through those plugins), and refuses the result unless its content hash is
the one the driver had: a worker with another version of a parent policy or
a missing plugin fails loudly instead of deciding differently. Rebuilt
policies are kept per hash, so a worker compiles each policy once however
many partitions it scores.

Plugins given to an ``Engine`` as objects (not installed) cannot be found on
a worker; such a policy still pickles, and the worker says which plugin is
missing.
"""

from __future__ import annotations

import os
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import PolicyError

if TYPE_CHECKING:
    from .compile import Policy


@dataclass(frozen=True)
class PortablePolicy:
    """What a pickled policy carries: enough to rebuild it and to prove it is the same."""

    #: ``(name, text, is_file)`` of every layer, the policy's own file first; an
    #: installed parent (reached by name) has ``is_file`` false and is not carried.
    files: tuple[tuple[str, str, bool], ...]
    #: The content hash the rebuilt policy must have.
    content_hash: str
    #: The plugins (distribution or plugin names) that registered the policy's schemes.
    plugins: tuple[str, ...]


def portable(policy: Policy) -> PortablePolicy:
    """The sources of a loaded policy (see the module docstring)."""
    files = tuple((f.name, f.text, f.directory is not None) for f in policy.layers_files)
    plugins = tuple(sorted({policy.specs[name].plugin for name in policy.schemes
                            if name in policy.specs and policy.specs[name].plugin}))
    return PortablePolicy(files, policy.ref.hash, plugins)


_REBUILT: dict[PortablePolicy, Policy] = {}
_LOCK = threading.Lock()


def rebuild(carried: PortablePolicy) -> Policy:
    """The policy ``carried`` describes, loaded here and checked against its hash (once
    per process and policy; later calls return the same object)."""
    with _LOCK:  # keyed by the whole carried value: a changed text is never the cached one
        found = _REBUILT.get(carried)
        if found is None:
            found = _REBUILT[carried] = _load(carried)
    return found


def _load(carried: PortablePolicy) -> Policy:
    from ..engine import Engine
    from .compile import compile_policy
    from .load import load_source, read_source

    engine = Engine()
    have = {p.name for p in engine.plugins} | {p.distribution for p in engine.plugins}
    missing = [p for p in carried.plugins if p not in have]
    name = carried.files[0][0]
    if missing:
        raise PolicyError.single(name, 1, 1, f"plugin(s) {', '.join(missing)} needed by this "
                                             f"policy are not installed on this worker",
                                 hint="install the same plugin packages on every executor "
                                      "(docs/spark.md)")
    root = Path(tempfile.mkdtemp(prefix="civicscore-policy-"))
    placed = _place(root, carried.files)
    env = engine.registry.environment()
    text = carried.files[0][1]
    src = read_source(name, text, placed)
    with warnings.catch_warnings():  # the driver has shown the policy's warnings already
        warnings.simplefilter("ignore")
        policy = compile_policy(load_source(src, env.resolver, env.model, _roots=(root,)),
                                env)
    if policy.ref.hash != carried.content_hash:
        raise PolicyError.single(name, 1, 1, f"the policy rebuilt on this worker has hash "
                                             f"{policy.ref.hash[:12]}, not "
                                             f"{carried.content_hash[:12]} as where it was "
                                             f"loaded",
                                 hint="a parent policy or plugin differs on this worker; "
                                      "install the same versions everywhere")
    return policy


def _place(root: Path, files: tuple[tuple[str, str, bool], ...]) -> Path | None:
    """Write the file layers under ``root`` at their places relative to one another;
    return the directory of the policy's own file (None if it was loaded from text)."""
    paths = [(Path(os.path.abspath(n)), t) for n, t, is_file in files if is_file]
    if not paths:
        return None
    common = Path(os.path.commonpath([str(p.parent) for p, _ in paths]))
    for path, text in paths:
        target = root / path.relative_to(common)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    own = files[0]
    return (root / Path(os.path.abspath(own[0])).relative_to(common)).parent if own[2] \
        else None
