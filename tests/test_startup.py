"""Start-up stays cheap: what the command line and ``import civicscore`` load.

Each check runs in a fresh interpreter (this one has long imported everything)
and looks at ``sys.modules``; no timings, which vary from machine to machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

import civicscore

from .conftest import EXAMPLE_POLICY

HEAVY = ("pydantic", "holidays", "pluggy", "rich", "polars", "pyarrow",
         "civicscore.policy.model", "civicscore.schemes", "civicscore.engine",
         "civicscore.io", "civicscore.audit")


def imported(code: str) -> set[str]:
    """The modules loaded after running ``code`` in a fresh interpreter."""
    script = textwrap.dedent(code) + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def loaded_heavy(modules: set[str]) -> list[str]:
    return sorted(h for h in HEAVY if h in modules)


def test_import_civicscore_loads_nothing_heavy() -> None:
    assert loaded_heavy(imported("import civicscore")) == []


def test_help_loads_nothing_heavy() -> None:
    modules = imported("""
        from click.testing import CliRunner
        from civicscore.cli import main
        result = CliRunner().invoke(main, ["--help"])
        assert result.exit_code == 0 and "check" in result.output, result.output
    """)
    assert loaded_heavy(modules) == []


def test_check_does_not_build_the_national_holiday_calendar() -> None:
    # Checking validates the country code against the holidays registry; the calendar
    # itself (which imports every country module) waits for a question about a day.
    modules = imported(f"""
        from click.testing import CliRunner
        from civicscore.cli import main
        result = CliRunner().invoke(main, ["check", {str(EXAMPLE_POLICY)!r}])
        assert result.exit_code == 0, result.output
    """)
    assert "holidays.countries" not in modules
    assert not {"civicscore.io", "civicscore.audit", "rich", "polars"} & modules
    # the commands in packages of their own load when they are run, not for every command
    assert not {"civicscore.ledger", "civicscore.ledger.cli", "civicscore.events.cli",
                "civicscore.report"} & modules


def test_every_public_name_resolves_to_its_module() -> None:
    for name in civicscore.__all__:
        value = getattr(civicscore, name)
        module = getattr(value, "__module__", None)
        if module is not None and module.startswith("civicscore."):
            assert getattr(sys.modules[module], name) is value, name
    assert set(civicscore.__all__) <= set(dir(civicscore))


def test_unknown_public_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        civicscore.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018


def test_calendar_answers_after_a_lazy_build() -> None:
    import datetime as dt

    from civicscore.policy.calendar import HolidayCalendar, subdivisions, supported_countries

    assert "CN" in supported_countries() and "CHN" in supported_countries()
    assert "XX" not in supported_countries()
    cal = HolidayCalendar("CN", extra_workdays=[dt.date(2025, 10, 2)])
    assert cal(dt.date(2025, 10, 1)) and not cal(dt.date(2025, 10, 2))
    assert cal.name(dt.date(2025, 10, 1)) != "" and cal.name(dt.date(2025, 10, 2)) == ""
    assert "BY" in subdivisions("DE")
    none = HolidayCalendar(None, extra_holidays=[dt.date(2025, 3, 12)])
    assert none(dt.date(2025, 3, 12)) and not none(dt.date(2025, 10, 1))


def test_wrong_codes_still_fail_when_the_calendar_is_made() -> None:
    # As before the national calendar was built lazily: a plugin's calendar with a
    # wrong code fails at load time, not at the first question about a day.
    from civicscore.policy.calendar import HolidayCalendar

    with pytest.raises(NotImplementedError, match="XX"):
        HolidayCalendar("XX")
    with pytest.raises(NotImplementedError, match="ZZ"):
        HolidayCalendar("CN", "ZZ")


def test_calendar_codes_are_still_checked_when_loading(write_policy) -> None:
    minimal = '[policy]\nid = "t"\nversion = "1"\n[calendar]\n'
    ok = civicscore.load(write_policy(minimal + 'country = "DE"\nsubdivision = "BY"\n'))
    assert ok.calendar.subdivision == "BY"
    with pytest.raises(civicscore.PolicyError, match="DE has no subdivision 'BZ'"):
        civicscore.load(write_policy(minimal + 'country = "DE"\nsubdivision = "BZ"\n'))
    with pytest.raises(civicscore.PolicyError, match=r"country 'CNN'.*did you mean 'CN'"):
        civicscore.load(write_policy(minimal + 'country = "CNN"\n'))
