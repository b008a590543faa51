"""``is_workday(d)`` and ``is_makeup_workday(d)``: China's working days, 调休 included.

A make-up working day is a weekend day the State Council declares worked, in exchange
for a weekday off beside a holiday (Sunday 2025-09-28 and Saturday 2025-10-11 pay for
National Day week). The days come from the installed ``holidays`` (its public
``is_working_day`` and ``is_weekend``); both engines ask the same calendar, and the
policy hash holds the days of every policy that asks (``load.policy_hash``).
"""

from __future__ import annotations

import datetime as dt
import os
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import civicscore
from civicscore import _entry_points, check_cache, hookimpl
from civicscore.errors import ExpressionError, PluginError, PolicyError
from civicscore.expr import Fact, Scope, Type, check
from civicscore.expr.functions import CALENDAR_FUNCTION_NAMES, builtin_functions
from civicscore.expr.to_python import to_python
from civicscore.expr.words import plain_zh
from civicscore.policy.calendar import DIGEST_YEARS, HolidayCalendar
from civicscore.policy.load import policy_hash
from civicscore.testing import assert_evaluators_agree

pl = pytest.importorskip("polars")

from civicscore.batch.expr import compile_to_polars  # noqa: E402

CN = HolidayCalendar("CN")
D = dt.date.fromisoformat

#: Weekend days worked in 2025 and 2026, as the State Council's notices announce them.
MAKEUP = ["2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11",
          "2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20",
          "2026-10-10"]


@pytest.mark.parametrize(("day", "holiday", "workday", "makeup"), [
    ("2025-09-28", False, True, True),    # a Sunday worked before National Day
    ("2025-10-11", False, True, True),    # the Saturday worked after it
    ("2025-10-01", True, False, False),   # National Day itself, a Wednesday
    ("2025-10-08", True, False, False),   # a Wednesday off in lieu
    ("2025-10-04", False, False, False),  # a Saturday inside the week: off, as any
    ("2025-09-29", False, True, False),   # an ordinary Monday
    ("2025-09-27", False, False, False),  # an ordinary Saturday
    ("2026-02-14", False, True, True),    # Spring Festival 2026: the Saturday before
    ("2026-02-28", False, True, True),    # and the Saturday after
    ("2026-02-20", True, False, False),   # a Friday off in lieu
    ("2026-02-23", True, False, False),   # a Monday off in lieu
])
def test_china_days_are_as_announced(day: str, holiday: bool, workday: bool,
                                     makeup: bool) -> None:
    d = D(day)
    assert (CN(d), CN.is_workday(d), CN.is_makeup_workday(d)) == (holiday, workday, makeup)


@pytest.mark.parametrize("year", [2025, 2026])
def test_every_makeup_day_of_the_year_and_no_other(year: int) -> None:
    first = dt.date(year, 1, 1)
    days = [first + dt.timedelta(n) for n in range((dt.date(year + 1, 1, 1) - first).days)]
    got = [str(d) for d in days if CN.is_makeup_workday(d)]
    assert got == [d for d in MAKEUP if d.startswith(str(year))]


def test_a_policys_own_days_lie_over_the_national_ones() -> None:
    cal = HolidayCalendar("CN", extra_holidays=[D("2025-03-12")],
                          extra_workdays=[D("2025-10-08"), D("2025-11-15")])
    assert not cal.is_workday(D("2025-03-12")) and cal(D("2025-03-12"))  # a local holiday
    assert cal.is_workday(D("2025-10-08")) and not cal(D("2025-10-08"))  # worked after all
    assert not cal.is_makeup_workday(D("2025-10-08"))  # a Wednesday: worked, no make-up
    assert cal.is_makeup_workday(D("2025-11-15"))  # a Saturday the policy makes worked
    none = HolidayCalendar(None, extra_workdays=[D("2025-11-16")])
    assert none.is_workday(D("2025-11-14")) and not none.is_workday(D("2025-11-15"))
    assert none.is_makeup_workday(D("2025-11-16")) and not none.is_makeup_workday(D("2025-09-28"))


# --- both engines, over 2000-2030 ---------------------------------------------------------

FUNCTIONS = builtin_functions(CN)
SCOPE = Scope({"d": Fact(Type.DATE)}, FUNCTIONS, "calendar test")
TEXTS = ["is_workday(d)", "is_makeup_workday(d)", "is_holiday(d)",
         "is_workday(d) and not is_makeup_workday(d)",
         "is_makeup_workday(add_days(d, 1)) or is_holiday(add_days(d, -1))"]
dates = st.dates(dt.date(2000, 1, 1), dt.date(2030, 12, 31))


@settings(max_examples=int(os.environ.get("PARITY_EXAMPLES", "200")), deadline=None)
@given(days=st.lists(st.one_of(dates, st.sampled_from([D(d) for d in MAKEUP])),
                     min_size=1, max_size=40))
