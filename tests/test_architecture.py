"""The shape of the package, checked: dependencies point one way.

A module that imports another which imports it back (even lazily, inside a
function) is two halves of one thing kept in two files: neither can be read,
tested or replaced alone. The batch engine of a scheme builds on its
per-record module, never the reverse (the per-record scheme names its batch
engine by reference, ``schemes.base.BatchEngine``).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"


def _modules() -> dict[str, Path]:
    out = {}
    for file in (SRC / "civicscore").rglob("*.py"):
        parts = list(file.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = file
    return out


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of import nodes inside ``if TYPE_CHECKING:`` blocks (never run)."""
    hidden: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            hidden.update(id(sub) for sub in ast.walk(node))
    return hidden


def import_graph() -> dict[str, set[str]]:
    """civicscore module -> the civicscore modules it imports, anywhere in its code."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, file in modules.items():
        package = name.split(".") if file.name == "__init__.py" else name.split(".")[:-1]
        tree = ast.parse(file.read_text(encoding="utf-8"))
        hidden = _type_checking_only(tree)
        deps: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in hidden:
                continue
            if isinstance(node, ast.ImportFrom):
                if node.level == 0:
                    target = node.module or ""
                else:
                    base = package[:len(package) - node.level + 1]
                    target = ".".join([*base, node.module] if node.module else base)
                # ``from . import hookspecs`` imports a submodule; ``from . import load``
                # an attribute of the package itself
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    found = sub if sub in modules else target
                    if found in modules and found != name:
                        deps.add(found)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name in modules and a.name != name)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_lazy_imports() -> None:
    graph = import_graph()
    # cli.py imports the batch command inside ``score`` only, to start fast
    assert "civicscore.batch.command" in graph["civicscore.cli"]
    assert "civicscore.schemes.visits.scheme" in graph["civicscore.schemes.visits.batch"]
    assert "civicscore" in graph["civicscore.cli"]  # from . import __version__, load
    assert "civicscore" not in graph["civicscore.plugins"]  # from . import hookspecs


def test_no_module_imports_one_that_imports_it_back() -> None:
    assert cycles(import_graph()) == []


SCHEMES = SRC / "civicscore" / "schemes"
BUILTIN = sorted(p.name for p in SCHEMES.iterdir() if (p / "__init__.py").is_file())


def test_the_built_in_schemes_are_packages() -> None:
    assert BUILTIN == ["appraisal", "civility", "visits", "volunteer"]
    for name in BUILTIN:
        assert {"scheme.py", "words.py", "batch.py"} <= {p.name for p in (SCHEMES / name).iterdir()}
    # nothing of a scheme is left outside its package
    assert not [p.name for p in (SRC / "civicscore" / "batch").glob("*.py")
                if p.stem in BUILTIN]
    assert not [p.name for p in SCHEMES.glob("*.py") if p.stem.split("_")[0] in BUILTIN]


def test_each_scheme_names_its_own_batch_engine() -> None:
    for name in BUILTIN:
        text = (SCHEMES / name / "scheme.py").read_text(encoding="utf-8")
        assert f'batch_engine = "civicscore.schemes.{name}.batch:score_{name}"' in text


def test_no_scheme_package_imports_another() -> None:
    graph = import_graph()
    for name in BUILTIN:
        own = f"civicscore.schemes.{name}"
        others = {f"civicscore.schemes.{n}" for n in BUILTIN if n != name}
        for module, deps in graph.items():
            if module == own or module.startswith(own + "."):
                crossing = {d for d in deps if any(d == o or d.startswith(o + ".") for o in others)}
                assert not crossing, f"{module} imports {crossing}"


def test_the_per_record_path_never_loads_a_batch_module() -> None:
    """``scheme`` and ``words`` decide one record without polars; only ``batch`` needs it."""
    graph = import_graph()
    for name in BUILTIN:
        for leaf in ("", ".scheme", ".words"):
            deps = graph[f"civicscore.schemes.{name}{leaf}"]
            assert not {d for d in deps if d.endswith(".batch") or ".batch." in d
                        or d == "civicscore.batch"}, (name, leaf, deps)


def test_each_scheme_registers_from_its_own_package() -> None:
    """The registry only gathers: every built-in scheme's SchemeSpec is its package's
    ``spec.SPEC``, so adding or changing a scheme touches no file outside it."""
    import importlib

    from civicscore.schemes.builtins import BUILTIN_SCHEMES

    owners = {spec.name: spec for spec in BUILTIN_SCHEMES}
    for name in BUILTIN:
        assert importlib.import_module(f"civicscore.schemes.{name}.spec").SPEC is owners.pop(name)
    assert importlib.import_module("civicscore.events.spec").SPEC is owners.pop("events")
    assert not owners
    text = (SCHEMES / "builtins.py").read_text(encoding="utf-8")
    assert "SchemeSpec(" not in text
