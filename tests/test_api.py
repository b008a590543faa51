"""The public surface is exactly what __init__ exports; changing it is a decision."""

from __future__ import annotations

import civicscore


def test_public_api_is_pinned() -> None:
    assert sorted(civicscore.__all__) == [
        "ActivityDecision",
        "Appeal",
        "AppraisalDecision",
        "AppraisalResult",
        "CivicScoreError",
        "CivilityDecision",
        "CivilityResult",
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
        "Reviewed",
        "Statement",
        "VisitDecision",
        "VisitResult",
        "VolunteerResult",
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
    for exc in (civicscore.PolicyError, civicscore.RecordError, civicscore.InputError):
        assert issubclass(exc, civicscore.CivicScoreError)