@example(days=[D(d) for d in MAKEUP] + [D("2025-10-01"), D("2026-02-20"), D("2001-12-29")])
def test_per_record_and_batch_agree_on_the_calendar(days: list[dt.date]) -> None:
    frame = pl.DataFrame({"d": days}, schema={"d": pl.Date})
    for text in TEXTS:
        node = check(text, SCOPE)
        fn = to_python(node, FUNCTIONS)
        compiled = compile_to_polars(node, FUNCTIONS)
        out = frame.with_columns(value=compiled.value)["value"].to_list()
        assert out == [fn({"d": d}) for d in days], text


@settings(max_examples=300, deadline=None)
@given(day=dates)
@example(day=D("2025-09-28"))
@example(day=D("2001-12-29"))  # worked for a day off in January 2002: the next year's data
def test_the_three_questions_are_consistent(day: dt.date) -> None:
    holiday, worked, makeup = CN(day), CN.is_workday(day), CN.is_makeup_workday(day)
    assert not (holiday and worked)
    assert makeup == (worked and day.isoweekday() >= 6)
    assert worked == ((day.isoweekday() <= 5 and not holiday) or makeup)


def test_a_volunteer_bonus_on_makeup_days_agrees_on_both_engines(
        write_policy: Callable[..., Path]) -> None:
    path = write_policy('''
        [policy]
        id = "makeup-bonus"
        version = "1"
        extends = "baseline"

        [[volunteer.multipliers]]
        id = "makeup_day"
        label = "调休上班日服务"
        label_en = "Service on a make-up working day"
        when = "is_makeup_workday(date)"
        factor = 3
    ''')
    policy = civicscore.load(path, today=dt.date(2026, 1, 1))
    days = ["2025-09-28", "2025-10-11", "2025-10-01", "2025-10-09", "2025-10-04"]
    records = [{"record_id": f"c{n}", "volunteer_id": "R-1", "activity": "cleanup",
                "start": f"{day}T09:00", "end": f"{day}T11:00", "confirmed": True,
                "submitted_at": f"{day}T12:00"} for n, day in enumerate(days)]
    assert_evaluators_agree(policy, "volunteer", records, as_of=dt.date(2025, 12, 31))
    result = policy.volunteer.evaluate(records, as_of=dt.date(2025, 12, 31))
    points = {str(d.date): d.points for d in result.records}
    # x3 on the two worked weekend days, x2 on National Day, none on an ordinary day off
    assert points == {"2025-09-28": 6, "2025-10-11": 6, "2025-10-01": 4, "2025-10-09": 2,
                      "2025-10-04": 2}


# --- names, words ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "meant"), [("is_work_day(d)", "is_workday"),
                                             ("is_makeup_work_day(d)", "is_makeup_workday"),
                                             ("is_workdays(d)", "is_workday")])
def test_a_misspelt_calendar_function_is_named(text: str, meant: str) -> None:
    with pytest.raises(ExpressionError) as e:
        check(text, SCOPE)
    assert f"did you mean '{meant}'" in str(e.value)


@pytest.mark.parametrize("name", ["is_workday", "is_makeup_workday"])
def test_a_calendar_function_takes_one_date(name: str) -> None:
    with pytest.raises(ExpressionError, match=rf"{name}\(\) takes 1 argument"):
        check(f"{name}(d, d)", SCOPE)
    with pytest.raises(ExpressionError, match="date"):
        check(f"{name}(1)", SCOPE)


def test_the_calendar_functions_in_chinese_words() -> None:
    assert plain_zh(check("is_workday(d)", SCOPE)) == "d 是工作日"
    assert plain_zh(check("not is_makeup_workday(d)", SCOPE)) == "并非 d 是调休上班日"


def _plugin(name: str, **hooks: object) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook, fn in hooks.items():
        setattr(module, hook, hookimpl(fn))  # type: ignore[arg-type]
    return module


@pytest.mark.parametrize("name", CALENDAR_FUNCTION_NAMES)
def test_a_plugin_may_not_define_a_calendar_function(name: str) -> None:
    fn = civicscore.simple_function(name, ["date"], "bool", lambda d: True)
    p = _plugin("cal_fn_plugin", register_functions=lambda register: register(fn))
    with pytest.raises(PluginError, match=f"registered function '{name}', which civicscore "
                                          f"provides from the policy's calendar"):
        civicscore.Engine(plugins=[p], entry_points=False).policy_names()


