"""Issue 12, bounded time: "did you mean" through an index, once per distinct bad value.

Work is counted, never timed: :data:`civicscore._suggest.COUNTERS` counts the full
comparisons, the index postings read and the lookups that were not cached.
Before, every lookup compared the word with every choice (2,000 records against
4,000 values: 188 s).
"""

from __future__ import annotations

import datetime as dt

import pytest

from civicscore import _suggest
from civicscore._suggest import CANDIDATES, COMMON, COUNTERS, did_you_mean, one_of


@pytest.fixture(autouse=True)
def fresh() -> None:
    _suggest._INDEXES.clear()
    COUNTERS.compared = COUNTERS.postings = COUNTERS.lookups = 0


def _work(choices: int, words: int) -> tuple[int, int, int]:
    _suggest._INDEXES.clear()
    COUNTERS.compared = COUNTERS.postings = COUNTERS.lookups = 0
    names = [f"fact_{i:05d}" for i in range(choices)]
    for i in range(words):
        did_you_mean(f"zz_{i:05d}", names)
    return COUNTERS.compared, COUNTERS.postings, COUNTERS.lookups


def test_each_lookup_compares_a_bounded_number_of_choices() -> None:
    small = _work(500, 100)
    large = _work(8000, 1600)  # 16x the choices and 16x the words
    assert large[2] == 1600
    assert large[0] <= 1600 * CANDIDATES
    assert large[0] / small[0] <= 16  # linear in the words, not in words x choices
    assert large[1] <= 1600 * 12 * COMMON  # each word has at most 12 trigrams


def test_a_bad_value_repeated_in_many_records_is_looked_up_once() -> None:
    values = [f"district-{i}" for i in range(4000)]
    hints = {did_you_mean("distrct-17", values) for _ in range(2000)}
    assert hints == {"did you mean 'district-17'?"}
    assert COUNTERS.lookups == 1


def test_hints_are_those_difflib_gives_for_small_sets() -> None:
    import difflib

    names = ["patrol", "night_patrol", "cleanup", "tutoring", "Elder_care"]
    for word in ["patrl", "nite_patrol", "clenup", "elder_CARE", "xyz", "Patrol"]:
        low = {n.lower(): n for n in names}
        close = difflib.get_close_matches(word.lower(), list(low), n=1, cutoff=0.6)
        expected = (f"did you mean {low[word.lower()]!r}?" if word.lower() in low
                    and low[word.lower()] != word
                    else f"did you mean {low[close[0]]!r}?" if close else "")
        assert did_you_mean(word, names) == expected


def test_large_sets_still_find_the_obvious_match() -> None:
    values = [f"district-{i}" for i in range(4000)]
    assert did_you_mean("distirct-3999", values) == "did you mean 'district-3999'?"
    assert did_you_mean("DISTRICT-5", values) == "did you mean 'district-5'?"
    assert did_you_mean("zzzz", values) == ""
    assert one_of(values, limit=2) == "'district-0', 'district-1' or ... (3998 more)"


def test_rejected_records_with_a_bad_enum_value_cost_one_lookup_each_value(
        tmp_path) -> None:  # type: ignore[no-untyped-def]
    import civicscore

    from .conftest import ROOT

    values = ", ".join(f'"d{i:04d}"' for i in range(4000))
    policy_file = tmp_path / "p.toml"
    policy_file.write_text(
        (ROOT / "tests/data/bad_records/typed-facts.toml").read_text(encoding="utf-8")
        .replace('"../../../policies/example-district.toml"', '"baseline"')
        .replace('values = ["north", "south"], default = "north"',
                 f'values = [{values}], default = "d0000"'), encoding="utf-8")
    policy = civicscore.load(policy_file)
    records = [{"household_id": f"h{i}", "age_oldest": "80", "district": "d00x7"}
               for i in range(2000)]
    COUNTERS.lookups = COUNTERS.compared = 0
    result = policy.visits.run(records, as_of=dt.date(2025, 12, 31))
    rejected = result.rejected_rows()
    assert len(rejected) == 2000 and "did you mean" in "; ".join(rejected[0]["reasons"])
    assert COUNTERS.lookups == 1  # one per distinct bad value, not one per record
    assert COUNTERS.compared <= CANDIDATES
