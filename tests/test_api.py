"""The public surface is exactly what __init__ exports; changing it is a decision."""

from __future__ import annotations

import civicscore


def test_public_api_is_pinned() -> None:
    assert sorted(civicscore.__all__) == [
        "ActivityDecision",
        "Appeal",
        "AppraisalDecision",
        "AppraisalResult",
        "AppraisalScheme",
        "BatchResult",
        "CivicScoreError",
        "CivilityDecision",
        "CivilityResult",
        "CivilityScheme",
        "DecisionLog",
        "Engine",
        "ExpressionError",
        "Function",
        "InputError",
        "Override",
        "ParameterUse",
        "PluginError",
        "PluginInfo",
        "Policy",
        "PolicyError",
        "PolicyRef",
        "PolicyWarning",
        "Problem",
        "Reason",
        "RecordError",
        "RedemptionDecision",
        "ReviewError",
        "Reviewed",
        "SchemeSpec",
        "Statement",
        "UsageError",
        "VisitDecision",
        "VisitResult",
        "VisitsScheme",
        "VolunteerResult",
        "VolunteerScheme",
        "__version__",
        "appeal",
        "confirm",
        "hookimpl",
        "load",
        "override",
        "replay",
        "simple_function",
    ]
    for name in civicscore.__all__:
        assert hasattr(civicscore, name), name


def test_errors_refine_builtins() -> None:
    assert issubclass(civicscore.PolicyError, ValueError)
    assert issubclass(civicscore.RecordError, ValueError)
    assert issubclass(civicscore.ExpressionError, ValueError)
    assert issubclass(civicscore.PluginError, RuntimeError)
    for exc in (civicscore.PolicyError, civicscore.RecordError, civicscore.InputError,
                civicscore.UsageError, civicscore.ReviewError, civicscore.PluginError):
        assert issubclass(exc, civicscore.CivicScoreError)
    assert issubclass(civicscore.UsageError, ValueError)
    assert issubclass(civicscore.ReviewError, ValueError)


def test_the_root_error_is_never_raised_directly() -> None:
    """Every error is of a kind a caller can tell apart (httpx's rule): no module raises
    CivicScoreError itself."""
    import ast
    from pathlib import Path

    root = Path(civicscore.__file__).parent
    raised = []
    for file in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and node.exc is not None:
                target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                if isinstance(target, ast.Name | ast.Attribute) and \
                        ast.unparse(target).endswith("CivicScoreError"):
                    raised.append(f"{file.relative_to(root)}:{node.lineno}")
    assert raised == []


def test_policy_schemes_are_typed_and_any_scheme_is_reachable() -> None:
    import typing

    from civicscore.policy.compile import Policy

    # the annotations name the scheme classes (imported for type checkers only)
    from civicscore.schemes.appraisal.cards import Scorecards

    types = {n: getattr(civicscore, n) for n in ("VolunteerScheme", "CivilityScheme",
                                                 "VisitsScheme", "AppraisalScheme")}
    for name, cls in (("volunteer", "VolunteerScheme"), ("civility", "CivilityScheme"),
                      ("visits", "VisitsScheme")):
        hints = typing.get_type_hints(getattr(Policy, name).fget, localns=types)
        assert hints["return"] is types[cls]
    # a policy of several scorecards (or a quota per cohort) compiles to Scorecards
    hints = typing.get_type_hints(Policy.appraisal.fget,
                                  localns={**types, "Scorecards": Scorecards})
    assert hints["return"] == civicscore.AppraisalScheme | Scorecards
    policy = civicscore.load("baseline")
    assert isinstance(policy.visits, civicscore.VisitsScheme)
    assert policy.scheme("visits") is policy.visits
    assert policy.spec("visits").scheme_type is civicscore.VisitsScheme


def test_importing_civicscore_does_not_import_polars() -> None:
    import subprocess
    import sys

    code = ("import sys, civicscore; civicscore.Policy; "
            "assert 'polars' not in sys.modules, 'polars imported'; "
            "civicscore.BatchResult; assert 'polars' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
