"""A cadence that is not one gets the visits scheme's own message, not a pattern's.

``cadence = "montly"`` or ``"每月"`` (typed on a Chinese keyboard) used to say "not a
valid identifier (e.g. 'night_patrol')": false, and pointing away from the fix.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import civicscore

POLICY = """
[policy]
id = "cadence"
version = "1"
extends = "karamay"

[[visits.tiers]]
id = "extra"
cadence = "{cadence}"
when = "age_oldest > 100"
"""


@pytest.mark.parametrize(("cadence", "hint"), [
    ("montly", "did you mean 'monthly'?"),
    ("每月", "write 'monthly' for 每月"),
    ("每两周", "write 'fortnightly' for 每两周"),
    ("sometimes", "write a period such as P7D or P2M, or one of 'bimonthly', 'daily', "
                  "'fortnightly', 'half-yearly', 'monthly', 'quarterly', 'weekly' or 'yearly'"),
])
def test_a_wrong_cadence_says_what_a_cadence_is(write_policy: Callable[..., Path],
                                                cadence: str, hint: str) -> None:
    path = write_policy(POLICY.format(cadence=cadence))
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(path)
    (problem,) = e.value.problems
    assert problem.message == f"{cadence!r} is not a cadence"
    assert problem.hint == hint
    assert (problem.line, problem.col) == (8, 11)  # the value, where it is fixed
    assert "identifier" not in str(e.value)