def test_a_plugin_calendars_own_days_are_asked_and_hashed(
        write_policy: Callable[..., Path]) -> None:
    def calendars(days: list[str]) -> Callable[[Any], None]:
        return lambda register: register("town", workdays=[D(d) for d in days],
                                          country="CN")

    path = write_policy(NO_CALENDAR.replace('country = "CN"', 'name = "town"').replace(
        'when = "clean_yard"', 'when = "clean_yard and not is_makeup_workday(as_of)"'))
    hashes = []
    for days in (["2025-11-15"], ["2025-11-15", "2025-11-22"]):
        p = _plugin("town_calendar", register_calendars=calendars(days))
        policy = civicscore.Engine(plugins=[p], entry_points=False).load(
            path, today=dt.date(2025, 1, 1))
        assert policy.calendar.is_makeup_workday(D("2025-11-15"))
        assert policy.calendar.is_makeup_workday(D("2025-09-28"))  # China's, beneath
        hashes.append(policy.hash)
    # the policy file is the same; the plugin's calendar gained a day: another hash
    assert hashes[0] != hashes[1]


# --- the policy hash ------------------------------------------------------------------------

NO_CALENDAR = '''
    [policy]
    id = "quiet"
    version = "1"
    # a label may quote a calendar call without making one
    description = "no bonus for is_holiday(date) here"

    [calendar]
    country = "CN"

    [facts.household]
    clean_yard = { type = "bool", label = "院落整洁" }

    [civility]
    review_years = 2

    [[civility.stars]]
    id = "yard"
    label = "院落整洁"
    when = "clean_yard"

    [[civility.titles]]
    min_stars = 1
    label = "文明户"
'''


def _content_hash(path: Path) -> str:
    from civicscore.plugins import registry
    from civicscore.policy.load import load_source, read_source

    loaded = load_source(read_source(str(path), path.read_bytes(), path.parent),
                         model_cls=registry().policy_model())
    return loaded.content_hash


def test_a_policy_that_never_asks_the_calendar_keeps_its_content_hash(
        write_policy: Callable[..., Path]) -> None:
    path = write_policy(NO_CALENDAR)
    policy = civicscore.load(path, today=dt.date(2025, 1, 1))
    assert policy.hash == _content_hash(path)


def test_a_policy_that_asks_has_the_calendars_days_in_its_hash(
        write_policy: Callable[..., Path]) -> None:
    path = write_policy(NO_CALENDAR.replace('when = "clean_yard"',
                                            'when = "clean_yard and is_workday(as_of)"'))
    policy = civicscore.load(path, today=dt.date(2025, 1, 1))
    assert policy.hash == policy_hash(_content_hash(path), CN.digest()) != _content_hash(path)
    # the same policy on another country's days is known by another hash
    other = write_policy(path.read_text(encoding="utf-8").replace('"CN"', '"HK"'), "hk.toml")
    assert civicscore.load(other, today=dt.date(2025, 1, 1)).hash != policy.hash


def test_the_digest_is_of_the_days_not_of_the_release() -> None:
    import holidays

    first, last = dt.date(DIGEST_YEARS.start, 1, 1), dt.date(DIGEST_YEARS.stop - 1, 12, 31)
    national = holidays.country_holidays("CN", years=DIGEST_YEARS)
    again = HolidayCalendar("CN")
    assert again.digest() == CN.digest()  # the same days, the same digest
    # one day more or less (a local holiday, or a plugin calendar's) is another digest
    moved = HolidayCalendar("CN", extra_holidays=[D("2030-06-03")])
    assert moved.digest() != CN.digest()
    assert len([d for d in national if first <= d <= last]) > 500  # the years are there


def test_a_shipped_policys_hash_holds_its_calendar() -> None:
    # the baseline's holiday bonus calls is_holiday(date)
    baseline = civicscore.load("baseline")
    source = Path(civicscore.__file__).parent / "policies" / "baseline.toml"
    assert baseline.hash == policy_hash(_content_hash(source), baseline.calendar.digest())


def test_check_cache_key_moves_with_the_holidays_release(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # check prints the policy hash, which holds the calendar's days: a kept "ok" line
    # from before a holidays upgrade must not be replayed after it
    before = check_cache.key({"policies": ["baseline"]})
    real = _entry_points.version

    def upgraded(name: str) -> Any:
        return "999.0" if name == "holidays" else real(name)

    monkeypatch.setattr(_entry_points, "version", upgraded)
    after = check_cache.key({"policies": ["baseline"]})
    assert before is not None and after is not None and before != after


def test_an_unknown_country_is_refused_before_any_digest(
        write_policy: Callable[..., Path]) -> None:
    path = write_policy(NO_CALENDAR.replace('"CN"', '"XX"').replace(
        'when = "clean_yard"', 'when = "is_holiday(as_of)"'))
    with pytest.raises(PolicyError, match="unknown holiday calendar country 'XX'"):
        civicscore.load(path, today=dt.date(2025, 1, 1))
