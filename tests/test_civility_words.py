"""civility_words: the sentences of steps 3 to 5 written once, rendered by both engines.

The parity tests (tests/test_batch_civility.py) check the sentences row by row; this
checks the one piece of showing the templates add beside ``plan.words``: a date as
``str(date)`` in polars, over every year (``0001-01-01`` included, which ``plan.words``'
``date`` show writes as "never").
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from civicscore.plan.words import said_lists
from civicscore.schemes.civility.words import iso, iso_frame

pl = pytest.importorskip("polars")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.none() | st.dates(), max_size=20))
@example([dt.date.min, dt.date.max, dt.date(999, 1, 2), dt.date(10, 10, 10), None])
def test_iso_frame_is_str_of_the_date(days: list[dt.date | None]) -> None:
    got = pl.DataFrame({"d": pl.Series(days, dtype=pl.Date)}).select(
        iso_frame(pl.col("d"))).to_series().to_list()
    assert got == [None if d is None else iso(d) for d in days]


TEXT = st.none() | st.sampled_from(["a", "b", "", "文明户"])


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 8).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.lists(TEXT, min_size=n, max_size=n), max_size=3),
    st.lists(st.tuples(st.integers(0, max(n - 1, 0)), TEXT.filter(lambda t: t is not None)),
             max_size=4 if n else 0))))
def test_said_lists_are_what_say_frame_gives(case: tuple[int, list[list[str | None]],
                                                         list[tuple[int, str]]]) -> None:
    """The fast assembly gives the lists ``plan.words.say_frame`` gives (each entry's
    non-null text in order), then the extra texts at their rows."""
    n, columns, more = case
    got = said_lists(n, [pl.Series(c, dtype=pl.String) for c in columns],
                     [(pl.Series([i for i, _ in more], dtype=pl.Int64),
                       pl.Series([t for _, t in more], dtype=pl.String))] if more else [])
    want = [[c[i] for c in columns if c[i] is not None] + [t for j, t in more if j == i]
            for i in range(n)]
    assert got.dtype == pl.List(pl.String)
    assert got.to_list() == want


def test_reasons_and_explain_in_chinese(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no language asked, a zh-CN policy (karamay) words a household's reasons and
    its account in Chinese, in both engines; ``explain("en")`` still gives English."""
    import civicscore

    monkeypatch.delenv("CIVICSCORE_LANG", raising=False)
    scheme = civicscore.load("karamay").civility
    as_of = dt.date(2025, 12, 31)
    items = [{"household_id": "H1", "volunteer_hours": 12, "review_date": "2025-06-01"},
             {"household_id": "H2", "review_date": "2024-11-20", "revoked_on": "2025-05-01",
              "revocation_reason": "违法"}]
    per = scheme.decide_many(items, as_of=as_of)
    said = [[r.message for r in d.reasons if not r.code.startswith("STAR_")]
            for d in per.decisions]
    assert said[0][-1] == "已于 2025-06-01 评定；下次复评日期 2026-06-01"
    assert said[1][0].startswith("已于 2025-05-01 撤销星级（违法）：")
    assert scheme.batch(items, as_of=as_of).output["reasons"].to_list() == said
    star = next(r for r in per.decisions[0].reasons if r.code == "STAR_NOT_MET")
    assert "：不符合 — " in star.message and "不成立" in star.message
    account = per.decisions[0].explain()
    assert account.startswith("住户 H1，计算日期 2025-12-31：")
    assert "  符合的标准：" in account
    assert per.decisions[0].explain("en").startswith("Household H1, as of 2025-12-31:")
